package canary

import (
	"testing"
	"time"
)

// benchMachine never decides, so every iteration is the steady-state path.
func benchMachine(b *testing.B, phase Phase) *Machine {
	p := DefaultPolicy()
	p.MinSamples = 1 << 30
	p.MaxErrorRate = 1
	clk := &fakeClock{t: t0}
	m, err := New(p, 1, clk)
	if err != nil {
		b.Fatal(err)
	}
	if phase == PhaseCanary {
		m.st.Phase = PhaseCanary
	}
	return m
}

// BenchmarkCanaryRequest is the per-request cost in canary: hash the
// request id, route it, record its latency.
func BenchmarkCanaryRequest(b *testing.B) {
	m := benchMachine(b, PhaseCanary)
	ids := []string{"req-000001", "req-000002", "sensor-7/1732678800123", "3f2a"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := m.Route(Key(ids[i&3]) + uint64(i))
		m.Served(Request{Arm: r.Serve, Latency: time.Duration(i&1023) * time.Microsecond})
	}
}

// BenchmarkShadowRequest is the per-request cost in shadow at the default
// 10% sample rate: route every request, record a comparison for the
// sampled ones (the models' own run time is not included).
func BenchmarkShadowRequest(b *testing.B) {
	m := benchMachine(b, PhaseShadow)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if m.Route(uint64(i)).Shadow {
			m.Shadow(Comparison{Agree: true, MeanAbsDiff: 0.01, MaxAbsDiff: 0.02, ActiveLatency: time.Millisecond, CandidateLatency: time.Millisecond})
		}
	}
}

// BenchmarkRoute is routing alone.
func BenchmarkRoute(b *testing.B) {
	m := benchMachine(b, PhaseCanary)
	b.ReportAllocs()
	var n int
	for i := 0; b.Loop(); i++ {
		if m.Route(uint64(i)).Serve == ArmCandidate {
			n++
		}
	}
	_ = n
}

// BenchmarkCompare is comparing two 1001-class outputs (MobileNet).
func BenchmarkCompare(b *testing.B) {
	a, c := make([]float32, 1001), make([]float32, 1001)
	for i := range a {
		a[i], c[i] = float32(i%17)/17, float32(i%13)/13
	}
	b.ReportAllocs()
	for b.Loop() {
		Compare(a, c)
	}
}

func TestRequestPathDoesNotAllocate(t *testing.T) {
	p := DefaultPolicy()
	p.MinSamples = 1 << 30
	m, _ := New(p, 1, &fakeClock{t: t0})
	shadow := testing.AllocsPerRun(1000, func() {
		if m.Route(Key("req-1")).Shadow || true {
			m.Shadow(Comparison{Agree: true, ActiveLatency: time.Millisecond, CandidateLatency: time.Millisecond})
		}
	})
	m.st.Phase = PhaseCanary
	canary := testing.AllocsPerRun(1000, func() {
		m.Served(Request{Arm: m.Route(Key("req-2")).Serve, Latency: time.Millisecond})
	})
	if shadow != 0 || canary != 0 {
		t.Errorf("allocations per request: shadow %g, canary %g; want 0", shadow, canary)
	}
}
