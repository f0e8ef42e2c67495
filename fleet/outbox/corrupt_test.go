package outbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// goodFile writes an outbox of n events of about 100 bytes and returns
// its bytes.
func goodFile(t *testing.T, n int) []byte {
	t.Helper()
	path := tempPath(t)
	b := open(t, path, &Options{NoSync: true, Log: slog.New(slog.DiscardHandler)})
	for i := range n {
		if _, err := b.Append(Event, "edged/v1/dev/pi-7/events", []byte(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 80)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// boltFile makes a bbolt file with fn's content and returns its bytes.
func boltFile(t *testing.T, fn func(tx *bolt.Tx) error) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	db.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func buckets(tx *bolt.Tx, names ...string) []*bolt.Bucket {
	var out []*bolt.Bucket
	for _, n := range names {
		b, err := tx.CreateBucketIfNotExists([]byte(n))
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// outboxLike writes the buckets of an outbox with one message of value v
// at seq 5 (next 6), indexed under kind k unless k is 0.
func outboxLike(format byte, v []byte, k byte) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		bs := buckets(tx, "meta", "msgs", "kinds")
		bs[0].Put([]byte("format"), []byte{format})
		bs[0].Put([]byte("next"), u64(6))
		bs[1].Put(u64(5), v)
		if k != 0 {
			bs[2].Put(append([]byte{k}, u64(5)...), nil)
		}
		return nil
	}
}

func TestCorruptFile(t *testing.T) {
	good := goodFile(t, 300)
	if len(good) < 8*4096 {
		t.Fatalf("good file is %d bytes; want several pages", len(good))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 16*4096)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	metaGarbage := bytes.Clone(good)
	for i := range 2 * 4096 {
		metaGarbage[i] ^= 0xff
	}
	entry := []byte{byte(Event), 1, 't', '{', '}'} // kind, topic length, "t", {}
	tests := []struct {
		name    string
		data    []byte
		wantErr string // in the log
	}{
		{"random bytes", random, "moved aside"},
		{"truncated", good[:len(good)/2], "moved aside"},
		{"meta pages garbage", metaGarbage, "moved aside"},
		{"foreign bbolt file", boltFile(t, func(tx *bolt.Tx) error { buckets(tx, "foo"); return nil }), "not an outbox file"},
		{"other format", boltFile(t, outboxLike(2, entry, byte(Event))), "format version [2]; want [1]"},
		{"bad kind", boltFile(t, outboxLike(1, []byte{9, 1, 't', '{', '}'}, 9)), "entry of kind 9"},
		{"bad topic length", boltFile(t, outboxLike(1, []byte{byte(Event), 99, 't'}, byte(Event))), "bad topic length"},
		{"not indexed", boltFile(t, outboxLike(1, entry, 0)), "missing from the event index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			b, err := Open(path, &Options{NoSync: true, Log: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatalf("Open = %v; want a fresh outbox", err)
			}
			defer b.Close()
			if !strings.Contains(log.String(), "moved aside") || !strings.Contains(log.String(), tt.wantErr) {
				t.Errorf("log %q; want a move aside mentioning %q", log.String(), tt.wantErr)
			}
			if n := b.Pending(); n != 0 {
				t.Errorf("Pending = %d; want 0", n)
			}
			if _, err := b.Append(Event, "t", []byte(`{}`)); err != nil {
				t.Errorf("Append to the fresh file: %v", err)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("files moved aside: %v; want 1", aside)
			}
			if kept, err := os.ReadFile(aside[0]); err != nil || !bytes.Equal(kept, tt.data) {
				t.Errorf("moved-aside file differs from the original (%v)", err)
			}
		})
	}
}

// TestCorruptPages flips each page of a good file in turn: Open never
// fails or panics, and either keeps all 300 messages or starts afresh.
func TestCorruptPages(t *testing.T) {
	good := goodFile(t, 300)
	for off := 0; off < len(good); off += 4096 {
		data := bytes.Clone(good)
		for i := off; i < off+4096 && i < len(data); i++ {
			data[i] ^= 0xff
		}
		path := tempPath(t)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := Open(path, &Options{NoSync: true, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("page at %d flipped: Open = %v", off, err)
		}
		aside, _ := filepath.Glob(path + ".corrupt-*")
		if n := b.Pending(); !(n == 300 && len(aside) == 0 || n == 0 && len(aside) == 1) {
			t.Errorf("page at %d flipped: %d pending, %d files aside; want 300 and 0, or 0 and 1", off, n, len(aside))
		}
		b.Close()
	}
}

// TestLocked: a file another process holds is not corrupt: Open fails
// and leaves it alone.
func TestLocked(t *testing.T) {
	path := tempPath(t)
	first := open(t, path, &Options{NoSync: true})
	defer first.Close()
	_, err := Open(path, &Options{Timeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("second Open = %v; want a lock timeout", err)
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
		t.Errorf("locked file moved aside: %v", aside)
	}
}

func TestEmptyFileIsNew(t *testing.T) {
	path := tempPath(t)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b := open(t, path, &Options{NoSync: true, Log: slog.New(slog.DiscardHandler)})
	if _, err := b.Append(Drift, "t", []byte(`{}`)); err != nil || b.Pending() != 1 {
		t.Errorf("Append to an empty file: %v, pending %d", err, b.Pending())
	}
}
