package selfupdate

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadState feeds arbitrary state files, as a torn write or a
// tampered file would leave, to readState. It must not panic; an error
// wraps ErrCorruptState; an accepted state passes check, and writeState
// then readState gives it back.
func FuzzReadState(f *testing.F) {
	for _, s := range []string{
		`{"v":1}`,
		`{"v":1,"pending":{"version":2000000,"sha256":"ab","from":"0.3.0","executable":"/usr/bin/edged","old":"/usr/bin/.edged.old","applied":"2026-03-01T12:00:00Z","deadline":"2026-03-01T12:10:00Z","starts":1,"max_starts":3,"command":"c-1"}}`,
		`{"v":1,"last":{"version":2,"state":"rolled_back","reason":"crash loop","time":"2026-03-01T12:00:00+01:00","reported":true}}`,
		`{"v":1,"pending":{"version":1,"executable":"/a/b","old":"/c/b","max_starts":1,"deadline":"2026-03-01T12:00:00Z"}}`,
		`{"v":1}{"v":1}`, `{"v":2}`, `null`, ``, `{"v":1,"pending":null,"last":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, StateFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := readState(path)
		if err != nil {
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("readState(%q) = %v; want an error wrapping ErrCorruptState", data, err)
			}
			return
		}
		if err := st.check(); err != nil {
			t.Fatalf("readState(%q) accepted a state check refuses: %v", data, err)
		}
		if err := writeState(path, st); err != nil {
			t.Fatalf("writeState(readState(%q)) = %v", data, err)
		}
		again, err := readState(path)
		if err != nil {
			t.Fatalf("readState(writeState(readState(%q))) = %v", data, err)
		}
		a, _ := json.Marshal(st)
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Fatalf("state changed through writeState: %s; want %s", b, a)
		}
	})
}
