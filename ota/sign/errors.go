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

	// ErrUntrustedKey is returned when a signing-key certificate does not
	// chain to the configured root: it is not signed by the root, it is
	// outside its not_before/not_after window, it was revoked, or it is not
	// certified for the manifest's kind (a "model" key signing an "agent"
	// manifest).
	ErrUntrustedKey = errors.New("untrusted signing key")

	// ErrExpired is returned for an authentic manifest whose expires time is
	// not after the verifier's clock.
	ErrExpired = errors.New("expired")

	// ErrNotYetValid is returned for an authentic manifest whose created time
	// is later than the verifier's clock plus VerifyOptions.Skew. On devices
	// without a real-time clock this usually means the clock is not yet
	// synchronised; the delivery may be retried later.
	ErrNotYetValid = errors.New("not yet valid")

	// ErrReplay is returned for an authentic manifest whose version is not
	// newer than VerifyOptions.LastVersion: an old manifest sent again.
	ErrReplay = errors.New("replayed")

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
