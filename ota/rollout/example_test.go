package rollout_test

import (
	"fmt"
	"time"

	"github.com/edged-dev/edged/ota/rollout"
)

type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }

// edgectl feeds the rollout the devices' status reports and a tick every
// few seconds, sends what the decisions ask, and stores the state after
// each event.
func Example() {
	waves, _ := rollout.ParseWaves("1,50%,100%")
	plan := rollout.DefaultPlan()
	plan.Waves = waves
	clk := &stepClock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	r, err := rollout.New(plan, []string{"cam-4", "cam-1", "cam-3", "cam-2"}, clk)
	if err != nil {
		fmt.Println(err)
		return
	}
	show := func(d rollout.Decision) {
		if d.Action != rollout.Wait {
			fmt.Println(d.Action, d.Devices, d.Reason)
		}
	}
	show(r.Tick())
	d, _ := r.Report("cam-1", rollout.Active, "")
	show(d)
	d, _ = r.Report("cam-2", rollout.Failed, "signature: unknown key")
	show(d)
	state, _ := r.Marshal() // edgectl keeps this in its bbolt file
	r, _ = rollout.Restore(state, clk)
	fmt.Println(r.Phase(), r.Summary().Failures[0].Reason)
	// Output:
	// start_wave [cam-1] start wave 0 of 3: 1 devices
	// start_wave [cam-2] wave 0: 1 of 1 active (1 needed); start wave 1 of 3: 1 devices
	// abort [cam-1] wave 1 can no longer succeed: 0 active, 0 deploying, 1 failed of 1; 1 needed (95%)
	// aborted signature: unknown key
}
