// Package batch is the dynamic batcher that sits in front of one model.
//
// Callers Submit one request each and block until that request's own
// result or error. A single dispatcher goroutine per Batcher collects the
// waiting requests and hands them to the Invoker as one batch when
// MaxBatch requests are waiting or when the oldest waiting request has
// waited MaxDelay, whichever comes first. One batch is in flight at a time;
// while it runs, new requests queue, so under load batches fill up by
// themselves and a lone request pays at most MaxDelay.
//
// The queue of waiting requests is bounded (QueueCapacity). When it is
// full the Overload policy decides who loses: Reject fails the new
// request, DropOldest fails the request that has waited longest and
// queues the new one. Both failures wrap infer.ErrOverloaded.
//
// A request whose context ends while it waits is removed from the queue
// and its caller gets ctx.Err() at once; a request whose deadline has
// passed by the time its batch is formed is not run.
package batch

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/internal/clock"
)

// Invoker runs a batch of requests. reqs[i] is request i's inputs; the
// answer has one entry per request in outs and errs: outs[i] is request
// i's outputs when errs[i] is nil. Whether the batch runs as one
// invocation (a model with a batch dimension) or one request after
// another is the Invoker's business.
type Invoker interface {
	InvokeBatch(ctx context.Context, reqs [][]infer.Tensor) (outs [][]infer.Tensor, errs []error)
}

// Policy says what happens when a request arrives at a full queue.
type Policy int

const (
	// Reject fails the new request with an error wrapping infer.ErrOverloaded.
	Reject Policy = iota
	// DropOldest fails the request that has waited longest with an error
	// wrapping infer.ErrOverloaded and queues the new one: fresh readings
	// are worth more than stale ones.
	DropOldest
)

// String returns the config spelling of p.
func (p Policy) String() string {
	switch p {
	case Reject:
		return "reject"
	case DropOldest:
		return "drop_oldest"
	}
	return fmt.Sprintf("policy(%d)", int(p))
}

// ParsePolicy parses the config spelling ("reject", "drop_oldest"); the
// empty string is Reject.
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(s) {
	case "", "reject":
		return Reject, nil
	case "drop_oldest":
		return DropOldest, nil
	}
	return Reject, fmt.Errorf("overload policy %q: want \"reject\" or \"drop_oldest\"", s)
}

// ErrClosed is returned by Submit once the Batcher is closed, and to
// requests still waiting when Close is called. It wraps infer.ErrNotReady.
var ErrClosed = fmt.Errorf("batcher closed: %w", infer.ErrNotReady)

// DefaultQueueCapacity is the queue bound used when Options.QueueCapacity is 0.
const DefaultQueueCapacity = 64

// Options configure a Batcher. The zero value is usable: batches of one,
// dispatched at once.
type Options struct {
	// MaxBatch is the most requests per batch; 0 or 1 disables batching.
	MaxBatch int
	// MaxDelay is how long the oldest waiting request may wait for others
	// to join its batch; 0 dispatches whatever is waiting at once.
	MaxDelay time.Duration
	// QueueCapacity bounds the requests waiting for a batch (not the ones
	// in flight); 0 means DefaultQueueCapacity.
	QueueCapacity int
	// Overload is the policy when the queue is full.
	Overload Policy
	// Clock is the time source; nil means the system clock. Tests pass a
	// fake to control MaxDelay and deadlines.
	Clock clock.Clock
	// Metrics, when non-nil, are updated as the Batcher works; see NewMetrics.
	Metrics *Metrics
}

// Batcher batches the requests to one model. Create it with New; it runs
// until Close or Shutdown.
type Batcher struct {
	inv     Invoker
	opts    Options
	clock   clock.Clock
	m       *Metrics
	wake    chan struct{} // a request arrived (capacity 1)
	stop    chan struct{} // closed by Close
	drain   chan struct{} // closed by Shutdown
	done    chan struct{} // closed when the dispatcher has returned
	runCtx  context.Context
	cancel  context.CancelFunc
	closeMu sync.Once
	drainMu sync.Once

	mu     sync.Mutex
	queue  []*request // waiting, oldest first
	closed bool       // no new requests
}

type request struct {
	ctx  context.Context
	in   []infer.Tensor
	enq  time.Time
	wait time.Duration // set by the dispatcher when the batch runs
	done chan result   // capacity 1: the dispatcher never blocks on it
}

type result struct {
	out []infer.Tensor
	err error
	// wait is how long the request waited in the queue.
	wait time.Duration
}

// New starts a Batcher that hands batches to inv.
func New(inv Invoker, opts Options) *Batcher {
	if opts.MaxBatch < 1 {
		opts.MaxBatch = 1
	}
	if opts.MaxDelay < 0 {
		opts.MaxDelay = 0
	}
	if opts.QueueCapacity <= 0 {
		opts.QueueCapacity = DefaultQueueCapacity
	}
	b := &Batcher{
		inv: inv, opts: opts, clock: clock.Or(opts.Clock), m: opts.Metrics,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), drain: make(chan struct{}), done: make(chan struct{}),
	}
	b.runCtx, b.cancel = context.WithCancel(context.Background())
	go b.dispatch()
	return b
}

// Submit queues one request and blocks until its result, its own error,
// the end of ctx, or Close.
func (b *Batcher) Submit(ctx context.Context, in []infer.Tensor) ([]infer.Tensor, error) {
	out, _, err := b.submit(ctx, in)
	return out, err
}

// submit is Submit that also says how long the request waited for its
// batch.
func (b *Batcher) submit(ctx context.Context, in []infer.Tensor) ([]infer.Tensor, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	r := &request{ctx: ctx, in: in, enq: b.clock.Now(), done: make(chan result, 1)}
	var dropped *request
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, 0, ErrClosed
	}
	if len(b.queue) >= b.opts.QueueCapacity {
		if b.opts.Overload != DropOldest {
			n := len(b.queue)
			b.mu.Unlock()
			b.m.rejected()
			return nil, 0, fmt.Errorf("batch: %w: %d requests waiting (queue capacity %d)", infer.ErrOverloaded, n, b.opts.QueueCapacity)
		}
		dropped = b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
		b.m.depth(-1)
	}
	b.queue = append(b.queue, r)
	b.m.depth(+1)
	b.mu.Unlock()
	if dropped != nil {
		b.m.dropped()
		dropped.done <- result{err: fmt.Errorf("batch: %w: dropped after waiting %v for a newer request (queue capacity %d)",
			infer.ErrOverloaded, b.clock.Now().Sub(dropped.enq), b.opts.QueueCapacity)}
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}

	select {
	case res := <-r.done:
		return res.out, res.wait, res.err
	case <-ctx.Done():
		b.remove(r)
		// A result may have raced in; the caller asked to stop, so the
		// context's error wins either way.
		return nil, 0, ctx.Err()
	}
}

// remove takes r out of the queue if it is still waiting.
func (b *Batcher) remove(r *request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, q := range b.queue {
		if q == r {
			copy(b.queue[i:], b.queue[i+1:])
			b.queue[len(b.queue)-1] = nil
			b.queue = b.queue[:len(b.queue)-1]
			b.m.depth(-1)
			return
		}
	}
}

// Close stops the Batcher at once: new and waiting requests get ErrClosed,
// the batch in flight sees its context canceled, and Close returns when the
// dispatcher has stopped. Close is idempotent.
func (b *Batcher) Close() {
	b.closeMu.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.stop)
		b.cancel()
	})
	<-b.done
	b.mu.Lock()
	q := b.queue
	b.queue = nil
	b.m.depth(-len(q))
	b.mu.Unlock()
	for _, r := range q {
		r.done <- result{err: ErrClosed}
	}
}

// Shutdown stops accepting requests, runs the ones already waiting
// without waiting for MaxDelay, and returns when the queue is empty. If ctx
// ends first, Shutdown calls Close and returns ctx.Err(). A model swap
// uses it so that requests accepted by the old version finish on it.
func (b *Batcher) Shutdown(ctx context.Context) error {
	b.drainMu.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.drain)
	})
	select {
	case <-b.done:
		b.Close()
		return nil
	case <-ctx.Done():
		b.Close()
		return ctx.Err()
	}
}

// WouldReject reports whether Submit would now refuse a new request: the
// queue is full and the policy is Reject. The HTTP endpoint asks before it
// reads a request body, so that overload costs a header, not a decode.
func (b *Batcher) WouldReject() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.closed && b.opts.Overload != DropOldest && len(b.queue) >= b.opts.QueueCapacity
}

// Len reports the number of requests waiting for a batch.
func (b *Batcher) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// dispatch is the Batcher's one goroutine.
func (b *Batcher) dispatch() {
	defer close(b.done)
	var (
		timer    clock.Timer
		timerFor time.Time // the dispatch time timer fires at
	)
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, timerFor = nil, time.Time{}
		}
	}
	defer stopTimer()
	draining := false
	for {
		select {
		case <-b.stop:
			return
		default:
		}
		b.mu.Lock()
		n := len(b.queue)
		var due time.Time
		if n > 0 {
			due = b.queue[0].enq.Add(b.opts.MaxDelay)
		}
		b.mu.Unlock()

		switch {
		case n == 0 && draining:
			return
		case n == 0:
			stopTimer()
			select {
			case <-b.wake:
			case <-b.drain:
				draining = true
			case <-b.stop:
				return
			}
			continue
		case n >= b.opts.MaxBatch || draining || !b.clock.Now().Before(due):
			stopTimer()
			b.runBatch()
			continue
		}
		// Fewer than MaxBatch are waiting and the oldest may wait longer.
		if timer == nil || !timerFor.Equal(due) {
			stopTimer()
			timer, timerFor = b.clock.NewTimer(due.Sub(b.clock.Now())), due
		}
		select {
		case <-b.wake:
		case <-timer.C():
			timer, timerFor = nil, time.Time{}
			b.runBatch()
		case <-b.drain:
			draining = true
		case <-b.stop:
			return
		}
	}
}

// runBatch takes up to MaxBatch requests from the head of the queue and
// runs the ones still wanted.
func (b *Batcher) runBatch() {
	b.mu.Lock()
	n := min(len(b.queue), b.opts.MaxBatch)
	taken := make([]*request, n)
	copy(taken, b.queue[:n])
	clear(b.queue[:n])
	b.queue = b.queue[n:]
	b.m.depth(-n)
	b.mu.Unlock()

	now := b.clock.Now()
	batch := taken[:0]
	for _, r := range taken {
		if err := expired(r.ctx, now); err != nil {
			r.done <- result{err: err}
			continue
		}
		r.wait = now.Sub(r.enq)
		b.m.waited(r.wait)
		batch = append(batch, r)
	}
	if len(batch) == 0 {
		return
	}
	b.m.batch(len(batch))
	reqs := make([][]infer.Tensor, len(batch))
	for i, r := range batch {
		reqs[i] = r.in
	}
	outs, errs := b.invoke(reqs)
	for i, r := range batch {
		r.done <- result{out: outs[i], err: errs[i], wait: r.wait}
	}
}

// invoke calls the Invoker and makes its answer safe to index: a short
// answer or a panic becomes an error for every request of the batch.
func (b *Batcher) invoke(reqs [][]infer.Tensor) (outs [][]infer.Tensor, errs []error) {
	fail := func(err error) {
		outs, errs = make([][]infer.Tensor, len(reqs)), make([]error, len(reqs))
		for i := range errs {
			errs[i] = err
		}
	}
	defer func() {
		if p := recover(); p != nil {
			fail(fmt.Errorf("batch: invoker panicked on a batch of %d: %v", len(reqs), p))
		}
	}()
	outs, errs = b.inv.InvokeBatch(b.runCtx, reqs)
	if len(outs) != len(reqs) || len(errs) != len(reqs) {
		fail(fmt.Errorf("batch: invoker answered %d outputs and %d errors for a batch of %d", len(outs), len(errs), len(reqs)))
	}
	return outs, errs
}

// expired reports why a request should not run: its context has ended,
// or its deadline has passed by the Batcher's clock.
func expired(ctx context.Context, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !now.Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}
