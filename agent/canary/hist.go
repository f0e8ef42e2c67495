package canary

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// bucketsPerDecade is the histogram's resolution: each bucket spans a
// factor 10^(1/20) ≈ 1.12, so a median read from it is within 12% (and
// interpolation inside the bucket does better), fine enough to tell a
// 1.5× latency ratio from noise.
const bucketsPerDecade = 20

// latencyBounds are the upper bounds of the histogram buckets: 20 a decade
// from 10µs to 10s, which spans a tiny classifier on a desktop CPU to a
// detector on a Pi Zero. A last bucket holds everything slower.
var latencyBounds = func() [6*bucketsPerDecade + 1]time.Duration {
	var b [6*bucketsPerDecade + 1]time.Duration
	for k := range b {
		b[k] = time.Duration(math.Round(1e4 * math.Pow(10, float64(k)/bucketsPerDecade)))
	}
	return b
}()

// NumBuckets is the number of histogram buckets.
const NumBuckets = 6*bucketsPerDecade + 2

// Histogram counts latencies in fixed buckets: constant size, no
// allocation. Quantiles interpolate linearly inside a bucket, so they are
// within a bucket's 12%; the mean is exact.
type Histogram struct {
	Counts [NumBuckets]uint64 `json:"counts"`
	SumNS  int64              `json:"sum_ns"` // exact sum, for the mean
	MaxNS  int64              `json:"max_ns"` // the top of the last bucket in use
	MinNS  int64              `json:"min_ns"` // the bottom of the first bucket in use
}

// Observe adds one latency; a negative one counts as 0.
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	h.Counts[bucketOf(d)]++
	h.SumNS += int64(d)
	h.MaxNS = max(h.MaxNS, int64(d))
	if h.MinNS == 0 || int64(d) < h.MinNS {
		h.MinNS = int64(d)
	}
}

// bucketOf is the bucket of d: the first whose bound is not below d.
func bucketOf(d time.Duration) int {
	lo, hi := 0, len(latencyBounds)
	for lo < hi {
		m := (lo + hi) / 2
		if d > latencyBounds[m] {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
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
// inside its bucket, the buckets in use narrowed to the smallest and
// largest values seen (so equal values give that value); 0 when empty.
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
			lo = min(max(lo, h.MinNS), hi)
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

// v1Bounds are the bounds of the histograms of state version 1 (1-2-5
// steps from 10µs to 10s), read when a canary.db from an earlier edged
// is resumed.
var v1Bounds = [...]time.Duration{
	10 * time.Microsecond, 20 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// UnmarshalJSON reads a histogram of this version, or of version 1 (20
// coarse buckets), whose counts go to the fine bucket at each coarse
// bucket's geometric middle.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var raw struct {
		Counts []uint64 `json:"counts"`
		SumNS  int64    `json:"sum_ns"`
		MaxNS  int64    `json:"max_ns"`
		MinNS  int64    `json:"min_ns"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*h = Histogram{SumNS: raw.SumNS, MaxNS: raw.MaxNS, MinNS: raw.MinNS}
	switch len(raw.Counts) {
	case NumBuckets:
		copy(h.Counts[:], raw.Counts)
	case len(v1Bounds) + 1:
		for i, c := range raw.Counts {
			var mid time.Duration
			switch {
			case i == 0:
				mid = v1Bounds[0] / 2
			case i == len(v1Bounds):
				mid = max(v1Bounds[i-1]+1, time.Duration(raw.MaxNS))
			default:
				mid = time.Duration(math.Sqrt(float64(v1Bounds[i-1]) * float64(v1Bounds[i])))
			}
			h.Counts[bucketOf(mid)] += c
		}
	default:
		return fmt.Errorf("histogram of %d buckets; want %d", len(raw.Counts), NumBuckets)
	}
	return nil
}
