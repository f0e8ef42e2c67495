package agent

import (
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/canary"
)

// TestCanaryIdenticalTiming: a candidate byte-identical to the active
// model is promoted whether the requests come back to back or spaced,
// with the policy that once rolled one back for latency (10 samples, all
// shadowed, half the requests in canary, at most 3×) and no minimum
// latency difference to hide behind: both arms are timed over the same
// path and compared on their medians.
func TestCanaryIdenticalTiming(t *testing.T) {
	for _, tc := range []struct {
		name string
		gap  time.Duration
	}{{"back to back", 0}, {"spaced", 20 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			checkAgentLeaks(t)
			e := newOTAEnv(t)
			ra := e.start()
			dr := &driver{t: t, a: ra.a, g: loadGolden(t)}
			drive := func() {
				for range 10 {
					dr.one()
					if tc.gap > 0 {
						time.Sleep(tc.gap)
					}
				}
			}
			e.deploy("c1", e.bundleOf(2, "person_detect.tflite", withPolicy(`{"min_samples": 10, "sample_rate": 1, "canary_fraction": 0.5, "max_latency_ratio": 3, "min_latency_delta": "0s"}`)))
			e.waitState("c1", statusShadow, 30*time.Second, nil)
			e.waitState("c1", statusCanary, 60*time.Second, untilPhase(ra.a, "person", canary.PhaseCanary, drive))
			if cs := canaryOf(t, ra.a); cs != nil {
				t.Logf("shadow: %+v", cs.Figures.Shadow)
			}
			e.waitState("c1", statusActive, 60*time.Second, drive)
			ra.stop()
		})
	}
}
