package sign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"
)

// Kinds of manifest, which are also the purposes a signing key is certified
// for (with KindCommand, for operator commands).
const (
	KindModel = "model" // a model bundle
	KindAgent = "agent" // an edged binary
)

// knownPurposes are the purposes GenerateSigningKey and Certify accept, so a
// typo does not produce a key that can sign nothing. Verify only compares
// strings, so a newer root tool may certify purposes this one does not know.
var knownPurposes = []string{KindModel, KindAgent, KindCommand}

// Domain-separation prefixes: the message signed is prefix || canonical
// JSON, so a root signature over a certificate can never be taken for a
// signature over a manifest or the other way round.
const (
	certificateContext = "edged-sign-v1 certificate\x00"
	manifestContext    = "edged-sign-v1 manifest\x00"
)

// KeyID returns the id of an ed25519 public key: the first 16 hex characters
// of sha256(pub). It names a key in files, logs and revocation lists; it is
// never trusted on its own, verification always uses the full key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// RootKey is the private half of the root of trust. It only certifies
// signing keys and should live offline; devices know only its public half.
// Its String, Format and LogValue methods never show the private
// key.
type RootKey struct {
	priv ed25519.PrivateKey
}

// GenerateRoot makes a new root key from crypto/rand.
func GenerateRoot() (*RootKey, error) {
	return generateRoot(rand.Reader)
}

func generateRoot(r io.Reader) (*RootKey, error) {
	_, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("generating a root key: %w", err)
	}
	return &RootKey{priv: priv}, nil
}

func rootFromSeed(seed []byte) *RootKey {
	return &RootKey{priv: ed25519.NewKeyFromSeed(seed)}
}

// Public returns the root public key, the one devices are configured with.
func (k *RootKey) Public() ed25519.PublicKey {
	return k.priv.Public().(ed25519.PublicKey)
}

// ID returns KeyID(k.Public()).
func (k *RootKey) ID() string { return KeyID(k.Public()) }

func (k *RootKey) String() string {
	if k == nil || len(k.priv) != ed25519.PrivateKeySize {
		return "sign.RootKey(nil)"
	}
	return "sign.RootKey(" + k.ID() + ", private key redacted)"
}

// Format redacts like String for every verb, so %x or %#v cannot print the
// private key either.
func (k *RootKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue redacts like String for log/slog.
func (k *RootKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Certify signs a certificate for pub, valid from notBefore until (not
// including) notAfter, for the given purposes (KindModel, KindAgent).
// Times are stored in UTC with second precision.
func (k *RootKey) Certify(pub ed25519.PublicKey, notBefore, notAfter time.Time, purposes ...string) (*Certificate, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("certifying a key: public key is %d bytes; want %d", len(pub), ed25519.PublicKeySize)
	}
	notBefore = notBefore.UTC().Truncate(time.Second)
	notAfter = notAfter.UTC().Truncate(time.Second)
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("certifying a key: not_after %s is not after not_before %s", notAfter.Format(time.RFC3339), notBefore.Format(time.RFC3339))
	}
	if len(purposes) == 0 {
		return nil, fmt.Errorf("certifying a key: no purposes; want some of %q", knownPurposes)
	}
	for _, p := range purposes {
		if !slices.Contains(knownPurposes, p) {
			return nil, fmt.Errorf("certifying a key: unknown purpose %q; want some of %q", p, knownPurposes)
		}
	}
	c := &Certificate{
		V:         1,
		KeyID:     KeyID(pub),
		PublicKey: slices.Clone(pub),
		NotBefore: notBefore,
		NotAfter:  notAfter,
		Purposes:  slices.Compact(slices.Sorted(slices.Values(purposes))),
		RootID:    k.ID(),
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("certifying a key: %w", err)
	}
	canon, err := Canonical(body, "sig")
	if err != nil {
		return nil, fmt.Errorf("certifying a key: %w", err)
	}
	c.Sig = ed25519.Sign(k.priv, append([]byte(certificateContext), canon...))
	return c, nil
}

// Certificate is a root's statement that a signing key may sign manifests
// of the listed purposes between NotBefore and NotAfter. It travels inside
// every manifest signature, so a device needs only the root public key.
//
// The root signs certificateContext || Canonical(certificate JSON, "sig").
type Certificate struct {
	V         int       `json:"v"` // format version, 1
	KeyID     string    `json:"key_id"`
	PublicKey []byte    `json:"public_key"` // 32 bytes, base64
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"` // exclusive
	Purposes  []string  `json:"purposes"`
	RootID    string    `json:"root_id"` // KeyID of the certifying root, a hint for operators
	Sig       []byte    `json:"sig"`     // 64 bytes, base64

	// raw is the JSON this certificate was decoded from; its signature is
	// checked over raw, not over a re-encoding, so members added by a newer
	// root tool stay covered. Decoded certificates are not to be modified.
	raw []byte
}

type certificateFields Certificate // without methods, for decoding

// UnmarshalJSON decodes a certificate and remembers the bytes for
// verification.
func (c *Certificate) UnmarshalJSON(data []byte) error {
	var f certificateFields
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	*c = Certificate(f)
	c.raw = slices.Clone(data)
	return nil
}

// MarshalJSON encodes a certificate decoded from JSON as exactly those
// bytes, so members a newer root tool added survive (and keep the root
// signature valid) when a key file or manifest is written again. A
// certificate made by Certify encodes its fields.
func (c *Certificate) MarshalJSON() ([]byte, error) {
	if c.raw != nil {
		return c.raw, nil
	}
	return json.Marshal((*certificateFields)(c))
}

// Allows reports whether the certificate lists purpose.
func (c *Certificate) Allows(purpose string) bool {
	return slices.Contains(c.Purposes, purpose)
}

// verify checks that c is well formed, signed by root, and valid at now.
// Errors wrap ErrMalformed or ErrUntrustedKey.
func (c *Certificate) verify(root ed25519.PublicKey, now time.Time, skew time.Duration) (*Certificate, error) {
	raw, err := c.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrMalformed, err)
	}
	canon, err := Canonical(raw, "sig")
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	// Use the fields of what was signed, decoded afresh.
	var f certificateFields
	if err := json.Unmarshal(canon, &f); err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrMalformed, err)
	}
	v := Certificate(f)
	v.Sig = c.Sig
	v.raw = raw
	switch {
	case v.V != 1:
		return nil, fmt.Errorf("%w: certificate format v%d; this build reads v1", ErrMalformed, v.V)
	case len(v.PublicKey) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("%w: certificate public_key is %d bytes; want %d", ErrMalformed, len(v.PublicKey), ed25519.PublicKeySize)
	case v.KeyID != KeyID(v.PublicKey):
		return nil, fmt.Errorf("%w: certificate key_id %q; its public key has id %q", ErrMalformed, v.KeyID, KeyID(v.PublicKey))
	case len(v.Sig) != ed25519.SignatureSize:
		return nil, fmt.Errorf("%w: certificate for key %s: sig is %d bytes; want %d", ErrMalformed, v.KeyID, len(v.Sig), ed25519.SignatureSize)
	}
	if !ed25519.Verify(root, append([]byte(certificateContext), canon...), v.Sig) {
		return nil, fmt.Errorf("%w: certificate for key %s (root_id %q) is not signed by root %s", ErrUntrustedKey, v.KeyID, v.RootID, KeyID(root))
	}
	if now.Add(skew).Before(v.NotBefore) {
		return nil, fmt.Errorf("%w: key %s is not valid before %s (now %s)", ErrUntrustedKey, v.KeyID, v.NotBefore.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !now.Before(v.NotAfter) {
		return nil, fmt.Errorf("%w: key %s expired at %s (now %s)", ErrUntrustedKey, v.KeyID, v.NotAfter.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return &v, nil
}

// SigningKey is a private signing key together with its root-signed
// certificate. Its String, Format and LogValue methods never show
// the private key.
type SigningKey struct {
	priv ed25519.PrivateKey
	cert *Certificate
}

// GenerateSigningKey makes a new signing key and has root certify it for
// purposes (KindModel, KindAgent) from now for validity. Rotation is calling
// it again: every key certified by the same root verifies until its own
// not_after.
func GenerateSigningKey(root *RootKey, validity time.Duration, purposes ...string) (*SigningKey, error) {
	now := time.Now()
	return generateSigningKey(rand.Reader, root, now, now.Add(validity), purposes...)
}

func generateSigningKey(r io.Reader, root *RootKey, notBefore, notAfter time.Time, purposes ...string) (*SigningKey, error) {
	if root == nil {
		return nil, fmt.Errorf("generating a signing key: nil root key")
	}
	pub, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("generating a signing key: %w", err)
	}
	cert, err := root.Certify(pub, notBefore, notAfter, purposes...)
	if err != nil {
		return nil, fmt.Errorf("generating a signing key: %w", err)
	}
	return &SigningKey{priv: priv, cert: cert}, nil
}

// newSigningKey pairs priv with cert after checking that they belong
// together.
func newSigningKey(priv ed25519.PrivateKey, cert *Certificate) (*SigningKey, error) {
	if cert == nil {
		return nil, fmt.Errorf("%w: signing key has no certificate", ErrMalformed)
	}
	pub := priv.Public().(ed25519.PublicKey)
	if !pub.Equal(ed25519.PublicKey(cert.PublicKey)) {
		return nil, fmt.Errorf("%w: private key %s does not match certificate for key %s", ErrMalformed, KeyID(pub), cert.KeyID)
	}
	return &SigningKey{priv: priv, cert: cert}, nil
}

// Public returns the signing public key.
func (k *SigningKey) Public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// ID returns KeyID(k.Public()).
func (k *SigningKey) ID() string { return KeyID(k.Public()) }

// Certificate returns the key's certificate. It is shared, not copied.
func (k *SigningKey) Certificate() *Certificate { return k.cert }

func (k *SigningKey) String() string {
	if k == nil || len(k.priv) != ed25519.PrivateKeySize || k.cert == nil {
		return "sign.SigningKey(nil)"
	}
	return fmt.Sprintf("sign.SigningKey(%s, %q, until %s, private key redacted)",
		k.ID(), k.cert.Purposes, k.cert.NotAfter.Format(time.RFC3339))
}

// Format redacts like String for every verb.
func (k *SigningKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue redacts like String for log/slog.
func (k *SigningKey) LogValue() slog.Value { return slog.StringValue(k.String()) }
