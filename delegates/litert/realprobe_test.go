//go:build edged_dynamic && linux

package litert

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-dev/edged/delegates"
)

// TestRealProbe: the library is checked in a child process; a truncated
// copy, a library that is not TFLite and a missing file give a reason and
// leave this process running with nothing of theirs mapped.
func TestRealProbe(t *testing.T) {
	lib := realLib(t)
	whole, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	truncated := filepath.Join(dir, "libtensorflowlite_c.so")
	if err := os.WriteFile(truncated, whole[:100000], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		state      delegates.State
		want       []string // in the reason or, when it passed, the detail
	}{
		{name: "real", path: lib, state: delegates.Healthy, want: []string{"check model answered", "XNNPACK flags 0x3"}},
		{name: "truncated", path: truncated, state: delegates.Failed, want: []string{"the check process crashed with SIG", "while opening " + truncated, "(a truncated or damaged file?)"}},
		{name: "libm", path: "libm.so.6", state: delegates.Failed, want: []string{"libm.so.6 is not the TFLite C library: it has none of the"}},
		{name: "missing", path: filepath.Join(dir, "nothing.so"), state: delegates.Absent, want: []string{"dlopen " + filepath.Join(dir, "nothing.so")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(XNNPACK, Options{Paths: Paths{TFLite: tt.path}})
			present, err := b.Probe(context.Background())
			o, ok := b.LastProbe()
			if !ok || o.State != tt.state || !o.Isolated || o.Backend != XNNPACK {
				t.Fatalf("LastProbe = %+v, %v; want an isolated check, state %s", o, ok, tt.state)
			}
			if got := delegates.ProbeState(present, err); got != tt.state {
				t.Errorf("Probe = %v, %v (%s); want %s", present, err, got, tt.state)
			}
			t.Logf("%s", o)
			text := o.Reason
			if tt.state == delegates.Healthy {
				text = o.Detail
				if o.Version != "2.21.0-dev" {
					t.Errorf("version %q; want 2.21.0-dev (PROVENANCE.md)", o.Version)
				}
			} else if err == nil || !strings.Contains(err.Error(), o.Reason) {
				t.Errorf("Probe error %v does not carry the reason %q", err, o.Reason)
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q does not say %q", text, w)
				}
			}
			libMu.Lock()
			_, mapped := libs[tt.path]
			libMu.Unlock()
			if mapped != (tt.state == delegates.Healthy) {
				t.Errorf("opened in this process: %v; want %v", mapped, tt.state == delegates.Healthy)
			}
		})
	}
}
