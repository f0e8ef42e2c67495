package canary

import (
	"encoding/json"
	"testing"
	"time"
)

const us = time.Microsecond

func TestHistogramObserve(t *testing.T) {
	// Buckets are (prev, bound] with bound k = 10µs·10^(k/20): 10µs is
	// the first bucket, 11µs the second (bound 11.22µs); 1.5ms: 20·log10(150)
	// = 43.5, bucket 44; 10s is bound 120; beyond it, bucket 121.
	tests := []struct {
		name   string
		d      time.Duration
		bucket int
	}{
		{"zero", 0, 0},
		{"negative", -5 * us, 0},
		{"on the first bound", 10 * us, 0},
		{"just above", 11 * us, 1},
		{"1.5ms", 1500 * us, 44},
		{"10s", 10 * time.Second, 120},
		{"beyond", time.Minute, 121},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			h.Observe(tt.d)
			if h.Counts[tt.bucket] != 1 || h.Count() != 1 {
				t.Errorf("Observe(%s) counts = %v; want 1 in bucket %d", tt.d, h.Counts, tt.bucket)
			}
		})
	}
}

func TestHistogramQuantile(t *testing.T) {
	// 50 × 15µs in bucket 4, (14125, 15849] ns (bounds 10^4·10^(k/20)
	// rounded: k=3, 4), and 50 × 150µs in bucket 24, (141254, 158489] ns,
	// capped at the largest value, 150000. By hand:
	//   p50: rank 50 ends bucket 4: its top, 15849 ns.
	//   p75: rank 75, half-way through (141254, 150000]: 145627 ns.
	//   p10: rank 10, a fifth through (15000, 15849] (the bucket narrowed
	//        to the smallest value, 15000): 15000 + 169.8 = 15169 ns.
	//   p0: the smallest value, 15000 ns.
	//   mean: (50·15 + 50·150)/100 = 82.5µs.
	var h Histogram
	for range 50 {
		h.Observe(15 * us)
		h.Observe(150 * us)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 15849}, {0.75, 145627}, {0.1, 15169}, {1, 150 * us}, {0, 15 * us}}
	for _, tt := range tests {
		if got := h.Quantile(tt.q); got != tt.want {
			t.Errorf("Quantile(%g) = %s; want %s", tt.q, got, tt.want)
		}
	}
	if got, want := h.Mean(), 82500*time.Nanosecond; got != want {
		t.Errorf("Mean() = %s; want %s", got, want)
	}
	var empty Histogram
	if got := empty.Quantile(0.5); got != 0 {
		t.Errorf("empty Quantile(0.5) = %s; want 0", got)
	}
	// The overflow bucket ends at the largest value seen.
	var slow Histogram
	slow.Observe(20 * time.Second)
	slow.Observe(30 * time.Second)
	if got, want := slow.Quantile(1), 30*time.Second; got != want {
		t.Errorf("overflow Quantile(1) = %s; want %s", got, want)
	}
	// Equal values: every quantile is that value.
	var flat Histogram
	for range 7 {
		flat.Observe(time.Millisecond)
	}
	for _, q := range []float64{0, 0.5, 0.99, 1} {
		if got := flat.Quantile(q); got != time.Millisecond {
			t.Errorf("equal values: Quantile(%g) = %s; want 1ms", q, got)
		}
	}
}

// TestHistogramV1: a histogram saved by an earlier edged (20 buckets of
// 1-2-5 steps) reads back with each count at its bucket's geometric
// middle: 3 in (1ms, 2ms] go to √2 ms = 1414.2µs, fine bucket 44
// (20·log10(141.42) = 43.01, rounded up); 2 in (0, 10µs] to 5µs, bucket
// 0; 1 beyond 10s to the largest value seen, 12s, bucket 121.
func TestHistogramV1(t *testing.T) {
	v1 := `{"counts":[2,0,0,0,0,0,0,3,0,0,0,0,0,0,0,0,0,0,0,1],"sum_ns":12004242640,"max_ns":12000000000}`
	var h Histogram
	if err := json.Unmarshal([]byte(v1), &h); err != nil {
		t.Fatal(err)
	}
	if h.Counts[0] != 2 || h.Counts[44] != 3 || h.Counts[121] != 1 || h.Count() != 6 || h.SumNS != 12004242640 || h.MaxNS != 12e9 {
		t.Errorf("v1 histogram read as %v (sum %d, max %d)", h.Counts, h.SumNS, h.MaxNS)
	}
	if err := json.Unmarshal([]byte(`{"counts":[1,2,3]}`), &h); err == nil {
		t.Error("a histogram of 3 buckets was read; want an error")
	}
}
