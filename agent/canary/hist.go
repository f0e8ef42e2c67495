package canary

import (
	"math"
	"time"
)

// latencyBounds are the upper bounds of the histogram buckets: 1-2-5 steps
// from 10µs to 10s, which spans a tiny classifier on a desktop CPU to a
// detector on a Pi Zero. A last bucket holds everything slower.
var latencyBounds = [...]time.Duration{
	10 * time.Microsecond, 20 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// NumBuckets is the number of histogram buckets.
const NumBuckets = len(latencyBounds) + 1

// Histogram counts latencies in fixed buckets: constant size, no
// allocation, and it serialises as a short array. Quantiles interpolate
// linearly inside a bucket, so they are as good as the bucket (a 1-2-5
// step: within a factor 2.5); the mean is exact.
type Histogram struct {
	Counts [NumBuckets]uint64 `json:"counts"`
	SumNS  int64              `json:"sum_ns"` // exact sum, for the mean
	MaxNS  int64              `json:"max_ns"` // the top of the last bucket
}

// Observe adds one latency; a negative one counts as 0.
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.Counts[i]++
	h.SumNS += int64(d)
	h.MaxNS = max(h.MaxNS, int64(d))
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Mean is the exact mean latency, 0 when empty.
func (h *Histogram) Mean() time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	return time.Duration(h.SumNS / int64(n))
}

// Quantile estimates the q-quantile (q in [0,1]) by linear interpolation
// inside its bucket; 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 || math.IsNaN(q) {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(n)
	var below float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if below+float64(c) >= rank {
			lo, hi := bucketRange(i, h.MaxNS)
			f := (rank - below) / float64(c)
			return time.Duration(float64(lo) + f*float64(hi-lo))
		}
		below += float64(c)
	}
	return time.Duration(h.MaxNS)
}

// bucketRange is bucket i's [lo, hi]; the top bucket ends at the largest
// latency seen, and no bucket reaches above it.
func bucketRange(i int, maxNS int64) (lo, hi int64) {
	if i > 0 {
		lo = int64(latencyBounds[i-1])
	}
	if i < len(latencyBounds) {
		hi = int64(latencyBounds[i])
	} else {
		hi = maxNS
	}
	hi = min(hi, max(maxNS, lo))
	return lo, hi
}
