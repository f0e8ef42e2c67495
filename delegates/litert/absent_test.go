//go:build edged_dynamic

package litert

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/edged-dev/edged/delegates"
)

// TestProbeMissingLibrary: on a host without the vendor's libraries every
// backend reports itself not on this host, naming the library, and
// Prepare refuses the same way.
func TestProbeMissingLibrary(t *testing.T) {
	missing := Paths{TFLite: "/nonexistent/libtensorflowlite_c.so", EdgeTPU: "/nonexistent/libedgetpu.so.1", GPU: "/nonexistent/libtensorflowlite_gpu_delegate.so"}
	tests := []struct {
		name    string
		paths   Paths
		wantErr string
	}{
		{name: EdgeTPU, paths: missing, wantErr: missing.TFLite},
		{name: GPU, paths: missing, wantErr: missing.TFLite},
		{name: XNNPACK, paths: missing, wantErr: missing.TFLite},
	}
	for _, tt := range tests {
		b := New(tt.name, Options{Paths: tt.paths})
		present, err := b.Probe(context.Background())
		if got := delegates.ProbeState(present, err); got != delegates.Absent {
			t.Errorf("Probe(%s) = %v, %v; want absent", tt.name, present, err)
		}
		if !errors.Is(err, delegates.ErrNotPresent) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Probe(%s) error = %v; want ErrNotPresent naming %s", tt.name, err, tt.wantErr)
		}
		if _, err := b.Prepare(context.Background(), []byte("model"), "cpu"); !errors.Is(err, delegates.ErrNotPresent) {
			t.Errorf("Prepare(%s) error = %v; want ErrNotPresent", tt.name, err)
		}
	}
}

func TestRegistered(t *testing.T) {
	for _, name := range []string{EdgeTPU, GPU, XNNPACK} {
		b, ok := delegates.Lookup(name)
		if !ok {
			t.Errorf("Lookup(%s) found nothing; want the litert backend", name)
			continue
		}
		if _, ok := b.(*Backend); !ok {
			t.Errorf("Lookup(%s) = %T; want *litert.Backend", name, b)
		}
	}
}
