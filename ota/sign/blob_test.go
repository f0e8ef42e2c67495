package sign

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestVerifyBlob(t *testing.T) {
	abc := Blob{Variant: "cpu", SHA256: blobSHA, Size: 3} // FIPS 180-2: sha256("abc")
	tests := []struct {
		name    string
		blob    Blob
		r       io.Reader
		wantErr error
		wantMsg string
	}{
		{"ok", abc, strings.NewReader("abc"), nil, ""},
		{"ok one byte at a time", abc, iotest.OneByteReader(strings.NewReader("abc")), nil, ""},
		{"short", abc, strings.NewReader("ab"), ErrSizeMismatch, "2 bytes; the manifest says 3"},
		{"long", abc, strings.NewReader("abcd"), ErrSizeMismatch, "more than the 3 bytes"},
		{"endless", abc, endless{}, ErrSizeMismatch, "more than the 3 bytes"},
		{"corrupted", abc, strings.NewReader("abd"), ErrDigestMismatch, "the manifest says " + blobSHA},
		{"empty blob", Blob{Variant: "cpu", SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Size: 0}, strings.NewReader(""), nil, ""},
		{"read error", abc, iotest.ErrReader(errors.New("disk gone")), errors.New("disk gone"), "read after 0 bytes"},
		{"bad sha256", Blob{Variant: "cpu", SHA256: "xyz", Size: 3}, strings.NewReader("abc"), ErrMalformed, `sha256 "xyz"`},
	}
	for _, tt := range tests {
		err := VerifyBlob(tt.blob, tt.r)
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("VerifyBlob(%s) error %v; want nil", tt.name, err)
		case tt.wantErr != nil && (err == nil || !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), tt.wantErr.Error())):
			t.Errorf("VerifyBlob(%s) error %v; want %v mentioning %q", tt.name, err, tt.wantErr, tt.wantMsg)
		case tt.wantErr == ErrSizeMismatch || tt.wantErr == ErrDigestMismatch || tt.wantErr == ErrMalformed:
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("VerifyBlob(%s) error %v is not %v", tt.name, err, tt.wantErr)
			}
		}
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

func TestChecksum(t *testing.T) {
	sum, err := Blob{Variant: "cpu", SHA256: blobSHA, Size: 3}.Checksum()
	want := []byte{0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad}
	if err != nil || !bytes.Equal(sum, want) {
		t.Errorf("Checksum() = %x, %v; want %x", sum, err, want)
	}
	if _, err := (Blob{SHA256: blobSHA[:10]}).Checksum(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Checksum(short) error %v; want ErrMalformed", err)
	}
}
