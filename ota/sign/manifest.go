package sign

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// Manifest describes a model bundle (Kind "model") or an agent binary (Kind
// "agent"): what to install, in which version, until when it may be
// installed, and the signatures that vouch for it.
//
// Members this build does not know are allowed: they are covered by the
// signature like any other (see Canonical) and ignored. A change that older
// agents must not ignore bumps V instead, and older agents reject it.
type Manifest struct {
	V       int       `json:"v"`       // format version, 1
	Kind    string    `json:"kind"`    // KindModel or KindAgent
	Name    string    `json:"name"`    // model name, or "edged" for the agent
	Version uint64    `json:"version"` // strictly increasing per (kind, name)
	Created time.Time `json:"created"` // not valid before (less VerifyOptions.Skew)
	Expires time.Time `json:"expires"` // not valid from this instant on
	Blobs   []Blob    `json:"blobs"`   // one per variant, at least one

	// Bundle contents that are small enough to ride in the manifest. Their
	// formats belong to the packages that read them (agent/drift for
	// Profile, agent/canary for Policy); sign only guarantees they are
	// authentic.
	Labels  []string        `json:"labels,omitempty"`
	Inputs  json.RawMessage `json:"inputs,omitempty"`
	Outputs json.RawMessage `json:"outputs,omitempty"`
	Profile json.RawMessage `json:"profile,omitempty"`
	Policy  json.RawMessage `json:"policy,omitempty"`
	// InterfaceChange says the operator means this version's inputs or
	// outputs (Inputs, Outputs) to differ from the version a device
	// serves; without it a device refuses such a version. Agents that
	// predate it ignore it.
	InterfaceChange bool `json:"interface_change,omitempty"`

	// Signatures are not covered by themselves: each one signs the
	// manifest's canonical encoding without this member.
	Signatures []Signature `json:"signatures"`
}

// Blob is one file of a bundle: a model variant ("cpu", "edgetpu", ...) or
// an agent binary ("linux-arm64", ...).
type Blob struct {
	Variant string `json:"variant"`
	SHA256  string `json:"sha256"` // 64 lower-case hex digits
	Size    int64  `json:"size"`   // bytes, > 0
	URL     string `json:"url,omitempty"`
}

// Signature is one signing key's signature over a manifest.
type Signature struct {
	KeyID       string       `json:"key_id"`
	Certificate *Certificate `json:"certificate"`
	Sig         []byte       `json:"sig"` // 64 bytes, base64
}

// Blob returns the blob for variant.
func (m *Manifest) Blob(variant string) (Blob, bool) {
	for _, b := range m.Blobs {
		if b.Variant == variant {
			return b, true
		}
	}
	return Blob{}, false
}

// MaxVersion is the highest manifest version: 2^53, the largest integer
// every JSON reader holds exactly. A device refuses a manifest above it, so
// that one signed by mistake with a huge version cannot install and then
// block every later version.
const MaxVersion = 1 << 53

// Limits on untrusted input.
const (
	// DefaultMaxSize is the manifest size limit when VerifyOptions.MaxSize is 0.
	DefaultMaxSize = 1 << 20
	// maxSignatures bounds the ed25519 verifications one manifest can cost.
	maxSignatures = 16
	maxNameLen    = 128
)

// validate checks the fields that do not need a key or a clock. Errors wrap
// ErrMalformed.
func (m *Manifest) validate() error {
	switch {
	case m.V != 1:
		return fmt.Errorf("%w: manifest format v%d; this build reads v1", ErrMalformed, m.V)
	case m.Kind == "":
		return fmt.Errorf("%w: kind is empty", ErrMalformed)
	case !validName(m.Name, maxNameLen):
		return fmt.Errorf("%w: name %q: want 1 to %d of A-Z a-z 0-9 . _ - (not starting with . or -)", ErrMalformed, m.Name, maxNameLen)
	case m.Version == 0:
		return fmt.Errorf("%w: version is 0; versions start at 1", ErrMalformed)
	case m.Version > MaxVersion:
		return fmt.Errorf("%w: version %d is above %d, the highest a device accepts", ErrMalformed, m.Version, uint64(MaxVersion))
	case m.Created.IsZero():
		return fmt.Errorf("%w: created is missing", ErrMalformed)
	case m.Expires.IsZero():
		return fmt.Errorf("%w: expires is missing", ErrMalformed)
	case !m.Expires.After(m.Created):
		return fmt.Errorf("%w: expires %s is not after created %s", ErrMalformed, m.Expires.Format(time.RFC3339), m.Created.Format(time.RFC3339))
	case len(m.Blobs) == 0:
		return fmt.Errorf("%w: no blobs", ErrMalformed)
	}
	for i, b := range m.Blobs {
		if err := b.validate(); err != nil {
			return fmt.Errorf("%w: blobs[%d]: %v", ErrMalformed, i, err)
		}
		for _, o := range m.Blobs[:i] {
			if o.Variant == b.Variant {
				return fmt.Errorf("%w: blobs[%d]: variant %q appears twice", ErrMalformed, i, b.Variant)
			}
		}
	}
	return nil
}

func (b Blob) validate() error {
	if !validName(b.Variant, 64) {
		return fmt.Errorf("variant %q: want 1 to 64 of A-Z a-z 0-9 . _ -", b.Variant)
	}
	if len(b.SHA256) != 64 || !isLowerHex(b.SHA256) {
		return fmt.Errorf("variant %q: sha256 %q: want 64 lower-case hex digits", b.Variant, b.SHA256)
	}
	if b.Size <= 0 {
		return fmt.Errorf("variant %q: size %d: want > 0", b.Variant, b.Size)
	}
	if b.URL != "" {
		u, err := url.Parse(b.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("variant %q: url %q: want an https:// URL", b.Variant, b.URL)
		}
	}
	return nil
}

// validName reports whether s is a safe file-name component: names and
// variants end up in paths under ota/store.
func validName(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Sign adds key's signature to m. The signature covers
// manifestContext || Canonical(json.Marshal(m), "signatures"), so other
// signatures already on m are neither covered nor disturbed; a signature by
// the same key is replaced. Encode m with encoding/json after signing; any
// re-encoding that keeps the JSON values verifies too. Sign refuses a key
// not certified for m.Kind or expired before m.Created.
func Sign(m *Manifest, key *SigningKey) error {
	if key == nil || key.cert == nil {
		return errors.New("signing: no signing key")
	}
	if err := m.validate(); err != nil {
		return fmt.Errorf("signing: manifest %q version %d: %w", m.Name, m.Version, err)
	}
	if !key.cert.Allows(m.Kind) {
		return fmt.Errorf("signing: manifest %q version %d: %w: key %s is certified for %q, not %q",
			m.Name, m.Version, ErrUntrustedKey, key.ID(), key.cert.Purposes, m.Kind)
	}
	// Sign reads no clock; a manifest created after its key expired could
	// never verify.
	if !m.Created.Before(key.cert.NotAfter) {
		return fmt.Errorf("signing: manifest %q version %d: %w: key %s expired at %s, before the manifest's created time %s",
			m.Name, m.Version, ErrUntrustedKey, key.ID(), key.cert.NotAfter.Format(time.RFC3339), m.Created.Format(time.RFC3339))
	}
	canon, err := manifestCanonical(m)
	if err != nil {
		return fmt.Errorf("signing: manifest %q version %d: %w", m.Name, m.Version, err)
	}
	s := Signature{
		KeyID:       key.ID(),
		Certificate: key.cert,
		Sig:         ed25519.Sign(key.priv, append([]byte(manifestContext), canon...)),
	}
	m.Signatures = slices.DeleteFunc(m.Signatures, func(o Signature) bool { return o.KeyID == s.KeyID })
	m.Signatures = append(m.Signatures, s)
	return nil
}

func manifestCanonical(m *Manifest) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return Canonical(body, "signatures")
}

// VerifyOptions says what a device expects of a manifest.
type VerifyOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Skew is how far ahead of Now a manifest's created time or a
	// certificate's not_before may lie. It does not extend expiry.
	Skew time.Duration
	// Kind is the manifest kind the caller is about to act on (KindModel,
	// KindAgent). Required.
	Kind string
	// Name, if set, is the manifest name the caller expects.
	Name string
	// LastVersion is the version last accepted for Name; the manifest's
	// version must be greater. Setting it requires setting Name, so a
	// manifest for another name cannot pass a check meant for this one.
	LastVersion uint64
	// MaxSize bounds the manifest's size in bytes; 0 means DefaultMaxSize.
	MaxSize int
	// Revoked lists key ids of signing keys to distrust before their
	// not_after, e.g. one known to be stolen.
	Revoked []string
}

// Verify decodes a manifest and returns it if one of its signatures chains
// to root and it is fit to act on now. The checks run in this order, and the
// error wraps the sentinel of the first that fails:
//
//  1. size, JSON, fields: ErrMalformed
//  2. a signature by a key whose certificate root signed, valid now, for the
//     manifest's kind and not revoked: ErrBadSignature, ErrUntrustedKey
//  3. kind and name as asked: ErrMismatch
//  4. created and expires against Now: ErrNotYetValid, ErrExpired
//  5. version above LastVersion: ErrReplay
//
// Checks 3 to 5 run only on authentic content, so their errors never repeat
// what a forger wrote. The returned manifest is decoded from the bytes the
// signature covers.
func Verify(data []byte, root ed25519.PublicKey, opts VerifyOptions) (*Manifest, error) {
	if len(root) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("verifying a manifest: the root public key is %d bytes; want %d", len(root), ed25519.PublicKeySize)
	}
	if opts.Kind == "" {
		return nil, errors.New("verifying a manifest: no key purpose given")
	}
	if opts.LastVersion > 0 && opts.Name == "" {
		return nil, errors.New("verifying a manifest: a last version given without a model name")
	}
	limit := opts.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%w: the manifest is %d bytes; the limit is %d", ErrMalformed, len(data), limit)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	t := now()

	m, canon, err := decodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	where := fmt.Sprintf("manifest %q version %d", m.Name, m.Version)
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}

	if err := verifySignatures(m, canon, root, t, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}

	switch {
	case m.Kind != opts.Kind:
		return nil, fmt.Errorf("%s: %w: kind %q; want %q", where, ErrMismatch, m.Kind, opts.Kind)
	case opts.Name != "" && m.Name != opts.Name:
		return nil, fmt.Errorf("%s: %w: name %q; want %q", where, ErrMismatch, m.Name, opts.Name)
	case t.Add(opts.Skew).Before(m.Created):
		return nil, fmt.Errorf("%s: %w: created %s; the device clock reads %s", where, ErrNotYetValid, m.Created.Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	case !t.Before(m.Expires):
		return nil, fmt.Errorf("%s: %w: expires %s; the device clock reads %s", where, ErrExpired, m.Expires.Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	case m.Version <= opts.LastVersion:
		return nil, fmt.Errorf("%s: %w: the device has version %d", where, ErrReplay, opts.LastVersion)
	}
	return m, nil
}

// storedSkew is how far before a certificate's not_before a stored
// manifest's created time may lie: the clock of the machine that signed it.
const storedSkew = time.Hour

// VerifyStored checks a manifest that the device accepted earlier and kept
// beside the files it installed, before it trusts those files again (at
// start, at every load). It checks what Verify checks except the clock and
// LastVersion: the signature chain to root, with each certificate judged at
// the manifest's created time (a signing key rotated out since must not
// make installed models unusable), key revocation, kind and name. Expiry
// and replay were settled when the manifest was accepted. Errors wrap the
// sentinels of Verify.
func VerifyStored(data []byte, root ed25519.PublicKey, kind, name string, revoked []string) (*Manifest, error) {
	if len(root) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("stored manifest: root public key is %d bytes; want %d", len(root), ed25519.PublicKeySize)
	}
	if len(data) > DefaultMaxSize {
		return nil, fmt.Errorf("stored manifest: %w: %d bytes; the limit is %d", ErrMalformed, len(data), DefaultMaxSize)
	}
	m, canon, err := decodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("stored manifest: %w", err)
	}
	where := fmt.Sprintf("stored manifest %q version %d", m.Name, m.Version)
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	opts := VerifyOptions{Kind: kind, Name: name, Skew: storedSkew, Revoked: revoked}
	if err := verifySignatures(m, canon, root, m.Created, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	switch {
	case m.Kind != kind:
		return nil, fmt.Errorf("%s: %w: kind %q; want %q", where, ErrMismatch, m.Kind, kind)
	case name != "" && m.Name != name:
		return nil, fmt.Errorf("%s: %w: name %q; want %q", where, ErrMismatch, m.Name, name)
	}
	return m, nil
}

// decodeManifest returns the manifest decoded from its canonical encoding
// (the signed bytes), with the signatures decoded from data.
func decodeManifest(data []byte) (*Manifest, []byte, error) {
	canon, err := Canonical(data, "signatures")
	if err != nil {
		return nil, nil, err
	}
	var m Manifest
	if err := json.Unmarshal(canon, &m); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// encoding/json matches member names case-insensitively, so a signed
	// member "Signatures" could have landed here. Only the exact member
	// "signatures" is unsigned; take it from data.
	m.Signatures = nil
	raw, err := exactMember(data, "signatures")
	if err != nil {
		return nil, nil, err
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &m.Signatures); err != nil {
			return nil, nil, fmt.Errorf("%w: signatures: %v", ErrMalformed, err)
		}
	}
	return &m, canon, nil
}

// exactMember returns the raw value of the top-level member named exactly
// key, or nil if there is none. data has passed Canonical, so it is one
// well-formed object without duplicate keys.
func exactMember(data []byte, key string) (json.RawMessage, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// Map keys are matched exactly, unlike struct fields.
	return members[key], nil
}

func verifySignatures(m *Manifest, canon []byte, root ed25519.PublicKey, now time.Time, opts VerifyOptions) error {
	switch n := len(m.Signatures); {
	case n == 0:
		return fmt.Errorf("%w: the manifest is not signed", ErrUnsigned)
	case n > maxSignatures:
		return fmt.Errorf("%w: %d signatures; at most %d are read", ErrMalformed, n, maxSignatures)
	}
	msg := append([]byte(manifestContext), canon...)
	var errs []error
	for i, s := range m.Signatures {
		err := verifySig(msg, s, root, now, opts.Skew, m.Kind, opts.Revoked)
		if err == nil {
			return nil
		}
		if len(m.Signatures) > 1 {
			err = fmt.Errorf("signatures[%d]: %w", i, err)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Header is the unverified identity of a manifest.
type Header struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Version uint64 `json:"version"`
}

// Peek returns a manifest's kind, name and version WITHOUT verifying
// anything. Use it only to look up the LastVersion and Name to pass to
// Verify, never to act on.
func Peek(data []byte) (Header, error) {
	var h Header
	if err := json.Unmarshal(data, &h); err != nil {
		return Header{}, fmt.Errorf("reading the manifest header: %w: %v", ErrMalformed, err)
	}
	return h, nil
}

// Checksum returns the blob's sha256 as 32 bytes, the form
// minio/selfupdate's Options.Checksum takes.
func (b Blob) Checksum() ([]byte, error) {
	sum, err := hex.DecodeString(b.SHA256)
	if err != nil || len(sum) != 32 {
		return nil, fmt.Errorf("sign: blob %q: %w: sha256 %q is not 64 hex digits", b.Variant, ErrMalformed, b.SHA256)
	}
	return sum, nil
}
