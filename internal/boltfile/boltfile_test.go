package boltfile

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var bucket = []byte("b")

// fill writes a file with n keys of 100 bytes in bucket b: several pages.
func fill(t *testing.T, path string, n int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		for i := range n {
			if err := b.Put(fmt.Appendf(nil, "key%06d", i), bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func wantBucket(tx *bolt.Tx) error {
	if tx.Bucket(bucket) == nil {
		return errors.New("no bucket b")
	}
	return nil
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(t *testing.T, path string)
		check       func(tx *bolt.Tx) error
		wantCorrupt bool
	}{
		{name: "new file", setup: func(*testing.T, string) {}},
		{name: "good file", setup: func(t *testing.T, p string) { fill(t, p, 500) }, check: wantBucket},
		{name: "garbage", wantCorrupt: true, setup: func(t *testing.T, p string) {
			b := make([]byte, 16384)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "truncated", wantCorrupt: true, setup: func(t *testing.T, p string) {
			fill(t, p, 2000)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "overwritten pages", wantCorrupt: true, setup: func(t *testing.T, p string) {
			fill(t, p, 2000)
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// Pages 0 and 1 are the meta pages; the tree starts at 2.
			junk := bytes.Repeat([]byte{0xA5}, 4*4096)
			if _, err := f.WriteAt(junk, 4*4096); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "layout refused", wantCorrupt: true, check: func(*bolt.Tx) error { return errors.New("not ours") },
			setup: func(t *testing.T, p string) { fill(t, p, 10) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			tt.setup(t, path)
			before, _ := os.ReadFile(path)
			// A panic inside bolt.Open leaks its file lock on that inode
			// until exit, so Open and OpenOrMoveAside get copies.
			probe := path + ".probe"
			if before != nil {
				if err := os.WriteFile(probe, before, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			db, err := Open(probe, Options{}, tt.check)
			if got := IsCorrupt(err); got != tt.wantCorrupt {
				t.Fatalf("Open: err = %v; corrupt = %v, want %v", err, got, tt.wantCorrupt)
			}
			if err == nil {
				db.Close()
				return
			}
			if db != nil {
				t.Errorf("Open returned a DB with error %v", err)
			}
			db, moved, err := OpenOrMoveAside(path, Options{}, tt.check)
			if err != nil {
				t.Fatalf("OpenOrMoveAside: %v", err)
			}
			defer db.Close()
			if moved == nil || !IsCorrupt(moved.Cause) {
				t.Fatalf("OpenOrMoveAside moved = %+v; want the move and its cause", moved)
			}
			aside := moved.Aside
			if !strings.HasPrefix(aside, path+".corrupt-") {
				t.Errorf("aside = %q; want %s.corrupt-TIME", aside, path)
			}
			kept, err := os.ReadFile(aside)
			if err != nil || !bytes.Equal(kept, before) {
				t.Errorf("the moved-aside file does not hold the damaged bytes (err %v)", err)
			}
			// The fresh file is usable.
			if err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket(bucket)
				if err != nil {
					return err
				}
				return b.Put([]byte("k"), []byte("v"))
			}); err != nil {
				t.Errorf("fresh file: %v", err)
			}
		})
	}
}

// Errors that are not the file's fault leave it where it is.
func TestOpenNotCorrupt(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing", "x.db"), Options{}, nil); err == nil || IsCorrupt(err) {
		t.Errorf("Open in a missing directory: err = %v; want a file system error, not corruption", err)
	}
	path := filepath.Join(dir, "locked.db")
	held, err := Open(path, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	db, moved, err := OpenOrMoveAside(path, Options{Timeout: 50 * time.Millisecond}, nil)
	if !errors.Is(err, bolterrors.ErrTimeout) || db != nil || moved != nil {
		t.Errorf("OpenOrMoveAside of a locked file = %v, %+v, %v; want bolt's timeout and nothing moved", db, moved, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("locked file: %v; want it left in place", err)
	}
}
