package drift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Version is the profile format version this package reads and writes.
const Version = 1

// Limits a profile must stay within, so that a hostile or corrupt file
// cannot make a device allocate without bound.
const (
	MaxFeatures  = 4096
	MaxBins      = 1024
	MaxClasses   = 65536
	MaxQuantiles = 64
)

// ErrInvalidProfile is wrapped by every error Unmarshal and Validate return
// for a profile that is malformed or inconsistent.
var ErrInvalidProfile = errors.New("invalid drift profile")

// Profile is a model's reference: what its inputs (and outputs) looked like
// on the data it was validated on.
type Profile struct {
	V int `json:"v"`
	// Model names the model the profile was made with (informational).
	Model string `json:"model,omitempty"`
	// ModelSHA256 is the hex sha256 of that model file (informational).
	ModelSHA256 string `json:"model_sha256,omitempty"`
	// Features are the numeric features, in the order a sample's feature
	// vector holds them.
	Features []Feature `json:"features"`
	// Classes is the top-1 class distribution of a classifier's output,
	// or nil.
	Classes *Classes `json:"classes,omitempty"`
}

// Feature is one numeric feature's reference histogram and summary.
type Feature struct {
	Name string `json:"name"`
	// Edges are the k−1 strictly increasing cut points between k bins.
	// Bin 0 holds values below Edges[0], bin i values in
	// [Edges[i−1], Edges[i]), and bin k−1 values at or above Edges[k−2]:
	// the outer bins are open, so every finite value has a bin.
	Edges []float64 `json:"edges"`
	// Counts are the reference counts per bin (len(Edges)+1 of them). They
	// may come from a uniform sample of the reference data (see
	// Profiler); their sum is the sample size KS uses.
	Counts []uint64 `json:"counts"`
	// Step is the quantization step of the feature's values (the
	// tensor's scale) when they take only multiples of it, or 0.
	Step  float64 `json:"step,omitempty"`
	Stats Stats   `json:"stats"`
}

// Bins is the number of bins.
func (f *Feature) Bins() int { return len(f.Edges) + 1 }

// Bin returns the bin of v (which must not be NaN).
func (f *Feature) Bin(v float64) int { return bin(f.Edges, v) }

// bin is a binary search for the first edge above v; a hand-written loop
// because it runs per feature per sample.
func bin(edges []float64, v float64) int {
	lo, hi := 0, len(edges)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if edges[mid] <= v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// Stats summarizes every reference value of a feature.
type Stats struct {
	Count     uint64     `json:"count"`
	Mean      float64    `json:"mean"`
	Std       float64    `json:"std"`
	Min       float64    `json:"min"`
	Max       float64    `json:"max"`
	Quantiles []Quantile `json:"quantiles,omitempty"`
}

// Quantile is the value at cumulative probability P.
type Quantile struct {
	P float64 `json:"p"`
	V float64 `json:"v"`
}

// Classes is a classifier's reference distribution of top-1 classes.
type Classes struct {
	// Labels name the classes; empty, or one per count.
	Labels []string `json:"labels,omitempty"`
	Counts []uint64 `json:"counts"`
}

// Marshal encodes the profile as indented JSON after validating it.
func (p *Profile) Marshal() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("encoding the drift profile: %w", err)
	}
	b, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encoding the drift profile: %w", err)
	}
	return append(b, '\n'), nil
}

// Unmarshal decodes and validates a profile. Unknown fields, trailing data
// and any inconsistency are errors wrapping ErrInvalidProfile.
func Unmarshal(data []byte) (*Profile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("reading the drift profile: %w: %w", ErrInvalidProfile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("reading the drift profile: %w: trailing data after the profile", ErrInvalidProfile)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("reading the drift profile: %w", err)
	}
	return &p, nil
}

// Validate checks the profile's consistency; errors name the field path
// and wrap ErrInvalidProfile.
func (p *Profile) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidProfile}, args...)...)
	}
	if p.V != Version {
		return bad("v: got %d; want %d", p.V, Version)
	}
	if len(p.Features) == 0 && p.Classes == nil {
		return bad("features: empty and no classes; a profile needs at least one")
	}
	if len(p.Features) > MaxFeatures {
		return bad("features: %d; at most %d", len(p.Features), MaxFeatures)
	}
	names := make(map[string]int, len(p.Features))
	for i := range p.Features {
		f := &p.Features[i]
		if f.Name == "" {
			return bad("features[%d].name: empty", i)
		}
		if j, dup := names[f.Name]; dup {
			return bad("features[%d].name: %q already used by features[%d]", i, f.Name, j)
		}
		names[f.Name] = i
		if err := f.validate(); err != nil {
			return bad("features[%d] (%s).%w", i, f.Name, err)
		}
	}
	if c := p.Classes; c != nil {
		if len(c.Counts) < 2 || len(c.Counts) > MaxClasses {
			return bad("classes.counts: %d classes; want 2 to %d", len(c.Counts), MaxClasses)
		}
		if len(c.Labels) != 0 && len(c.Labels) != len(c.Counts) {
			return bad("classes.labels: %d labels for %d classes", len(c.Labels), len(c.Counts))
		}
		if err := checkTotal(c.Counts); err != nil {
			return bad("classes.counts: %w", err)
		}
	}
	return nil
}

func (f *Feature) validate() error {
	if len(f.Edges) == 0 || len(f.Edges) >= MaxBins {
		return fmt.Errorf("edges: %d edges; want 1 to %d", len(f.Edges), MaxBins-1)
	}
	for i, e := range f.Edges {
		if !finite(e) {
			return fmt.Errorf("edges[%d]: %g is not finite", i, e)
		}
		if i > 0 && e <= f.Edges[i-1] {
			return fmt.Errorf("edges[%d]: %g not above edges[%d] = %g", i, e, i-1, f.Edges[i-1])
		}
	}
	if len(f.Counts) != len(f.Edges)+1 {
		return fmt.Errorf("counts: %d counts for %d edges; want %d", len(f.Counts), len(f.Edges), len(f.Edges)+1)
	}
	if err := checkTotal(f.Counts); err != nil {
		return fmt.Errorf("counts: %w", err)
	}
	if !finite(f.Step) || f.Step < 0 {
		return fmt.Errorf("step: %g; want a finite value ≥ 0", f.Step)
	}
	s := &f.Stats
	if s.Count < sum(f.Counts) {
		return fmt.Errorf("stats.count: %d, fewer than the %d values binned", s.Count, sum(f.Counts))
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"mean", s.Mean}, {"std", s.Std}, {"min", s.Min}, {"max", s.Max}} {
		if !finite(v.v) {
			return fmt.Errorf("stats.%s: %g is not finite", v.name, v.v)
		}
	}
	if s.Std < 0 {
		return fmt.Errorf("stats.std: %g is negative", s.Std)
	}
	// The mean is computed in floating point, so allow it a rounding's
	// width outside [min, max].
	slack := 1e-9 * max(math.Abs(s.Min), math.Abs(s.Max), 1)
	if s.Min > s.Max || s.Mean < s.Min-slack || s.Mean > s.Max+slack {
		return fmt.Errorf("stats: min %g, mean %g, max %g are not in order", s.Min, s.Mean, s.Max)
	}
	if len(s.Quantiles) > MaxQuantiles {
		return fmt.Errorf("stats.quantiles: %d; at most %d", len(s.Quantiles), MaxQuantiles)
	}
	for i, q := range s.Quantiles {
		if !(q.P >= 0 && q.P <= 1) {
			return fmt.Errorf("stats.quantiles[%d].p: %g not in [0, 1]", i, q.P)
		}
		if !finite(q.V) || q.V < s.Min || q.V > s.Max {
			return fmt.Errorf("stats.quantiles[%d].v: %g not in [min %g, max %g]", i, q.V, s.Min, s.Max)
		}
		if i > 0 && (q.P <= s.Quantiles[i-1].P || q.V < s.Quantiles[i-1].V) {
			return fmt.Errorf("stats.quantiles[%d]: (p %g, v %g) does not follow (p %g, v %g)",
				i, q.P, q.V, s.Quantiles[i-1].P, s.Quantiles[i-1].V)
		}
	}
	return nil
}

// checkTotal rejects all-zero counts and totals that overflow uint64.
func checkTotal(c []uint64) error {
	var t uint64
	for _, v := range c {
		if t+v < t {
			return errors.New("total overflows")
		}
		t += v
	}
	if t == 0 {
		return errors.New("all zero")
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
