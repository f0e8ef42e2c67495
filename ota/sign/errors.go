package sign

import "errors"

// Sentinel errors. Every rejection by Verify wraps one of them (several
// only when several signatures failed for different reasons), so callers can
// pick the event to publish with errors.Is; the message names the manifest,
// version, key or blob concerned. VerifyBlob wraps ErrSizeMismatch or
// ErrDigestMismatch, or returns the reader's error.
var (
	// ErrMalformed is returned when the input is not a well-formed v1
	// manifest, certificate or key file: bad JSON, duplicate keys, a missing
	// or out-of-range field, an unsupported format version, or input larger
	// than VerifyOptions.MaxSize.
	ErrMalformed = errors.New("malformed")

	// ErrBadSignature is returned when a manifest carries no signature, or
	// when no signature verifies over the manifest's canonical encoding: the
	// manifest was altered after signing, or was signed by another key than
	// the one its certificate names.
	ErrBadSignature = errors.New("bad signature")

	// ErrUnsigned is returned when a manifest or command carries no
	// signature at all. It wraps ErrBadSignature, so callers that only ask
	// for that still refuse it.
	ErrUnsigned error = &kindOf{"unsigned", ErrBadSignature}

	// ErrUntrustedKey is returned when a signing-key certificate does not
	// chain to the configured root: it is not signed by the root, it is
	// outside its not_before/not_after window, it was revoked, or it is not
	// certified for the manifest's kind (a "model" key signing an "agent"
	// manifest).
	ErrUntrustedKey = errors.New("untrusted signing key")

	// ErrWrongPurpose is returned when a genuine signing key signed
	// something it is not certified for: a "model" key signing an agent
	// manifest or an operator command. It wraps ErrUntrustedKey.
	ErrWrongPurpose error = &kindOf{"wrong purpose", ErrUntrustedKey}

	// ErrExpired is returned for an authentic manifest whose expires time is
	// not after the verifier's clock.
	ErrExpired = errors.New("expired")

	// ErrNotYetValid is returned for an authentic manifest whose created time
	// is later than the verifier's clock plus VerifyOptions.Skew. On devices
	// without a real-time clock this usually means the clock is not yet
	// synchronised; the delivery may be retried later.
	ErrNotYetValid = errors.New("not yet valid")

	// ErrReplay is returned for an authentic manifest whose version is not
	// newer than VerifyOptions.LastVersion (an old manifest sent again), and
	// for an authentic command whose nonce the device has seen before.
	ErrReplay = errors.New("replayed")

	// ErrOtherDevice is returned for an authentic operator command that
	// is addressed to another device, or to a group this device is not in.
	ErrOtherDevice = errors.New("for another device")

	// ErrMismatch is returned for an authentic manifest that is not what the
	// caller asked for: another kind than VerifyOptions.Kind, or another name
	// than VerifyOptions.Name.
	ErrMismatch = errors.New("mismatch")

	// ErrSizeMismatch is returned by VerifyBlob when the blob has another
	// length than the manifest says.
	ErrSizeMismatch = errors.New("size mismatch")

	// ErrDigestMismatch is returned by VerifyBlob when the blob's sha256 is
	// not the one in the manifest: corrupted or substituted content.
	ErrDigestMismatch = errors.New("sha256 mismatch")
)

// kindOf is a sentinel that is also a case of a broader one: errors.Is
// finds both, and the message names only the narrower.
type kindOf struct {
	msg    string
	parent error
}

func (e *kindOf) Error() string { return e.msg }
func (e *kindOf) Unwrap() error { return e.parent }

// Check names the check an error from Verify, VerifyStored or
// VerifyCommand failed, for events and command statuses: "unsigned",
// "bad_signature", "wrong_purpose", "untrusted_key", "malformed",
// "mismatch", "other_device", "not_yet_valid", "expired", "replayed";
// "" for nil and "error" for an error of none of these kinds. When
// several signatures failed differently, the first of these in this
// order is named.
func Check(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range []struct {
		err  error
		name string
	}{
		{ErrUnsigned, "unsigned"},
		{ErrBadSignature, "bad_signature"},
		{ErrWrongPurpose, "wrong_purpose"},
		{ErrUntrustedKey, "untrusted_key"},
		{ErrMalformed, "malformed"},
		{ErrMismatch, "mismatch"},
		{ErrOtherDevice, "other_device"},
		{ErrNotYetValid, "not_yet_valid"},
		{ErrExpired, "expired"},
		{ErrReplay, "replayed"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "error"
}
