package batch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// fakeClock only moves when Advance is called.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed chan struct{} // closed and replaced whenever a timer is made
}

func newFakeClock() *fakeClock {
	// It starts at the real time so that context deadlines set from it
	// are in the real future too.
	return &fakeClock{now: time.Now().Truncate(time.Second), changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return t
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.c <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}

// waitTimer blocks until a timer is pending that fires at at.
func (c *fakeClock) waitTimer(ctx context.Context, at time.Time) error {
	for {
		c.mu.Lock()
		for _, t := range c.timers {
			if t.at.Equal(at) {
				c.mu.Unlock()
				return nil
			}
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("no timer for %v: %w", at, ctx.Err())
		}
	}
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	c     chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// fakeInvoker echoes each request's one-byte id as its output, records
// batch sizes, and can fail chosen requests, hold batches at a gate, or
// take a fixed time per invocation plus per request.
type fakeInvoker struct {
	fail    func(id byte) error // nil: nothing fails
	gate    chan struct{}       // non-nil: each batch waits for a receive (or its ctx)
	started chan int            // non-nil: gets each batch's size as it starts
	perCall time.Duration
	perItem time.Duration

	mu      sync.Mutex
	sizes   []int
	ctxErrs []error // the batch context's error when a gated batch was released
}

func (f *fakeInvoker) InvokeBatch(ctx context.Context, reqs [][]infer.Tensor) ([][]infer.Tensor, []error) {
	f.mu.Lock()
	f.sizes = append(f.sizes, len(reqs))
	f.mu.Unlock()
	if f.started != nil {
		f.started <- len(reqs)
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
		}
		f.mu.Lock()
		f.ctxErrs = append(f.ctxErrs, ctx.Err())
		f.mu.Unlock()
	}
	if d := f.perCall + time.Duration(len(reqs))*f.perItem; d > 0 {
		time.Sleep(d)
	}
	outs := make([][]infer.Tensor, len(reqs))
	errs := make([]error, len(reqs))
	for i, in := range reqs {
		id := in[0].Data[0]
		if f.fail != nil {
			if errs[i] = f.fail(id); errs[i] != nil {
				continue
			}
		}
		outs[i] = []infer.Tensor{{Name: "out", DType: tensor.UInt8, Shape: []int{1}, Data: []byte{id}}}
	}
	return outs, errs
}

func (f *fakeInvoker) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.sizes...)
}

func input(id byte) []infer.Tensor {
	return []infer.Tensor{{Name: "in", DType: tensor.UInt8, Shape: []int{1}, Data: []byte{id}}}
}

// outID is the id a fakeInvoker echoed.
func outID(out []infer.Tensor) int {
	if len(out) != 1 || len(out[0].Data) != 1 {
		return -1
	}
	return int(out[0].Data[0])
}
