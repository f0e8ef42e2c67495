package delegatetest

import (
	"sync"
	"time"

	"github.com/edged-dev/edged/delegates"
)

// Clock is a fake delegates.Clock: time moves only by Advance, and every
// timer created is reported on Timers so that a test can see the delays
// it is asked for (the chain's re-probe backoff).
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
	// Timers receives the duration of every NewTimer call (buffered; a
	// test that does not read it must create the Clock with room).
	Timers chan time.Duration
}

// NewClock returns a Clock at t0 whose Timers channel holds buffer
// durations.
func NewClock(t0 time.Time, buffer int) *Clock {
	return &Clock{now: t0, Timers: make(chan time.Duration, buffer)}
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when Advance passes now+d.
func (c *Clock) NewTimer(d time.Duration) delegates.Timer {
	c.mu.Lock()
	t := &timer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	select {
	case c.Timers <- d:
	default:
	}
	return t
}

// Advance moves the time by d and fires the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.stopped {
			continue
		}
		if !t.at.After(c.now) {
			t.stopped = true // fired: Stop reports false from now on
			t.ch <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}

type timer struct {
	c       *Clock
	at      time.Time
	ch      chan time.Time
	stopped bool
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}
