package cli

import (
	"errors"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
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
		"  still working on it: pi2 running  50%: fetching; withdrawing does not stop it: see how it ends with edgectl status --device pi2, and undo the deploy then with edgectl rollback\n"
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
