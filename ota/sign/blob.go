package sign

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
)

// VerifyBlob reads r to the end and checks that it holds exactly b.Size
// bytes whose sha256 is b.SHA256. It reads at most b.Size+1 bytes, so an
// endless or oversized source is cut off, and reports ErrSizeMismatch
// before ErrDigestMismatch. b must come from a verified manifest.
func VerifyBlob(b Blob, r io.Reader) error {
	want, err := b.Checksum()
	if err != nil {
		return fmt.Errorf("model file: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, b.Size+1))
	if err != nil {
		return fmt.Errorf("%s model file: read after %d bytes: %w", b.Variant, n, err)
	}
	if n > b.Size {
		return fmt.Errorf("%s model file: %w: more than the %d bytes the manifest says", b.Variant, ErrSizeMismatch, b.Size)
	}
	if n < b.Size {
		return fmt.Errorf("%s model file: %w: %d bytes; the manifest says %d", b.Variant, ErrSizeMismatch, n, b.Size)
	}
	got := h.Sum(nil)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("%s model file: %w: sha256 %s; the manifest says %s", b.Variant, ErrDigestMismatch, hex.EncodeToString(got), b.SHA256)
	}
	return nil
}
