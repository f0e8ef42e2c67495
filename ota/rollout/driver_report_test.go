package rollout

import (
	"io"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
)

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
	d := &Driver{File: &File{CmdID: "c1"}, Rollout: r, Out: io.Discard, Err: io.Discard,
		last: map[string]fleet.CommandStatus{}, devs: map[string]*seen{"dev-0000": {}}}
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
