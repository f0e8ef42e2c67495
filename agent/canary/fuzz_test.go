package canary

import "testing"

// FuzzRestore: bytes from disk never panic Restore, and whatever it
// accepts routes, decides and marshals without panicking.
func FuzzRestore(f *testing.F) {
	clk := &fakeClock{t: t0}
	m, _ := New(testPolicy(), 1, clk)
	b, _ := m.Marshal()
	f.Add(b)
	agree(10)(m, clk)
	labels(ArmActive, 3, 4)(m, clk)
	served(4, ArmCandidate, ms, false)(m, clk)
	b, _ = m.Marshal()
	f.Add(b)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Restore(b, clk)
		if err != nil {
			return
		}
		m.Route(1)
		m.Shadow(Comparison{Agree: true})
		m.Served(Request{Arm: ArmCandidate})
		m.Feedback(Feedback{Arm: ArmActive, Kind: FeedbackLabel})
		m.Tick()
		m.Start()
		m.Figures()
		if _, err := m.Marshal(); err != nil {
			t.Fatalf("Marshal after Restore: %v", err)
		}
	})
}

// FuzzParsePolicy: a policy document never panics the parser, and what it
// accepts is valid.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte("min_samples: 200\ncanary_fraction: 0.25\nmax_duration: 2h\n"))
	f.Add([]byte(`{"sample_rate": 0.5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err == nil {
			if err := p.Validate(); err != nil {
				t.Fatalf("ParsePolicy accepted an invalid policy: %v", err)
			}
		}
	})
}
