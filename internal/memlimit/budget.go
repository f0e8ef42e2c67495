package memlimit

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// ErrOverBudget is returned by Budget.Acquire for a request larger than
// the whole budget.
var ErrOverBudget = errors.New("larger than the memory budget")

// Budget bounds the bytes that requests hold at once while they are read
// and decoded: each takes its share before reading and waits while the
// budget is spent. When the bytes in use fall back to zero after a burst
// that used at least half the budget, the memory is handed back to the
// operating system (debug.FreeOSMemory) once the daemon has been idle for
// the settle time: the Go runtime would otherwise keep the pages for
// minutes, and a device's resident memory would stay at its peak.
type Budget struct {
	sem    *semaphore.Weighted
	size   int64
	settle time.Duration
	free   func()

	mu    sync.Mutex
	used  int64
	peak  int64 // since the last release to the system
	timer *time.Timer
	armed bool // a release is pending
	frees int
}

// NewBudget returns a budget of size bytes that releases memory after
// settle idle (0 means one second).
func NewBudget(size int64, settle time.Duration) *Budget {
	if settle <= 0 {
		settle = time.Second
	}
	return &Budget{sem: semaphore.NewWeighted(size), size: size, settle: settle, free: debug.FreeOSMemory}
}

// Size is the budget in bytes.
func (b *Budget) Size() int64 { return b.size }

// Acquire takes n bytes of the budget, waiting until they are free or ctx
// ends, and returns the function that gives them back (call it once).
func (b *Budget) Acquire(ctx context.Context, n int64) (func(), error) {
	if n > b.size {
		return nil, fmt.Errorf("%w: %d bytes; the budget is %d", ErrOverBudget, n, b.size)
	}
	n = max(n, 0)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.used += n
	b.peak = max(b.peak, b.used)
	if b.timer != nil && b.timer.Stop() {
		b.armed = false
	}
	b.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { b.release(n) }) }, nil
}

func (b *Budget) release(n int64) {
	b.sem.Release(n)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.used != 0 || b.peak < b.size/2 {
		return
	}
	b.armed = true
	if b.timer == nil {
		b.timer = time.AfterFunc(b.settle, b.settled)
	} else {
		b.timer.Reset(b.settle)
	}
}

// settled runs settle after the last release: still idle, the burst's
// memory goes back.
func (b *Budget) settled() {
	b.mu.Lock()
	b.armed = false
	if b.used != 0 || b.peak < b.size/2 {
		b.mu.Unlock()
		return
	}
	b.peak = 0
	b.frees++
	b.mu.Unlock()
	b.free()
}

// Releases returns how many times the budget gave memory back.
func (b *Budget) Releases() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.frees
}

// Close stops a pending release.
func (b *Budget) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
}
