package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNameTraversal: no model or file name reaches a path outside the
// store, whether it comes from the caller (a manifest) or from state.db.
// Versions are integers and cannot.
func TestNameTraversal(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "state")
	s := open(t, dir, &clock{t0})
	tests := []struct {
		name, model, file string
	}{
		{name: "parent", model: "..", file: "m.tflite"},
		{name: "parent prefix", model: "../x", file: "m.tflite"},
		{name: "nested parent", model: "a/../../x", file: "m.tflite"},
		{name: "absolute", model: "/tmp/x", file: "m.tflite"},
		{name: "backslash", model: `..\x`, file: "m.tflite"},
		{name: "current dir", model: ".", file: "m.tflite"},
		{name: "empty", model: "", file: "m.tflite"},
		{name: "nul", model: "a\x00b", file: "m.tflite"},
		{name: "file parent", model: "m", file: "../m.tflite"},
		{name: "file absolute", model: "m", file: "/etc/passwd"},
		{name: "file dotdot", model: "m", file: ".."},
	}
	for _, tc := range tests {
		err := s.Stage(tc.model, 1, files(tc.file, "x"))
		if err == nil || !strings.Contains(err.Error(), " name ") {
			t.Errorf("Stage(%s: %q, %q) = %v; want a name error", tc.name, tc.model, tc.file, err)
		}
	}
	for _, op := range []func(string) error{
		func(n string) error { _, err := s.Promote(n); return err },
		func(n string) error { _, err := s.Rollback(n); return err },
		s.MarkGood,
	} {
		if err := op("../x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("operation on model \"../x\" = %v; want ErrNotFound", err)
		}
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Errorf("%s holds %d entries; want only the store's directory", root, len(entries))
	}
	if ms, _ := s.Models(); len(ms) != 0 {
		t.Errorf("Models() = %v; want none", ms)
	}
}

// TestOpenRefusesPlantedName: a state.db naming a model "../../victim"
// (planted, or torn into that) is corrupt: Open moves it aside rather
// than letting a crash-loop rollback delete root/victim/2.
func TestOpenRefusesPlantedName(t *testing.T) {
	root := t.TempDir()
	victim := filepath.Join(root, "victim", "2", "model.tflite")
	if err := os.MkdirAll(filepath.Dir(victim), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(victim, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "state")
	writeState(t, dir, []byte("../../victim"),
		[]byte(`{"name":"../../victim","active":2,"previous":1,"changed":"2026-11-27T11:59:00Z"}`), nil)
	_, err := Open(dir, &Options{Now: (&clock{t0}).now, Log: quiet()})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `model name "../../victim"`) {
		t.Errorf("Open(state naming ../../victim) = %v; want ErrCorrupt naming it", err)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("file outside the store: %v", err)
	}
}
