package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/fleettest"
)

// The cancel report says what withdrawing did on each device and what is
// left to the operator.
func TestCancelReport(t *testing.T) {
	issued := time.Date(2026, 12, 7, 8, 0, 0, 0, time.Local)
	r := &retainedCmd{op: fleet.OpDeploy, id: "d1", cmd: fleet.Command{Issued: issued}, statuses: map[string]fleet.CommandStatus{
		"pi2": {State: fleet.StatusRunning, Progress: 0.5, Reason: "fetching"},
		"pi1": {State: fleet.StatusDone, Reason: "person version 3 active"},
		"pi3": {State: "active"},
	}}
	got := cancelReport(r, map[string]error{"pi3": errors.New("not connected to the broker")})
	want := "deploy d1 (issued 2026-12-07 08:00:00): withdrawn: devices that have not received it will not act on it\n" +
		"  already done: pi1 done: person version 3 active\n" +
		"  already done: pi3 active (its status stays on the broker: not connected to the broker)\n" +
		"  still working on it: pi2 running  50%: fetching; withdrawing does not stop it: see how it ends with edgectl status --device pi2, undo the deploy then with edgectl rollback, and clear its final status with edgectl cancel --device pi2 --id d1\n"
	if got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
	r = &retainedCmd{op: fleet.OpPromote, id: "p1", cmd: fleet.Command{Issued: issued}}
	if got, want := cancelReport(r, nil), "promote p1 (issued 2026-12-07 08:00:00): withdrawn; no device had acted on it\n"; got != want {
		t.Errorf("report %q; want %q", got, want)
	}
}

// An operator command's summary names what happened for its op and what
// comes next.
func TestOperatorOutcome(t *testing.T) {
	for _, tt := range []struct {
		op               string
		changed, skipped int
		want             string
	}{
		{fleet.OpPromote, 2, 0, "2 device(s) promoted the candidate: it serves every request and its evaluation has ended"},
		{fleet.OpHold, 1, 1, "1 device(s) holding the evaluation: the active version serves every request until edgectl resume (continue the evaluation), promote or rollback; 1 device(s) skipped it and changed nothing (the reason is on each one's line above)"},
		{fleet.OpResume, 1, 0, "1 device(s) evaluating the candidate again: follow with edgectl canary status"},
		{fleet.OpRollback, 0, 3, "no device changed anything; 3 device(s) skipped it and changed nothing (the reason is on each one's line above)"},
	} {
		if got := operatorOutcome(tt.op, tt.changed, tt.skipped); got != tt.want {
			t.Errorf("operatorOutcome(%s, %d, %d) = %q; want %q", tt.op, tt.changed, tt.skipped, got, tt.want)
		}
	}
}

// A device's final status of a command withdrawn while it was still at
// work stays retained; cancel --device clears it, and keeps the statuses
// of commands still on the broker (here a group's).
func TestCancelLeftoverStatus(t *testing.T) {
	broker := startMosquitto(t)
	c, _ := fleettest.Connect(t, fleet.Options{Broker: broker})
	ctx := context.Background()
	pub := func(topic string, m fleet.Message) {
		t.Helper()
		b, err := fleet.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(ctx, topic, b, 1, true); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	pub(fleet.StatusTopic("pi-1", fleet.OpDeploy, "d7"), &fleet.CommandStatus{ID: "d7", State: "active", Time: at})
	pub(fleet.GroupCommandTopic("lab", fleet.OpPromote, "g1"), &fleet.Command{Op: fleet.OpPromote, ID: "g1", Issued: at})
	pub(fleet.StatusTopic("pi-1", fleet.OpPromote, "g1"), &fleet.CommandStatus{ID: "g1", State: fleet.StatusDone, Time: at})
	out, err := edgectl(t, "cancel", "--broker", broker, "--device", "pi-1")
	if err != nil || !strings.Contains(out, "deploy d7: withdrawn earlier; cleared pi-1's final status (active)") {
		t.Errorf("cancel: %v\n%s; want d7's leftover status cleared", err, out)
	}
	left := retained(t, broker)
	if _, ok := left[fleet.StatusTopic("pi-1", fleet.OpDeploy, "d7")]; ok {
		t.Error("d7's status still retained")
	}
	if _, ok := left[fleet.StatusTopic("pi-1", fleet.OpPromote, "g1")]; !ok {
		t.Error("the status of g1, a group command still retained, was cleared")
	}
}
