package clock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Fake is a Clock for tests: time moves only by Advance. Every timer it
// makes is reported on Timers, so that a test can see the delays it is
// asked for, and WaitTimer blocks until a timer due at a given time is
// pending, so that a test can advance past it without racing the code
// that sets it.
type Fake struct {
	// Timers receives the duration of every NewTimer call; it holds the
	// first 64 that nobody has read, later ones are not reported.
	Timers chan time.Duration

	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed chan struct{} // closed and replaced whenever a timer is made
}

// NewFake returns a Fake at t0. Tests that also set context deadlines
// from it start it near the real time, so that those deadlines are in the
// real future too.
func NewFake(t0 time.Time) *Fake {
	return &Fake{now: t0, Timers: make(chan time.Duration, 64), changed: make(chan struct{})}
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires once Advance reaches now+d; one
// with d <= 0 has fired already.
func (c *Fake) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	select {
	case c.Timers <- d:
	default:
	}
	return t
}

// Advance moves the time by d and fires the timers that are due.
func (c *Fake) Advance(d time.Duration) {
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

// WaitTimer blocks until a timer is pending that fires at at, or ctx ends.
func (c *Fake) WaitTimer(ctx context.Context, at time.Time) error {
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
	clock *Fake
	at    time.Time
	c     chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

// Stop reports whether it stopped the timer before it fired.
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
