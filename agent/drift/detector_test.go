package drift

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestLadder(t *testing.T) {
	type step struct{ level, calm State }
	ok, warnCalm, warn, drift := step{OK, OK}, step{OK, Warn}, step{Warn, Warn}, step{Drift, Drift}
	tests := []struct {
		name  string
		start State
		steps []step
		want  []State
	}{
		{"stays ok", OK, []step{ok, ok, ok}, []State{OK, OK, OK}},
		{"up at once", OK, []step{ok, warn}, []State{OK, Warn}},
		{"ok straight to drift", OK, []step{drift}, []State{Drift}},
		{"held inside the hysteresis band", Warn, []step{warnCalm, warnCalm, warnCalm, warnCalm}, []State{Warn, Warn, Warn, Warn}},
		{"down after 3 calm windows", Warn, []step{ok, ok, ok}, []State{Warn, Warn, OK}},
		{"calm run broken by the band", Warn, []step{ok, ok, warnCalm, ok, ok, ok}, []State{Warn, Warn, Warn, Warn, Warn, OK}},
		{"flapping across warn", OK, []step{warn, warnCalm, warn, warnCalm, warn}, []State{Warn, Warn, Warn, Warn, Warn}},
		{"drift down to the highest calm level", Drift, []step{warn, ok, ok, ok, ok, ok}, []State{Drift, Drift, Warn, Warn, Warn, OK}},
		{"rise during recovery", Warn, []step{ok, ok, drift, ok}, []State{Warn, Warn, Drift, Drift}},
	}
	for _, tt := range tests {
		l := ladder{state: tt.start, recover: 3}
		for i, s := range tt.steps {
			if got := l.next(s.level, s.calm); got != tt.want[i] {
				t.Errorf("ladder(%s) window %d (level %s, calm %s) = %s; want %s", tt.name, i, s.level, s.calm, got, tt.want[i])
			}
		}
	}
}

// psiOnly is a 1-feature profile with a large reference split 50/50 at 0,
// and thresholds that leave KS out, so windows are judged by PSI alone.
func psiOnly(t *testing.T, n int) *Detector {
	t.Helper()
	p := &Profile{V: Version, Features: []Feature{{Name: "x", Edges: []float64{0}, Counts: []uint64{500000, 500000},
		Stats: Stats{Count: 1000000, Min: -1, Max: 1}}}}
	cfg := &Config{MaxSamples: n, Thresholds: Thresholds{KSP: Level{Warn: 1e-300, Drift: 1e-300}}}
	d, err := NewDetector("m", p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// feed adds a window of 100 samples, a fraction f of them below 0.
func feed(t *testing.T, d *Detector, now time.Time, f float64) Result {
	t.Helper()
	var res Result
	for i := range 100 {
		v := 0.5
		if float64(i) < f*100 {
			v = -0.5
		}
		r, err := d.Add(now, []float64{v}, NoClass)
		if err != nil {
			t.Fatal(err)
		}
		if r.Report != nil {
			res = r
		}
	}
	return res
}

func TestDetectorHysteresis(t *testing.T) {
	// PSI of a 2-bin window with share f against 50/50 is
	// (f − 0.5)·ln(f/(1 − f)): f = 0.66 → 0.106127 (≥ warn 0.1),
	// f = 0.65 → 0.092856 (below warn, above 0.1·(1 − 0.2) = 0.08),
	// f = 0.63 → 0.069188 (below 0.08).
	tests := []struct {
		name        string
		shares      []float64
		wantStates  []State
		wantChanges int
	}{
		{"flapping around warn costs one change", []float64{0.66, 0.65, 0.66, 0.65, 0.66, 0.65},
			[]State{Warn, Warn, Warn, Warn, Warn, Warn}, 1},
		{"recovers after 3 windows below the band", []float64{0.66, 0.63, 0.63, 0.63},
			[]State{Warn, Warn, Warn, OK}, 2},
		{"band interrupts recovery", []float64{0.66, 0.63, 0.63, 0.65, 0.63, 0.63, 0.63},
			[]State{Warn, Warn, Warn, Warn, Warn, Warn, OK}, 2},
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		d := psiOnly(t, 100)
		changes := 0
		for i, f := range tt.shares {
			r := feed(t, d, t0.Add(time.Duration(i)*time.Minute), f)
			if r.Report == nil {
				t.Fatalf("%s: window %d made no report", tt.name, i)
			}
			if r.Report.State != tt.wantStates[i] {
				t.Errorf("%s: window %d (PSI %.4f) state %s; want %s", tt.name, i, r.Report.PSI, r.Report.State, tt.wantStates[i])
			}
			if r.Change != nil {
				changes++
			}
		}
		if changes != tt.wantChanges {
			t.Errorf("%s: %d state changes; want %d", tt.name, changes, tt.wantChanges)
		}
	}
}

func TestDetectorWindowing(t *testing.T) {
	p := twoFeatures()
	d, err := NewDetector("m", p, &Config{MaxSamples: 10, MinSamples: 5, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(now time.Time, n int) *Report {
		t.Helper()
		var rep *Report
		for range n {
			r, err := d.Add(now, []float64{0.5, 0.5}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if r.Report != nil {
				if rep != nil {
					t.Fatalf("two reports in one call of add")
				}
				rep = r.Report
			}
		}
		return rep
	}
	// By count: the 10th sample closes the window.
	if r := add(t0, 9); r != nil {
		t.Errorf("report after 9 of 10 samples")
	}
	if r := add(t0.Add(time.Second), 1); r == nil || r.N != 10 || !r.Start.Equal(t0) || !r.End.Equal(t0.Add(time.Second)) {
		t.Errorf("count window report = %+v; want n 10 from t0 to t0+1s", r)
	}
	// By time, but not below MinSamples: 4 samples wait past a minute.
	t1 := t0.Add(time.Hour)
	add(t1, 4)
	if r := d.Tick(t1.Add(2 * time.Minute)); r.Report != nil {
		t.Errorf("Tick closed a window of 4 < min 5 samples")
	}
	if r := add(t1.Add(2*time.Minute), 1); r == nil || r.N != 5 {
		t.Errorf("5th sample after the duration: report %+v; want n 5", r)
	}
	// Tick closes a window that is old enough and holds MinSamples.
	t2 := t0.Add(2 * time.Hour)
	add(t2, 6)
	if r := d.Tick(t2.Add(59 * time.Second)); r.Report != nil {
		t.Errorf("Tick closed a window at 59s of 1m")
	}
	if r := d.Tick(t2.Add(-time.Hour)); r.Report != nil {
		t.Errorf("Tick closed a window with the clock gone backwards")
	}
	if r := d.Tick(t2.Add(time.Minute)); r.Report == nil || r.Report.N != 6 || r.Report.Features != nil {
		t.Errorf("Tick at 1m: report %+v; want n 6 and no per-feature detail", r.Report)
	}
}

func TestReportJSON(t *testing.T) {
	p := twoFeatures()
	d, err := NewDetector("person_detect", p, &Config{MaxSamples: 4, Detail: true})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var res Result
	for range 4 {
		res, err = d.Add(t0, []float64{5, 5}, 1) // far above the reference
		if err != nil {
			t.Fatal(err)
		}
	}
	if res.Change == nil || res.Change.From != OK || res.Change.To != Drift {
		t.Fatalf("change = %+v; want ok → drift", res.Change)
	}
	b, err := json.Marshal(res.Report)
	if err != nil {
		t.Fatalf("json.Marshal(report): %v", err)
	}
	for _, want := range []string{`"v":1`, `"model":"person_detect"`, `"state":"drift"`, `"worst":{"stat":"psi","feature":"a"`, `"features":[{"name":"a"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report JSON %s lacks %s", b, want)
		}
	}
	b, err = json.Marshal(res.Change)
	if err != nil || !strings.Contains(string(b), `"from":"ok","to":"drift"`) {
		t.Errorf("change JSON %s (%v); want from ok to drift", b, err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"min above max", Config{MaxSamples: 10, MinSamples: 20}, "min_samples: 20"},
		{"psi order", Config{Thresholds: Thresholds{PSI: Level{Warn: 0.3, Drift: 0.2}}}, "thresholds.psi"},
		{"p-value order", Config{Thresholds: Thresholds{KSP: Level{Warn: 1e-5, Drift: 1e-3}}}, "thresholds.ks_p"},
		{"p-value of 1", Config{Thresholds: Thresholds{ChiSquareP: Level{Warn: 1, Drift: 0.5}}}, "thresholds.chi2_p"},
		{"hysteresis", Config{Thresholds: Thresholds{Hysteresis: 1}}, "thresholds.hysteresis"},
		{"negative duration", Config{MaxDuration: -time.Second}, "max_duration"},
	}
	for _, tt := range tests {
		_, err := NewDetector("m", twoFeatures(), &tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("NewDetector(%s) error = %v; want %q", tt.name, err, tt.wantErr)
		}
	}
	d, err := NewDetector("m", twoFeatures(), &Config{MaxSamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	if c := d.Config(); c.MinSamples != 100 || c.Thresholds.Recover != 3 || c.Thresholds.PSI.Warn != 0.1 {
		t.Errorf("defaults with max 100: %+v; want min 100, recover 3, psi warn 0.1", c)
	}
}
