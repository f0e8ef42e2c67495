package canary_test

import (
	"fmt"
	"time"

	"github.com/edged-dev/edged/agent/canary"
)

// stepClock is a hand-driven Clock.
type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }

// The agent routes every request, reports what happened, and acts on the
// decisions that are not Continue. State is saved after each decision.
func Example() {
	policy, err := canary.ParsePolicy([]byte("min_samples: 100\nsample_rate: 0.5\ncanary_fraction: 0.5\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	clk := &stepClock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	m, err := canary.New(policy, 42, clk)
	if err != nil {
		fmt.Println(err)
		return
	}
	m.Start()
	active := []float32{0.1, 0.8, 0.1}
	for id := uint64(0); !m.Phase().Final(); id++ {
		r := m.Route(id)
		var d canary.Decision
		switch {
		case r.Shadow: // run both models, serve the active one's answer
			c := canary.Compare(active, []float32{0.15, 0.75, 0.1})
			c.ActiveLatency, c.CandidateLatency = 2*time.Millisecond, 2*time.Millisecond
			d = m.Shadow(c)
		case m.Phase() == canary.PhaseCanary:
			d = m.Served(canary.Request{Arm: r.Serve, Latency: 2 * time.Millisecond})
			if id%4 == 0 && d.Action == canary.Continue { // an application reports whether the answer was right
				d, _ = m.Feedback(canary.Feedback{Arm: m.ArmOf(id), Kind: canary.FeedbackLabel, Correct: id%20 != 0})
			}
		}
		if d.Action != canary.Continue {
			fmt.Printf("%s -> %s: %s\n", d.Action, d.Phase, d.Reason)
		}
	}
	// Output:
	// advance -> canary: shadow passed: 100 comparisons, disagreement 0.0%, errors 0.0%, latency 1.00× active
	// promote -> promoted: canary passed: candidate accuracy 0.795 vs 0.793 (n=44, 58), z p=0.977 >= 0.05: no significant difference
}

// A policy names the field that is wrong.
func ExampleParsePolicy() {
	_, err := canary.ParsePolicy([]byte("canary_fraction: 0\nmax_duration: 30m\n"))
	fmt.Println(err)
	// Output: canary policy: policy.canary_fraction: must be in (0,1], got 0
}

// The statistics behind an A/B statement: R. A. Fisher's lady tasting tea
// got 3 of 4 cups right.
func ExampleFisher() {
	less, greater, two := canary.Fisher(3, 1, 1, 3)
	fmt.Printf("P(A<=3)=%.4f P(A>=3)=%.4f two-sided=%.4f\n", less, greater, two)
	// Output: P(A<=3)=0.9857 P(A>=3)=0.2429 two-sided=0.4857
}
