package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deployed returns a store in dir where model m went 1 → 2 → 3 and was
// rolled back to 2 (so 3 must never install again), with the agent's
// version 1002003 recorded.
func deployed(t *testing.T, dir string, c *clock) {
	t.Helper()
	s := open(t, dir, c)
	for v := uint64(1); v <= 3; v++ {
		if err := s.Stage("m", v, files("model.tflite", "v"+string(rune('0'+v)))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Promote("m"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Rollback("m"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAgentVersion(1002003); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// reopen opens dir, reopening once after ErrCorrupt as the agent does.
func reopen(t *testing.T, dir string, c *clock) *Store {
	t.Helper()
	s, err := Open(dir, &Options{Now: c.now, Log: quiet()})
	if errors.Is(err, ErrCorrupt) {
		s, err = Open(dir, &Options{Now: c.now, Log: quiet()})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDamagedStateKeepsVersions(t *testing.T) {
	junk := make([]byte, 16384)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	tests := []struct {
		name       string
		damage     func(t *testing.T, dir string)
		wantActive uint64 // 0: the model's state is lost, only its floor is known
		wantLast   uint64
		wantAgent  uint64
	}{
		{"nothing", func(*testing.T, string) {}, 2, 3, 1002003},
		{"state.db deleted", func(t *testing.T, dir string) { rm(t, dir, "state.db") }, 2, 3, 1002003},
		{"state.db corrupt", func(t *testing.T, dir string) { write(t, dir, "state.db", junk) }, 2, 3, 1002003},
		{"state.db emptied", func(t *testing.T, dir string) { write(t, dir, "state.db", nil) }, 2, 3, 1002003},
		{"versions.json deleted", func(t *testing.T, dir string) { rm(t, dir, mirrorFile) }, 2, 3, 1002003},
		{"versions.json flipped", func(t *testing.T, dir string) { flip(t, dir, mirrorFile, 40) }, 2, 3, 1002003},
		{"versions.json with a planted name", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, mirrorFile))
			write(t, dir, mirrorFile, []byte(strings.Replace(string(b), `"m"`, `"../m"`, 1)))
		}, 2, 3, 1002003},
		// Both copies lost: the version directories give the floor. 3's
		// files were deleted when it was rolled back; its empty directory
		// still says it was accepted.
		{"both deleted", func(t *testing.T, dir string) { rm(t, dir, "state.db"); rm(t, dir, mirrorFile) }, 0, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &clock{t0}
			deployed(t, dir, c)
			tt.damage(t, dir)
			s := reopen(t, dir, c)
			m, _, err := s.Model("m")
			if err != nil {
				t.Fatal(err)
			}
			if m.Active != tt.wantActive || m.LastVersion != tt.wantLast {
				t.Errorf("Model(m) = %+v; want active %d, last version %d", m, tt.wantActive, tt.wantLast)
			}
			if tt.wantActive != 0 {
				if _, err := s.Verify("m", m.Active); err != nil {
					t.Errorf("Verify(active): %v", err)
				}
			}
			if v, err := s.AgentVersion(); err != nil || v != tt.wantAgent {
				t.Errorf("AgentVersion = %d, %v; want %d", v, err, tt.wantAgent)
			}
			// The files of version 2 are never swept, and the copy is
			// whole again.
			if _, err := os.Stat(s.Path("m", 2, "model.tflite")); err != nil {
				t.Errorf("version 2's file: %v", err)
			}
			if _, err := readMirror(filepath.Join(dir, mirrorFile)); err != nil {
				t.Errorf("versions.json after Open: %v", err)
			}
			// And a second start with the damage repaired finds the same.
			s.Close()
			s = reopen(t, dir, c)
			if m2, _, _ := s.Model("m"); m2.LastVersion != tt.wantLast || m2.Active != tt.wantActive {
				t.Errorf("second Open: Model(m) = %+v", m2)
			}
		})
	}
}

// TestOlderStateFile: a state.db put back from an old copy (a restored
// backup, a file system that lost the last writes) does not lower the
// floor.
func TestOlderStateFile(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t0}
	s := open(t, dir, c)
	s.Stage("m", 1, files("model.tflite", "v1"))
	s.Promote("m")
	s.Close()
	old, err := os.ReadFile(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	s = reopen(t, dir, c)
	s.Stage("m", 5, files("model.tflite", "v5"))
	s.Promote("m")
	s.Close()
	write(t, dir, "state.db", old)
	s = reopen(t, dir, c)
	if m, _, _ := s.Model("m"); m.LastVersion != 5 {
		t.Errorf("LastVersion after an old state.db came back = %d; want 5", m.LastVersion)
	}
}

func TestVersionBound(t *testing.T) {
	s := open(t, t.TempDir(), &clock{t0})
	for _, v := range []uint64{1<<53 + 1, 1<<64 - 1} {
		if err := s.Stage("m", v, files("f", "x")); err == nil || !strings.Contains(err.Error(), "1 to 9007199254740992") {
			t.Errorf("Stage(version %d) error %v; want refused", v, err)
		}
	}
	if err := s.Stage("m", 1<<53, files("f", "x")); err != nil {
		t.Errorf("Stage(version 2^53): %v", err)
	}
	if err := s.RecordAgentVersion(1<<53 + 1); err == nil {
		t.Error("RecordAgentVersion(2^53+1): no error")
	}
}

func TestVerifyDetectsDamage(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"intact", func(*testing.T, string) {}, ""},
		{"byte flipped", func(t *testing.T, dir string) { flip(t, dir, "model.tflite", 3) }, "model.tflite has sha256"},
		{"truncated", func(t *testing.T, dir string) { write(t, dir, "model.tflite", []byte("abc")) }, "model.tflite has sha256"},
		{"deleted", func(t *testing.T, dir string) { rm(t, dir, "model.tflite") }, "model.tflite is missing"},
		{"labels changed", func(t *testing.T, dir string) { write(t, dir, "labels.txt", []byte("cat\n")) }, "labels.txt"},
		{"sums deleted", func(t *testing.T, dir string) { rm(t, dir, sumsFile) }, ".sha256sums is missing"},
		{"sums garbled", func(t *testing.T, dir string) { write(t, dir, sumsFile, []byte("zz  model.tflite\n")) }, "want SHA256"},
		{"sums name a path", func(t *testing.T, dir string) {
			write(t, dir, sumsFile, []byte(strings.Repeat("0", 64)+"  ../../state.db\n"))
		}, "want SHA256"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		s := open(t, dir, &clock{t0})
		if err := s.Stage("m", 4, files("model.tflite", "0123456789", "labels.txt", "person\n")); err != nil {
			t.Fatal(err)
		}
		tt.damage(t, filepath.Dir(s.Path("m", 4, "x")))
		sums, err := s.Verify("m", 4)
		if tt.want == "" {
			// sha256("0123456789") and sha256("person\n"), from sha256sum(1).
			want := map[string]string{
				"model.tflite": "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882",
				"labels.txt":   "51d7a35f479052ab571dc6996a486c94d766358e9dab8d223c98e455544e8080",
			}
			if err != nil || sums["model.tflite"] != want["model.tflite"] || sums["labels.txt"] != want["labels.txt"] || len(sums) != 2 {
				t.Errorf("Verify(%s) = %v, %v; want %v", tt.name, sums, err, want)
			}
			continue
		}
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Verify(%s) error %v; want ErrDamaged mentioning %q", tt.name, err, tt.want)
		}
	}
}

// TestLegacyVersionGetsSums: a version staged before versions carried
// checksums gets them at Open, from the files as they are.
func TestLegacyVersionGetsSums(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t0}
	s := open(t, dir, c)
	s.Stage("m", 1, files("model.tflite", "v1"))
	s.Promote("m")
	vdir := filepath.Dir(s.Path("m", 1, "x"))
	s.Close()
	rm(t, vdir, sumsFile)
	s = reopen(t, dir, c)
	if _, err := s.Verify("m", 1); err != nil {
		t.Fatalf("Verify after Open recorded the sums: %v", err)
	}
	flip(t, vdir, "model.tflite", 0)
	if _, err := s.Verify("m", 1); !errors.Is(err, ErrDamaged) {
		t.Errorf("Verify after a flip: %v; want ErrDamaged", err)
	}
}

func TestDrop(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, &clock{t0})
	for v := uint64(1); v <= 3; v++ {
		s.Stage("m", v, files("f", "x"))
		if v < 3 {
			s.Promote("m")
		}
	}
	// active 2, previous 1, staged 3
	steps := []struct {
		drop uint64
		want Model
	}{
		{3, Model{Name: "m", Active: 2, Previous: 1, LastVersion: 3}},
		{2, Model{Name: "m", Active: 1, LastVersion: 3, Good: true}},
		{1, Model{Name: "m", LastVersion: 3}},
	}
	for _, st := range steps {
		m, err := s.Drop("m", st.drop)
		if err != nil {
			t.Fatal(err)
		}
		m.Changed = st.want.Changed
		if m != st.want {
			t.Errorf("Drop(%d) = %+v; want %+v", st.drop, m, st.want)
		}
		// Its files are gone; its directory stays, empty, for the floor.
		if es, err := os.ReadDir(filepath.Dir(s.Path("m", st.drop, "f"))); err != nil || len(es) != 0 {
			t.Errorf("Drop(%d) left %d entries in its directory (%v); want an empty directory", st.drop, len(es), err)
		}
	}
	if _, err := s.Drop("m", 7); !errors.Is(err, ErrNotFound) {
		t.Errorf("Drop(unknown version) error %v; want ErrNotFound", err)
	}
}

func rm(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, dir, name string, at int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x20
	write(t, dir, name, b)
}
