package clock

import (
	"context"
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFake(t0)
	a, b := c.NewTimer(time.Second), c.NewTimer(3*time.Second)
	if d := <-c.Timers; d != time.Second {
		t.Errorf("Timers = %v; want 1s", d)
	}
	c.Advance(time.Second)
	select {
	case got := <-a.C():
		if !got.Equal(t0.Add(time.Second)) {
			t.Errorf("timer fired at %v; want %v", got, t0.Add(time.Second))
		}
	default:
		t.Error("1s timer did not fire after Advance(1s)")
	}
	if a.Stop() {
		t.Error("Stop() of a fired timer = true; want false")
	}
	if !b.Stop() {
		t.Error("Stop() of a pending timer = false; want true")
	}
	c.Advance(time.Hour)
	select {
	case <-b.C():
		t.Error("a stopped timer fired")
	default:
	}
	if !c.Now().Equal(t0.Add(time.Hour + time.Second)) {
		t.Errorf("Now() = %v; want %v", c.Now(), t0.Add(time.Hour+time.Second))
	}
}

func TestFakeWaitTimer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFake(t0)
	if d := c.NewTimer(0); len(d.C()) != 1 {
		t.Error("a timer of 0 has not fired at once")
	}
	done := make(chan error, 1)
	go func() { done <- c.WaitTimer(context.Background(), t0.Add(5*time.Second)) }()
	select {
	case err := <-done:
		t.Fatalf("WaitTimer returned %v before a timer was set", err)
	case <-time.After(10 * time.Millisecond):
	}
	c.NewTimer(5 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.WaitTimer(ctx, t0.Add(time.Hour)); err == nil {
		t.Error("WaitTimer for a timer never set returned nil after ctx ended")
	}
}

func TestSystem(t *testing.T) {
	if Or(nil) != System {
		t.Error("Or(nil) is not System")
	}
	f := NewFake(time.Unix(0, 0))
	if Or(f) != Clock(f) {
		t.Error("Or(f) is not f")
	}
	tm := System.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(10 * time.Second):
		t.Fatal("a 1ms system timer did not fire within 10s")
	}
	if tm.Stop() {
		t.Error("Stop() of a fired system timer = true")
	}
}
