package delegates_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
	"github.com/edged-dev/edged/internal/clock"
	"github.com/edged-dev/edged/internal/golden"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// TestMain fails the package when a test leaves goroutines behind: the
// chain's probe loops, accelerator calls and runner closers must all end.
// Started as the child of a library check, the test binary runs it.
func TestMain(m *testing.M) {
	registerTestChecks()
	delegates.ServeChildCheck()
	goleak.VerifyTestMain(m)
}

// cpu computes with TFLite's reference requantization, whose int8 outputs
// are bit-identical to TensorFlow Lite Micro's (testdata/golden_ref_tflm).
var cpu = delegates.CPU{Options: &tflite.Options{Arithmetic: tflite.Reference}}

// goldenCase is one person_detect golden input with TensorFlow Lite
// Micro's output for it.
type goldenCase struct {
	name     string
	in, want []byte
}

// personDetect returns the model's bytes and its golden cases.
func personDetect(t testing.TB) ([]byte, []goldenCase) {
	t.Helper()
	root, err := golden.Root()
	if err != nil {
		t.Fatal(err)
	}
	s, err := golden.LoadSuite(filepath.Join(root, "golden", "person_detect"))
	if err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(s.ModelFile())
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	for i := range s.Cases {
		c := &s.Cases[i]
		in, err := s.ReadInputs(c)
		if err != nil {
			t.Fatal(err)
		}
		want, ok, err := s.ReadRefOutputs(c)
		if err != nil || !ok {
			t.Fatalf("person_detect %s: no TFLite Micro reference output (%v)", c.Dir, err)
		}
		cases = append(cases, goldenCase{name: c.Dir, in: in[0], want: want[0]})
	}
	if len(cases) == 0 {
		t.Fatal("person_detect has no golden cases")
	}
	return model, cases
}

func inputs(c goldenCase) []tensor.Tensor {
	return []tensor.Tensor{{Type: tensor.Int8, Shape: []int{1, 96, 96, 1}, Data: bytes.Clone(c.in)}}
}

// checkGolden compares the chain's answer with TensorFlow Lite Micro's.
func checkGolden(t testing.TB, what string, c goldenCase, out []tensor.Tensor) {
	t.Helper()
	if len(out) != 1 {
		t.Fatalf("%s(%s) gave %d outputs; want 1", what, c.name, len(out))
	}
	if out[0].Type != tensor.Int8 || !tensor.SameShape(out[0].Shape, []int{1, 2}) {
		t.Fatalf("%s(%s) output is %s%v; want int8[1 2]", what, c.name, out[0].Type, out[0].Shape)
	}
	for i := range c.want {
		if out[0].Data[i] != c.want[i] {
			t.Fatalf("%s(%s) output 0[%d] = %d; want %d (TFLite Micro)", what, c.name, i, int8(out[0].Data[i]), int8(c.want[i]))
		}
	}
}

// recorder collects events and health changes.
type recorder struct {
	mu     sync.Mutex
	events []delegates.Event
	health []string
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 100)} }

func (r *recorder) options(o *delegates.Options) *delegates.Options {
	o.OnEvent = func(e delegates.Event) {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
		select {
		case r.signal <- struct{}{}:
		default:
		}
	}
	o.OnHealth = func(model, d string, ok bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		s := "down"
		if ok {
			s = "up"
		}
		r.health = append(r.health, model+"/"+d+"="+s)
	}
	return o
}

func (r *recorder) snapshot() ([]delegates.Event, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delegates.Event(nil), r.events...), append([]string(nil), r.health...)
}

// waitEvent waits for an event to delegate d with state to.
func (r *recorder) waitEvent(t *testing.T, d string, to delegates.State) delegates.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		evs, _ := r.snapshot()
		for _, e := range evs {
			if e.Delegate == d && e.To == to {
				return e
			}
		}
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("no event %s -> %s within 10s; events: %v", d, to, evs)
		}
	}
}

// newChain builds edgetpu (the fake, running the same file) -> cpu.
func newChain(t *testing.T, acc *delegatetest.Accelerator, model []byte, opts *delegates.Options) *delegates.Chain {
	t.Helper()
	links := []delegates.Link{
		{Backend: acc, Variant: "edgetpu", Model: model},
		{Backend: cpu, Variant: "cpu", Model: model},
	}
	c, err := delegates.NewChain(context.Background(), "person_detect", links, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func status(c *delegates.Chain, d string) delegates.Status {
	for _, s := range c.Status() {
		if s.Delegate == d {
			return s
		}
	}
	return delegates.Status{}
}

// nextTimer returns the duration of the next timer the chain creates.
func nextTimer(t *testing.T, clk *clock.Fake) time.Duration {
	t.Helper()
	select {
	case d := <-clk.Timers:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("the chain created no timer within 10s")
		return 0
	}
}
