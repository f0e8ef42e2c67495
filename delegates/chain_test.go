package delegates_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
	"github.com/edged-dev/edged/internal/clock"
	"github.com/edged-dev/edged/runtime/tensor"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestChainFallback puts the accelerator in each failure mode and checks
// that every request is answered, by the right backend, with the oracle's
// outputs, within its deadline, and that the failure is reported.
func TestChainFallback(t *testing.T) {
	model, cases := personDetect(t)
	tests := []struct {
		name       string
		mode       delegatetest.Mode
		vanish     bool
		want       string // backend that answers the first request
		wantState  delegates.State
		wantReason string
	}{
		{name: "healthy", mode: delegatetest.OK, want: "edgetpu", wantState: delegates.Healthy},
		{name: "error", mode: delegatetest.Fail, want: "cpu", wantState: delegates.Failed, wantReason: "injected failure"},
		{name: "stall", mode: delegatetest.Stall, want: "cpu", wantState: delegates.Failed, wantReason: "stalled"},
		{name: "hang", mode: delegatetest.Hang, want: "cpu", wantState: delegates.Failed, wantReason: "no answer within the attempt deadline"},
		{name: "wrong shapes", mode: delegatetest.WrongShape, want: "cpu", wantState: delegates.Failed, wantReason: "output 0 (MobilenetV1/Predictions/Reshape_1) is int8[2 2]"},
		{name: "vanished", vanish: true, want: "cpu", wantState: delegates.Failed, wantReason: "not present on this host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc := delegatetest.New("edgetpu", cpu)
			defer acc.Recover() // releases hung calls
			rec := newRecorder()
			clk := clock.NewFake(t0)
			c := newChain(t, acc, model, rec.options(&delegates.Options{Clock: clk, AttemptTimeout: time.Second}))
			acc.Set(tt.mode)
			if tt.vanish {
				acc.Vanish()
			}
			const deadline = 5 * time.Second
			for i, gc := range cases {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				out := make([]tensor.Tensor, 1)
				start := time.Now()
				got, err := c.Run(ctx, inputs(gc), out)
				took := time.Since(start)
				cancel()
				if err != nil {
					t.Fatalf("Run(%s) error %v; want an answer", gc.name, err)
				}
				if took >= deadline {
					t.Errorf("Run(%s) took %v; want < %v", gc.name, took, deadline)
				}
				checkGolden(t, "Run", gc, out)
				want := tt.want
				if i > 0 && tt.wantState != delegates.Healthy {
					want = "cpu" // taken out of use after the first failure
				}
				if got != want {
					t.Errorf("Run(%s) #%d answered by %s; want %s", gc.name, i, got, want)
				}
			}
			st := status(c, "edgetpu")
			if st.State != tt.wantState || !strings.Contains(st.Reason, tt.wantReason) {
				t.Errorf("Status(edgetpu) = %s %q; want %s containing %q", st.State, st.Reason, tt.wantState, tt.wantReason)
			}
			if got := c.Healthy("edgetpu"); got != (tt.wantState == delegates.Healthy) {
				t.Errorf("Healthy(edgetpu) = %v; want %v", got, tt.wantState == delegates.Healthy)
			}
			if !c.Healthy("cpu") {
				t.Error("Healthy(cpu) = false; want true")
			}
			evs, health := rec.snapshot()
			if tt.wantState == delegates.Healthy {
				if len(evs) != 0 {
					t.Errorf("events = %v; want none", evs)
				}
				if st.Served != uint64(len(cases)) {
					t.Errorf("Status(edgetpu).Served = %d; want %d", st.Served, len(cases))
				}
				return
			}
			if len(evs) != 1 || evs[0].From != delegates.Healthy || evs[0].To != delegates.Failed || evs[0].Model != "person_detect" {
				t.Fatalf("events = %v; want one person_detect edgetpu healthy -> failed", evs)
			}
			wantHealth := []string{"person_detect/cpu=up", "person_detect/edgetpu=up", "person_detect/edgetpu=down"}
			if strings.Join(health, " ") != strings.Join(wantHealth, " ") {
				t.Errorf("health changes = %v; want %v", health, wantHealth)
			}
			if st.Failures != 1 {
				t.Errorf("Status(edgetpu).Failures = %d; want 1", st.Failures)
			}
			if cs := status(c, "cpu"); cs.Served != uint64(len(cases)) || !cs.Fallback {
				t.Errorf("Status(cpu) served %d fallback %v; want %d true", cs.Served, cs.Fallback, len(cases))
			}
		})
	}
}

// TestStallWithinRequestDeadline: an accelerator allowed more time than
// the request has is cut short CPUReserve before the request's deadline,
// and the CPU answers before it.
func TestStallWithinRequestDeadline(t *testing.T) {
	model, cases := personDetect(t)
	acc := delegatetest.New("edgetpu", cpu)
	c := newChain(t, acc, model, &delegates.Options{Clock: clock.NewFake(t0), AttemptTimeout: time.Minute, CPUReserve: 300 * time.Millisecond})
	acc.Set(delegatetest.Stall)
	const deadline = 800 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	out := make([]tensor.Tensor, 1)
	start := time.Now()
	got, err := c.Run(ctx, inputs(cases[0]), out)
	took := time.Since(start)
	if err != nil || got != "cpu" {
		t.Fatalf("Run(%s) = %s, %v; want cpu, nil", cases[0].name, got, err)
	}
	// The stall ends 300ms before the deadline: ~500ms.
	if took < 400*time.Millisecond || took >= deadline {
		t.Errorf("Run(%s) took %v; want in [400ms, %v)", cases[0].name, took, deadline)
	}
	checkGolden(t, "Run", cases[0], out)
}

// TestReprobeBackoff: a failed accelerator is probed after 1, 2, 4, 8 s
// and then every 8 s (the cap), and comes back into use when it recovers.
func TestReprobeBackoff(t *testing.T) {
	model, cases := personDetect(t)
	acc := delegatetest.New("edgetpu", cpu)
	rec := newRecorder()
	clk := clock.NewFake(t0)
	c := newChain(t, acc, model, rec.options(&delegates.Options{Clock: clk, BackoffInitial: time.Second, BackoffMax: 8 * time.Second}))
	acc.Set(delegatetest.Fail)
	if got, err := c.Run(context.Background(), inputs(cases[0]), make([]tensor.Tensor, 1)); err != nil || got != "cpu" {
		t.Fatalf("Run = %s, %v; want cpu, nil", got, err)
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	probes := acc.Probes()
	for i, w := range want {
		d := nextTimer(t, clk)
		if d != w {
			t.Fatalf("backoff #%d = %v; want %v", i, d, w)
		}
		if st := status(c, "edgetpu"); !st.NextProbe.Equal(clk.Now().Add(w)) {
			t.Errorf("Status(edgetpu).NextProbe = %v; want %v", st.NextProbe, clk.Now().Add(w))
		}
		if i == len(want)-1 {
			acc.Recover()
		}
		clk.Advance(d)
	}
	rec.waitEvent(t, "edgetpu", delegates.Healthy)
	if got := acc.Probes() - probes; got != len(want) {
		t.Errorf("probes after the failure = %d; want %d", got, len(want))
	}
	for _, gc := range cases {
		out := make([]tensor.Tensor, 1)
		got, err := c.Run(context.Background(), inputs(gc), out)
		if err != nil || got != "edgetpu" {
			t.Fatalf("Run(%s) after recovery = %s, %v; want edgetpu, nil", gc.name, got, err)
		}
		checkGolden(t, "Run", gc, out)
	}
	evs, health := rec.snapshot()
	// healthy -> failed (the call), failed -> failed once (the probe's
	// reason differs from the call's; repeats are not events), -> healthy.
	if len(evs) != 3 || evs[0].To != delegates.Failed || evs[1].To != delegates.Failed || evs[2].To != delegates.Healthy {
		t.Errorf("events = %v; want failed, failed (probe reason), healthy", evs)
	}
	if h := health[len(health)-1]; h != "person_detect/edgetpu=up" {
		t.Errorf("last health change = %s; want person_detect/edgetpu=up", h)
	}
	if !evs[1].Next.Equal(t0.Add(1 * time.Second).Add(2 * time.Second)) {
		t.Errorf("event %v: next probe %v; want %v", evs[1], evs[1].Next, t0.Add(3*time.Second))
	}
}

// TestAbsentAtStart: an accelerator not on this host at start is
// reported absent, the CPU serves, and a device plugged in later is used.
func TestAbsentAtStart(t *testing.T) {
	model, cases := personDetect(t)
	acc := delegatetest.New("edgetpu", cpu)
	acc.Vanish()
	rec := newRecorder()
	clk := clock.NewFake(t0)
	c := newChain(t, acc, model, rec.options(&delegates.Options{Clock: clk}))
	st := status(c, "edgetpu")
	if st.State != delegates.Absent || !strings.Contains(st.Reason, "not present on this host") {
		t.Errorf("Status(edgetpu) = %s %q; want absent, not present on this host", st.State, st.Reason)
	}
	out := make([]tensor.Tensor, 1)
	if got, err := c.Run(context.Background(), inputs(cases[0]), out); err != nil || got != "cpu" {
		t.Fatalf("Run = %s, %v; want cpu, nil", got, err)
	}
	checkGolden(t, "Run", cases[0], out)
	if d := nextTimer(t, clk); d != delegates.DefaultBackoffInitial {
		t.Fatalf("first backoff = %v; want %v", d, delegates.DefaultBackoffInitial)
	}
	acc.Recover()
	clk.Advance(delegates.DefaultBackoffInitial)
	rec.waitEvent(t, "edgetpu", delegates.Healthy)
	if got, err := c.Run(context.Background(), inputs(cases[0]), out); err != nil || got != "edgetpu" {
		t.Fatalf("Run after plug-in = %s, %v; want edgetpu, nil", got, err)
	}
	checkGolden(t, "Run", cases[0], out)
}

// TestFailMidStreamConcurrent: the accelerator fails after 20 calls while
// 8 clients send 25 requests each; no request fails, all answers match TFLite
// Micro's, the failure is one event, and the accelerator serves again after
// it heals.
func TestFailMidStreamConcurrent(t *testing.T) {
	model, cases := personDetect(t)
	acc := delegatetest.New("edgetpu", cpu)
	rec := newRecorder()
	clk := clock.NewFake(t0)
	c := newChain(t, acc, model, rec.options(&delegates.Options{Clock: clk, FallbackRunners: 2, AttemptTimeout: 3 * time.Second}))
	acc.FailAfter(20)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		served = map[string]int{}
	)
	errs := make(chan error, 200)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				gc := cases[(g+i)%len(cases)]
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				out := make([]tensor.Tensor, 1)
				got, err := c.Run(ctx, inputs(gc), out)
				cancel()
				if err != nil {
					errs <- err
					continue
				}
				if out[0].Type != tensor.Int8 || string(out[0].Data) != string(gc.want) {
					errs <- errors.New("Run(" + gc.name + ") output differs from TFLite Micro's on " + got)
				}
				mu.Lock()
				served[got]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The fake answers 20 calls; on a loaded machine a call may also be
	// cut short at its deadline first, which takes it out of use as well.
	if served["edgetpu"] < 1 || served["edgetpu"] > 20 || served["edgetpu"]+served["cpu"] != 200 {
		t.Errorf("served = %v; want edgetpu 1..20 and 200 in all", served)
	}
	evs, _ := rec.snapshot()
	if len(evs) != 1 || evs[0].To != delegates.Failed {
		t.Errorf("events = %v; want one healthy -> failed", evs)
	}
	nextTimer(t, clk)
	acc.Recover()
	clk.Advance(delegates.DefaultBackoffInitial)
	rec.waitEvent(t, "edgetpu", delegates.Healthy)
	if got, err := c.Run(context.Background(), inputs(cases[0]), make([]tensor.Tensor, 1)); err != nil || got != "edgetpu" {
		t.Fatalf("Run after recovery = %s, %v; want edgetpu, nil", got, err)
	}
}

// TestHangDoesNotHoldClose: a call that never returns does not hold up
// requests or Close; Close says what it left behind.
func TestHangDoesNotHoldClose(t *testing.T) {
	model, cases := personDetect(t)
	acc := delegatetest.New("edgetpu", cpu)
	defer acc.Recover()
	links := []delegates.Link{{Backend: acc, Variant: "edgetpu", Model: model}, {Backend: cpu, Variant: "cpu", Model: model}}
	c, err := delegates.NewChain(context.Background(), "person_detect", links, &delegates.Options{Clock: clock.NewFake(t0), AttemptTimeout: 50 * time.Millisecond, CloseTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	acc.Set(delegatetest.Hang)
	if got, err := c.Run(context.Background(), inputs(cases[0]), make([]tensor.Tensor, 1)); err != nil || got != "cpu" {
		t.Fatalf("Run = %s, %v; want cpu, nil", got, err)
	}
	start := time.Now()
	err = c.Close()
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %v; want about the 100ms CloseTimeout", took)
	}
	if err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Close() = %v; want an error saying calls are still running", err)
	}
	if _, err := c.Run(context.Background(), inputs(cases[0]), make([]tensor.Tensor, 1)); !errors.Is(err, delegates.ErrClosed) {
		t.Errorf("Run after Close = %v; want ErrClosed", err)
	}
}

// TestBadInputNotBlamed: inputs that do not fit the model are the
// caller's error; the accelerator is neither called nor blamed.
func TestBadInputNotBlamed(t *testing.T) {
	model, _ := personDetect(t)
	acc := delegatetest.New("edgetpu", cpu)
	c := newChain(t, acc, model, &delegates.Options{Clock: clock.NewFake(t0)})
	calls := acc.Calls()
	tests := []struct {
		name string
		in   []tensor.Tensor
	}{
		{name: "short", in: []tensor.Tensor{{Type: tensor.Int8, Data: make([]byte, 100)}}},
		{name: "type", in: []tensor.Tensor{{Type: tensor.UInt8, Data: make([]byte, 96*96)}}},
		{name: "shape", in: []tensor.Tensor{{Type: tensor.Int8, Shape: []int{1, 96, 96, 2}, Data: make([]byte, 96*96)}}},
		{name: "count", in: nil},
	}
	for _, tt := range tests {
		_, err := c.Run(context.Background(), tt.in, make([]tensor.Tensor, 1))
		if !errors.Is(err, delegates.ErrBadInput) {
			t.Errorf("Run(%s) = %v; want ErrBadInput", tt.name, err)
		}
	}
	if got := acc.Calls(); got != calls {
		t.Errorf("accelerator calls = %d; want %d", got, calls)
	}
	if !c.Healthy("edgetpu") {
		t.Error("Healthy(edgetpu) = false after bad inputs; want true")
	}
}

// TestCanceledRequestNotBlamed: a caller that gives up does not take the
// accelerator out of use.
func TestCanceledRequestNotBlamed(t *testing.T) {
	model, cases := personDetect(t)
	acc := delegatetest.New("edgetpu", cpu)
	c := newChain(t, acc, model, &delegates.Options{Clock: clock.NewFake(t0), AttemptTimeout: 10 * time.Second})
	acc.Set(delegatetest.Stall)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.Run(ctx, inputs(cases[0]), make([]tensor.Tensor, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Run(canceled) = %v; want context.Canceled", err)
	}
	if !c.Healthy("edgetpu") {
		t.Error("Healthy(edgetpu) = false after a canceled request; want true")
	}
}

func TestNewChainErrors(t *testing.T) {
	model, _ := personDetect(t)
	tests := []struct {
		name    string
		links   []delegates.Link
		wantErr string
	}{
		{name: "no links", wantErr: "no links"},
		{name: "bad fallback model", links: []delegates.Link{{Backend: cpu, Variant: "cpu", Model: []byte("not a model")}}, wantErr: "fallback cpu (cpu variant)"},
		{name: "fallback without description", links: []delegates.Link{{Backend: delegatetest.New("fake", cpu), Variant: "cpu", Model: model}}, wantErr: "does not describe"},
	}
	for _, tt := range tests {
		c, err := delegates.NewChain(context.Background(), "m", tt.links, nil)
		if err == nil {
			c.Close()
			t.Errorf("NewChain(%s) = nil error; want %q", tt.name, tt.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("NewChain(%s) = %v; want %q", tt.name, err, tt.wantErr)
		}
	}
}
