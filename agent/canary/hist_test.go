package canary

import (
	"testing"
	"time"
)

const us = time.Microsecond

func TestHistogramObserve(t *testing.T) {
	// Buckets are (prev, bound]: 10µs is the first bucket, 11µs the second.
	tests := []struct {
		name   string
		d      time.Duration
		bucket int
	}{
		{"zero", 0, 0},
		{"negative", -5 * us, 0},
		{"on the first bound", 10 * us, 0},
		{"just above", 11 * us, 1},
		{"1.5ms", 1500 * us, 7},
		{"10s", 10 * time.Second, 18},
		{"beyond", time.Minute, 19},
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
	// 50 × 15µs in (10,20]µs and 50 × 150µs in (100,200]µs; the top bucket
	// in use is capped at the largest value, 150µs. By hand:
	//   p50: rank 50 ends the first bucket: its top, 20µs.
	//   p75: rank 75, half-way through (100,150]: 125µs.
	//   p10: rank 10, a fifth through (10,20]: 12µs.
	//   mean: (50·15 + 50·150)/100 = 82.5µs.
	var h Histogram
	for range 50 {
		h.Observe(15 * us)
		h.Observe(150 * us)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 20 * us}, {0.75, 125 * us}, {0.1, 12 * us}, {1, 150 * us}, {0, 10 * us}}
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
}
