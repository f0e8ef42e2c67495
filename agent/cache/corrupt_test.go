package cache

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
)

// goodFile writes a valid cache of n entries (input i -> outputs(i)) and
// returns its bytes.
func goodFile(t *testing.T, path string, n int) []byte {
	t.Helper()
	s := open(t, path, nil)
	fill(t, s, modelA, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func input(i int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }

func TestCorruptFile(t *testing.T) {
	const entries = 300 // enough for branch pages
	good := goodFile(t, filepath.Join(t.TempDir(), "good.db"), entries)
	if len(good) < 8*4096 {
		t.Fatalf("good file is %d bytes; want several pages", len(good))
	}
	flip := func(b []byte, at, n int) []byte {
		b = append([]byte(nil), b...)
		for i := at; i < at+n && i < len(b); i++ {
			b[i] ^= 0xff
		}
		return b
	}
	// The pages in use end at the high-water mark; the file may be longer.
	var hwm int
	{
		path := filepath.Join(t.TempDir(), "hwm.db")
		if err := os.WriteFile(path, good, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		_ = db.View(func(tx *bolt.Tx) error { hwm = int(tx.Size()); return nil })
		db.Close()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 16*4096)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	otherFormat := func(t *testing.T, path string) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			return b.Put(keyFormat, []byte{formatVersion + 1})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	foreign := func(t *testing.T, path string) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("outbox")); return err }); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name  string
		data  []byte                          // file content, or
		make  func(t *testing.T, path string) // a function that writes it
		aside bool                            // must be moved aside; otherwise it may be
	}{
		{name: "empty file", data: []byte{}},
		{name: "random bytes", data: random, aside: true},
		{name: "one random page", data: random[:4096], aside: true},
		{name: "a few bytes", data: []byte("not a database"), aside: true},
		{name: "truncated to 100", data: good[:100], aside: true},
		{name: "truncated to 1 page", data: good[:4096], aside: true},
		{name: "truncated to 2 pages and a bit", data: good[:2*4096+10], aside: true},
		{name: "truncated to half", data: good[:len(good)/2], aside: true},
		{name: "last page in use cut", data: good[:hwm-4096], aside: true},
		{name: "last byte in use cut", data: good[:hwm-1], aside: true},
		{name: "cut after the pages in use", data: good[:hwm]},
		{name: "both meta pages flipped", data: flip(flip(good, 16, 64), 4096+16, 64), aside: true},
		{name: "first meta page flipped", data: flip(good, 16, 64)}, // bbolt falls back to the second
		{name: "middle flipped", data: flip(good, len(good)/2, 64)},
		{name: "page 3 header flipped", data: flip(good, 3*4096, 16)},
		{name: "page 5 flipped", data: flip(good, 5*4096+100, 200)},
		{name: "last page flipped", data: flip(good, len(good)-4096, 4096)},
		{name: "other format version", make: otherFormat, aside: true},
		{name: "another bbolt file", make: foreign, aside: true},
	}
	for i := range 6 {
		at := 2*4096 + rng.IntN(len(good)-2*4096)
		tests = append(tests, struct {
			name  string
			data  []byte
			make  func(t *testing.T, path string)
			aside bool
		}{name: "random flip " + string(rune('a'+i)), data: flip(good, at, 1+rng.IntN(32))})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache.db")
			if tt.make != nil {
				tt.make(t, path)
			} else if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			var log testenv.SyncBuffer
			s := open(t, path, &Options{Log: slog.New(slog.NewTextHandler(&log, nil))})
			defer s.Close()
			moved, _ := filepath.Glob(path + ".corrupt-*")
			switch {
			case tt.aside && len(moved) != 1:
				t.Fatalf("moved aside: %v; want one PATH.corrupt-* file", moved)
			case len(moved) > 1:
				t.Fatalf("moved aside: %v; want at most one file", moved)
			case len(moved) == 1:
				if !strings.Contains(log.String(), "moved aside") {
					t.Errorf("log = %q; want a warning about the move", log.String())
				}
				if got := s.Stats().Entries; got != 0 {
					t.Errorf("Entries after moving aside = %d; want 0", got)
				}
			}
			// Whatever survived is either right or a miss, never a wrong answer.
			hits := 0
			if tt.make == nil && len(tt.data) > 0 {
				for i := range entries {
					got, ok, err := s.Get(modelA, input(i))
					if ok && !sameTensors(got, outputs(byte(i))) {
						t.Fatalf("Get(%d) = %v; want %v or a miss", i, got, outputs(byte(i)))
					}
					if ok {
						hits++
					}
					if err != nil {
						t.Logf("Get(%d) error = %v", i, err)
					}
				}
			}
			t.Logf("moved aside: %t; %d of %d entries served; log: %s", len(moved) == 1, hits, entries, log.String())
			// And the store works.
			mustPut(t, s, modelB, []byte("new"), outputs(9))
			wantGet(t, s, modelB, []byte("new"), outputs(9))
		})
	}
}

// bbolt checks only its meta pages; a changed byte in a value is caught
// by the value's checksum.
func TestFlippedValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	marked := []infer.Tensor{{Name: "out", DType: tensor.UInt8, Shape: []int{16}, Data: []byte("EDGED-CACHE-MARK")}}
	s := open(t, path, nil)
	fill(t, s, modelA, 50)
	mustPut(t, s, modelB, []byte("marked"), marked)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, []byte("EDGED-CACHE-MARK"))
	if at < 0 || bytes.Count(b, []byte("EDGED-CACHE-MARK")) != 1 {
		t.Fatalf("the marked value is not in the file exactly once")
	}
	b[at+3] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var log testenv.SyncBuffer
	s = open(t, path, &Options{Log: slog.New(slog.NewTextHandler(&log, nil))})
	defer s.Close()
	wantGet(t, s, modelB, []byte("marked"), nil)
	if !strings.Contains(log.String(), "checksum") {
		t.Errorf("log = %q; want a checksum warning", log.String())
	}
	for i := range 50 {
		wantGet(t, s, modelA, input(i), outputs(byte(i)))
	}
	mustPut(t, s, modelA, []byte("next"), outputs(1)) // deletes the bad entry
	if got := s.Stats().Entries; got != 51 {
		t.Errorf("Entries = %d; want 51", got)
	}
}
