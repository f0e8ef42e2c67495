package transfer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/bits"
	"os"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
)

// FuzzParseBitmap feeds arbitrary bitmap files to parseBitmap, with the
// layout their own header names (so the fuzzer reaches past the layout
// check) and a fixed one. An accepted bitmap re-marshals to the same
// bytes and its count of held chunks is the number of bits set.
func FuzzParseBitmap(f *testing.F) {
	b := newBitmap(10, 4, 3)
	b.set(0)
	b.set(2)
	f.Add(b.marshal())
	f.Add(newBitmap(0, 1, 0).marshal())
	full := newBitmap(1<<20, 1000, 1049)
	for i := range 1049 {
		full.set(i)
	}
	f.Add(full.marshal())
	f.Add(b.marshal()[:20])
	f.Fuzz(func(t *testing.T, data []byte) {
		layouts := [][3]int64{{10, 4, 3}}
		if len(data) >= 24 {
			le := binary.LittleEndian
			layouts = append(layouts, [3]int64{int64(le.Uint64(data[8:])), int64(le.Uint32(data[16:])), int64(le.Uint32(data[20:]))})
		}
		for _, l := range layouts {
			size, chunk, count := l[0], int(l[1]), int(l[2])
			if count > 1<<24 {
				continue // the receiver checks meta first; keep allocations small
			}
			bm, err := parseBitmap(data, size, chunk, count)
			if err != nil {
				continue
			}
			if !bytes.Equal(bm.marshal(), data) {
				t.Fatalf("parseBitmap(%x).marshal() = %x", data, bm.marshal())
			}
			n := 0
			for i := range count {
				if bm.has(i) {
					n++
				}
			}
			ones := 0
			for _, x := range bm.bits {
				ones += bits.OnesCount8(x)
			}
			if bm.have != n || bm.have != ones || bm.have > count {
				t.Fatalf("parseBitmap(%x): have %d; %d chunks marked, %d bits set, count %d", data, bm.have, n, ones, count)
			}
		}
	})
}

// FuzzResume starts a Fetch over a part file and a bitmap left by an
// earlier run, both arbitrary (torn, truncated, lying), with a chunk the
// broker holds replaced by arbitrary bytes. Whatever they claim, Fetch
// returns the published blob or an error: a bitmap that claims chunks
// the part file does not hold is caught by the final sha256, and a later
// Fetch from an honest broker then succeeds.
func FuzzResume(f *testing.F) {
	blob := randomBlob(4000, 9)
	const chunk = 1024 // 4 chunks, the last of 928 bytes
	all := newBitmap(4000, chunk, 4)
	for i := range 4 {
		all.set(i)
	}
	half := newBitmap(4000, chunk, 4)
	half.set(1)
	half.set(3)
	zero := make([]byte, 4000)
	f.Add(all.marshal(), zero, []byte(nil))                 // claims every chunk, holds none
	f.Add(all.marshal(), blob, []byte(nil))                 // honest and complete
	f.Add(half.marshal(), blob[:2000], []byte(nil))         // part file truncated
	f.Add(half.marshal(), zero, blob[1024:2048])            // lies about 1 and 3
	f.Add([]byte("EDGEDBM1"), []byte(nil), []byte("short")) // torn bitmap, bad chunk
	f.Add(all.marshal()[:len(all.marshal())-1], blob, []byte(nil))
	f.Fuzz(func(t *testing.T, bitmapFile, partFile, chunk1 []byte) {
		b := newMemBroker()
		meta, err := Publish(context.Background(), b, bytes.NewReader(blob), int64(len(blob)), &PublishOptions{ChunkSize: chunk})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		r := &Receiver{Sub: b, Dir: dir, Window: 2, Log: quietLog()}
		if err := os.WriteFile(r.BitmapPath(meta.SHA256), bitmapFile, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(r.PartPath(meta.SHA256), partFile, 0o644); err != nil {
			t.Fatal(err)
		}
		// An empty retained message deletes the retained chunk (MQTT), and
		// Fetch would then wait for the publisher as long as ctx allows.
		tampered := len(chunk1) > 0 && !bytes.Equal(chunk1, blob[chunk:2*chunk])
		if len(chunk1) > 0 {
			b.Publish(context.Background(), fleet.BlobChunkTopic(meta.SHA256, 1), chunk1, 1, true)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		path, err := r.Fetch(ctx, meta)
		switch {
		case err == nil:
			got, rerr := os.ReadFile(path)
			if rerr != nil || !bytes.Equal(got, blob) {
				t.Fatalf("Fetch returned %s holding %d bytes (%v) that are not the blob", path, len(got), rerr)
			}
			return
		case errors.Is(err, ErrDigestMismatch):
			for _, p := range []string{r.PartPath(meta.SHA256), r.BitmapPath(meta.SHA256)} {
				if _, serr := os.Stat(p); serr == nil {
					t.Fatalf("%s left after %v", p, err)
				}
			}
		case errors.Is(err, ErrCorruptChunk):
			if !tampered {
				t.Fatalf("Fetch = %v with every chunk as published", err)
			}
		default:
			t.Fatalf("Fetch = %v; want the blob, ErrDigestMismatch or ErrCorruptChunk", err)
		}
		// The broker honest again: a new Fetch gets the blob, or finds
		// the lie a corrupt chunk interrupted, discards it and the next
		// one gets the blob.
		if _, err := Publish(context.Background(), b, bytes.NewReader(blob), int64(len(blob)), &PublishOptions{ChunkSize: chunk}); err != nil {
			t.Fatal(err)
		}
		for try := 0; ; try++ {
			path, err = r.Fetch(ctx, meta)
			if err == nil {
				break
			}
			if try == 1 || !errors.Is(err, ErrDigestMismatch) {
				t.Fatalf("Fetch %d from an honest broker = %v", try+2, err)
			}
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, blob) {
			t.Fatal("Fetch from an honest broker returned a file that is not the blob")
		}
	})
}
