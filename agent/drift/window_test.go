package drift

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// twoFeatures is a reference with two features over the same bins
// (below 0, [0, 1), 1 and above) and two classes.
func twoFeatures() *Profile {
	f := func(name string) Feature {
		return Feature{Name: name, Edges: []float64{0, 1}, Counts: []uint64{25, 50, 25},
			Stats: Stats{Count: 100, Mean: 0.5, Std: 0.5, Min: -1, Max: 2}}
	}
	return &Profile{V: Version, Features: []Feature{f("a"), f("b")}, Classes: &Classes{Counts: []uint64{50, 50}}}
}

func TestWindowAdd(t *testing.T) {
	w, err := NewWindow(twoFeatures())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	w.Reset(start)
	for _, v := range []float64{-1, 0, 0.5, 1, 2, math.NaN()} {
		if err := w.Add([]float64{v, 0}, 1); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := w.Counts(0), []uint64{1, 2, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("Counts(0) = %v; want %v (edges are lower-inclusive)", got, want)
	}
	if got, want := w.ClassCounts(), []uint64{0, 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("ClassCounts() = %v; want %v", got, want)
	}
	if w.N() != 6 || w.Invalid() != 1 || !w.Start().Equal(start) {
		t.Errorf("N %d, Invalid %d, Start %v; want 6, 1, %v", w.N(), w.Invalid(), w.Start(), start)
	}
	// Finite values −1, 0, 0.5, 1, 2: mean 0.5; squared deviations
	// 2.25 + 0.25 + 0 + 0.25 + 2.25 = 5, population std √(5/5) = 1.
	s := w.Summary(0)
	if s.Count != 5 || !near(s.Mean, 0.5, 1e-12) || !near(s.Std, 1, 1e-12) || s.Min != -1 || s.Max != 2 {
		t.Errorf("Summary(0) = %+v; want count 5, mean 0.5, std 1, min −1, max 2", s)
	}
	if err := w.Add([]float64{1}, 0); err == nil {
		t.Errorf("Add(1 feature of 2) = nil error")
	}
	if err := w.Add([]float64{1, 1}, 2); err == nil {
		t.Errorf("Add(class 2 of 2) = nil error")
	}
	w.Reset(time.Time{})
	if w.N() != 0 || sum(w.Counts(0)) != 0 || sum(w.ClassCounts()) != 0 {
		t.Errorf("Reset left N %d, counts %v, classes %v", w.N(), w.Counts(0), w.ClassCounts())
	}
	if n := testing.AllocsPerRun(100, func() { _ = w.Add([]float64{0.3, 0.7}, 0) }); n != 0 {
		// The slice literal may be stack-allocated; Add itself must not allocate.
		t.Errorf("Window.Add allocates %g times per call; want 0", n)
	}
}

func TestCompare(t *testing.T) {
	p := twoFeatures()
	w, _ := NewWindow(p)
	// Feature a: 25 below 0, 75 in [0, 1) — halves of the middle mass
	// moved. Feature b: like the reference. Classes: 30 and 70.
	for i := range 100 {
		a := 0.5
		if i < 25 {
			a = -0.5
		}
		b := []float64{-0.5, 0.5, 0.5, 1.5}[i%4]
		class := 0
		if i >= 30 {
			class = 1
		}
		if err := w.Add([]float64{a, b}, class); err != nil {
			t.Fatal(err)
		}
	}
	s := Compare(p, w)
	a, b := s.Features[0], s.Features[1]
	// a: ref .25 .5 .25 vs live .25 .75 0 (0 → ε = 1e-4):
	// PSI = 0.25·ln 1.5 + (1e-4 − 0.25)·ln(1e-4/0.25)
	//     = 0.101366 + 0.2499·7.824046 = 0.101366 + 1.955229.
	if !near(a.PSI, 2.056595, 1e-5) {
		t.Errorf("PSI(a) = %.7g; want 2.056595", a.PSI)
	}
	// CDFs .25 .75 1 vs .25 1 1: D = 0.25; n = m = 100 → p = 0.0030312.
	if !near(a.KSD, 0.25, 1e-12) || !near(a.KSP, 0.0030312, 1e-6) {
		t.Errorf("KS(a) = D %g, p %.7g; want 0.25, 0.0030312", a.KSD, a.KSP)
	}
	if b.PSI != 0 || b.KSD != 0 || b.KSP != 1 {
		t.Errorf("feature b scores %+v; want PSI 0, D 0, p 1", b)
	}
	// Bonferroni over 2 features.
	if !near(s.KSP, 2*0.0030312, 2e-6) || s.KSFeature != 0 {
		t.Errorf("KSP = %.7g (feature %d); want 0.0060625 (feature 0)", s.KSP, s.KSFeature)
	}
	// 2×2 table 50/50 vs 30/70: χ² = 8.333333, df 1.
	if c := s.Classes; c == nil || !near(c.ChiSquare, 8.333333, 1e-6) || c.DF != 1 || c.N != 100 {
		t.Errorf("Classes = %+v; want χ² 8.333333, df 1, n 100", c)
	}
}
