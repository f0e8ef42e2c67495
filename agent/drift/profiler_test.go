package drift

import (
	"math"
	"reflect"
	"testing"
)

func TestProfilerEdges(t *testing.T) {
	seq := func(lo, n int) []float64 {
		var v []float64
		for i := range n {
			v = append(v, float64(lo+i))
		}
		return v
	}
	zeros := make([]float64, 60)
	tests := []struct {
		name       string
		values     []float64
		bins       int
		step       float64
		wantEdges  []float64
		wantCounts []uint64
	}{
		// Cuts at sorted[25], sorted[50], sorted[75] of 1..100.
		{"quartiles of 1..100", seq(1, 100), 4, 0, []float64{26, 51, 76}, []uint64{25, 25, 25, 25}},
		// Cut at sorted[3] = 1, moved half a step down to 0.75.
		{"stepped", []float64{0, 0.5, 1, 1, 1.5, 2}, 2, 0.5, []float64{0.75}, []uint64{2, 4}},
		// 60 zeros then 1..40: cuts at sorted[25] = sorted[50] = 0 (the
		// minimum, dropped) and sorted[75] = 16.
		{"ties", append(zeros, seq(1, 40)...), 4, 0, []float64{16}, []uint64{75, 25}},
		{"constant", []float64{3, 3, 3}, 4, 0,
			[]float64{math.Nextafter(3, 0), math.Nextafter(3, 4)}, []uint64{0, 3, 0}},
		{"constant stepped", []float64{1, 1}, 4, 0.5, []float64{0.75, 1.25}, []uint64{0, 2, 0}},
	}
	for _, tt := range tests {
		pr, err := NewProfiler([]FeatureSpec{{Name: "x", Step: tt.step}}, nil, &ProfilerOptions{Bins: tt.bins})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range tt.values {
			if err := pr.Add([]float64{v}, NoClass); err != nil {
				t.Fatal(err)
			}
		}
		p, err := pr.Profile()
		if err != nil {
			t.Fatalf("Profile(%s): %v", tt.name, err)
		}
		f := p.Features[0]
		if !reflect.DeepEqual(f.Edges, tt.wantEdges) || !reflect.DeepEqual(f.Counts, tt.wantCounts) {
			t.Errorf("Profile(%s) edges %v counts %v; want %v %v", tt.name, f.Edges, f.Counts, tt.wantEdges, tt.wantCounts)
		}
	}
}

func TestProfilerStats(t *testing.T) {
	pr, err := NewProfiler([]FeatureSpec{{Name: "x"}}, []string{"a", "b", "c"}, &ProfilerOptions{Bins: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		if err := pr.Add([]float64{float64(i)}, i%2); err != nil {
			t.Fatal(err)
		}
	}
	if err := pr.Add([]float64{math.NaN()}, NoClass); err != nil {
		t.Fatal(err)
	}
	p, err := pr.Profile()
	if err != nil {
		t.Fatal(err)
	}
	// 1..100: mean 50.5, sample std √(Σ(i−50.5)²/99) = 29.0114920;
	// type-7 quantiles at h = p·99: 1.99, 5.95, 25.75, 50.5, 75.25, 95.05, 99.01.
	s := p.Features[0].Stats
	if s.Count != 100 || s.Min != 1 || s.Max != 100 || !near(s.Mean, 50.5, 1e-12) || !near(s.Std, 29.0114920, 1e-6) {
		t.Errorf("stats = %+v; want count 100, min 1, max 100, mean 50.5, std 29.0114920", s)
	}
	wantQ := []float64{1.99, 5.95, 25.75, 50.5, 75.25, 95.05, 99.01}
	for i, q := range s.Quantiles {
		if !near(q.V, wantQ[i], 1e-9) {
			t.Errorf("quantile p=%g = %g; want %g", q.P, q.V, wantQ[i])
		}
	}
	if got, want := p.Classes.Counts, []uint64{50, 50, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("classes = %v; want %v", got, want)
	}
	if got, want := p.Classes.Labels, []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("labels = %v; want %v", got, want)
	}
}

func TestProfilerReservoir(t *testing.T) {
	pr, err := NewProfiler([]FeatureSpec{{Name: "x"}}, nil, &ProfilerOptions{Bins: 4, Reservoir: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10000 {
		if err := pr.Add([]float64{float64(i)}, NoClass); err != nil {
			t.Fatal(err)
		}
	}
	p, err := pr.Profile()
	if err != nil {
		t.Fatal(err)
	}
	f := p.Features[0]
	if got := sum(f.Counts); got != 100 {
		t.Errorf("binned %d values; want the reservoir's 100", got)
	}
	// Moments are exact whatever the reservoir: mean of 0..9999 = 4999.5.
	if f.Stats.Count != 10000 || f.Stats.Mean != 4999.5 || f.Stats.Min != 0 || f.Stats.Max != 9999 {
		t.Errorf("stats = %+v; want count 10000, mean 4999.5, min 0, max 9999", f.Stats)
	}
	// A uniform sample of 100 puts the median near 5000 (sd ≈ 290).
	if m := f.Stats.Quantiles[3].V; m < 4000 || m > 6000 {
		t.Errorf("median from the reservoir = %g; want near 5000", m)
	}
}

func TestNewProfilerErrors(t *testing.T) {
	tests := []struct {
		name     string
		features []FeatureSpec
		labels   []string
		opts     *ProfilerOptions
	}{
		{"nothing", nil, nil, nil},
		{"one bin", []FeatureSpec{{Name: "x"}}, nil, &ProfilerOptions{Bins: 1}},
		{"reservoir below bins", []FeatureSpec{{Name: "x"}}, nil, &ProfilerOptions{Bins: 10, Reservoir: 5}},
		{"duplicate", []FeatureSpec{{Name: "x"}, {Name: "x"}}, nil, nil},
		{"one class", nil, []string{"a"}, nil},
		{"negative step", []FeatureSpec{{Name: "x", Step: -1}}, nil, nil},
	}
	for _, tt := range tests {
		if _, err := NewProfiler(tt.features, tt.labels, tt.opts); err == nil {
			t.Errorf("NewProfiler(%s) = nil error; want one", tt.name)
		}
	}
	pr, _ := NewProfiler([]FeatureSpec{{Name: "x"}}, []string{"a", "b"}, nil)
	if err := pr.Add([]float64{1, 2}, 0); err == nil {
		t.Errorf("Add(2 features to 1) = nil error")
	}
	if err := pr.Add([]float64{1}, 2); err == nil {
		t.Errorf("Add(class 2 of 2) = nil error")
	}
	if _, err := pr.Profile(); err == nil {
		t.Errorf("Profile() with no values = nil error")
	}
}
