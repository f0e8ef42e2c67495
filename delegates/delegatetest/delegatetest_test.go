package delegatetest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
	"github.com/edged-dev/edged/runtime/tensor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stub is a CPU stand-in that answers one int8 output {1, 2}.
type stub struct{}

func (stub) Name() string                            { return "stub" }
func (stub) Probe(ctx context.Context) (bool, error) { return true, nil }
func (stub) Prepare(ctx context.Context, model []byte, variant string) (delegates.Runner, error) {
	return stubRunner{}, nil
}

type stubRunner struct{}

func (stubRunner) Invoke(ctx context.Context, in, out []tensor.Tensor) error {
	out[0] = tensor.Tensor{Type: tensor.Int8, Shape: []int{1, 2}, Data: []byte{1, 2}}
	return nil
}
func (stubRunner) Close() error { return nil }

func TestAccelerator(t *testing.T) {
	tests := []struct {
		name      string
		set       func(a *delegatetest.Accelerator)
		wantShape []int
		wantErr   error
	}{
		{name: "ok", set: func(a *delegatetest.Accelerator) {}, wantShape: []int{1, 2}},
		{name: "fail", set: func(a *delegatetest.Accelerator) { a.Set(delegatetest.Fail) }, wantErr: delegatetest.ErrInjected},
		{name: "stall", set: func(a *delegatetest.Accelerator) { a.Set(delegatetest.Stall) }, wantErr: context.DeadlineExceeded},
		{name: "wrong shape", set: func(a *delegatetest.Accelerator) { a.Set(delegatetest.WrongShape) }, wantShape: []int{2, 2}},
		{name: "vanished", set: func(a *delegatetest.Accelerator) { a.Vanish() }, wantErr: delegates.ErrNotPresent},
		{name: "fail after 0", set: func(a *delegatetest.Accelerator) { a.FailAfter(0) }, wantErr: delegatetest.ErrInjected},
		{name: "recovered", set: func(a *delegatetest.Accelerator) { a.Set(delegatetest.Fail); a.Vanish(); a.Recover() }, wantShape: []int{1, 2}},
	}
	for _, tt := range tests {
		a := delegatetest.New("edgetpu", stub{})
		r, err := a.Prepare(context.Background(), nil, "edgetpu")
		if err != nil {
			t.Fatal(err)
		}
		tt.set(a)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		out := make([]tensor.Tensor, 1)
		err = r.Invoke(ctx, nil, out)
		cancel()
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Invoke(%s) = %v; want %v", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tensor.SameShape(out[0].Shape, tt.wantShape) {
			t.Errorf("Invoke(%s) = %v, shape %v; want nil, %v", tt.name, err, out[0].Shape, tt.wantShape)
		}
	}
}

func TestAcceleratorProbe(t *testing.T) {
	a := delegatetest.New("edgetpu", stub{})
	tests := []struct {
		name string
		set  func()
		want delegates.State
	}{
		{name: "present", set: func() {}, want: delegates.Healthy},
		{name: "broken", set: func() { a.Break(errors.New("usb reset")) }, want: delegates.Failed},
		{name: "vanished", set: func() { a.Vanish() }, want: delegates.Absent},
		{name: "recovered", set: func() { a.Recover() }, want: delegates.Healthy},
	}
	for _, tt := range tests {
		tt.set()
		if got := delegates.ProbeState(a.Probe(context.Background())); got != tt.want {
			t.Errorf("Probe(%s) = %s; want %s", tt.name, got, tt.want)
		}
	}
	if got := a.Probes(); got != len(tests) {
		t.Errorf("Probes() = %d; want %d", got, len(tests))
	}
}

func TestHangReleased(t *testing.T) {
	a := delegatetest.New("edgetpu", stub{})
	r, _ := a.Prepare(context.Background(), nil, "edgetpu")
	a.Set(delegatetest.Hang)
	done := make(chan error, 1)
	go func() { done <- r.Invoke(context.Background(), nil, make([]tensor.Tensor, 1)) }()
	select {
	case err := <-done:
		t.Fatalf("Invoke in Hang mode returned %v before Release", err)
	case <-time.After(20 * time.Millisecond):
	}
	a.Release()
	if err := <-done; err == nil {
		t.Error("Invoke released from a hang = nil; want an error")
	}
}
