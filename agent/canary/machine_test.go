package canary

import (
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

const ms = time.Millisecond

// testPolicy needs 10 samples a phase and lasts an hour a phase.
func testPolicy() Policy {
	p := DefaultPolicy()
	p.MinSamples = 10
	p.MaxDuration = Duration(time.Hour)
	return p
}

// A step feeds events and returns every decision they produced.
type step func(m *Machine, c *fakeClock) []Decision

func repeat(n int, f func(m *Machine) Decision) step {
	return func(m *Machine, _ *fakeClock) []Decision {
		var ds []Decision
		for range n {
			ds = append(ds, f(m))
		}
		return ds
	}
}

func compare(n int, c Comparison) step {
	return repeat(n, func(m *Machine) Decision { return m.Shadow(c) })
}

// agree is n identical shadow runs of 1ms each.
func agree(n int) step {
	return compare(n, Comparison{Agree: true, ActiveLatency: ms, CandidateLatency: ms})
}

func disagree(n int) step {
	return compare(n, Comparison{MeanAbsDiff: 0.3, MaxAbsDiff: 0.9, ActiveLatency: ms, CandidateLatency: ms})
}

func served(n int, arm Arm, lat time.Duration, err bool) step {
	return repeat(n, func(m *Machine) Decision { return m.Served(Request{Arm: arm, Latency: lat, Err: err}) })
}

// labels feeds correct of n label feedbacks for arm.
func labels(arm Arm, correct, n int) step {
	return func(m *Machine, _ *fakeClock) []Decision {
		var ds []Decision
		for i := range n {
			d, err := m.Feedback(Feedback{Arm: arm, Kind: FeedbackLabel, Correct: i < correct})
			if err != nil {
				panic(err)
			}
			ds = append(ds, d)
		}
		return ds
	}
}

func scores(arm Arm, vals ...float64) step {
	return func(m *Machine, _ *fakeClock) []Decision {
		var ds []Decision
		for _, v := range vals {
			d, err := m.Feedback(Feedback{Arm: arm, Kind: FeedbackScore, Score: v})
			if err != nil {
				panic(err)
			}
			ds = append(ds, d)
		}
		return ds
	}
}

func tick(after time.Duration) step {
	return func(m *Machine, c *fakeClock) []Decision {
		c.t = c.t.Add(after)
		return []Decision{m.Tick()}
	}
}

func start(after time.Duration) step {
	return func(m *Machine, c *fakeClock) []Decision {
		c.t = c.t.Add(after)
		return []Decision{m.Start()}
	}
}

func resolve(a Action) step {
	return func(m *Machine, _ *fakeClock) []Decision {
		d, err := m.Resolve(a, "checked by hand")
		if err != nil {
			panic(err)
		}
		return []Decision{d}
	}
}

// canaryWith reaches canary, then serves 10 requests on each arm at 1ms.
func servedBoth() step {
	return func(m *Machine, c *fakeClock) []Decision {
		return append(served(10, ArmActive, ms, false)(m, c), served(10, ArmCandidate, ms, false)(m, c)...)
	}
}

func TestMachineTransitions(t *testing.T) {
	tests := []struct {
		name       string
		policy     func(p *Policy)
		steps      []step
		want       []Action // the decisions other than Continue, in order
		wantPhase  Phase
		wantReason string // in the last decision's reason
	}{
		{name: "shadow passes and advances", steps: []step{agree(10)},
			want: []Action{Advance}, wantPhase: PhaseCanary, wantReason: "shadow passed: 10 comparisons, disagreement 0.0%, errors 0.0%, latency 1.00× active"},
		{name: "shadow waits for min_samples", steps: []step{agree(9)}, wantPhase: PhaseShadow},
		{name: "shadow disagreement that cannot recover rolls back early", steps: []step{agree(3), disagree(1)},
			want: []Action{Rollback}, wantPhase: PhaseRolledBack, wantReason: "shadow: top-1 disagreement 1 of 4 comparisons (10.0% > 5.0%)"},
		{name: "shadow disagreement within limit", policy: func(p *Policy) { p.MaxDisagreement = 0.2 },
			steps: []step{disagree(2), agree(8)}, want: []Action{Advance}, wantPhase: PhaseCanary, wantReason: "disagreement 20.0%"},
		{name: "shadow disagreement over limit", policy: func(p *Policy) { p.MaxDisagreement = 0.2 },
			steps: []step{agree(7), disagree(3)}, want: []Action{Rollback}, wantPhase: PhaseRolledBack, wantReason: "3 of 10 comparisons (30.0% > 20.0%)"},
		{name: "shadow disagreement over limit after min_samples", policy: func(p *Policy) { p.MaxDisagreement = 0.2; p.MinSamples = 5 },
			steps: []step{disagree(1), agree(1), disagree(1)}, want: []Action{Rollback}, wantPhase: PhaseRolledBack, wantReason: "2 of 3 comparisons"},
		{name: "shadow candidate error rolls back", steps: []step{agree(2), compare(1, Comparison{Err: true, ActiveLatency: ms})},
			want: []Action{Rollback}, wantPhase: PhaseRolledBack, wantReason: "shadow: candidate failed 1 of 3 runs (10.0% > 1.0%)"},
		{name: "shadow tolerates errors under the limit", policy: func(p *Policy) { p.MaxErrorRate = 0.1 },
			steps: []step{compare(1, Comparison{Err: true, ActiveLatency: ms}), agree(9)}, want: []Action{Advance}, wantPhase: PhaseCanary, wantReason: "errors 10.0%"},
		{name: "shadow slow candidate rolls back", steps: []step{compare(10, Comparison{Agree: true, ActiveLatency: ms, CandidateLatency: 3 * ms})},
			want: []Action{Rollback}, wantPhase: PhaseRolledBack, wantReason: "shadow: candidate median latency 3ms, 3.00× active 1ms (> 1.50×, and 2ms slower, more than 1ms)"},
		// 0.9 ms against 0.1 ms is 9× but 0.8 ms: under min_latency_delta.
		{name: "shadow tiny latencies pass the ratio", steps: []step{compare(10, Comparison{Agree: true, ActiveLatency: 100 * time.Microsecond, CandidateLatency: 900 * time.Microsecond})},
			want: []Action{Advance}, wantPhase: PhaseCanary, wantReason: "latency 9.00× active"},
		{name: "shadow min_latency_delta 0 judges tiny latencies", policy: func(p *Policy) { p.MinLatencyDelta = 0 },
			steps: []step{compare(10, Comparison{Agree: true, ActiveLatency: 100 * time.Microsecond, CandidateLatency: 900 * time.Microsecond})},
			want:  []Action{Rollback}, wantPhase: PhaseRolledBack, wantReason: "candidate median latency 900µs, 9.00× active 100µs"},
		// Medians: one 100 ms run of ten (a page fault, a collection)
		// moves the mean 11-fold, not the median.
		{name: "shadow outlier does not decide", steps: []step{compare(9, Comparison{Agree: true, ActiveLatency: ms, CandidateLatency: ms}),
			compare(1, Comparison{Agree: true, ActiveLatency: ms, CandidateLatency: 100 * ms})},
			want: []Action{Advance}, wantPhase: PhaseCanary, wantReason: "latency 1.00× active"},
		{name: "shadow slightly slower candidate passes", steps: []step{compare(10, Comparison{Agree: true, ActiveLatency: ms, CandidateLatency: 1400 * time.Microsecond})},
			want: []Action{Advance}, wantPhase: PhaseCanary, wantReason: "latency 1.40× active"},
		{name: "shadow holds at max_duration", steps: []step{agree(3), tick(time.Hour)},
			want: []Action{Hold}, wantPhase: PhaseHold, wantReason: "shadow: 3 of 10 comparisons after 1h0m0s"},
		{name: "shadow tick before max_duration", steps: []step{agree(3), tick(59 * time.Minute)}, wantPhase: PhaseShadow},
		{name: "canary events in shadow are ignored", steps: []step{served(100, ArmCandidate, ms, true), labels(ArmCandidate, 0, 10)}, wantPhase: PhaseShadow},
		{name: "canary promotes without feedback", steps: []step{agree(10), servedBoth()},
			want: []Action{Advance, Promote}, wantPhase: PhasePromoted, wantReason: "canary passed: 10 candidate requests, errors 0.0%, latency 1.00× active; no outcome feedback"},
		{name: "canary waits for min_samples", steps: []step{agree(10), served(9, ArmCandidate, ms, false), served(50, ArmActive, ms, false)},
			want: []Action{Advance}, wantPhase: PhaseCanary},
		{name: "canary candidate error rolls back", steps: []step{agree(10), served(1, ArmCandidate, 0, true)},
			want: []Action{Advance, Rollback}, wantPhase: PhaseRolledBack, wantReason: "canary: candidate failed 1 of 1 requests (10.0% > 1.0%)"},
		{name: "canary active errors do not count", steps: []step{agree(10), served(5, ArmActive, 0, true), servedBoth()},
			want: []Action{Advance, Promote}, wantPhase: PhasePromoted},
		{name: "canary slow candidate rolls back", steps: []step{agree(10), served(10, ArmActive, ms, false), served(10, ArmCandidate, 3*ms, false)},
			want: []Action{Advance, Rollback}, wantPhase: PhaseRolledBack, wantReason: "canary: candidate median latency 3ms, 3.00× active 1ms (> 1.50×, and 2ms slower, more than 1ms)"},
		{name: "canary_fraction 1 skips the latency ratio", policy: func(p *Policy) { p.CanaryFraction = 1 },
			steps: []step{agree(10), served(10, ArmCandidate, 3*ms, false)}, want: []Action{Advance, Promote}, wantPhase: PhasePromoted},
		// 60/100 vs 90/100: pooled .75, se = sqrt(.75·.25·.02) = .061237,
		// z = −4.898979, one-sided p = Q(4.898979) = 4.82e-7 by hand.
		{name: "canary significantly worse accuracy rolls back",
			steps: []step{agree(10), labels(ArmActive, 90, 100), labels(ArmCandidate, 60, 100), servedBoth()},
			want:  []Action{Advance, Rollback}, wantPhase: PhaseRolledBack,
			wantReason: "canary: candidate accuracy 0.600 vs 0.900 (n=100, 100), z p=4.82e-07 < 0.05: candidate worse"},
		// 45/60 vs 30/60: z = 2√2, one-sided p = .0023389 by hand.
		{name: "canary significantly better accuracy promotes",
			steps: []step{agree(10), labels(ArmActive, 30, 60), labels(ArmCandidate, 45, 60), servedBoth()},
			want:  []Action{Advance, Promote}, wantPhase: PhasePromoted,
			wantReason: "canary passed: candidate accuracy 0.750 vs 0.500 (n=60, 60), z p=0.00234 < 0.05: candidate better"},
		// 91/100 vs 84/100: z = 1.4967, two-sided p = .134481 by hand.
		{name: "canary ahead but not significant promotes",
			steps: []step{agree(10), labels(ArmActive, 84, 100), labels(ArmCandidate, 91, 100), servedBoth()},
			want:  []Action{Advance, Promote}, wantPhase: PhasePromoted,
			wantReason: "candidate accuracy 0.910 vs 0.840 (n=100, 100), z p=0.134 >= 0.05: no significant difference"},
		{name: "canary behind but not significant waits, then holds",
			steps: []step{agree(10), labels(ArmActive, 91, 100), labels(ArmCandidate, 84, 100), servedBoth(), served(100, ArmCandidate, ms, false), tick(time.Hour)},
			want:  []Action{Advance, Hold}, wantPhase: PhaseHold,
			wantReason: "canary: candidate accuracy 0.840 vs 0.910 (n=100, 100), z p=0.134 >= 0.05: no significant difference; not decided after 1h0m0s"},
		// [[0,4],[4,0]]: P = C(4,0)·C(4,4)/C(8,4) = 1/70 = .0143 by hand.
		{name: "canary small counts use fisher",
			steps: []step{agree(10), labels(ArmActive, 4, 4), labels(ArmCandidate, 0, 4), servedBoth()},
			want:  []Action{Advance, Rollback}, wantPhase: PhaseRolledBack,
			wantReason: "candidate accuracy 0.000 vs 1.000 (n=4, 4), fisher p=0.0143 < 0.05: candidate worse"},
		{name: "canary higher scores promote",
			steps: []step{agree(10), scores(ArmActive, 2, 2, 2, 2, 2), scores(ArmCandidate, 1, 2, 3, 4, 5), servedBoth()},
			want:  []Action{Advance, Promote}, wantPhase: PhasePromoted,
			wantReason: "candidate mean score 3.000 vs 2.000 (n=5, 5), welch-z p=0.157 >= 0.05: no significant difference"},
		{name: "canary holds at max_duration", steps: []step{agree(10), served(3, ArmCandidate, ms, false), tick(time.Hour)},
			want: []Action{Advance, Hold}, wantPhase: PhaseHold, wantReason: "canary: 3 of 10 candidate requests after 1h0m0s"},
		{name: "canary max_duration counts from its own start", steps: []step{tick(50 * time.Minute), agree(10), tick(50 * time.Minute)},
			want: []Action{Advance}, wantPhase: PhaseCanary},
		{name: "crash loop in shadow rolls back", steps: []step{start(0), start(time.Minute), start(time.Minute)},
			want: []Action{Rollback}, wantPhase: PhaseRolledBack, wantReason: "shadow: crash loop: 3 starts within 2m0s (window 10m0s)"},
		{name: "spread starts are no crash loop", steps: []step{start(0), start(6 * time.Minute), start(6 * time.Minute)}, wantPhase: PhaseShadow},
		{name: "spread starts then quick ones", steps: []step{start(0), start(6 * time.Minute), start(6 * time.Minute), start(time.Minute)},
			want: []Action{Rollback}, wantPhase: PhaseRolledBack, wantReason: "3 starts within 7m0s"},
		{name: "crash loop in canary rolls back", steps: []step{agree(10), start(0), start(0), start(0)},
			want: []Action{Advance, Rollback}, wantPhase: PhaseRolledBack, wantReason: "canary: crash loop"},
		{name: "starts after promotion are ignored", steps: []step{agree(10), servedBoth(), start(0), start(0), start(0)},
			want: []Action{Advance, Promote}, wantPhase: PhasePromoted},
		{name: "operator resolves hold", steps: []step{agree(3), tick(time.Hour), resolve(Promote)},
			want: []Action{Hold, Promote}, wantPhase: PhasePromoted, wantReason: "operator: checked by hand"},
		{name: "operator rolls back in canary", steps: []step{agree(10), resolve(Rollback)},
			want: []Action{Advance, Rollback}, wantPhase: PhaseRolledBack, wantReason: "operator: checked by hand"},
		{name: "events after rollback are ignored", steps: []step{disagree(1), agree(20), servedBoth(), tick(2 * time.Hour)},
			want: []Action{Rollback}, wantPhase: PhaseRolledBack},
		{name: "hold ignores traffic", steps: []step{agree(3), tick(time.Hour), agree(20), servedBoth()},
			want: []Action{Hold}, wantPhase: PhaseHold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			if tt.policy != nil {
				tt.policy(&p)
			}
			clk := &fakeClock{t: t0}
			m, err := New(p, 1, clk)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			var got []Action
			var last Decision
			for _, s := range tt.steps {
				for _, d := range s(m, clk) {
					if want := phaseAfter[d.Action]; want != 0 && d.Phase != want {
						t.Errorf("%s decision has phase %s; want %s", d.Action, d.Phase, want)
					}
					if d.Action != Continue {
						got = append(got, d.Action)
						last = d
						if d.Reason == "" || d.Figures == nil || !d.At.Equal(clk.t) {
							t.Errorf("%s decision %+v lacks reason, figures or time", d.Action, d)
						}
					}
				}
			}
			if !equalActions(got, tt.want) {
				t.Fatalf("decisions = %v; want %v (last reason %q)", got, tt.want, last.Reason)
			}
			if m.Phase() != tt.wantPhase {
				t.Errorf("Phase() = %s; want %s", m.Phase(), tt.wantPhase)
			}
			if !strings.Contains(last.Reason, tt.wantReason) {
				t.Errorf("last reason = %q; want it to contain %q", last.Reason, tt.wantReason)
			}
			if out := m.Outcome(); (out != nil) == m.Phase().Evaluating() {
				t.Errorf("Outcome() = %v in phase %s; want an outcome exactly outside shadow/canary", out, m.Phase())
			}
		})
	}
}

var phaseAfter = map[Action]Phase{Advance: PhaseCanary, Promote: PhasePromoted, Rollback: PhaseRolledBack, Hold: PhaseHold}

func equalActions(a, b []Action) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMachineRoute(t *testing.T) {
	p := testPolicy()
	p.SampleRate, p.CanaryFraction = 0.25, 0.5
	clk := &fakeClock{t: t0}
	m, err := New(p, 3, clk)
	if err != nil {
		t.Fatal(err)
	}
	count := func() (shadow, cand int) {
		for k := uint64(0); k < 4000; k++ {
			r := m.Route(k)
			if r.Shadow {
				shadow++
			}
			if r.Serve == ArmCandidate {
				cand++
			}
			if r.Serve == ArmCandidate && r.Shadow {
				t.Fatalf("Route(%d) = %+v in %s: serves and shadows the candidate", k, r, m.Phase())
			}
		}
		return
	}
	check := func(phase Phase, sLo, sHi, cLo, cHi int) {
		t.Helper()
		if m.Phase() != phase {
			t.Fatalf("phase %s; want %s", m.Phase(), phase)
		}
		s, c := count()
		if s < sLo || s > sHi || c < cLo || c > cHi {
			t.Errorf("%s: %d shadowed, %d served by the candidate of 4000; want [%d,%d] and [%d,%d]", phase, s, c, sLo, sHi, cLo, cHi)
		}
	}
	// 25% of 4000 = 1000 ± 5σ (σ = 27); 50% = 2000 ± 5σ (σ = 32).
	check(PhaseShadow, 863, 1137, 0, 0)
	agree(10)(m, clk)
	check(PhaseCanary, 0, 0, 1840, 2160)
	for k := uint64(0); k < 100; k++ {
		if m.Route(k).Serve != m.ArmOf(k) {
			t.Fatalf("Route(%d).Serve = %s; ArmOf = %s", k, m.Route(k).Serve, m.ArmOf(k))
		}
	}
	servedBoth()(m, clk)
	check(PhasePromoted, 0, 0, 4000, 4000)

	m2, _ := New(p, 3, clk)
	disagree(1)(m2, clk)
	m = m2
	check(PhaseRolledBack, 0, 0, 0, 0)
}

func TestMachineFeedbackErrors(t *testing.T) {
	m, _ := New(testPolicy(), 1, &fakeClock{t: t0})
	tests := []struct {
		name    string
		f       Feedback
		wantErr string
	}{
		{"bad arm", Feedback{Arm: 7, Kind: FeedbackLabel}, "arm 7"},
		{"bad kind", Feedback{Arm: ArmActive}, "kind 0"},
		{"NaN score", Feedback{Arm: ArmActive, Kind: FeedbackScore, Score: nan()}, "score NaN"},
		{"fine", Feedback{Arm: ArmCandidate, Kind: FeedbackScore, Score: 1}, ""},
	}
	for _, tt := range tests {
		_, err := m.Feedback(tt.f)
		if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Feedback(%s) error = %v; want %q", tt.name, err, tt.wantErr)
		}
	}
	if d := m.Served(Request{Arm: 9}); d.Action != Continue {
		t.Errorf("Served(arm 9) = %v; want continue", d.Action)
	}
}

func TestMachineResolveErrors(t *testing.T) {
	m, _ := New(testPolicy(), 1, &fakeClock{t: t0})
	if _, err := m.Resolve(Advance, "x"); err == nil {
		t.Errorf("Resolve(advance) error = nil; want an error")
	}
	if _, err := m.Resume("x"); err == nil || !strings.Contains(err.Error(), "not on hold") {
		t.Errorf("Resume in shadow error = %v; want not on hold", err)
	}
	if _, err := m.Resolve(Hold, "x"); err != nil {
		t.Fatalf("Resolve(hold): %v", err)
	}
	if _, err := m.Resolve(Hold, "again"); err == nil || !strings.Contains(err.Error(), "already on hold") {
		t.Errorf("Resolve(hold) on hold error = %v; want already on hold", err)
	}
	if _, err := m.Resolve(Rollback, "bad"); err != nil {
		t.Fatalf("Resolve(rollback): %v", err)
	}
	if _, err := m.Resolve(Promote, "late"); err == nil || !strings.Contains(err.Error(), "already rolled_back") {
		t.Errorf("Resolve(promote) after rollback error = %v; want already rolled_back", err)
	}
}

func TestNewErrors(t *testing.T) {
	p := testPolicy()
	p.CanaryFraction = 0
	if _, err := New(p, 1, &fakeClock{}); err == nil || !strings.Contains(err.Error(), "policy.canary_fraction") {
		t.Errorf("New(canary_fraction 0) error = %v; want policy.canary_fraction", err)
	}
	if _, err := New(testPolicy(), 1, nil); err == nil {
		t.Errorf("New(nil clock) error = nil; want an error")
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		a, c []float32
		want Comparison
	}{
		{"identical", []float32{0.1, 0.7, 0.2}, []float32{0.1, 0.7, 0.2}, Comparison{Agree: true}},
		// |.1−.2| = .1, |.7−.3| = .4, |.2−.5| = .3: mean .8/3, max .4.
		{"different top-1", []float32{0.1, 0.7, 0.2}, []float32{0.2, 0.3, 0.5}, Comparison{MeanAbsDiff: 0.8 / 3, MaxAbsDiff: 0.4}},
		{"lengths differ", []float32{1}, []float32{1, 2}, Comparison{Err: true}},
		{"empty", nil, nil, Comparison{Agree: true}},
	}
	for _, tt := range tests {
		got := Compare(tt.a, tt.c)
		if got.Agree != tt.want.Agree || got.Err != tt.want.Err || !near(got.MeanAbsDiff, tt.want.MeanAbsDiff, 1e-6) || !near(got.MaxAbsDiff, tt.want.MaxAbsDiff, 1e-6) {
			t.Errorf("Compare(%s) = %+v; want %+v", tt.name, got, tt.want)
		}
	}
}

// TestMachineHoldResume: an operator's hold stops routing to the
// candidate and keeps its evidence; resume continues in the phase it was
// held in with a whole MaxDuration ahead; a hold the machine made itself
// (out of time) resumes in shadow. The held phase survives a restart.
func TestMachineHoldResume(t *testing.T) {
	clk := &fakeClock{t: t0}
	p := testPolicy()
	p.SampleRate, p.CanaryFraction = 1, 0.5
	m, err := New(p, 1, clk)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 { // shadow passes: ten agreeing comparisons
		m.Shadow(Comparison{Agree: true, ActiveLatency: 2 * ms, CandidateLatency: 2 * ms})
	}
	if m.Phase() != PhaseCanary {
		t.Fatalf("phase after 10 agreeing comparisons %s; want canary", m.Phase())
	}
	candidates := func() int {
		n := 0
		for k := range uint64(200) {
			if m.Route(k).Serve == ArmCandidate {
				n++
			}
		}
		return n
	}
	if candidates() == 0 {
		t.Fatal("canary routes nothing to the candidate")
	}
	clk.t = t0.Add(50 * time.Minute)
	d, err := m.Resolve(Hold, "hold command h1")
	if err != nil || d.Action != Hold || m.Phase() != PhaseHold || candidates() != 0 {
		t.Fatalf("Resolve(hold) = %+v, %v; phase %s, %d routed to the candidate; want hold, none", d, err, m.Phase(), candidates())
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if m, err = Restore(b, clk); err != nil {
		t.Fatal(err)
	}
	clk.t = t0.Add(3 * time.Hour)
	d, err = m.Resume("resume command r1")
	if err != nil || d.Action != Resume || d.Phase != PhaseCanary || m.Phase() != PhaseCanary || m.Outcome() != nil {
		t.Fatalf("Resume = %+v, %v; phase %s; want canary again", d, err, m.Phase())
	}
	if candidates() == 0 {
		t.Error("after resume the canary routes nothing to the candidate")
	}
	// MaxDuration counts from the resume: 59 minutes later it still runs.
	clk.t = t0.Add(3*time.Hour + 59*time.Minute)
	if d := m.Tick(); d.Action != Continue || m.Phase() != PhaseCanary {
		t.Errorf("Tick 59 min after the resume = %+v, phase %s; want continue in canary", d, m.Phase())
	}
	// Out of time, the machine holds by itself; resume goes to shadow.
	clk.t = t0.Add(5 * time.Hour)
	if d := m.Tick(); d.Action != Hold {
		t.Fatalf("Tick after MaxDuration = %+v; want hold", d)
	}
	if d, err := m.Resume("resume command r2"); err != nil || d.Phase != PhaseShadow {
		t.Errorf("Resume of a timed-out hold = %+v, %v; want shadow", d, err)
	}
}
