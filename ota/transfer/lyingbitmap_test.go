package transfer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/edged-dev/edged/internal/testenv"
)

// TestLyingBitmap: a bitmap that claims chunks the part file does not
// hold (a lost write, a swapped file) is not believed past the final
// sha256: Fetch fails with ErrDigestMismatch, discards both files, and the
// next Fetch downloads the blob whole.
func TestLyingBitmap(t *testing.T) {
	testenv.CheckLeaks(t)
	blob := randomBlob(4000, 5)
	tests := []struct {
		name   string
		claims []int
		part   []byte
	}{
		{name: "all claimed, zeros held", claims: []int{0, 1, 2, 3}, part: make([]byte, 4000)},
		{name: "one claimed, flipped byte", claims: []int{2}, part: func() []byte {
			p := append([]byte(nil), blob...)
			p[2048+5] ^= 0x80
			return p
		}()},
		{name: "last claimed, other blob", claims: []int{3}, part: randomBlob(4000, 6)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newMemBroker()
			meta, err := Publish(context.Background(), b, bytes.NewReader(blob), int64(len(blob)), &PublishOptions{ChunkSize: 1024})
			if err != nil {
				t.Fatal(err)
			}
			r := &Receiver{Sub: b, Dir: t.TempDir(), Log: quietLog()}
			bm := newBitmap(meta.Size, meta.ChunkSize, meta.Count)
			for _, i := range tc.claims {
				bm.set(i)
			}
			if err := os.WriteFile(r.BitmapPath(meta.SHA256), bm.marshal(), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(r.PartPath(meta.SHA256), tc.part, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Fetch(context.Background(), meta); !errors.Is(err, ErrDigestMismatch) {
				t.Fatalf("Fetch over a lying bitmap = %v; want ErrDigestMismatch", err)
			}
			for _, p := range []string{r.PartPath(meta.SHA256), r.BitmapPath(meta.SHA256)} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s left after the mismatch", p)
				}
			}
			path, err := r.Fetch(context.Background(), meta)
			if err != nil {
				t.Fatalf("second Fetch = %v", err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, blob) {
				t.Error("second Fetch returned a file that is not the blob")
			}
		})
	}
}
