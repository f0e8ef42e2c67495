package crashtest

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/ota/store"
)

// TestRecorder: the harness's receiver-side checks flag what the outbox
// promises never happens, and accept what it allows (duplicates after a
// crash).
func TestRecorder(t *testing.T) {
	type msg struct {
		topic, payload string
	}
	tests := []struct {
		name        string
		msgs        []msg
		wantErrs    int
		wantMissing []uint64
		wantDups    int
	}{
		{"in order", []msg{{"e", `{"seq":1,"a":1}`}, {"d", `{"seq":2}`}, {"e", `{"seq":3}`}}, 0, nil, 0},
		{"exact duplicate after a crash", []msg{{"e", `{"seq":1}`}, {"e", `{"seq":2}`}, {"e", `{"seq":1}`}, {"e", `{"seq":2}`}, {"e", `{"seq":3}`}}, 0, nil, 2},
		{"same seq, other payload", []msg{{"e", `{"seq":1,"a":1}`}, {"e", `{"seq":1,"a":2}`}}, 1, nil, 1},
		{"same seq, other topic", []msg{{"e", `{"seq":1}`}, {"d", `{"seq":1}`}}, 1, nil, 1},
		{"new seq below the last", []msg{{"e", `{"seq":1}`}, {"e", `{"seq":3}`}, {"e", `{"seq":2}`}}, 1, nil, 0},
		{"lost messages", []msg{{"e", `{"seq":10}`}, {"e", `{"seq":11}`}, {"e", `{"seq":14}`}}, 0, []uint64{12, 13}, 0},
		{"same message under a new seq", []msg{{"e", `{"seq":1,"a":1}`}, {"e", `{"seq":2,"a":1}`}}, 1, nil, 0},
		{"same body on another topic", []msg{{"e", `{"seq":1,"a":1}`}, {"d", `{"seq":2,"a":1}`}}, 0, nil, 0},
		{"no seq", []msg{{"e", `{"v":1}`}, {"e", `not json`}}, 2, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder()
			for _, m := range tc.msgs {
				r.handle(m.topic, []byte(m.payload))
			}
			if errs := r.errors(); len(errs) != tc.wantErrs {
				t.Errorf("errors() = %q; want %d errors", errs, tc.wantErrs)
			}
			if _, _, missing := r.gaps(); !slices.Equal(missing, tc.wantMissing) {
				t.Errorf("gaps() missing = %v; want %v", missing, tc.wantMissing)
			}
			if r.dups != tc.wantDups {
				t.Errorf("dups = %d; want %d", r.dups, tc.wantDups)
			}
		})
	}
}

// TestCheckBolt: a sound file passes, a file with a damaged page does not.
func TestCheckBolt(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	db, err := bolt.Open(good, 0o600, nil)
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for i := range 2000 {
			if err := b.Put([]byte{byte(i >> 8), byte(i)}, make([]byte, 100)); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, db.Close())
	raw, err := os.ReadFile(good)
	must(t, err)
	// Pages 0 and 1 are the meta pages and 2 the freelist; zeroing a
	// page of the tree behind them breaks the bucket's pages.
	bad := filepath.Join(dir, "bad.db")
	pg := os.Getpagesize()
	damaged := slices.Clone(raw)
	for i := 4 * pg; i < 8*pg && i < len(damaged); i++ {
		damaged[i] = 0xff
	}
	must(t, os.WriteFile(bad, damaged, 0o600))
	tests := []struct {
		name    string
		path    string
		wantErr bool
	}{
		{"sound", good, false},
		{"damaged pages", bad, true},
		{"missing", filepath.Join(dir, "none.db"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkBolt(tc.path)
			if (err != nil) != tc.wantErr {
				t.Errorf("checkBolt(%s) = %v; want error %v", tc.name, err, tc.wantErr)
			}
		})
	}
}

// TestCheckVersion: a staged version passes only if its model file is the
// one its manifest (or, without one, the config) names.
func TestCheckVersion(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "store"), &store.Options{Log: slog.New(slog.DiscardHandler)})
	must(t, err)
	defer st.Close()
	config := filepath.Join(dir, "config.tflite")
	must(t, os.WriteFile(config, []byte("abc"), 0o644))
	// sha256("abc"), FIPS 180-2 appendix B.1.
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	manifest := func(sum string, size int64) string {
		return `{"blobs":[{"variant":"cpu","sha256":"` + sum + `","size":` + strconv.FormatInt(size, 10) + `}]}`
	}
	tests := []struct {
		name     string
		model    string
		manifest string // "" = none
		wantErr  bool
	}{
		{"matches its manifest", "abc", manifest(abc, 3), false},
		{"truncated", "ab", manifest(abc, 3), true},
		{"other content", "abd", manifest(abc, 3), true},
		{"manifest without cpu blob", "abc", `{"blobs":[]}`, true},
		{"adopted config file", "abc", "", false},
		{"adopted, not the config file", "abcd", "", true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := uint64(i + 1)
			files := []store.File{{Name: "model.tflite", Data: strings.NewReader(tc.model)}}
			if tc.manifest != "" {
				files = append(files, store.File{Name: "manifest.json", Data: strings.NewReader(tc.manifest)})
			}
			must(t, st.Stage("m", v, files))
			err := checkVersion(st, "m", v, config)
			if (err != nil) != tc.wantErr {
				t.Errorf("checkVersion(%s) = %v; want error %v", tc.name, err, tc.wantErr)
			}
		})
	}
}
