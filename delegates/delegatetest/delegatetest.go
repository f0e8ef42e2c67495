// Package delegatetest provides a fake accelerator backend that can be
// told to fail, stall, hang, answer with wrong shapes, vanish and recover,
// and a fake Clock, for tests of the delegate chain and of the agent (and
// for the fleet simulator).
//
// The fake computes its answers with the pure-Go CPU runtime, so results
// served through it can be checked against golden outputs; or it returns
// fixed tensors.
package delegatetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/runtime/tensor"
)

// Mode is how the fake answers a call.
type Mode int

const (
	// OK: correct outputs (or the fixed tensors).
	OK Mode = iota
	// Fail: an error, at once.
	Fail
	// Stall: no answer until the call's context ends.
	Stall
	// Hang: no answer until Release or Recover, whatever the context:
	// a call stuck inside a vendor library.
	Hang
	// WrongShape: outputs whose first dimension is one too large.
	WrongShape
)

func (m Mode) String() string {
	return [...]string{"ok", "fail", "stall", "hang", "wrong-shape"}[m]
}

// ErrInjected is the error of a call in Fail mode.
var ErrInjected = errors.New("delegatetest: injected failure")

// Accelerator is a fake delegates.Backend. Its mode applies to every
// runner it prepared, like a device shared by them. It is safe for
// concurrent use.
type Accelerator struct {
	name string
	cpu  delegates.Backend

	mu        sync.Mutex
	mode      Mode
	failAfter int // calls left before Fail mode; -1: never
	present   bool
	probeErr  error
	fixed     []tensor.Tensor
	delay     time.Duration
	release   chan struct{}
	calls     int
	probes    int
}

// New returns a healthy fake named name ("edgetpu") that computes its
// answers with cpu (e.g. delegates.CPU{}).
func New(name string, cpu delegates.Backend) *Accelerator {
	return &Accelerator{name: name, cpu: cpu, present: true, failAfter: -1, release: make(chan struct{})}
}

// Name returns the fake's name.
func (a *Accelerator) Name() string { return a.name }

// Set puts the fake in mode m for every following call.
func (a *Accelerator) Set(m Mode) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mode = m
}

// FailAfter makes the fake answer n more calls correctly, then fail.
func (a *Accelerator) FailAfter(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failAfter = n
}

// Vanish makes the device disappear: probes report it not on this host
// and calls fail.
func (a *Accelerator) Vanish() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.present = false
}

// Break makes probes report the device present but failed with err.
func (a *Accelerator) Break(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.probeErr = err
}

// Recover heals the fake: present, probing well, mode OK, and any hung
// calls released.
func (a *Accelerator) Recover() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.present, a.probeErr, a.mode, a.failAfter = true, nil, OK, -1
	close(a.release)
	a.release = make(chan struct{})
}

// Release lets hung calls return (with an error) without healing the fake.
func (a *Accelerator) Release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	close(a.release)
	a.release = make(chan struct{})
}

// Fixed makes calls in OK mode return copies of outs instead of
// computing; nil goes back to computing.
func (a *Accelerator) Fixed(outs []tensor.Tensor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fixed = outs
}

// Delay makes every answering call take at least d longer, as a slower
// device would.
func (a *Accelerator) Delay(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.delay = d
}

// Calls is the number of Invoke calls the fake's runners received.
func (a *Accelerator) Calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

// Probes is the number of Probe calls.
func (a *Accelerator) Probes() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.probes
}

// Probe reports the fake's presence periph-style.
func (a *Accelerator) Probe(ctx context.Context) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.probes++
	return a.state()
}

func (a *Accelerator) state() (bool, error) {
	if !a.present {
		return false, fmt.Errorf("delegatetest %s: no device: %w", a.name, delegates.ErrNotPresent)
	}
	if a.probeErr != nil {
		return true, fmt.Errorf("delegatetest %s: %w", a.name, a.probeErr)
	}
	return true, nil
}

// Prepare prepares model on the CPU backend behind the fake.
func (a *Accelerator) Prepare(ctx context.Context, model []byte, variant string) (delegates.Runner, error) {
	a.mu.Lock()
	present, err := a.state()
	a.mu.Unlock()
	if !present || err != nil {
		return nil, err
	}
	r, err := a.cpu.Prepare(ctx, model, variant)
	if err != nil {
		return nil, fmt.Errorf("delegatetest %s: %w", a.name, err)
	}
	return &runner{a: a, r: r}, nil
}

type runner struct {
	a *Accelerator
	r delegates.Runner
}

func (r *runner) Invoke(ctx context.Context, inputs, outputs []tensor.Tensor) error {
	a := r.a
	a.mu.Lock()
	a.calls++
	mode, present, fixed, release, delay := a.mode, a.present, a.fixed, a.release, a.delay
	if a.failAfter == 0 {
		mode = Fail
	} else if a.failAfter > 0 {
		a.failAfter--
	}
	a.mu.Unlock()
	if !present {
		return fmt.Errorf("delegatetest %s: device gone: %w", a.name, delegates.ErrNotPresent)
	}
	switch mode {
	case Fail:
		return fmt.Errorf("delegatetest %s: %w", a.name, ErrInjected)
	case Stall:
		<-ctx.Done()
		return fmt.Errorf("delegatetest %s: stalled: %w", a.name, ctx.Err())
	case Hang:
		<-release
		return fmt.Errorf("delegatetest %s: released from a hang", a.name)
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("delegatetest %s: %w", a.name, ctx.Err())
		}
	}
	if fixed != nil {
		if len(outputs) != len(fixed) {
			return fmt.Errorf("delegatetest %s: %d fixed outputs for %d", a.name, len(fixed), len(outputs))
		}
		for j, f := range fixed {
			outputs[j].Type, outputs[j].Shape, outputs[j].Data = f.Type, slices.Clone(f.Shape), slices.Clone(f.Data)
		}
	} else if err := r.r.Invoke(ctx, inputs, outputs); err != nil {
		return err
	}
	if mode == WrongShape {
		for j := range outputs {
			if len(outputs[j].Shape) > 0 {
				outputs[j].Shape = slices.Clone(outputs[j].Shape)
				outputs[j].Shape[0]++
			}
		}
	}
	return nil
}

func (r *runner) Close() error { return r.r.Close() }
