//go:build !edged_dynamic

package litert

import (
	"context"
	"fmt"

	"github.com/edged-dev/edged/delegates"
)

// Backend is a backend this binary cannot load: it was built without the
// edged_dynamic tag.
type Backend struct {
	name string
}

// New returns the stub backend name.
func New(name string, opts Options) *Backend { return &Backend{name: name} }

var errOmitted = fmt.Errorf("this edged was built without the edged_dynamic tag, so it cannot load the vendor's TFLite libraries: %w", delegates.ErrNotPresent)

// Probe reports the backend not on this host and why.
func (b *Backend) Probe(ctx context.Context) (bool, error) {
	return false, fmt.Errorf("litert %s: %w", b.name, errOmitted)
}

// Prepare fails like Probe.
func (b *Backend) Prepare(ctx context.Context, model []byte, variant string) (delegates.Runner, error) {
	return nil, fmt.Errorf("litert %s: %w", b.name, errOmitted)
}
