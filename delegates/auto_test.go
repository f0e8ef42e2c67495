package delegates_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
)

// slowCPU is the CPU backend with every call made d slower.
type slowCPU struct{ d time.Duration }

func (slowCPU) Name() string                        { return "cpu" }
func (slowCPU) Probe(context.Context) (bool, error) { return true, nil }
func (s slowCPU) Prepare(ctx context.Context, model []byte, variant string) (delegates.Runner, error) {
	r, err := cpu.Prepare(ctx, model, variant)
	if err != nil {
		return nil, err
	}
	return slowRunner{r.(*delegates.CPURunner), s.d}, nil
}

type slowRunner struct {
	*delegates.CPURunner
	d time.Duration
}

func (r slowRunner) Invoke(ctx context.Context, in, out []tensor.Tensor) error {
	time.Sleep(r.d)
	return r.CPURunner.Invoke(ctx, in, out)
}

func autoChain(t *testing.T, fallback delegates.Backend, accs ...delegates.Backend) *delegates.Chain {
	t.Helper()
	model, _ := personDetect(t)
	var links []delegates.Link
	for _, a := range append(accs, fallback) {
		links = append(links, delegates.Link{Backend: a, Variant: "cpu", Model: model})
	}
	c, err := delegates.NewChain(context.Background(), "person_detect", links, &delegates.Options{Auto: true, AutoBudget: 100 * time.Millisecond, BackoffInitial: 20 * time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func trials(c *delegates.Chain) map[string]delegates.Trial {
	out := map[string]delegates.Trial{}
	for _, st := range c.Status() {
		if st.Trial != nil {
			out[st.Delegate] = *st.Trial
		}
	}
	return out
}

// served runs a golden case through the chain, checks the answer and
// says who gave it.
func served(t *testing.T, c *delegates.Chain) string {
	t.Helper()
	_, cases := personDetect(t)
	out := make([]tensor.Tensor, 1)
	who, err := c.Run(context.Background(), inputs(cases[0]), out)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "Run", cases[0], out)
	return who
}

// TestAutoFastestThatAgrees: with a slow CPU, the fastest accelerator
// whose outputs agree serves; a faster one that answers wrongly does not.
func TestAutoFastestThatAgrees(t *testing.T) {
	fast := delegatetest.New("fast", cpu)
	slower := delegatetest.New("slower", cpu)
	slower.Delay(30 * time.Millisecond)
	wrong := delegatetest.New("wrong", cpu)
	wrong.Fixed([]tensor.Tensor{{Type: tensor.Int8, Shape: []int{1, 2}, Data: []byte{100, 0x9c}}}) // [100 -100]
	c := autoChain(t, slowCPU{60 * time.Millisecond}, wrong, slower, fast)
	tr := trials(c)
	if !tr["fast"].Chosen || !tr["fast"].Agrees || tr["slower"].Chosen || !tr["slower"].Agrees || tr["cpu"].Chosen {
		t.Errorf("trials %+v; want fast chosen, slower agreeing and not chosen, cpu not chosen", tr)
	}
	if w := tr["wrong"]; w.Agrees || w.Chosen || w.Disagreement == "" {
		t.Errorf("wrong's trial %+v; want disagreeing with the reason, not chosen", w)
	}
	if f, s, p := tr["fast"], tr["slower"], tr["cpu"]; f.Runs < 3 || s.Runs < 3 || p.Runs < 3 || !(f.MedianMS < s.MedianMS) || p.MedianMS < 60 {
		t.Errorf("figures fast %+v slower %+v cpu %+v; want >= 3 runs each, fast < slower, cpu >= 60 ms", f, s, p)
	}
	if who := served(t, c); who != "fast" {
		t.Errorf("served by %s; want fast", who)
	}
}

// TestAutoCPUFastest: an accelerator slower than the CPU is left idle.
func TestAutoCPUFastest(t *testing.T) {
	slow := delegatetest.New("slow", cpu)
	slow.Delay(100 * time.Millisecond)
	c := autoChain(t, cpu, slow)
	tr := trials(c)
	if !tr["cpu"].Chosen || tr["slow"].Chosen || !tr["slow"].Agrees {
		t.Errorf("trials %+v; want the cpu chosen, slow agreeing but not", tr)
	}
	calls := slow.Calls()
	if who := served(t, c); who != "cpu" {
		t.Errorf("served by %s; want cpu", who)
	}
	if slow.Calls() != calls {
		t.Errorf("the slow accelerator was called %d times after the decision; want 0", slow.Calls()-calls)
	}
}

// TestAutoRedecides: an accelerator failed at load is timed when it
// recovers, and serves from then on when it is the fastest.
func TestAutoRedecides(t *testing.T) {
	acc := delegatetest.New("acc", cpu)
	acc.Break(errors.New("driver not ready"))
	c := autoChain(t, slowCPU{60 * time.Millisecond}, acc)
	if tr := trials(c); !tr["cpu"].Chosen || tr["acc"].Runs != 0 {
		t.Fatalf("trials at load %+v; want only the cpu timed and chosen", tr)
	}
	if who := served(t, c); who != "cpu" {
		t.Errorf("served by %s while acc is failed; want cpu", who)
	}
	acc.Recover()
	testenv.WaitFor(t, "acc chosen after it recovered", 10*time.Second, func() bool { return trials(c)["acc"].Chosen })
	if tr := trials(c); tr["cpu"].Chosen {
		t.Errorf("trials %+v; want the cpu no longer chosen", tr)
	}
	if who := served(t, c); who != "acc" {
		t.Errorf("served by %s; want acc", who)
	}
}

// TestAutoAgreeWith: with Options.AgreeWith the accelerators are held to
// its outputs, not the fallback's.
func TestAutoAgreeWith(t *testing.T) {
	fixed := []tensor.Tensor{{Type: tensor.Int8, Shape: []int{1, 2}, Data: []byte{100, 0x9c}}} // [100 -100]
	judge := delegatetest.New("judge", cpu)
	judge.Fixed(fixed)
	same := delegatetest.New("same", cpu)
	same.Fixed(fixed)
	right := delegatetest.New("right", cpu)
	model, _ := personDetect(t)
	var links []delegates.Link
	for _, b := range []delegates.Backend{same, right, slowCPU{60 * time.Millisecond}} {
		links = append(links, delegates.Link{Backend: b, Variant: "cpu", Model: model})
	}
	c, err := delegates.NewChain(context.Background(), "person_detect", links, &delegates.Options{Auto: true, AutoBudget: 100 * time.Millisecond, AgreeWith: judge})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tr := trials(c)
	if !tr["same"].Agrees || tr["right"].Agrees || tr["right"].Runs < 3 {
		t.Errorf("trials %+v; want same agreeing with the judge, right not (and still timed)", tr)
	}
}

// TestAutoAgreeWithFails: when the judge cannot run the model, the
// accelerators are held to the fallback's outputs, and the fallback's
// trial says so.
func TestAutoAgreeWithFails(t *testing.T) {
	judge := delegatetest.New("judge", cpu)
	judge.Break(errors.New("cannot run this model"))
	acc := delegatetest.New("acc", cpu)
	model, _ := personDetect(t)
	links := []delegates.Link{{Backend: acc, Variant: "cpu", Model: model}, {Backend: slowCPU{60 * time.Millisecond}, Variant: "cpu", Model: model}}
	c, err := delegates.NewChain(context.Background(), "person_detect", links, &delegates.Options{Auto: true, AutoBudget: 100 * time.Millisecond, AgreeWith: judge})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tr := trials(c)
	if !tr["acc"].Agrees || !tr["acc"].Chosen || !strings.Contains(tr["cpu"].Note, "outputs compared with the fallback's: delegatetest judge: cannot run this model") {
		t.Errorf("trials %+v; want acc agreeing with the fallback and chosen, the cpu's note saying why", tr)
	}
}
