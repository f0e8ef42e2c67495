package agent

import (
	"context"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
)

// TestPingSendsTelemetry: a device whose telemetry interval is an hour
// answers a ping with a snapshot at once (edgectl status asks so), and a
// second ping within telemetry.MinRequestGap sends no second snapshot.
func TestPingSendsTelemetry(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	got := make(chan fleet.Telemetry, 8)
	must(t, e.op.Subscribe(context.Background(), fleet.TelemetryTopic(otaDevice), 0, func(_ string, p []byte) {
		var tm fleet.Telemetry
		if fleet.Decode(p, &tm) == nil {
			got <- tm
		}
	}))
	ra := e.start()
	checkPerson(t, ra.a) // one request, so that the snapshot has figures

	e.command(fleet.OpPing, "ping1", nil, time.Now().Add(time.Minute))
	select {
	case tm := <-got:
		if len(tm.Models) != 1 || tm.Models[0].Name != "person" || tm.Models[0].Inferences < 1 {
			t.Errorf("snapshot after a ping: %+v; want model person with its request counted", tm.Models)
		}
		if tm.Interval <= 0 || tm.Interval >= 3600 {
			t.Errorf("early snapshot's interval_s %g; want the time since the agent started, under the hour", tm.Interval)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no telemetry within 10s of a ping (interval 1h)")
	}
	if sts := e.final("ping1"); sts[len(sts)-1].State != fleet.StatusDone {
		t.Errorf("ping answered %+v; want done", sts[len(sts)-1])
	}
	e.clear(fleet.OpPing, "ping1")
	e.command(fleet.OpPing, "ping2", nil, time.Now().Add(time.Minute))
	e.final("ping2")
	select {
	case tm := <-got:
		t.Errorf("a second snapshot %v after the first, within a second: want none", tm.Time)
	case <-time.After(300 * time.Millisecond):
	}
	e.clear(fleet.OpPing, "ping2")
	ra.stop()
}
