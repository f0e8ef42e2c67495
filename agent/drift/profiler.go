package drift

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// ProfilerOptions tune a Profiler; nil means the defaults.
type ProfilerOptions struct {
	// Bins is the number of bins per numeric feature; 0 means
	// DefaultBins. Bins are equal-frequency on the reference, so PSI and
	// KS resolve best where the reference data is dense.
	Bins int
	// Reservoir is the number of values kept per feature to place the
	// bin edges and quantiles; 0 means DefaultReservoir. Memory is
	// 8·Reservoir bytes per feature whatever the stream's length.
	Reservoir int
	// Seed seeds the reservoir's sampling so that a profile is
	// reproducible from the same data.
	Seed uint64
}

// Profiler defaults.
const (
	DefaultBins      = 20
	DefaultReservoir = 8192
)

// DefaultQuantiles are the probabilities a profile records quantiles at.
var DefaultQuantiles = []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99}

// FeatureSpec names a numeric feature and, for a quantized one, its step.
type FeatureSpec struct {
	Name string
	// Step is the spacing of the values the feature can take (the
	// tensor's scale for a quantized element), or 0 for a continuous
	// feature. Bin edges of a stepped feature fall half-way between two
	// values, so each bin holds whole quantization levels.
	Step float64
}

// Profiler accumulates a Profile from a stream of samples. Summary
// statistics (count, mean, std, min, max) are exact; bin edges, bin counts
// and quantiles come from a uniform reservoir sample of each feature
// (Vitter's algorithm R), exact when the stream is no longer than the
// reservoir. A Profiler is not safe for concurrent use.
type Profiler struct {
	specs   []FeatureSpec
	opts    ProfilerOptions
	rng     *rand.Rand
	feats   []profFeature
	classes []uint64
	labels  []string
	n       uint64
}

type profFeature struct {
	count    uint64
	mean, m2 float64 // Welford's running mean and sum of squared deviations
	min, max float64
	res      []float64
}

// NewProfiler starts a profile for the given numeric features and, when
// labels is not nil, a classifier output with len(labels) classes (labels
// may be empty strings).
func NewProfiler(features []FeatureSpec, labels []string, opts *ProfilerOptions) (*Profiler, error) {
	var o ProfilerOptions
	if opts != nil {
		o = *opts
	}
	if o.Bins == 0 {
		o.Bins = DefaultBins
	}
	if o.Reservoir == 0 {
		o.Reservoir = DefaultReservoir
	}
	switch {
	case o.Bins < 2 || o.Bins > MaxBins:
		return nil, fmt.Errorf("drift profile settings: bins %d; want 2 to %d", o.Bins, MaxBins)
	case o.Reservoir < o.Bins:
		return nil, fmt.Errorf("drift profile settings: reservoir %d is smaller than bins %d", o.Reservoir, o.Bins)
	case len(features) == 0 && labels == nil:
		return nil, errors.New("drift profile settings: no features and no classes")
	case len(features) > MaxFeatures:
		return nil, fmt.Errorf("drift profile settings: %d features; at most %d", len(features), MaxFeatures)
	case labels != nil && (len(labels) < 2 || len(labels) > MaxClasses):
		return nil, fmt.Errorf("drift profile settings: %d classes; want 2 to %d", len(labels), MaxClasses)
	}
	seen := make(map[string]bool, len(features))
	for i, f := range features {
		if f.Name == "" || seen[f.Name] {
			return nil, fmt.Errorf("drift profile settings: feature %d: name %q empty or repeated", i, f.Name)
		}
		if !finite(f.Step) || f.Step < 0 {
			return nil, fmt.Errorf("drift profile settings: feature %s: step %g; want finite ≥ 0", f.Name, f.Step)
		}
		seen[f.Name] = true
	}
	p := &Profiler{
		specs: slices.Clone(features),
		opts:  o,
		rng:   rand.New(rand.NewPCG(o.Seed, 0x65646765642d6466)),
		feats: make([]profFeature, len(features)),
	}
	for i := range p.feats {
		p.feats[i].min, p.feats[i].max = math.Inf(1), math.Inf(-1)
	}
	if labels != nil {
		p.labels = slices.Clone(labels)
		p.classes = make([]uint64, len(labels))
	}
	return p, nil
}

// Add adds one sample: a value per feature, in NewProfiler's order, and
// the top-1 class (ignored without classes; NoClass skips it). NaN and
// infinite values are skipped feature by feature.
func (p *Profiler) Add(features []float64, class int) error {
	if len(features) != len(p.feats) {
		return fmt.Errorf("adding to the drift profile: %d features; want %d", len(features), len(p.feats))
	}
	if p.classes != nil && class != NoClass && (class < 0 || class >= len(p.classes)) {
		return fmt.Errorf("adding to the drift profile: class %d; want 0 to %d", class, len(p.classes)-1)
	}
	p.n++
	for i, v := range features {
		if !finite(v) {
			continue
		}
		f := &p.feats[i]
		f.count++
		d := v - f.mean
		f.mean += d / float64(f.count)
		f.m2 += d * (v - f.mean)
		f.min, f.max = min(f.min, v), max(f.max, v)
		if len(f.res) < p.opts.Reservoir {
			f.res = append(f.res, v)
		} else if j := p.rng.Uint64N(f.count); j < uint64(p.opts.Reservoir) {
			f.res[j] = v
		}
	}
	if p.classes != nil && class != NoClass {
		p.classes[class]++
	}
	return nil
}

// N is the number of samples added.
func (p *Profiler) N() uint64 { return p.n }

// Profile builds the profile from what was added. Every feature needs at
// least one finite value and the classes (if any) at least one count.
func (p *Profiler) Profile() (*Profile, error) {
	out := &Profile{V: Version, Features: make([]Feature, len(p.feats))}
	for i := range p.feats {
		f := &p.feats[i]
		spec := p.specs[i]
		if f.count == 0 {
			return nil, fmt.Errorf("building the drift profile: feature %s: no finite values", spec.Name)
		}
		sorted := slices.Clone(f.res)
		slices.Sort(sorted)
		edges := equalFrequencyEdges(sorted, p.opts.Bins, spec.Step)
		counts := make([]uint64, len(edges)+1)
		for _, v := range sorted {
			counts[bin(edges, v)]++
		}
		st := Stats{Count: f.count, Mean: f.mean, Min: f.min, Max: f.max}
		if f.count > 1 {
			st.Std = math.Sqrt(f.m2 / float64(f.count-1))
		}
		// Keep the mean inside [min, max] despite rounding.
		st.Mean = min(max(st.Mean, st.Min), st.Max)
		for _, q := range DefaultQuantiles {
			st.Quantiles = append(st.Quantiles, Quantile{P: q, V: quantile(sorted, q)})
		}
		out.Features[i] = Feature{Name: spec.Name, Edges: edges, Counts: counts, Step: spec.Step, Stats: st}
	}
	if p.classes != nil {
		out.Classes = &Classes{Counts: slices.Clone(p.classes)}
		for _, l := range p.labels {
			if l != "" {
				out.Classes.Labels = slices.Clone(p.labels)
				break
			}
		}
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("building the drift profile: %w", err)
	}
	return out, nil
}

// quantile is the linearly interpolated quantile of sorted values
// (Hyndman & Fan type 7, the default of R and NumPy).
func quantile(sorted []float64, p float64) float64 {
	h := p * float64(len(sorted)-1)
	lo := int(h)
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// equalFrequencyEdges cuts sorted values into up to bins bins of about
// equal count: cut j is the value at quantile j/bins, which starts bin j. A
// cut at or below the previous one (or the minimum) is dropped, so ties
// make fewer bins. A stepped feature's cuts sit half a step below a
// quantization level. A constant feature gets cuts just below and just
// above its value, so that a live value on either side shows.
func equalFrequencyEdges(sorted []float64, bins int, step float64) []float64 {
	lo := sorted[0]
	below := func(v float64) float64 {
		if step > 0 {
			return (math.Round(v/step) - 0.5) * step
		}
		return v
	}
	var edges []float64
	for j := 1; j < bins; j++ {
		e := below(sorted[j*len(sorted)/bins])
		if e <= lo || (len(edges) > 0 && e <= edges[len(edges)-1]) || !finite(e) {
			continue
		}
		edges = append(edges, e)
	}
	if len(edges) == 0 {
		if step > 0 {
			return []float64{below(lo), below(lo) + step}
		}
		return []float64{math.Nextafter(lo, math.Inf(-1)), math.Nextafter(lo, math.Inf(1))}
	}
	return edges
}

// NoClass is the class argument for a sample without a top-1 class (the
// model has no classifier output, or this inference failed).
const NoClass = -1
