package store

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestCrashLooping(t *testing.T) {
	at := func(mins ...int) []time.Time {
		var ts []time.Time
		for _, m := range mins {
			ts = append(ts, t0.Add(time.Duration(m)*time.Minute))
		}
		return ts
	}
	tests := []struct {
		name      string
		starts    []time.Time
		changed   int // minutes after t0
		now       int
		wantCount int
		want      bool
	}{
		{name: "no starts", changed: 0, now: 5, wantCount: 0},
		{name: "three after the change", starts: at(1, 2, 3), changed: 0, now: 3, wantCount: 3, want: true},
		{name: "one before the change", starts: at(-1, 2, 3), changed: 0, now: 3, wantCount: 2},
		{name: "start at the change counts", starts: at(0, 2, 3), changed: 0, now: 3, wantCount: 3, want: true},
		// Window 10 minutes before now=15: only starts after minute 5.
		{name: "old starts out of the window", starts: at(1, 2, 8, 12), changed: 0, now: 15, wantCount: 2},
		{name: "exactly window ago is out", starts: at(5, 8, 12), changed: 0, now: 15, wantCount: 2},
		{name: "future start ignored", starts: at(1, 2, 30), changed: 0, now: 3, wantCount: 2},
	}
	for _, tc := range tests {
		n, got := CrashLooping(tc.starts, t0.Add(time.Duration(tc.changed)*time.Minute), t0.Add(time.Duration(tc.now)*time.Minute), 10*time.Minute, 3)
		if n != tc.wantCount || got != tc.want {
			t.Errorf("CrashLooping(%s) = %d, %v; want %d, %v", tc.name, n, got, tc.wantCount, tc.want)
		}
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func quiet() *slog.Logger            { return slog.New(slog.DiscardHandler) }
func files(kv ...string) (fs []File) {
	for i := 0; i+1 < len(kv); i += 2 {
		fs = append(fs, File{Name: kv[i], Data: strings.NewReader(kv[i+1])})
	}
	return fs
}

func open(t *testing.T, dir string, c *clock) *Store {
	t.Helper()
	s, err := Open(dir, &Options{Now: c.now, CrashWindow: 10 * time.Minute, CrashStarts: 3, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func versions(t *testing.T, s *Store, name string) []string {
	t.Helper()
	es, err := os.ReadDir(s.modelDir(name))
	if err != nil {
		t.Fatal(err)
	}
	// A retired version keeps its directory, empty: not a stored version.
	var vs []string
	for _, e := range es {
		if sub, err := os.ReadDir(filepath.Join(s.modelDir(name), e.Name())); err == nil && len(sub) == 0 {
			continue
		}
		vs = append(vs, e.Name())
	}
	return vs
}

func TestLifecycle(t *testing.T) {
	c := &clock{t0}
	s := open(t, t.TempDir(), c)
	steps := []struct {
		name      string
		do        func() error
		want      Model
		wantFiles []string
		wantErr   error
	}{
		{name: "stage 1", do: func() error { return s.Stage("m", 1, files("cpu.tflite", "v1")) },
			want: Model{Name: "m", Staged: 1, LastVersion: 1}, wantFiles: []string{"1"}},
		{name: "promote 1", do: func() error { _, err := s.Promote("m"); return err },
			want: Model{Name: "m", Active: 1, LastVersion: 1, Changed: t0}, wantFiles: []string{"1"}},
		{name: "promote nothing", do: func() error { _, err := s.Promote("m"); return err }, wantErr: ErrNotFound,
			want: Model{Name: "m", Active: 1, LastVersion: 1, Changed: t0}, wantFiles: []string{"1"}},
		{name: "stage active", do: func() error { return s.Stage("m", 1, files("cpu.tflite", "x")) }, wantErr: ErrInUse,
			want: Model{Name: "m", Active: 1, LastVersion: 1, Changed: t0}, wantFiles: []string{"1"}},
		{name: "mark good", do: func() error { return s.MarkGood("m") },
			want: Model{Name: "m", Active: 1, LastVersion: 1, Changed: t0, Good: true}, wantFiles: []string{"1"}},
		{name: "stage 2", do: func() error { return s.Stage("m", 2, files("cpu.tflite", "v2")) },
			want: Model{Name: "m", Active: 1, Staged: 2, LastVersion: 2, Changed: t0, Good: true}, wantFiles: []string{"1", "2"}},
		{name: "stage 3 replaces 2", do: func() error { return s.Stage("m", 3, files("cpu.tflite", "v3")) },
			want: Model{Name: "m", Active: 1, Staged: 3, LastVersion: 3, Changed: t0, Good: true}, wantFiles: []string{"1", "3"}},
		{name: "promote 3", do: func() error { c.add(time.Minute); _, err := s.Promote("m"); return err },
			want: Model{Name: "m", Active: 3, Previous: 1, LastVersion: 3, Changed: t0.Add(time.Minute)}, wantFiles: []string{"1", "3"}},
		{name: "stage 4", do: func() error { return s.Stage("m", 4, files("cpu.tflite", "v4")) },
			want: Model{Name: "m", Active: 3, Previous: 1, Staged: 4, LastVersion: 4, Changed: t0.Add(time.Minute)}, wantFiles: []string{"1", "3", "4"}},
		{name: "promote 4 deletes 1", do: func() error { c.add(time.Minute); _, err := s.Promote("m"); return err },
			want: Model{Name: "m", Active: 4, Previous: 3, LastVersion: 4, Changed: t0.Add(2 * time.Minute)}, wantFiles: []string{"3", "4"}},
		{name: "rollback to 3 deletes 4", do: func() error { _, err := s.Rollback("m"); return err },
			want: Model{Name: "m", Active: 3, LastVersion: 4, Changed: t0.Add(2 * time.Minute), Good: true}, wantFiles: []string{"3"}},
		{name: "rollback again", do: func() error { _, err := s.Rollback("m"); return err }, wantErr: ErrNotFound,
			want: Model{Name: "m", Active: 3, LastVersion: 4, Changed: t0.Add(2 * time.Minute), Good: true}, wantFiles: []string{"3"}},
	}
	for _, st := range steps {
		err := st.do()
		if !errors.Is(err, st.wantErr) || (err == nil) != (st.wantErr == nil) {
			t.Fatalf("%s: error %v; want %v", st.name, err, st.wantErr)
		}
		got, _, err := s.Model("m")
		if err != nil {
			t.Fatal(err)
		}
		if got != st.want {
			t.Errorf("%s: Model = %+v; want %+v", st.name, got, st.want)
		}
		if vs := versions(t, s, "m"); !slices.Equal(vs, st.wantFiles) {
			t.Errorf("%s: version dirs %v; want %v", st.name, vs, st.wantFiles)
		}
	}
	if b, err := os.ReadFile(s.Path("m", 3, "cpu.tflite")); err != nil || string(b) != "v3" {
		t.Errorf("file of version 3 = %q, %v; want \"v3\"", b, err)
	}
}

func TestStageErrors(t *testing.T) {
	s := open(t, t.TempDir(), &clock{t0})
	tests := []struct {
		name, model string
		version     uint64
		files       []File
		wantIn      string
	}{
		{name: "model path", model: "../x", version: 1, wantIn: `model name "../x"`},
		{name: "version 0", model: "m", version: 0, wantIn: "version 0"},
		{name: "file path", model: "m", version: 1, files: files("a/b", "x"), wantIn: `file name "a/b"`},
		{name: "hidden file", model: "m", version: 1, files: files(".x", "x"), wantIn: `file name ".x"`},
		{name: "twice", model: "m", version: 1, files: files("a", "x", "a", "y"), wantIn: `"a" appears twice`},
	}
	for _, tc := range tests {
		err := s.Stage(tc.model, tc.version, tc.files)
		if err == nil || !strings.Contains(err.Error(), tc.wantIn) {
			t.Errorf("Stage(%s) = %v; want an error containing %q", tc.name, err, tc.wantIn)
		}
	}
	if ms, _ := s.Models(); len(ms) != 0 {
		t.Errorf("Models after failed stagings = %+v; want none", ms)
	}
}

func TestCrashLoopRollback(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t0}
	s := open(t, dir, c)
	for v := uint64(1); v <= 2; v++ {
		if err := s.Stage("m", v, files("cpu.tflite", "v")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Promote("m"); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	// Three starts within the window after promoting 2, never marked
	// good: the third start rolls back to 1.
	for i, want := range []int{0, 0, 1} {
		c.add(time.Minute)
		s := open(t, dir, c)
		if err := s.RecordStart(); err != nil {
			t.Fatal(err)
		}
		rolled, err := s.CheckCrashLoop()
		if err != nil {
			t.Fatal(err)
		}
		if len(rolled) != want {
			t.Fatalf("start %d: CheckCrashLoop = %+v; want %d rollbacks", i+1, rolled, want)
		}
		if want == 1 && rolled[0] != (Rolled{Name: "m", From: 2, To: 1, Starts: 3}) {
			t.Errorf("start %d: rolled %+v; want m from 2 to 1 after 3 starts", i+1, rolled[0])
		}
		s.Close()
	}
	s = open(t, dir, c)
	if m, _, _ := s.Model("m"); m.Active != 1 || m.Previous != 0 || !m.Good {
		t.Errorf("after the crash loop: %+v; want active 1, no previous, good", m)
	}
	if vs := versions(t, s, "m"); !slices.Equal(vs, []string{"1"}) {
		t.Errorf("version dirs %v; want [1]", vs)
	}
	// More starts: nothing left to roll back.
	for range 3 {
		s.RecordStart()
	}
	if rolled, err := s.CheckCrashLoop(); err != nil || len(rolled) != 0 {
		t.Errorf("CheckCrashLoop with no previous = %+v, %v; want none", rolled, err)
	}
}

// TestCleanRestarts: restarts after a clean stop are not crashes, however
// many; the crashes among them still are.
func TestCleanRestarts(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t0}
	s := open(t, dir, c)
	s.RecordStart() // the run that deploys, a minute later
	c.add(time.Minute)
	for v := uint64(1); v <= 2; v++ {
		s.Stage("m", v, files("cpu.tflite", "v"))
		s.Promote("m")
	}
	// Each run: start, then stop cleanly (true) or crash (false).
	runs := []struct {
		cleanBefore bool // how the run before this start ended
		wantRolled  int
		wantCrashed bool
	}{
		{true, 0, false}, {true, 0, false}, {true, 0, false}, {true, 0, false}, // four maintenance restarts
		{false, 0, true}, {true, 0, false}, {false, 0, true}, // two crashes among clean ones
		{false, 1, true}, // the third crash within the window
	}
	for i, r := range runs {
		if r.cleanBefore {
			if err := s.RecordStop(); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		c.add(time.Minute)
		s = open(t, dir, c)
		if err := s.RecordStart(); err != nil {
			t.Fatal(err)
		}
		if s.LastRunCrashed() != r.wantCrashed {
			t.Errorf("run %d: LastRunCrashed = %v; want %v", i+1, s.LastRunCrashed(), r.wantCrashed)
		}
		rolled, err := s.CheckCrashLoop()
		if err != nil || len(rolled) != r.wantRolled {
			t.Fatalf("run %d: CheckCrashLoop = %+v, %v; want %d rollbacks", i+1, rolled, err, r.wantRolled)
		}
		if r.wantRolled == 1 && rolled[0] != (Rolled{Name: "m", From: 2, To: 1, Starts: 3}) {
			t.Errorf("run %d: rolled %+v; want m from 2 to 1 after 3 crashes", i+1, rolled[0])
		}
	}
}

func TestCrashLoopSpared(t *testing.T) {
	tests := []struct {
		name string
		gap  time.Duration // between starts
		good bool
	}{
		{name: "marked good", gap: time.Minute, good: true},
		{name: "slow restarts", gap: 6 * time.Minute}, // 3 starts span 12 min > 10 min window
	}
	for _, tc := range tests {
		c := &clock{t0}
		s := open(t, t.TempDir(), c)
		for v := uint64(1); v <= 2; v++ {
			s.Stage("m", v, files("f", "v"))
			s.Promote("m")
		}
		if tc.good {
			s.MarkGood("m")
		}
		for range 3 {
			c.add(tc.gap)
			s.RecordStart()
		}
		if rolled, err := s.CheckCrashLoop(); err != nil || len(rolled) != 0 {
			t.Errorf("%s: CheckCrashLoop = %+v, %v; want no rollback", tc.name, rolled, err)
		}
	}
}

func TestCorruptState(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t0}
	s := open(t, dir, c)
	s.Stage("m", 1, files("f", "v"))
	s.Close()
	path := filepath.Join(dir, "state.db")
	junk := make([]byte, 16384)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, &Options{Log: quiet()})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "moved to "+path+".corrupt-") {
		t.Fatalf("Open(corrupt) = %v; want ErrCorrupt naming where the file went", err)
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 1 {
		t.Errorf("files moved aside: %v; want 1", m)
	}
	s = open(t, dir, c)
	if ms, _ := s.Models(); len(ms) != 0 {
		t.Errorf("Models after a fresh start = %+v; want none", ms)
	}
	// The files of the unknown model stay for the operator.
	if _, err := os.Stat(s.Path("m", 1, "f")); err != nil {
		t.Errorf("files of a model the new state does not know: %v; want kept", err)
	}
}

func TestSweep(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t0}
	s := open(t, dir, c)
	s.Stage("m", 1, files("f", "v"))
	s.Promote("m")
	s.Close()
	// A crash left a temporary dir and an orphan version.
	for _, d := range []string{"models/m/.stage-123", "models/m/7"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	s = open(t, dir, c)
	if vs := versions(t, s, "m"); !slices.Equal(vs, []string{"1"}) {
		t.Errorf("version dirs after Open %v; want [1]", vs)
	}
}
