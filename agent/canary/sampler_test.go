package canary

import (
	"math"
	"testing"
)

func TestSamplerRates(t *testing.T) {
	const n = 100000
	tests := []struct {
		name           string
		rate, fraction float64
	}{
		{"defaults", 0.1, 0.1},
		{"half", 0.5, 0.5},
		{"small", 0.01, 0.9},
		{"none", 0, 0},
		{"all", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSampler(42, tt.rate, tt.fraction)
			var shadow, cand, both int
			for k := uint64(0); k < n; k++ {
				sh, c := s.InShadow(k), s.Arm(k) == ArmCandidate
				if sh {
					shadow++
				}
				if c {
					cand++
				}
				if sh && c {
					both++
				}
			}
			// Binomial: within 5 standard deviations.
			check := func(what string, got int, p float64) {
				tol := 5*math.Sqrt(n*p*(1-p)) + 0.5
				if math.Abs(float64(got)-n*p) > tol {
					t.Errorf("%s: %d of %d; want %.0f ± %.0f", what, got, n, n*p, tol)
				}
			}
			check("InShadow", shadow, tt.rate)
			check("Arm candidate", cand, tt.fraction)
			check("both (independent draws)", both, tt.rate*tt.fraction)
		})
	}
}

func TestSamplerDeterministic(t *testing.T) {
	a, b := NewSampler(7, 0.3, 0.3), NewSampler(7, 0.3, 0.3)
	other := NewSampler(8, 0.3, 0.3)
	differ := 0
	for k := uint64(0); k < 1000; k++ {
		if a.InShadow(k) != b.InShadow(k) || a.Arm(k) != b.Arm(k) {
			t.Fatalf("key %d: two samplers with seed 7 disagree", k)
		}
		if a.InShadow(k) != other.InShadow(k) {
			differ++
		}
	}
	// Two independent 30% draws differ with probability 2·.3·.7 = .42.
	if differ < 300 || differ > 540 {
		t.Errorf("seeds 7 and 8 differ on %d of 1000 keys; want about 420", differ)
	}
}

func TestKey(t *testing.T) {
	// FNV-1a 64 published test vectors: "" and "a".
	tests := []struct {
		in   string
		want uint64
	}{{"", 0xcbf29ce484222325}, {"a", 0xaf63dc4c8601ec8c}, {"foobar", 0x85944171f73967e8}}
	for _, tt := range tests {
		if got := Key(tt.in); got != tt.want {
			t.Errorf("Key(%q) = %#x; want %#x", tt.in, got, tt.want)
		}
	}
}
