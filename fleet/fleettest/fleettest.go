// Package fleettest is what the tests of the fleet's users share: a
// client that runs until the test ends and is connected when it is
// returned, and an operator's record of one device (its command
// statuses, events and retained state, as they arrive).
package fleettest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
)

// Connect runs a client with o until the test ends or stop is called,
// and returns it once it is connected; the test fails if it is not within
// 10 s. A nil Log discards; unset backoffs are 50 ms and 500 ms. o's
// OnConnect, if any, still runs.
func Connect(t testing.TB, o fleet.Options) (c *fleet.Client, stop func()) {
	t.Helper()
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 500 * time.Millisecond
	}
	up := make(chan struct{}, 1)
	onConnect := o.OnConnect
	o.OnConnect = func() {
		if onConnect != nil {
			onConnect()
		}
		select {
		case up <- struct{}{}:
		default:
		}
	}
	c, err := fleet.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatalf("fleet client did not connect to %s within 10s", o.Broker)
	}
	return c, stop
}

// Device is what an operator's client has seen of one device.
type Device struct {
	mu       sync.Mutex
	statuses map[string][]fleet.CommandStatus // by command id
	events   []fleet.Event
	state    fleet.State // the last retained birth
	changed  chan struct{}
}

// Watch subscribes c to the device's command statuses, events and
// retained state, and records them until the test ends.
func Watch(t testing.TB, c *fleet.Client, device string) *Device {
	t.Helper()
	d := &Device{statuses: map[string][]fleet.CommandStatus{}, changed: make(chan struct{}, 1)}
	subs := []struct {
		filter string
		h      fleet.MessageHandler
	}{
		{fleet.Prefix + "/dev/" + device + "/cmd/+/+/status", func(_ string, p []byte) {
			var st fleet.CommandStatus
			if len(p) == 0 || fleet.Decode(p, &st) != nil {
				return
			}
			d.mu.Lock()
			d.statuses[st.ID] = append(d.statuses[st.ID], st)
			d.mu.Unlock()
			d.kick()
		}},
		{fleet.StateTopic(device), func(_ string, p []byte) {
			var st fleet.State
			if fleet.Decode(p, &st) != nil {
				return
			}
			d.mu.Lock()
			d.state = st
			d.mu.Unlock()
		}},
		{fleet.EventsTopic(device), func(_ string, p []byte) {
			var ev fleet.Event
			if fleet.Decode(p, &ev) != nil {
				return
			}
			d.mu.Lock()
			d.events = append(d.events, ev)
			d.mu.Unlock()
			d.kick()
		}},
	}
	for _, s := range subs {
		if err := c.Subscribe(context.Background(), s.filter, 1, s.h); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (d *Device) kick() {
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

// Statuses are the statuses seen of a command, oldest first.
func (d *Device) Statuses(id string) []fleet.CommandStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]fleet.CommandStatus(nil), d.statuses[id]...)
}

// Forget drops the statuses seen of a command, to wait for new ones.
func (d *Device) Forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.statuses, id)
}

// Events are the device's events seen, oldest first.
func (d *Device) Events() []fleet.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]fleet.Event(nil), d.events...)
}

// State is the device's last retained state.
func (d *Device) State() fleet.State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Changed receives after a status or an event arrives.
func (d *Device) Changed() <-chan struct{} { return d.changed }
