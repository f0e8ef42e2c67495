package agent

import (
	"context"
	"fmt"

	"github.com/edged-dev/edged/agent/localapi"
	"github.com/edged-dev/edged/runtime/tflite"
)

// cpuModel is what a served model's profile runs: the parsed model and
// the pure-Go interpreter's options it serves with.
type cpuModel struct {
	model *tflite.Model
	opts  *tflite.Options
}

// ProfileModel implements localapi.Profiler: it times every operator of
// a served model on an interpreter of its own, built like the one that
// checked the model at load (same options, zero inputs) and dropped
// afterwards. Requests never wait for it; it takes a core (the model's
// threads) for the runs and one more arena of memory while it runs. One
// profile runs at a time.
func (a *Agent) ProfileModel(ctx context.Context, name, version string, runs int) (*tflite.Profile, error) {
	s, err := a.model(name, version)
	if err != nil {
		return nil, err
	}
	if s.cpu == nil {
		return nil, fmt.Errorf("%w model %q: it is an ensemble; profile its members", localapi.ErrNotProfilable, name)
	}
	if !a.profiling.TryLock() {
		return nil, localapi.ErrProfileBusy
	}
	defer a.profiling.Unlock()
	it, err := tflite.NewInterpreter(s.cpu.model, s.cpu.opts)
	if err != nil {
		return nil, fmt.Errorf("preparing an interpreter: %w", err)
	}
	return it.Profile(ctx, 1, runs)
}
