package deploy

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// The command and canary records start afresh, with a warning, when their
// file is damaged or foreign, and keep their content when it is sound.
func TestOpenRecord(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, path string)
		wantKept  bool // the record written by setup is still there
		wantMoved bool
	}{
		{name: "missing", setup: func(*testing.T, string) {}},
		{name: "sound", wantKept: true, setup: func(t *testing.T, p string) { writeRecord(t, p, bucketRollouts) }},
		{name: "garbage", wantMoved: true, setup: func(t *testing.T, p string) {
			if err := os.WriteFile(p, bytes.Repeat([]byte("not bbolt "), 2000), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "foreign buckets", wantMoved: true, setup: func(t *testing.T, p string) { writeRecord(t, p, []byte("other")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "canary.db")
			tt.setup(t, path)
			var logs bytes.Buffer
			db, err := openRecord(path, bucketRollouts, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("openRecord: %v", err)
			}
			defer db.Close()
			var got []byte
			db.View(func(tx *bolt.Tx) error {
				got = tx.Bucket(bucketRollouts).Get([]byte("k"))
				return nil
			})
			if kept := string(got) == "v"; kept != tt.wantKept {
				t.Errorf("record kept = %v; want %v", kept, tt.wantKept)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if moved := len(aside) == 1; moved != tt.wantMoved {
				t.Errorf("moved aside: %q; want moved %v", aside, tt.wantMoved)
			}
			if warned := strings.Contains(logs.String(), "moved aside"); warned != tt.wantMoved {
				t.Errorf("warning logged = %v; want %v (log: %s)", warned, tt.wantMoved, logs.String())
			}
		})
	}
}

func writeRecord(t *testing.T, path string, bucket []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucket)
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
}
