package sign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// KindCommand is the purpose a signing key needs to sign operator commands
// (rollback, promote, hold, resume). It is separate from KindModel so that
// a key handed to a build pipeline to sign models cannot steer devices.
const KindCommand = "command"

// commandContext separates command signatures from manifest and
// certificate signatures: none of them can pass for another.
const commandContext = "edged-sign-v1 command\x00"

// Limits of commands.
const (
	// DefaultMaxCommandSize bounds a command when
	// CommandVerifyOptions.MaxSize is 0. A real one is under 2 KiB.
	DefaultMaxCommandSize = 16 << 10
	// MaxCommandValidity is the longest a command may stay valid, from
	// issued to expires. It bounds how long a device must remember a
	// command's nonce (ota/cmdlog) and how long a captured command can be
	// replayed after a device lost that memory.
	MaxCommandValidity = 7 * 24 * time.Hour
	// nonceLen is the length of a nonce in hex digits (16 random bytes).
	nonceLen = 32
	// maxOpLen bounds an op; maxIDLen a command, device or group id (the
	// fleet protocol's bound).
	maxOpLen = 32
	maxIDLen = 128
)

// Command is an operator's signed instruction to one device or to every
// device of a group. It travels as the payload of the fleet protocol's
// command message; Op and ID repeat the topic's, and the device checks
// that they agree, so a signed command cannot be moved to another op or id.
//
// The signature covers commandContext || Canonical(command JSON,
// "signatures"), like a manifest's. Members this build does not know are
// covered and ignored; a change old agents must not ignore bumps V.
type Command struct {
	V  int    `json:"v"`  // envelope format version, 1
	Op string `json:"op"` // OpRollback, OpPromote, OpHold, OpResume
	ID string `json:"id"` // the command id, as in the topic
	// Exactly one of Device and Group: the device id, or the group, the
	// command is for. A device acts on a command for itself or for a group
	// it is configured in.
	Device string `json:"device,omitempty"`
	Group  string `json:"group,omitempty"`
	// Issued is when the operator signed it; Expires when it stops being
	// valid, at most MaxCommandValidity later. A retained command is
	// ignored after Expires.
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
	// Nonce is 32 lower-case hex digits from a random source. A device
	// remembers the nonces of the commands it acted on until they expire
	// and refuses one seen again (ErrReplay).
	Nonce string `json:"nonce"`
	// Payload is the op's arguments (Rollback, Target), decoded with
	// DecodePayload.
	Payload json.RawMessage `json:"payload,omitempty"`

	Signatures []Signature `json:"signatures"`
}

// validate checks the fields that need no key or clock. Errors wrap
// ErrMalformed.
func (c *Command) validate() error {
	switch {
	case c.V != 1:
		return fmt.Errorf("%w: command format v%d; this build reads v1", ErrMalformed, c.V)
	case !validName(c.Op, maxOpLen):
		return fmt.Errorf("%w: op %q: want 1 to %d of A-Z a-z 0-9 . _ -", ErrMalformed, clipText(c.Op), maxOpLen)
	case !validID(c.ID):
		return fmt.Errorf("%w: id %q: want 1 to %d characters without '/', '+', '#', spaces or control characters", ErrMalformed, clipText(c.ID), maxIDLen)
	case (c.Device == "") == (c.Group == ""):
		return fmt.Errorf("%w: want exactly one of device and group", ErrMalformed)
	case c.Device != "" && !validID(c.Device):
		return fmt.Errorf("%w: device %q: want 1 to %d characters without '/', '+', '#', spaces or control characters", ErrMalformed, clipText(c.Device), maxIDLen)
	case c.Group != "" && !validID(c.Group):
		return fmt.Errorf("%w: group %q: want 1 to %d characters without '/', '+', '#', spaces or control characters", ErrMalformed, clipText(c.Group), maxIDLen)
	case c.Issued.IsZero():
		return fmt.Errorf("%w: issued is missing", ErrMalformed)
	case c.Expires.IsZero():
		return fmt.Errorf("%w: expires is missing", ErrMalformed)
	case !c.Expires.After(c.Issued):
		return fmt.Errorf("%w: expires %s is not after issued %s", ErrMalformed, c.Expires.Format(time.RFC3339), c.Issued.Format(time.RFC3339))
	case c.Expires.Sub(c.Issued) > MaxCommandValidity:
		return fmt.Errorf("%w: valid for %v (issued %s, expires %s); at most %v", ErrMalformed,
			c.Expires.Sub(c.Issued), c.Issued.Format(time.RFC3339), c.Expires.Format(time.RFC3339), MaxCommandValidity)
	case len(c.Nonce) != nonceLen || !isLowerHex(c.Nonce):
		return fmt.Errorf("%w: nonce: want %d lower-case hex digits", ErrMalformed, nonceLen)
	}
	return nil
}

// validID is the fleet protocol's rule for ids: they are MQTT topic levels.
func validID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c == 0x7f || c == '/' || c == '+' || c == '#':
			return false
		}
	}
	return true
}

func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// NewNonce returns a fresh nonce for Command.Nonce.
func NewNonce() (string, error) {
	var b [nonceLen / 2]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", fmt.Errorf("command nonce: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// SignCommand adds key's signature to c, after giving it a nonce if it has
// none. Encode c with encoding/json afterwards. It refuses a key not
// certified for KindCommand or expired before c.Issued.
func SignCommand(c *Command, key *SigningKey) error {
	if key == nil || key.cert == nil {
		return errors.New("signing a command: no signing key")
	}
	if c.Nonce == "" {
		n, err := NewNonce()
		if err != nil {
			return err
		}
		c.Nonce = n
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("signing command %q: %w", c.ID, err)
	}
	if !key.cert.Allows(KindCommand) {
		return fmt.Errorf("signing command %q: %w: key %s is certified for %q, not %q; make one with: edgectl keys rotate --purpose %s",
			c.ID, ErrWrongPurpose, key.ID(), key.cert.Purposes, KindCommand, KindCommand)
	}
	if !c.Issued.Before(key.cert.NotAfter) {
		return fmt.Errorf("signing command %q: %w: key %s expired at %s, before the command's issued time %s",
			c.ID, ErrUntrustedKey, key.ID(), key.cert.NotAfter.Format(time.RFC3339), c.Issued.Format(time.RFC3339))
	}
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("signing command %q: %w", c.ID, err)
	}
	canon, err := Canonical(body, "signatures")
	if err != nil {
		return fmt.Errorf("signing command %q: %w", c.ID, err)
	}
	s := Signature{
		KeyID:       key.ID(),
		Certificate: key.cert,
		Sig:         ed25519.Sign(key.priv, append([]byte(commandContext), canon...)),
	}
	c.Signatures = slices.DeleteFunc(c.Signatures, func(o Signature) bool { return o.KeyID == s.KeyID })
	c.Signatures = append(c.Signatures, s)
	return nil
}

// CommandVerifyOptions says what a device expects of a command.
type CommandVerifyOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Skew is how far ahead of Now a command's issued time or a
	// certificate's not_before may lie. It does not extend expiry.
	Skew time.Duration
	// Device is this device's id. Required.
	Device string
	// Groups are the groups this device is in.
	Groups []string
	// Op and ID, if set, are the op and command id the command arrived
	// under (the topic's); the signed ones must be equal.
	Op, ID string
	// Seen, if set, reports whether the device already acted on a command
	// with this nonce; such a command is refused with ErrReplay. It is
	// asked last, only about authentic, current commands for this device.
	Seen func(nonce string) bool
	// MaxSize bounds the command's size in bytes; 0 means
	// DefaultMaxCommandSize.
	MaxSize int
	// Revoked lists key ids of signing keys to distrust.
	Revoked []string
}

// VerifyCommand decodes an operator command and returns it if one of its
// signatures chains to root and it is for this device now. The checks run
// in this order, and the error wraps the sentinel of the first that fails
// (Check names it):
//
//  1. size and JSON: ErrMalformed
//  2. at least one signature: ErrUnsigned
//  3. fields, validity at most MaxCommandValidity: ErrMalformed
//  4. a signature by a key whose certificate root signed, valid now and
//     not revoked (ErrUntrustedKey), certified for KindCommand
//     (ErrWrongPurpose), over this command (ErrBadSignature)
//  5. op and id as the topic says: ErrMismatch
//  6. for this device or one of its groups: ErrOtherDevice
//  7. issued and expires against Now: ErrNotYetValid, ErrExpired
//  8. nonce not seen: ErrReplay
//
// Checks 5 to 8 run only on authentic content. The returned command is
// decoded from the bytes the signature covers.
func VerifyCommand(data []byte, root ed25519.PublicKey, opts CommandVerifyOptions) (*Command, error) {
	if len(root) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("command: root public key is %d bytes; want %d", len(root), ed25519.PublicKeySize)
	}
	if opts.Device == "" {
		return nil, errors.New("command: the device id to check it against is empty")
	}
	limit := opts.MaxSize
	if limit <= 0 {
		limit = DefaultMaxCommandSize
	}
	if len(data) > limit {
		return nil, fmt.Errorf("command: %w: %d bytes; the limit is %d", ErrMalformed, len(data), limit)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	t := now()

	c, canon, err := decodeCommand(data)
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	where := "command"
	if c.ID != "" {
		where = fmt.Sprintf("command %q (%s)", clipText(c.ID), clipText(c.Op))
	}
	// Unsigned first: an unsigned payload (such as the {"model": NAME} of
	// command protocol 1) is named as such, whatever else is wrong with it.
	if len(c.Signatures) == 0 {
		return nil, fmt.Errorf("%s: %w: the command is not signed by a key certified for operator commands", where, ErrUnsigned)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := verifyCommandSignatures(c, canon, root, t, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	switch {
	case opts.Op != "" && c.Op != opts.Op:
		return nil, fmt.Errorf("%s: %w: signed for op %q, delivered as %q", where, ErrMismatch, c.Op, opts.Op)
	case opts.ID != "" && c.ID != opts.ID:
		return nil, fmt.Errorf("%s: %w: signed with id %q, delivered as %q", where, ErrMismatch, c.ID, opts.ID)
	case c.Device != "" && c.Device != opts.Device:
		return nil, fmt.Errorf("%s: %w: signed for device %q; this is %q", where, ErrOtherDevice, c.Device, opts.Device)
	case c.Group != "" && !slices.Contains(opts.Groups, c.Group):
		return nil, fmt.Errorf("%s: %w: signed for group %q; this device is in %q", where, ErrOtherDevice, c.Group, opts.Groups)
	case t.Add(opts.Skew).Before(c.Issued):
		return nil, fmt.Errorf("%s: %w: issued %s; the device clock reads %s", where, ErrNotYetValid, c.Issued.Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	case !t.Before(c.Expires):
		return nil, fmt.Errorf("%s: %w: expired %s; the device clock reads %s", where, ErrExpired, c.Expires.Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	case opts.Seen != nil && opts.Seen(c.Nonce):
		return nil, fmt.Errorf("%s: %w: this device already acted on a command with nonce %s", where, ErrReplay, c.Nonce)
	}
	return c, nil
}

// decodeCommand returns the command decoded from its canonical encoding
// (the signed bytes), with the signatures decoded from data.
func decodeCommand(data []byte) (*Command, []byte, error) {
	canon, err := Canonical(data, "signatures")
	if err != nil {
		return nil, nil, err
	}
	var c Command
	if err := json.Unmarshal(canon, &c); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// As in decodeManifest: only the exact member "signatures" is
	// unsigned.
	c.Signatures = nil
	raw, err := exactMember(data, "signatures")
	if err != nil {
		return nil, nil, err
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &c.Signatures); err != nil {
			return nil, nil, fmt.Errorf("%w: signatures: %v", ErrMalformed, err)
		}
	}
	return &c, canon, nil
}

func verifyCommandSignatures(c *Command, canon []byte, root ed25519.PublicKey, now time.Time, opts CommandVerifyOptions) error {
	switch n := len(c.Signatures); {
	case n == 0:
		return fmt.Errorf("%w: the command is not signed", ErrUnsigned)
	case n > maxSignatures:
		return fmt.Errorf("%w: %d signatures; at most %d are read", ErrMalformed, n, maxSignatures)
	}
	msg := append([]byte(commandContext), canon...)
	var errs []error
	for i, s := range c.Signatures {
		err := verifySig(msg, s, root, now, opts.Skew, KindCommand, opts.Revoked)
		if err == nil {
			return nil
		}
		if len(c.Signatures) > 1 {
			err = fmt.Errorf("signatures[%d]: %w", i, err)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// verifySig checks one signature over msg by a key root certified for
// purpose.
func verifySig(msg []byte, s Signature, root ed25519.PublicKey, now time.Time, skew time.Duration, purpose string, revoked []string) error {
	if s.Certificate == nil {
		return fmt.Errorf("%w: signature by key %q has no certificate", ErrMalformed, clipText(s.KeyID))
	}
	c, err := s.Certificate.verify(root, now, skew)
	if err != nil {
		return err
	}
	if !c.Allows(purpose) {
		return fmt.Errorf("%w: key %s is certified for %q, not %q", ErrWrongPurpose, c.KeyID, c.Purposes, purpose)
	}
	if slices.Contains(revoked, c.KeyID) {
		return fmt.Errorf("%w: key %s is revoked", ErrUntrustedKey, c.KeyID)
	}
	if s.KeyID != c.KeyID {
		return fmt.Errorf("%w: signature names key %q but its certificate is for key %s", ErrMalformed, clipText(s.KeyID), c.KeyID)
	}
	if len(s.Sig) != ed25519.SignatureSize || !ed25519.Verify(ed25519.PublicKey(c.PublicKey), msg, s.Sig) {
		return fmt.Errorf("%w: by key %s", ErrBadSignature, c.KeyID)
	}
	return nil
}

// DecodePayload decodes c's payload into p strictly: no unknown member,
// no trailing data, and p's own checks (Rollback, Target). Errors wrap
// ErrMalformed. Decode only the payload of a command VerifyCommand
// returned.
func DecodePayload(c *Command, p Payload) error {
	if len(c.Payload) == 0 || bytes.Equal(c.Payload, []byte("null")) {
		return fmt.Errorf("command %q (%s): %w: no payload", c.ID, c.Op, ErrMalformed)
	}
	d := json.NewDecoder(bytes.NewReader(c.Payload))
	d.DisallowUnknownFields()
	if err := d.Decode(p); err != nil {
		return fmt.Errorf("command %q (%s): %w: payload: %v", c.ID, c.Op, ErrMalformed, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("command %q (%s): %w: data after the payload", c.ID, c.Op, ErrMalformed)
	}
	if err := p.check(c.Op); err != nil {
		return fmt.Errorf("command %q (%s): %w: payload: %v", c.ID, c.Op, ErrMalformed, err)
	}
	return nil
}
