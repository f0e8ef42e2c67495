package store

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writeState writes a state.db into dir holding one model record (key,
// value) and the agent start times starts.
func writeState(t testing.TB, dir string, key, value, starts []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "state.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucket(bucketModels)
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if len(key) > 0 {
			if err := m.Put(key, value); err != nil {
				return err
			}
		}
		return meta.Put(keyStarts, starts)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzOpenState opens a store whose state.db holds an arbitrary model
// record and start times, as a damaged or planted file would, and runs
// the start-up path (RecordStart, CheckCrashLoop) and the operations on
// the model. Nothing may panic, and nothing outside the store's directory
// may be touched, whatever name the record gives.
func FuzzOpenState(f *testing.F) {
	starts := encodeStarts([]time.Time{t0.Add(-3 * time.Minute), t0.Add(-2 * time.Minute)})
	changed := `"changed":"2026-11-27T11:50:00Z"`
	for _, s := range []struct{ key, value string }{
		{"m", `{"name":"m","active":2,"previous":1,"last_version":2,` + changed + `}`},
		{"m", `{"name":"m","active":2,"staged":3,"good":true}`},
		{"../../victim", `{"name":"../../victim","active":2,"previous":1,"last_version":2,` + changed + `}`},
		{"m", `{"name":"x"}`},
		{"m", `{`},
		{"", ``},
	} {
		f.Add([]byte(s.key), []byte(s.value), starts)
	}
	f.Add([]byte("m"), []byte(`{"name":"m","active":1}`), []byte{1, 2, 3})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, key, value, startTimes []byte) {
		if len(key) > bolt.MaxKeySize {
			return
		}
		root := t.TempDir()
		victim := filepath.Join(root, "victim", "2", "model.tflite")
		if err := os.MkdirAll(filepath.Dir(victim), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(victim, []byte("not the store's"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, "state")
		writeState(t, dir, key, value, startTimes)
		s, err := Open(dir, &Options{Now: func() time.Time { return t0 }, Log: quiet})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v; want nil or ErrCorrupt", err)
			}
			return
		}
		defer s.Close()
		if err := s.RecordStart(); err != nil {
			t.Fatal(err)
		}
		s.CheckCrashLoop()
		if _, err := os.Stat(victim); err != nil {
			t.Fatalf("CheckCrashLoop removed a file outside the store: %v", err)
		}
		ms, err := s.Models()
		if err != nil {
			t.Fatalf("Models after a successful Open = %v", err)
		}
		for _, m := range ms {
			if checkName("model name", m.Name) != nil {
				t.Fatalf("Open accepted a state naming model %q", m.Name)
			}
			s.Promote(m.Name)
			s.Rollback(m.Name)
			s.MarkGood(m.Name)
		}
		if _, err := os.Stat(victim); err != nil {
			t.Fatalf("a file outside the store was removed: %v", err)
		}
	})
}

// FuzzOpenMirror opens a store whose state.db is gone and whose
// versions.json is arbitrary, as damage or a planted file would leave it.
// Nothing may panic; a model is restored only under a valid name, with
// versions whose files exist, and nothing outside the store is touched.
func FuzzOpenMirror(f *testing.F) {
	good := func(last, active uint64, name string) []byte {
		m := mirror{V: 1, Agent: 7, Models: map[string]mirrorModel{name: {Last: last, Active: active}}}
		m.Sum, _ = m.sum()
		b, _ := json.Marshal(&m)
		return b
	}
	f.Add(good(3, 2, "m"))
	f.Add(good(3, 9, "m"))
	f.Add(good(3, 2, "../victim"))
	f.Add(good(1<<60, 2, "m"))
	f.Add([]byte(`{"v":1,"models":{"m":{"last":2,"active":2}},"sum":"00"}`))
	f.Add([]byte(`{`))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		victim := filepath.Join(root, "victim", "2", "model.tflite")
		if err := os.MkdirAll(filepath.Dir(victim), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(victim, []byte("not the store's"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, "state")
		if err := os.MkdirAll(filepath.Join(dir, "models", "m", "2"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "models", "m", "2", "model.tflite"), []byte("v2"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, mirrorFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, &Options{Now: func() time.Time { return t0 }, Log: quiet})
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		defer s.Close()
		ms, err := s.Models()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Name != "m" || m.Active != 2 || m.LastVersion < 2 || m.LastVersion > 1<<53 {
				t.Fatalf("restored %+v; want only m with active 2", m)
			}
			s.Rollback(m.Name)
			s.Drop(m.Name, m.Active)
		}
		if m, _, _ := s.Model("m"); m.LastVersion < 2 {
			t.Fatalf("LastVersion %d below the version directory 2", m.LastVersion)
		}
		if _, err := os.Stat(victim); err != nil {
			t.Fatalf("a file outside the store was removed: %v", err)
		}
	})
}
