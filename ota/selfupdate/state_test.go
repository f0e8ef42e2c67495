package selfupdate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateFile)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := State{V: 1, Pending: &Pending{Version: 2000000, From: "1.0.0", Executable: "/opt/edged/edged", Old: "/opt/edged/edged.old",
		Applied: t0, Deadline: t0.Add(5 * time.Minute), Starts: 1, MaxStarts: 2, Command: "c1"},
		Last: &Outcome{Version: 1000000, State: OutcomeActive, Time: t0}}
	if err := writeState(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := readState(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readState = %+v; want %+v", got, want)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after writeState; want only %s", len(ents), StateFile)
	}
}

func TestReadStateMissing(t *testing.T) {
	got, err := readState(filepath.Join(t.TempDir(), StateFile))
	if err != nil || got.Pending != nil || got.Last != nil {
		t.Errorf("readState(missing) = %+v, %v; want empty state, nil", got, err)
	}
}

func TestWriteStateFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateFile)
	// A directory in the file's place makes the rename fail.
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeState(path, State{}); err == nil {
		t.Fatal("writeState over a non-empty directory = nil; want an error")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != StateFile {
			t.Errorf("writeState left %s behind", e.Name())
		}
	}
}

func TestReadStateCorrupt(t *testing.T) {
	tests := []struct {
		name, data, wantMsg string
	}{
		{"empty", "", "EOF"},
		{"truncated", `{"v":1,"pending":{"vers`, "unexpected EOF"},
		{"not an object", `[1,2]`, "cannot unmarshal"},
		{"trailing data", `{"v":1} {"v":1}`, "data after"},
		{"format version", `{"v":2}`, "format version 2"},
		{"no version", `{}`, "format version 0"},
		{"pending version 0", `{"v":1,"pending":{"version":0,"executable":"/a/e","old":"/a/e.old","max_starts":2,"deadline":"2026-01-01T00:00:00Z"}}`, "pending.version is 0"},
		{"relative path", `{"v":1,"pending":{"version":1,"executable":"e","old":"/a/e.old","max_starts":2,"deadline":"2026-01-01T00:00:00Z"}}`, "absolute"},
		{"old elsewhere", `{"v":1,"pending":{"version":1,"executable":"/a/e","old":"/b/e.old","max_starts":2,"deadline":"2026-01-01T00:00:00Z"}}`, "not beside"},
		{"old is exe", `{"v":1,"pending":{"version":1,"executable":"/a/e","old":"/a/e","max_starts":2,"deadline":"2026-01-01T00:00:00Z"}}`, "is the executable"},
		{"max starts", `{"v":1,"pending":{"version":1,"executable":"/a/e","old":"/a/e.old","max_starts":0,"deadline":"2026-01-01T00:00:00Z"}}`, "max_starts 0"},
		{"no deadline", `{"v":1,"pending":{"version":1,"executable":"/a/e","old":"/a/e.old","max_starts":2}}`, "deadline is missing"},
		{"bad time", `{"v":1,"pending":{"version":1,"executable":"/a/e","old":"/a/e.old","max_starts":2,"deadline":"soon"}}`, "cannot parse"},
		{"negative version", `{"v":1,"pending":{"version":-1}}`, "cannot unmarshal"},
		{"last state", `{"v":1,"last":{"version":1,"state":"great"}}`, `last.state "great"`},
		{"too big", `{"v":1,"x":"` + strings.Repeat("a", maxStateSize) + `"}`, "more than 65536 bytes"},
		{"binary", "\x00\xff\xfe", "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), StateFile)
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := readState(path)
			if !errors.Is(err, ErrCorruptState) || !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), path) {
				t.Errorf("readState(%s) = %v; want ErrCorruptState naming the file and %q", tt.name, err, tt.wantMsg)
			}
		})
	}
}

// A corrupt state file must not keep the agent from starting: Check
// reports it once and moves it aside.
func TestCheckCorruptStateMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateFile)
	if err := os.WriteFile(path, []byte(`{"v":1,"pending":`), 0o600); err != nil {
		t.Fatal(err)
	}
	u := &Updater{Dir: dir, Version: "1.0.0"}
	trial, err := u.Check(context.Background())
	if trial != nil || !errors.Is(err, ErrCorruptState) {
		t.Fatalf("Check(corrupt) = %v, %v; want nil, ErrCorruptState", trial, err)
	}
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Errorf("corrupt state not kept aside: %v", err)
	}
	trial, err = u.Check(context.Background())
	if trial != nil || err != nil {
		t.Errorf("second Check = %v, %v; want nil, nil", trial, err)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"1.2.3", 1_002_003, false},
		{"v1.2.3", 1_002_003, false},
		{"0.0.1", 1, false},
		{"0.1.0", 1_000, false},
		{"2.0.0", 2_000_000, false},
		{"10.999.999", 10_999_999, false},
		{"999999.0.0", 999_999_000_000, false},
		{"1000000.0.0", 0, true},
		{"1.1000.0", 0, true},
		{"1.0.1000", 0, true},
		{"0.0.0", 0, true},
		{"dev", 0, true},
		{"1.2", 0, true},
		{"1.2.3.4", 0, true},
		{"1.2.3-rc1", 0, true},
		{"v1.2.3-4-gabcdef", 0, true},
		{"01.2.3", 0, true},
		{"1.+2.3", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseVersion(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil {
			if s := FormatVersion(got); s != strings.TrimPrefix(tt.in, "v") {
				t.Errorf("FormatVersion(%d) = %q; want %q", got, s, strings.TrimPrefix(tt.in, "v"))
			}
		}
	}
}

func TestVariant(t *testing.T) {
	tests := []struct {
		goos, goarch, goarm, want string
	}{
		{"linux", "amd64", "", "linux-amd64"},
		{"linux", "arm64", "", "linux-arm64"},
		{"linux", "arm", "7", "linux-armv7"},
		{"linux", "arm", "6", "linux-armv6"},
		{"linux", "arm", "6,softfloat", "linux-armv6"},
		{"linux", "arm", "", "linux-armv7"},
		{"darwin", "arm64", "", "darwin-arm64"},
	}
	for _, tt := range tests {
		if got := Variant(tt.goos, tt.goarch, tt.goarm); got != tt.want {
			t.Errorf("Variant(%s, %s, %q) = %q; want %q", tt.goos, tt.goarch, tt.goarm, got, tt.want)
		}
	}
}
