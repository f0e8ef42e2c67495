package rollout

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
)

// testDriver is a Driver of r's devices, between Run's start and its
// loop, for command id c1.
func testDriver(r *Rollout, b Broker) *Driver {
	d := &Driver{Broker: b, File: &File{CmdID: "c1", Manifest: []byte(`{"name":"m"}`)}, Rollout: r, Out: io.Discard, Err: io.Discard,
		last: map[string]fleet.CommandStatus{}, devs: map[string]*seen{},
		heard: map[string]time.Time{}, polled: map[string]time.Time{}, exact: map[string]bool{}}
	for _, dev := range r.Devices() {
		d.devs[dev.ID] = &seen{}
	}
	return d
}

// fakeBroker records what the driver does; Publish fails while down > 0,
// counting down.
type fakeBroker struct {
	mu   sync.Mutex
	ops  []string // "pub topic", "sub filter", "unsub filter"
	down int
}

func (b *fakeBroker) Publish(_ context.Context, topic string, _ []byte, _ byte, _ bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down > 0 {
		b.down--
		return fmt.Errorf("publishing to %s: connection lost before Publish completed", topic)
	}
	b.ops = append(b.ops, "pub "+topic)
	return nil
}

func (b *fakeBroker) Subscribe(_ context.Context, filter string, _ byte, _ fleet.MessageHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ops = append(b.ops, "sub "+filter)
	return nil
}

func (b *fakeBroker) Unsubscribe(_ context.Context, filters ...string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range filters {
		b.ops = append(b.ops, "unsub "+f)
	}
	return nil
}

func (b *fakeBroker) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ops := b.ops
	b.ops = nil
	return ops
}

// TestDriverPoll: a device being deployed that stays silent has its
// retained status read again (a new exact subscription) after Poll, and
// is sent the deploy again if it never answered; a device that answered
// recently is left alone.
func TestDriverPoll(t *testing.T) {
	clk := &fakeClock{t: t0}
	p := testPlan()
	p.Waves = []Size{{Count: 3}, {Percent: 100}}
	r, err := New(p, devices(20), clk)
	if err != nil {
		t.Fatal(err)
	}
	r.Tick() // wave 0: dev-0000 … dev-0002
	b := &fakeBroker{}
	d := testDriver(r, b)
	d.Poll = 30 * time.Second
	ctx := context.Background()
	ids := []string{"dev-0000", "dev-0001", "dev-0002"}
	if err := d.deploy(ctx, ids); err != nil {
		t.Fatal(err)
	}
	b.take()
	sent := time.Now()
	status := func(id, state string, at time.Time) {
		b, err := fleet.Encode(&fleet.CommandStatus{ID: "c1", State: state, Time: at})
		if err != nil {
			t.Fatal(err)
		}
		tp, err := fleet.ParseTopic(fleet.StatusTopic(id, fleet.OpDeploy, "c1"))
		if err != nil {
			t.Fatal(err)
		}
		d.handle(inbound{tp, b})
	}
	status("dev-0001", "downloading", sent)

	d.poll(ctx, sent.Add(10*time.Second))
	if ops := b.take(); len(ops) != 0 {
		t.Errorf("poll before Poll passed: %q; want nothing", ops)
	}
	d.poll(ctx, sent.Add(31*time.Second))
	st := func(id string) string { return fleet.StatusTopic(id, fleet.OpDeploy, "c1") }
	want := []string{
		"pub " + fleet.CommandTopic("dev-0000", fleet.OpDeploy, "c1"), "sub " + st("dev-0000"),
		"sub " + st("dev-0001"), // answered: its status read again only
		"pub " + fleet.CommandTopic("dev-0002", fleet.OpDeploy, "c1"), "sub " + st("dev-0002"),
	}
	if ops := b.take(); !slices.Equal(ops, want) {
		t.Errorf("poll after 31s:\n got %q\nwant %q", ops, want)
	}
	// dev-0000 answers; a second poll soon after does nothing.
	status("dev-0000", "active", time.Now())
	d.poll(ctx, sent.Add(40*time.Second))
	if ops := b.take(); len(ops) != 0 {
		t.Errorf("poll 9s after the last one: %q; want nothing", ops)
	}
	// After another Poll: dev-0000 is active (not polled), the others are
	// read again, each subscription made anew.
	d.poll(ctx, sent.Add(62*time.Second))
	want = []string{
		"unsub " + st("dev-0001"), "sub " + st("dev-0001"),
		"pub " + fleet.CommandTopic("dev-0002", fleet.OpDeploy, "c1"), "unsub " + st("dev-0002"), "sub " + st("dev-0002"),
	}
	if ops := b.take(); !slices.Equal(ops, want) {
		t.Errorf("poll after 62s:\n got %q\nwant %q", ops, want)
	}
	d.unsubscribeExact(ctx)
	ops := b.take()
	slices.Sort(ops)
	want = []string{"unsub " + st("dev-0000"), "unsub " + st("dev-0001"), "unsub " + st("dev-0002")}
	if !slices.Equal(ops, want) {
		t.Errorf("at the end: %q; want %q", ops, want)
	}
}

// TestDriverPublishRetry: a command's publish that fails while the
// connection is lost is tried again; one that keeps failing past Retry
// is an error naming the topic.
func TestDriverPublishRetry(t *testing.T) {
	r, err := New(testPlan(), devices(20), &fakeClock{t: t0})
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBroker{down: 2}
	d := testDriver(r, b)
	d.Retry = 10 * time.Second
	if err := d.publish(context.Background(), "edged/v1/dev/dev-0000/cmd/deploy/c1", []byte("{}")); err != nil {
		t.Fatalf("publish after two failures: %v", err)
	}
	if ops := b.take(); !slices.Equal(ops, []string{"pub edged/v1/dev/dev-0000/cmd/deploy/c1"}) {
		t.Errorf("published %q; want the command once", ops)
	}
	b.down = 1000
	d.Retry = 500 * time.Millisecond
	err = d.publish(context.Background(), "edged/v1/dev/dev-0000/cmd/deploy/c1", []byte("{}"))
	if err == nil || !strings.Contains(err.Error(), "edged/v1/dev/dev-0000/cmd/deploy/c1: connection lost") {
		t.Errorf("publish that keeps failing: %v; want the connection's error", err)
	}
}

// TestDriverLateStatus: statuses a device sends again, or the broker
// delivers twice or late, change nothing once a later one was taken; a
// final status that arrives after the device timed out is taken.
func TestDriverLateStatus(t *testing.T) {
	clk := &fakeClock{t: t0}
	p := testPlan()
	r, err := New(p, devices(20), clk)
	if err != nil {
		t.Fatal(err)
	}
	r.Tick() // wave 0: dev-0000
	d := testDriver(r, nil)
	send := func(state string, at time.Time) {
		t.Helper()
		b, err := fleet.Encode(&fleet.CommandStatus{ID: "c1", State: state, Time: at})
		if err != nil {
			t.Fatal(err)
		}
		tp, err := fleet.ParseTopic(fleet.StatusTopic("dev-0000", fleet.OpDeploy, "c1"))
		if err != nil {
			t.Fatal(err)
		}
		d.handle(inbound{tp, b})
	}
	status := func() Status {
		dev, _ := r.Device("dev-0000")
		return dev.Status
	}
	w := t0.Add(time.Second)
	send("downloading", w)
	// No report within the device timeout.
	clk.t = clk.t.Add(p.DeviceTimeout.D())
	r.Tick()
	if s := status(); s != Timeout {
		t.Fatalf("after the device timeout: %s; want timeout", s)
	}
	// The final status, sent again after the device's reconnection.
	send("active", w.Add(time.Minute))
	if s := status(); s != Active {
		t.Fatalf("after the late active: %s; want active", s)
	}
	for _, late := range []struct {
		state string
		at    time.Time
	}{
		{"downloading", w},                    // the earlier status delivered again
		{"verified", w.Add(30 * time.Second)}, // one written before the active
		{"active", w.Add(time.Minute)},        // the active twice
	} {
		send(late.state, late.at)
		if s := status(); s != Active {
			t.Errorf("after a late %s written at %s: %s; want active", late.state, late.at.Format(time.TimeOnly), s)
		}
	}
	// A later status still counts: the device failed after all.
	send(fleet.StatusFailed, w.Add(2*time.Minute))
	if s := status(); s != Failed {
		t.Errorf("after a later failed: %s; want failed", s)
	}
}
