// Package clock is the time source of the parts of edged whose behaviour
// depends on time (the batcher's delays, the delegate chain's re-probe
// backoff, canary and rollout decisions), so that their tests can move
// time by hand with Fake instead of sleeping.
package clock

import "time"

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer that users of a Clock need.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// System is the real clock.
var System Clock = system{}

type system struct{}

func (system) Now() time.Time                 { return time.Now() }
func (system) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }

// Or returns c, or System when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return System
	}
	return c
}
