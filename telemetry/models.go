package telemetry

import (
	"math"
	"slices"

	"github.com/edged-dev/edged/fleet"
)

// ModelStats are one served model's counters since the agent started.
type ModelStats struct {
	Name, Version string
	// Inferences counts every answered request, CacheHits those answered
	// from the result cache, Errors the failed ones.
	Inferences, CacheHits, Errors uint64
	Fallbacks                     uint64
	QueueDepth                    int
	// Latency of answered requests.
	Latency Histogram
}

// Histogram counts values in buckets: Counts[i] holds values at or below
// Bounds[i] (and above Bounds[i-1]); the last count, one beyond Bounds,
// holds the rest. Not cumulative.
type Histogram struct {
	Bounds []float64
	Counts []uint64
}

// Stats is what the models collector needs of the agent.
type Stats interface {
	TelemetryStats() []ModelStats
}

// Models reports each model's counters, and its latency quantiles and
// cache hit ratio over the last interval (the difference from the
// previous snapshot).
type Models struct {
	src  Stats
	prev map[string]ModelStats
}

// NewModels returns a collector over src.
func NewModels(src Stats) *Models { return &Models{src: src, prev: map[string]ModelStats{}} }

// Collect implements Collector.
func (m *Models) Collect(s *Snapshot) error {
	cur := m.src.TelemetryStats()
	if len(cur) == 0 {
		return ErrNoData
	}
	next := make(map[string]ModelStats, len(cur))
	for _, st := range cur {
		key := st.Name + "\x00" + st.Version
		next[key] = st
		prev, ok := m.prev[key]
		if !ok || prev.Inferences > st.Inferences {
			prev = ModelStats{} // first snapshot, or a reset
		}
		mt := fleet.ModelTelemetry{Name: st.Name, Version: st.Version, Inferences: st.Inferences, Errors: st.Errors,
			Fallbacks: st.Fallbacks, QueueDepth: st.QueueDepth}
		if n := st.Inferences - prev.Inferences; n > 0 && st.CacheHits >= prev.CacheHits {
			mt.CacheHit = round3(min(1, float64(st.CacheHits-prev.CacheHits)/float64(n)))
		}
		d := st.Latency.Sub(prev.Latency)
		mt.P50 = round3(1e3 * d.Quantile(0.5))
		mt.P90 = round3(1e3 * d.Quantile(0.9))
		mt.P99 = round3(1e3 * d.Quantile(0.99))
		s.Models = append(s.Models, mt)
	}
	m.prev = next
	return nil
}

// Sub returns h − o bucket by bucket (h itself when the bounds differ).
func (h Histogram) Sub(o Histogram) Histogram {
	if !slices.Equal(h.Bounds, o.Bounds) || len(o.Counts) != len(h.Counts) {
		return h
	}
	d := Histogram{Bounds: h.Bounds, Counts: make([]uint64, len(h.Counts))}
	for i := range h.Counts {
		if h.Counts[i] >= o.Counts[i] {
			d.Counts[i] = h.Counts[i] - o.Counts[i]
		}
	}
	return d
}

// Quantile estimates the q-quantile by linear interpolation inside its
// bucket, as Prometheus' histogram_quantile does: the first bucket starts
// at 0, and a quantile in the open last bucket is its lower bound. 0 when
// the histogram is empty.
func (h Histogram) Quantile(q float64) float64 {
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total == 0 || len(h.Bounds) == 0 || len(h.Counts) != len(h.Bounds)+1 {
		return 0
	}
	rank := q * float64(total)
	var cum float64
	for i, c := range h.Counts {
		if cum+float64(c) >= rank && c > 0 {
			if i == len(h.Bounds) {
				return h.Bounds[i-1]
			}
			lo := 0.0
			if i > 0 {
				lo = h.Bounds[i-1]
			}
			return lo + (h.Bounds[i]-lo)*(rank-cum)/float64(c)
		}
		cum += float64(c)
	}
	return h.Bounds[len(h.Bounds)-1]
}

// round3 keeps three decimals: enough for milliseconds and ratios, and
// fewer bytes on a metered link.
func round3(v float64) float64 { return math.Round(v*1e3) / 1e3 }
