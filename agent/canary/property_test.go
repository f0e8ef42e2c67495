package canary

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// simulate sends live traffic through m the way the agent would: route
// each request, run the shadow comparison or serve it, tick every
// simulated second. disagree is the chance that the candidate's top-1
// differs; both models take the same time. It stops at a final phase or
// after maxRequests.
func simulate(m *Machine, clk *fakeClock, rng *rand.Rand, disagree float64, maxRequests int) Decision {
	var last Decision
	for k := range uint64(maxRequests) {
		if m.Phase().Final() || m.Phase() == PhaseHold {
			break
		}
		lat := time.Duration(500+rng.IntN(1000)) * time.Microsecond
		r := m.Route(k)
		var d Decision
		switch {
		case r.Shadow:
			d = m.Shadow(Comparison{Agree: rng.Float64() >= disagree, ActiveLatency: lat, CandidateLatency: lat + time.Duration(rng.IntN(50))*time.Microsecond})
		case m.Phase() == PhaseCanary:
			d = m.Served(Request{Arm: r.Serve, Latency: lat})
		}
		if d.Action != Continue {
			last = d
		}
		if k%100 == 0 {
			clk.t = clk.t.Add(time.Second)
			if d := m.Tick(); d.Action != Continue {
				last = d
			}
		}
	}
	return last
}

func TestPropertyDefaultPolicy(t *testing.T) {
	tests := []struct {
		name      string
		disagree  float64
		want      Action
		wantPhase Phase
	}{
		{"identical candidate is promoted", 0, Promote, PhasePromoted},
		{"20% disagreement is rolled back", 0.2, Rollback, PhaseRolledBack},
	}
	for _, tt := range tests {
		for seed := uint64(1); seed <= 20; seed++ {
			clk := &fakeClock{t: t0}
			m, err := New(DefaultPolicy(), seed, clk)
			if err != nil {
				t.Fatal(err)
			}
			d := simulate(m, clk, rand.New(rand.NewPCG(seed, 99)), tt.disagree, 100000)
			if d.Action != tt.want || m.Phase() != tt.wantPhase {
				t.Errorf("%s (seed %d): last decision %s %q, phase %s; want %s, %s", tt.name, seed, d.Action, d.Reason, m.Phase(), tt.want, tt.wantPhase)
			}
		}
	}
}

// TestPropertyRandomEvents drives machines with random event sequences
// and checks the invariants after every event.
func TestPropertyRandomEvents(t *testing.T) {
	p := DefaultPolicy()
	p.MinSamples = 20
	p.MaxDuration = Duration(10 * time.Minute)
	reached := map[Phase]int{}
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		clk := &fakeClock{t: t0}
		m, err := New(p, seed, clk)
		if err != nil {
			t.Fatal(err)
		}
		bad := rng.Float64() // how bad this candidate is
		for i := range 400 {
			before := m.Phase()
			var d Decision
			switch rng.IntN(20) {
			case 0:
				clk.t = clk.t.Add(time.Duration(rng.IntN(120)) * time.Second)
				d = m.Tick()
			case 1:
				clk.t = clk.t.Add(time.Duration(rng.IntN(300)) * time.Second)
				d = m.Start()
			case 2:
				d, _ = m.Feedback(Feedback{Arm: Arm(rng.IntN(3)), Kind: FeedbackKind(rng.IntN(3)), Correct: rng.Float64() > bad/2, Score: rng.NormFloat64()})
			case 3:
				if rng.IntN(20) == 0 {
					d, _ = m.Resolve(Action(rng.IntN(5)), "random")
				} else {
					d = m.cont()
				}
			case 4, 5, 6, 7, 8:
				d = m.Served(Request{Arm: Arm(rng.IntN(2)), Latency: time.Duration(rng.IntN(3000)) * time.Microsecond, Err: rng.Float64() < bad/50})
			default:
				d = m.Shadow(Comparison{Agree: rng.Float64() > bad/10, MeanAbsDiff: rng.Float64(), MaxAbsDiff: rng.Float64(),
					ActiveLatency: ms, CandidateLatency: time.Duration(rng.IntN(2000)) * time.Microsecond, Err: rng.Float64() < bad/100})
			}
			after := m.Phase()
			reached[after]++
			if before.Final() && after != before {
				t.Fatalf("seed %d event %d: left final phase %s for %s", seed, i, before, after)
			}
			if d.Phase != after {
				t.Fatalf("seed %d event %d: decision phase %s; machine in %s", seed, i, d.Phase, after)
			}
			if (d.Action != Continue) != (after != before) {
				t.Fatalf("seed %d event %d: action %s but phase %s -> %s", seed, i, d.Action, before, after)
			}
			for k := uint64(0); k < 20; k++ {
				r := m.Route(k)
				if r.Serve == ArmCandidate && after != PhaseCanary && after != PhasePromoted {
					t.Fatalf("seed %d event %d: Route(%d) serves the candidate in %s", seed, i, k, after)
				}
				if r.Shadow && after != PhaseShadow {
					t.Fatalf("seed %d event %d: Route(%d) shadows in %s", seed, i, k, after)
				}
			}
			if i%50 == 0 || d.Action != Continue {
				b, err := m.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				m2, err := Restore(b, clk)
				if err != nil {
					t.Fatalf("seed %d event %d: Restore(Marshal()) = %v", seed, i, err)
				}
				b2, _ := m2.Marshal()
				if !bytes.Equal(b, b2) {
					t.Fatalf("seed %d event %d: state changed through Restore:\n%s\n%s", seed, i, b, b2)
				}
			}
		}
	}
	// The generator must exercise every phase, or the test proves little.
	for _, ph := range []Phase{PhaseCanary, PhasePromoted, PhaseRolledBack, PhaseHold} {
		if reached[ph] == 0 {
			t.Errorf("no random sequence reached %s (events per phase %v)", ph, reached)
		}
	}
}

func TestRestartMidCanary(t *testing.T) {
	p := DefaultPolicy()
	p.MinSamples = 200
	clk := &fakeClock{t: t0}
	m, err := New(p, 77, clk)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	// Shadow passes, then half of the canary.
	for k := uint64(0); m.Phase() == PhaseShadow; k++ {
		if m.Route(k).Shadow {
			m.Shadow(Comparison{Agree: true, ActiveLatency: ms, CandidateLatency: ms})
		}
	}
	feed := func(m *Machine, k uint64, rng *rand.Rand) Decision {
		arm := m.Route(k).Serve
		d := m.Served(Request{Arm: arm, Latency: time.Duration(800+rng.IntN(400)) * time.Microsecond})
		if k%3 == 0 {
			correct := rng.Float64() < 0.9
			if arm == ArmCandidate {
				correct = rng.Float64() < 0.7 // clearly worse
			}
			if d2, _ := m.Feedback(Feedback{Arm: m.ArmOf(k), Kind: FeedbackLabel, Correct: correct}); d2.Action != Continue {
				d = d2
			}
		}
		return d
	}
	var k uint64
	for m.st.Arms[ArmCandidate].Requests < 100 {
		feed(m, k, rng)
		k++
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	clk2 := &fakeClock{t: clk.t}
	r, err := Restore(b, clk2)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if d := r.Start(); d.Action != Continue {
		t.Fatalf("Start() after one restart = %s; want continue", d.Action)
	}
	// Both machines see the same stream from here, with the same random
	// draws.
	rngA, rngB := rand.New(rand.NewPCG(9, 9)), rand.New(rand.NewPCG(9, 9))
	var da, db Decision
	for ; !m.Phase().Final() || !r.Phase().Final(); k++ {
		if k > 1_000_000 {
			t.Fatal("no decision after 1e6 requests")
		}
		if m.Route(k) != r.Route(k) {
			t.Fatalf("Route(%d) differs after restore: %+v vs %+v", k, m.Route(k), r.Route(k))
		}
		if d := feed(m, k, rngA); d.Action != Continue {
			da = d
		}
		if d := feed(r, k, rngB); d.Action != Continue {
			db = d
		}
	}
	if da.Action != Rollback || db.Action != da.Action || db.Reason != da.Reason || db.Phase != da.Phase {
		t.Fatalf("restored decision %s %q; original %s %q; want the same rollback", db.Action, db.Reason, da.Action, da.Reason)
	}
	if !strings.Contains(da.Reason, "candidate worse") {
		t.Errorf("reason %q; want an A/B statement ending in candidate worse", da.Reason)
	}
}

func TestRestoreErrors(t *testing.T) {
	clk := &fakeClock{t: t0}
	m, _ := New(testPolicy(), 1, clk)
	agree(3)(m, clk)
	good, _ := m.Marshal()
	tests := []struct {
		name    string
		from    string // replaced in the good state
		to      string
		wantErr string
	}{
		{"good", "", "", ""},
		{"version", `"v":1`, `"v":2`, "state version 2; this edged reads 1"},
		{"unknown field", `"seed":1`, `"seed":1,"colour":"red"`, "unknown field"},
		{"phase", `"phase":"shadow"`, `"phase":"dancing"`, "unknown phase"},
		{"agree > samples", `"agree":3`, `"agree":4`, "agree 4 + errors 0 > samples 3"},
		{"policy", `"min_samples":10`, `"min_samples":0`, "policy.min_samples"},
		{"outcome without final phase", `"shadow":{`, `"outcome":{"action":"promote","phase":"promoted"},"shadow":{`, "phase shadow with outcome true"},
		{"final phase without outcome", `"phase":"shadow"`, `"phase":"promoted"`, "phase promoted with outcome false"},
		{"huge counter", `"requests":0`, `"requests":18446744073709551615`, "counter 18446744073709551615 larger than 9007199254740992"},
		{"truncated", `}}`, `}`, "unexpected EOF"},
		{"trailing", "", "", "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := strings.Replace(string(good), tt.from, tt.to, 1)
			if tt.name == "trailing" {
				b += "{}"
			}
			if tt.from != "" && b == string(good) {
				t.Fatalf("%q not in the state %s", tt.from, good)
			}
			_, err := Restore([]byte(b), clk)
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Restore(%s) error = %v; want %q", tt.name, err, tt.wantErr)
			}
		})
	}
}
