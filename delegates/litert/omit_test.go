//go:build !edged_dynamic

package litert

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/edged-dev/edged/delegates"
)

// TestOmitted: without the tag the backends exist, so the status page can
// say why they are not used, and are never present.
func TestOmitted(t *testing.T) {
	for _, name := range []string{EdgeTPU, GPU, XNNPACK} {
		b, ok := delegates.Lookup(name)
		if !ok {
			t.Fatalf("Lookup(%s) found nothing; want the stub", name)
		}
		present, err := b.Probe(context.Background())
		if present || !errors.Is(err, delegates.ErrNotPresent) || !strings.Contains(err.Error(), "edged_dynamic") {
			t.Errorf("Probe(%s) = %v, %v; want false, ErrNotPresent naming the edged_dynamic tag", name, present, err)
		}
		if _, err := b.Prepare(context.Background(), nil, "cpu"); !errors.Is(err, delegates.ErrNotPresent) {
			t.Errorf("Prepare(%s) error = %v; want ErrNotPresent", name, err)
		}
	}
}
