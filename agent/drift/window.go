package drift

import (
	"fmt"
	"math"
	"time"
)

// Window accumulates live samples in the reference profile's bins. Its
// memory is O(features × bins + classes), whatever the number of samples.
// A Window is not safe for concurrent use.
type Window struct {
	p       *Profile
	start   time.Time
	n       int
	feats   []windowFeature
	classes []uint64
	// Invalid counts NaN or infinite feature values, which are skipped.
	invalid int
}

type windowFeature struct {
	counts     []uint64
	n          int
	sum, sumSq float64
	lo, hi     float64
}

// NewWindow returns an empty window over p's bins; p must be valid and is
// not copied, so it must not change while the window uses it.
func NewWindow(p *Profile) (*Window, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("drift window: %w", err)
	}
	w := &Window{p: p, feats: make([]windowFeature, len(p.Features))}
	for i := range w.feats {
		w.feats[i].counts = make([]uint64, p.Features[i].Bins())
	}
	if p.Classes != nil {
		w.classes = make([]uint64, len(p.Classes.Counts))
	}
	w.Reset(time.Time{})
	return w, nil
}

// Reset empties the window; start is when its first sample arrived (the
// zero time until then).
func (w *Window) Reset(start time.Time) {
	w.start, w.n, w.invalid = start, 0, 0
	for i := range w.feats {
		f := &w.feats[i]
		clear(f.counts)
		f.n, f.sum, f.sumSq = 0, 0, 0
		f.lo, f.hi = math.Inf(1), math.Inf(-1)
	}
	clear(w.classes)
}

// Add adds one sample: a value per profile feature and the top-1 class
// (NoClass for none; ignored when the profile has no classes). It does not
// allocate.
func (w *Window) Add(features []float64, class int) error {
	if len(features) != len(w.feats) {
		return fmt.Errorf("adding to the drift window: %d features; want %d", len(features), len(w.feats))
	}
	if w.classes != nil && class != NoClass && (class < 0 || class >= len(w.classes)) {
		return fmt.Errorf("adding to the drift window: class %d; want 0 to %d", class, len(w.classes)-1)
	}
	w.n++
	for i, v := range features {
		if !finite(v) {
			w.invalid++
			continue
		}
		f := &w.feats[i]
		f.counts[bin(w.p.Features[i].Edges, v)]++
		f.n++
		f.sum += v
		f.sumSq += v * v
		f.lo, f.hi = min(f.lo, v), max(f.hi, v)
	}
	if w.classes != nil && class != NoClass {
		w.classes[class]++
	}
	return nil
}

// N is the number of samples added since the last Reset.
func (w *Window) N() int { return w.n }

// Start is the time passed to the last Reset.
func (w *Window) Start() time.Time { return w.start }

// Invalid is the number of NaN or infinite feature values skipped.
func (w *Window) Invalid() int { return w.invalid }

// Counts returns feature i's live bin counts; the slice is the window's
// own and changes with it.
func (w *Window) Counts(i int) []uint64 { return w.feats[i].counts }

// ClassCounts returns the live top-1 class counts, or nil; the slice is
// the window's own.
func (w *Window) ClassCounts() []uint64 { return w.classes }

// Summary returns feature i's live count, mean, standard deviation, min
// and max (zeros when it has no values).
func (w *Window) Summary(i int) Stats {
	f := &w.feats[i]
	if f.n == 0 {
		return Stats{}
	}
	n := float64(f.n)
	m := f.sum / n
	return Stats{
		Count: uint64(f.n),
		Mean:  m,
		Std:   math.Sqrt(max(0, f.sumSq/n-m*m)),
		Min:   f.lo,
		Max:   f.hi,
	}
}
