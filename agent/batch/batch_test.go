package batch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/edged-dev/edged/agent/infer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// long bounds every wait of a test that should take milliseconds.
const long = 5 * time.Second

type answer struct {
	out []infer.Tensor
	err error
}

func submitAsync(ctx context.Context, b *Batcher, id byte) <-chan answer {
	c := make(chan answer, 1)
	go func() {
		out, err := b.Submit(ctx, input(id))
		c <- answer{out, err}
	}()
	return c
}

func recv(t *testing.T, c <-chan answer) answer {
	t.Helper()
	select {
	case a := <-c:
		return a
	case <-time.After(long):
		t.Fatal("no answer")
		return answer{}
	}
}

func waitLen(t *testing.T, b *Batcher, n int) {
	t.Helper()
	deadline := time.Now().Add(long)
	for b.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Len() = %d; want %d", b.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func wantOK(t *testing.T, name string, a answer, id int) {
	t.Helper()
	if a.err != nil || outID(a.out) != id {
		t.Errorf("%s: Submit = id %d, %v; want id %d, nil", name, outID(a.out), a.err, id)
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Policy
		wantErr bool
	}{
		{name: "empty", in: "", want: Reject},
		{name: "reject", in: "reject", want: Reject},
		{name: "drop oldest", in: "drop_oldest", want: DropOldest},
		{name: "upper case", in: "DROP_OLDEST", want: DropOldest},
		{name: "unknown", in: "drop_newest", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePolicy(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParsePolicy(%q) = %v, %v; want %v, error %t", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// With a clock that never reaches MaxDelay, a batch leaves only when it
// is full.
func TestBatchesFillToMaxBatch(t *testing.T) {
	tests := []struct {
		name     string
		maxBatch int
		requests int
		want     []int
	}{
		{name: "two full batches", maxBatch: 4, requests: 8, want: []int{4, 4}},
		{name: "one per batch", maxBatch: 1, requests: 3, want: []int{1, 1, 1}},
		{name: "batch of 8", maxBatch: 8, requests: 8, want: []int{8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fakeInvoker{}
			b := New(inv, Options{MaxBatch: tt.maxBatch, MaxDelay: time.Hour, QueueCapacity: 16, Clock: newFakeClock()})
			defer b.Close()
			var cs []<-chan answer
			for i := range tt.requests {
				cs = append(cs, submitAsync(context.Background(), b, byte(i)))
			}
			for i, c := range cs {
				wantOK(t, fmt.Sprint("request ", i), recv(t, c), i)
			}
			if got := inv.batchSizes(); !slices.Equal(got, tt.want) {
				t.Errorf("batch sizes = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestLoneRequestWaitsMaxDelay(t *testing.T) {
	clk := newFakeClock()
	inv := &fakeInvoker{started: make(chan int, 1)}
	b := New(inv, Options{MaxBatch: 8, MaxDelay: 10 * time.Millisecond, Clock: clk})
	defer b.Close()
	start := clk.Now()
	c := submitAsync(context.Background(), b, 7)
	ctx, cancel := context.WithTimeout(context.Background(), long)
	defer cancel()
	if err := clk.WaitTimer(ctx, start.Add(10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10*time.Millisecond - time.Nanosecond)
	select {
	case n := <-inv.started:
		t.Fatalf("batch of %d dispatched before MaxDelay", n)
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Nanosecond)
	wantOK(t, "lone request", recv(t, c), 7)
	if got, want := inv.batchSizes(), []int{1}; !slices.Equal(got, want) {
		t.Errorf("batch sizes = %v; want %v", got, want)
	}
}

// The same on the system clock, with a generous upper bound.
func TestLoneRequestWaitsMaxDelaySystemClock(t *testing.T) {
	const maxDelay = 30 * time.Millisecond
	inv := &fakeInvoker{}
	b := New(inv, Options{MaxBatch: 8, MaxDelay: maxDelay})
	defer b.Close()
	start := time.Now()
	out, err := b.Submit(context.Background(), input(3))
	took := time.Since(start)
	wantOK(t, "lone request", answer{out, err}, 3)
	if took < maxDelay || took > long {
		t.Errorf("lone request took %v; want between %v and %v", took, maxDelay, long)
	}
}

func TestZeroMaxDelayDispatchesAtOnce(t *testing.T) {
	inv := &fakeInvoker{}
	b := New(inv, Options{MaxBatch: 8, Clock: newFakeClock()}) // the clock never moves
	defer b.Close()
	out, err := b.Submit(context.Background(), input(1))
	wantOK(t, "request", answer{out, err}, 1)
}

func TestPerRequestErrors(t *testing.T) {
	errOdd := errors.New("odd request")
	inv := &fakeInvoker{fail: func(id byte) error {
		if id%2 == 1 {
			return fmt.Errorf("request %d: %w", id, errOdd)
		}
		return nil
	}}
	b := New(inv, Options{MaxBatch: 8, MaxDelay: time.Hour, Clock: newFakeClock()})
	defer b.Close()
	var cs []<-chan answer
	for i := range 8 {
		cs = append(cs, submitAsync(context.Background(), b, byte(i)))
	}
	for i, c := range cs {
		a := recv(t, c)
		if i%2 == 0 {
			wantOK(t, fmt.Sprint("request ", i), a, i)
			continue
		}
		if want := fmt.Sprintf("request %d: odd request", i); a.err == nil || a.err.Error() != want || !errors.Is(a.err, errOdd) || a.out != nil {
			t.Errorf("request %d: Submit = %v, %v; want nil, %q", i, a.out, a.err, want)
		}
	}
	if got, want := inv.batchSizes(), []int{8}; !slices.Equal(got, want) {
		t.Errorf("batch sizes = %v; want %v", got, want)
	}
}

func TestOverload(t *testing.T) {
	tests := []struct {
		name        string
		policy      Policy
		wantOK      []int // request ids that get their result
		wantOverl   []int // request ids that get ErrOverloaded
		wantReject  float64
		wantDropped float64
		wantRefuse  bool // WouldReject with a full queue
	}{
		{name: "reject", policy: Reject, wantOK: []int{0, 1, 2}, wantOverl: []int{3}, wantReject: 1, wantRefuse: true},
		{name: "drop oldest", policy: DropOldest, wantOK: []int{0, 2, 3}, wantOverl: []int{1}, wantDropped: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := NewMetrics(reg, prometheus.Labels{"model": "m"}, 1)
			if err != nil {
				t.Fatal(err)
			}
			inv := &fakeInvoker{gate: make(chan struct{}), started: make(chan int, 4)}
			b := New(inv, Options{MaxBatch: 1, QueueCapacity: 2, Overload: tt.policy, Metrics: m})
			defer b.Close()
			cs := map[int]<-chan answer{0: submitAsync(context.Background(), b, 0)}
			<-inv.started // request 0 is in flight and holds the dispatcher
			cs[1] = submitAsync(context.Background(), b, 1)
			waitLen(t, b, 1)
			if b.WouldReject() {
				t.Errorf("WouldReject with 1 of 2 queued = true; want false")
			}
			cs[2] = submitAsync(context.Background(), b, 2)
			waitLen(t, b, 2)
			if got := b.WouldReject(); got != tt.wantRefuse {
				t.Errorf("WouldReject with 2 of 2 queued = %v; want %v", got, tt.wantRefuse)
			}
			if got := testutil.ToFloat64(m.queueDepth); got != 2 {
				t.Errorf("queue depth = %v; want 2", got)
			}
			cs[3] = submitAsync(context.Background(), b, 3)
			for _, id := range tt.wantOverl {
				a := recv(t, cs[id]) // arrives while request 0 is still held
				if !errors.Is(a.err, infer.ErrOverloaded) {
					t.Errorf("request %d: Submit error = %v; want ErrOverloaded", id, a.err)
				}
			}
			for range tt.wantOK {
				inv.gate <- struct{}{}
			}
			for _, id := range tt.wantOK {
				wantOK(t, fmt.Sprint("request ", id), recv(t, cs[id]), id)
			}
			if got := testutil.ToFloat64(m.rejects); got != tt.wantReject {
				t.Errorf("rejected = %v; want %v", got, tt.wantReject)
			}
			if got := testutil.ToFloat64(m.drops); got != tt.wantDropped {
				t.Errorf("dropped = %v; want %v", got, tt.wantDropped)
			}
			if got := testutil.ToFloat64(m.queueDepth); got != 0 {
				t.Errorf("queue depth after = %v; want 0", got)
			}
		})
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	inv := &fakeInvoker{}
	b := New(inv, Options{MaxBatch: 4, MaxDelay: time.Hour, Clock: newFakeClock()})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := submitAsync(ctx, b, 1)
	waitLen(t, b, 1)
	cancel()
	if a := recv(t, c); !errors.Is(a.err, context.Canceled) {
		t.Errorf("Submit error = %v; want context.Canceled", a.err)
	}
	waitLen(t, b, 0)
	// The remaining requests make a full batch without the canceled one.
	var cs []<-chan answer
	for i := range 4 {
		cs = append(cs, submitAsync(context.Background(), b, byte(10+i)))
	}
	for i, c := range cs {
		wantOK(t, fmt.Sprint("request ", 10+i), recv(t, c), 10+i)
	}
	if got, want := inv.batchSizes(), []int{4}; !slices.Equal(got, want) {
		t.Errorf("batch sizes = %v; want %v", got, want)
	}
}

func TestCanceledBeforeSubmit(t *testing.T) {
	inv := &fakeInvoker{}
	b := New(inv, Options{})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Submit(ctx, input(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Submit error = %v; want context.Canceled", err)
	}
}

// A request whose deadline passes (by the Batcher's clock) before its
// batch is formed is not run; the others of the batch are.
func TestDeadlinePassedIsNotRun(t *testing.T) {
	clk := newFakeClock()
	inv := &fakeInvoker{}
	b := New(inv, Options{MaxBatch: 8, MaxDelay: time.Hour, Clock: clk})
	defer b.Close()
	// The deadline is far off in real time, so only the fake clock passes it.
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(30*time.Minute))
	defer cancel()
	late := submitAsync(ctx, b, 1)
	waitLen(t, b, 1)
	onTime := submitAsync(context.Background(), b, 2)
	waitLen(t, b, 2)
	wctx, wcancel := context.WithTimeout(context.Background(), long)
	defer wcancel()
	if err := clk.WaitTimer(wctx, clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if a := recv(t, late); !errors.Is(a.err, context.DeadlineExceeded) {
		t.Errorf("late request: Submit error = %v; want context.DeadlineExceeded", a.err)
	}
	wantOK(t, "on-time request", recv(t, onTime), 2)
	if got, want := inv.batchSizes(), []int{1}; !slices.Equal(got, want) {
		t.Errorf("batch sizes = %v; want %v", got, want)
	}
}

func TestClose(t *testing.T) {
	inv := &fakeInvoker{gate: make(chan struct{}), started: make(chan int, 1)}
	b := New(inv, Options{MaxBatch: 1, QueueCapacity: 4})
	inFlight := submitAsync(context.Background(), b, 0)
	<-inv.started
	waiting := submitAsync(context.Background(), b, 1)
	waitLen(t, b, 1)
	b.Close()
	b.Close() // idempotent
	// The batch in flight saw its context canceled and still answered.
	wantOK(t, "in-flight request", recv(t, inFlight), 0)
	if got := inv.ctxErrs; len(got) != 1 || !errors.Is(got[0], context.Canceled) {
		t.Errorf("in-flight batch context errors = %v; want [context.Canceled]", got)
	}
	if a := recv(t, waiting); !errors.Is(a.err, ErrClosed) || !errors.Is(a.err, infer.ErrNotReady) {
		t.Errorf("waiting request: Submit error = %v; want ErrClosed (and ErrNotReady)", a.err)
	}
	if _, err := b.Submit(context.Background(), input(2)); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: error = %v; want ErrClosed", err)
	}
}

func TestShutdownDrains(t *testing.T) {
	inv := &fakeInvoker{}
	b := New(inv, Options{MaxBatch: 8, MaxDelay: time.Hour, Clock: newFakeClock()})
	var cs []<-chan answer
	for i := range 3 {
		cs = append(cs, submitAsync(context.Background(), b, byte(i)))
		waitLen(t, b, i+1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), long)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	for i, c := range cs {
		wantOK(t, fmt.Sprint("request ", i), recv(t, c), i)
	}
	if got, want := inv.batchSizes(), []int{3}; !slices.Equal(got, want) {
		t.Errorf("batch sizes = %v; want %v", got, want)
	}
	if _, err := b.Submit(context.Background(), input(9)); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Shutdown: error = %v; want ErrClosed", err)
	}
}

func TestShutdownTimesOut(t *testing.T) {
	inv := &fakeInvoker{gate: make(chan struct{}), started: make(chan int, 1)}
	b := New(inv, Options{MaxBatch: 1})
	inFlight := submitAsync(context.Background(), b, 0)
	<-inv.started
	waiting := submitAsync(context.Background(), b, 1)
	waitLen(t, b, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := b.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v; want context.DeadlineExceeded", err)
	}
	wantOK(t, "in-flight request", recv(t, inFlight), 0)
	if a := recv(t, waiting); !errors.Is(a.err, ErrClosed) {
		t.Errorf("waiting request: Submit error = %v; want ErrClosed", a.err)
	}
}

type badInvoker struct{ panics bool }

func (f badInvoker) InvokeBatch(ctx context.Context, reqs [][]infer.Tensor) ([][]infer.Tensor, []error) {
	if f.panics {
		panic("kernel bug")
	}
	return nil, nil
}

func TestBadInvoker(t *testing.T) {
	tests := []struct {
		name    string
		inv     badInvoker
		wantErr string
	}{
		{name: "short answer", inv: badInvoker{}, wantErr: "batch: invoker answered 0 outputs and 0 errors for a batch of 1"},
		{name: "panic", inv: badInvoker{panics: true}, wantErr: "batch: invoker panicked on a batch of 1: kernel bug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(tt.inv, Options{})
			defer b.Close()
			_, err := b.Submit(context.Background(), input(1))
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Submit error = %v; want %q", err, tt.wantErr)
			}
		})
	}
}

func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	labels := prometheus.Labels{"model": "m"}
	m1, err := NewMetrics(reg, labels, 8)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := NewMetrics(reg, labels, 8)
	if err != nil {
		t.Fatalf("second NewMetrics: %v", err)
	}
	m1.rejected()
	m2.rejected()
	if got := testutil.ToFloat64(m2.rejects); got != 2 {
		t.Errorf("shared rejected counter = %v; want 2", got)
	}
	if got, want := sizeBuckets(8), []float64{1, 2, 4, 8}; !slices.Equal(got, want) {
		t.Errorf("sizeBuckets(8) = %v; want %v", got, want)
	}
	if got, want := sizeBuckets(6), []float64{1, 2, 4, 6}; !slices.Equal(got, want) {
		t.Errorf("sizeBuckets(6) = %v; want %v", got, want)
	}
}

// Many callers, some giving up early: everyone gets their own answer or
// their own context error, batches never exceed MaxBatch, and Close
// leaves no goroutine behind (checked by TestMain).
func TestConcurrentCallers(t *testing.T) {
	inv := &fakeInvoker{perCall: 100 * time.Microsecond, fail: func(id byte) error {
		if id%5 == 0 {
			return fmt.Errorf("request %d failed", id)
		}
		return nil
	}}
	b := New(inv, Options{MaxBatch: 8, MaxDelay: time.Millisecond, QueueCapacity: 256})
	defer b.Close()
	var wg sync.WaitGroup
	errc := make(chan error, 32*20)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 20 {
				id := byte(g*20 + i)
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				canceled := rng.IntN(4) == 0
				if canceled {
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rng.IntN(500))*time.Microsecond)
				}
				out, err := b.Submit(ctx, input(id))
				cancel()
				switch {
				case canceled && errors.Is(err, context.DeadlineExceeded):
				case id%5 == 0:
					if want := fmt.Sprintf("request %d failed", id); err == nil || err.Error() != want {
						errc <- fmt.Errorf("request %d: error %v; want %q", id, err, want)
					}
				case err != nil || outID(out) != int(id):
					errc <- fmt.Errorf("request %d: Submit = id %d, %v", id, outID(out), err)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	for _, n := range inv.batchSizes() {
		if n < 1 || n > 8 {
			t.Errorf("batch of %d; want 1..8", n)
		}
	}
}
