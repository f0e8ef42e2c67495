package drift

import (
	"flag"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// synth is a synthetic source: a normal feature whose mean can shift, a
// skewed (exponential) one, a quantized one (multiples of 0.5 in
// [−2, 2]) and a 3-class output with shares 0.6, 0.3, 0.1.
type synth struct {
	rng   *rand.Rand
	shift float64
	buf   []float64
}

func newSynth(seed uint64) *synth {
	return &synth{rng: rand.New(rand.NewPCG(seed, 1)), buf: make([]float64, 3)}
}

var synthFeatures = []FeatureSpec{{Name: "normal"}, {Name: "exp"}, {Name: "steps", Step: 0.5}}

func (s *synth) next() ([]float64, int) {
	s.buf[0] = s.rng.NormFloat64() + s.shift
	s.buf[1] = s.rng.ExpFloat64()
	s.buf[2] = 0.5 * float64(s.rng.IntN(9)-4)
	class := 0
	switch u := s.rng.Float64(); {
	case u >= 0.9:
		class = 2
	case u >= 0.6:
		class = 1
	}
	return s.buf, class
}

func synthProfile(t testing.TB, seed uint64, n int) *Profile {
	t.Helper()
	pr, err := NewProfiler(synthFeatures, []string{"a", "b", "c"}, &ProfilerOptions{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	s := newSynth(seed)
	for range n {
		if err := pr.Add(s.next()); err != nil {
			t.Fatal(err)
		}
	}
	p, err := pr.Profile()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A mean shift of half a standard deviation halfway through a stream is
// in drift by the end of the first full window after it.
func TestStreamMeanShift(t *testing.T) {
	p := synthProfile(t, 1, 20000)
	d, err := NewDetector("synthetic", p, nil)
	if err != nil {
		t.Fatal(err)
	}
	const total, shiftAt = 10000, 5500 // inside window 6 (5000–5999)
	window := DefaultConfig.MaxSamples
	s := newSynth(2)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var changes []*StateChange
	for i := range total {
		if i == shiftAt {
			s.shift = 0.5
		}
		x, c := s.next()
		r, err := d.Add(t0.Add(time.Duration(i)*100*time.Millisecond), x, c)
		if err != nil {
			t.Fatal(err)
		}
		if r.Change != nil {
			changes = append(changes, r.Change)
			t.Logf("sample %d: %s → %s by %s %s = %.3g", i+1, r.Change.From, r.Change.To, r.Change.Cause.Stat, r.Change.Cause.Feature, r.Change.Cause.Value)
			if i < shiftAt {
				t.Errorf("state change before the shift at sample %d", i+1)
			}
		}
		if r.Report != nil && i+1 >= (shiftAt/window+2)*window && r.Report.State != Drift {
			t.Errorf("window ending at sample %d (after the shift at %d): state %s; want drift", i+1, shiftAt, r.Report.State)
		}
	}
	if len(changes) == 0 || changes[len(changes)-1].To != Drift || changes[len(changes)-1].Cause.Feature != "normal" {
		t.Errorf("changes %v; want the last to drift, caused by feature normal", changes)
	}
}

// A person_detect-like camera (int8 frames) whose brightness rises by 8
// quantized levels reaches drift through the Extractor too.
func TestStreamImageBrightness(t *testing.T) {
	spec := infer.TensorSpec{DType: tensor.Int8, Shape: []int{1, 16, 16, 1}, Quantized: true, Scale: 1.0 / 255, ZeroPoint: -128}
	e, err := NewExtractor("input", spec)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	frame := make([]byte, 16*16)
	fill := func(offset float64) {
		// Scene brightness varies frame to frame (sd 16), pixels around it
		// (sd 24).
		base := rng.NormFloat64()*16 + offset
		for i := range frame {
			q := math.Round(base + rng.NormFloat64()*24)
			frame[i] = byte(int8(max(-128, min(127, q))))
		}
	}
	pr, err := NewProfiler(e.Features(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var x []float64
	for range 8192 {
		fill(0)
		x, _ = e.Extract(x[:0], frame)
		if err := pr.Add(x, NoClass); err != nil {
			t.Fatal(err)
		}
	}
	p, err := pr.Profile()
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDetector("person_detect", p, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var states []State
	for i := range 4000 {
		offset := 0.0
		if i >= 2000 {
			offset = 8 // half the frame-to-frame sd
		}
		fill(offset)
		x, _ = e.Extract(x[:0], frame)
		r, err := d.Add(t0.Add(time.Duration(i)*100*time.Millisecond), x, NoClass)
		if err != nil {
			t.Fatal(err)
		}
		if r.Report != nil {
			states = append(states, r.Report.State)
		}
	}
	want := []State{OK, OK, Drift, Drift}
	for i := range want {
		if i >= len(states) || states[i] != want[i] {
			t.Fatalf("window states %v; want %v", states, want)
		}
	}
}

var falseAlarmWindows = flag.Int("drift.windows", 500, "windows of TestStreamFalseAlarms")
var falseAlarmSeed = flag.Uint64("drift.seed", 4, "seed of TestStreamFalseAlarms's live stream")

// With no drift at all, count how often the default thresholds raise a
// state over 500 windows of 1000 samples (-drift.windows for more).
func TestStreamFalseAlarms(t *testing.T) {
	windows := *falseAlarmWindows
	if testing.Short() {
		windows = 100
	}
	p := synthProfile(t, 1, 20000)
	d, err := NewDetector("synthetic", p, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newSynth(*falseAlarmSeed)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var reports, raised, changes int
	byStat := map[string]int{}
	var maxPSI, minKSP, minChiP float64 = 0, 1, 1
	for i := 0; reports < windows; i++ {
		x, c := s.next()
		r, err := d.Add(t0.Add(time.Duration(i)*100*time.Millisecond), x, c)
		if err != nil {
			t.Fatal(err)
		}
		if r.Report == nil {
			continue
		}
		reports++
		rep := r.Report
		maxPSI, minKSP = max(maxPSI, rep.PSI), min(minKSP, rep.KSP)
		if rep.Classes != nil {
			minChiP = min(minChiP, rep.Classes.P)
		}
		if rep.Level > OK {
			raised++
			byStat[rep.Worst.Stat]++
		}
		if r.Change != nil {
			changes++
		}
	}
	t.Logf("%d windows of %d samples without drift: %d windows above ok (%.2f%%) %v, %d state changes; max PSI %.4f, min corrected KS p %.3g, min chi-square p %.3g",
		reports, DefaultConfig.MaxSamples, raised, 100*float64(raised)/float64(reports), byStat, changes, maxPSI, minKSP, minChiP)
	// Each of KS and chi-square warns with probability ≤ 1e-4 per window
	// (less on binned data), PSI far less at n = 1000: 0.1 warns
	// expected in 500 windows, and each costs two changes.
	if windows == 500 && *falseAlarmSeed == 4 && changes > 2 {
		t.Errorf("%d state changes in %d stable windows; want at most 2", changes, reports)
	}
}
