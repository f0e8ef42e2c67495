package drift

import (
	"fmt"
	"math"
	"time"
)

// Level is a pair of thresholds: crossing Warn makes a window warn,
// crossing Drift makes it drift.
type Level struct {
	Warn  float64 `json:"warn"`
	Drift float64 `json:"drift"`
}

// Thresholds decide a window's level. A zero Level takes its default.
type Thresholds struct {
	// PSI of any feature at or above the level (higher is worse).
	PSI Level `json:"psi"`
	// KSP: the smallest Bonferroni-corrected KS p-value at or below
	// the level (lower is worse).
	KSP Level `json:"ks_p"`
	// ChiSquareP: the class chi-square p-value at or below the level.
	ChiSquareP Level `json:"chi2_p"`
	// JS: the class Jensen–Shannon distance at or above the level.
	JS Level `json:"js"`
	// Hysteresis is the fraction a score must fall back below the
	// threshold of the current state before that state may be left; for
	// p-values it applies to −log10 p. 0 means the default, 0.2; use a
	// tiny value such as 1e-9 for (almost) none.
	Hysteresis float64 `json:"hysteresis"`
	// Recover is how many consecutive windows must be back below the
	// current state's thresholds (less hysteresis) before the state
	// drops; 0 means the default, 3.
	Recover int `json:"recover"`
}

// Config sets up a Detector; nil means DefaultConfig. Zero fields take
// their defaults.
type Config struct {
	// A window closes at MaxSamples samples, or once MaxDuration has
	// passed since its first sample if it holds at least MinSamples; a
	// quiet device's window simply runs longer, because small windows
	// make PSI noisy (see the package doc).
	MaxSamples  int           `json:"max_samples"`
	MaxDuration time.Duration `json:"max_duration"`
	MinSamples  int           `json:"min_samples"`
	// Detail puts every feature's scores in each report.
	Detail     bool       `json:"detail"`
	Thresholds Thresholds `json:"thresholds"`
}

// DefaultConfig is the configuration a nil *Config means.
var DefaultConfig = Config{
	MaxSamples:  1000,
	MaxDuration: 10 * time.Minute,
	MinSamples:  500,
	Thresholds: Thresholds{
		PSI:        Level{Warn: 0.1, Drift: 0.25},
		KSP:        Level{Warn: 1e-4, Drift: 1e-6},
		ChiSquareP: Level{Warn: 1e-4, Drift: 1e-6},
		JS:         Level{Warn: 0.1, Drift: 0.2},
		Hysteresis: 0.2,
		Recover:    3,
	},
}

// withDefaults fills zero fields and checks the result; errors name the
// field.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig
	orDefault := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	orDefault(&c.MaxSamples, d.MaxSamples)
	orDefault(&c.MinSamples, min(d.MinSamples, c.MaxSamples))
	orDefault(&c.Thresholds.Recover, d.Thresholds.Recover)
	if c.MaxDuration == 0 {
		c.MaxDuration = d.MaxDuration
	}
	t := &c.Thresholds
	for _, l := range []struct{ v, def *Level }{
		{&t.PSI, &d.Thresholds.PSI}, {&t.KSP, &d.Thresholds.KSP},
		{&t.ChiSquareP, &d.Thresholds.ChiSquareP}, {&t.JS, &d.Thresholds.JS},
	} {
		if *l.v == (Level{}) {
			*l.v = *l.def
		}
	}
	if t.Hysteresis == 0 {
		t.Hysteresis = d.Thresholds.Hysteresis
	}
	switch {
	case c.MaxSamples < 1:
		return c, fmt.Errorf("max_samples: %d; want ≥ 1", c.MaxSamples)
	case c.MinSamples < 1 || c.MinSamples > c.MaxSamples:
		return c, fmt.Errorf("min_samples: %d; want 1 to max_samples (%d)", c.MinSamples, c.MaxSamples)
	case c.MaxDuration < 0:
		return c, fmt.Errorf("max_duration: %v; want > 0", c.MaxDuration)
	case !(t.Hysteresis > 0 && t.Hysteresis < 1):
		return c, fmt.Errorf("thresholds.hysteresis: %g; want in (0, 1)", t.Hysteresis)
	case t.Recover < 1:
		return c, fmt.Errorf("thresholds.recover: %d; want ≥ 1", t.Recover)
	}
	for _, l := range []struct {
		name   string
		v      Level
		pValue bool
	}{{"psi", t.PSI, false}, {"ks_p", t.KSP, true}, {"chi2_p", t.ChiSquareP, true}, {"js", t.JS, false}} {
		ok := l.v.Warn > 0 && l.v.Drift >= l.v.Warn && finite(l.v.Drift)
		want := "0 < warn ≤ drift"
		if l.pValue {
			ok = l.v.Drift > 0 && l.v.Warn >= l.v.Drift && l.v.Warn < 1
			want = "0 < drift ≤ warn < 1"
		}
		if !ok {
			return c, fmt.Errorf("thresholds.%s: warn %g, drift %g; want %s", l.name, l.v.Warn, l.v.Drift, want)
		}
	}
	return c, nil
}

// Score names one statistic of one window: the worst, or the one that
// caused a state change.
type Score struct {
	// Stat is "psi", "ks_p", "chi2_p" or "js".
	Stat string `json:"stat"`
	// Feature is the feature's name; empty for class statistics.
	Feature string  `json:"feature,omitempty"`
	Value   float64 `json:"value"`
	Level   State   `json:"level"`
}

// Report is the outcome of one window.
type Report struct {
	V     int       `json:"v"`
	Model string    `json:"model"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	N     int       `json:"n"`
	// Invalid counts NaN or infinite feature values left out.
	Invalid int `json:"invalid,omitempty"`
	// State is the model's state after this window; Level is the
	// window's own level before hysteresis.
	State State `json:"state"`
	Level State `json:"level"`
	// Worst is the statistic furthest past (or closest to) its warn
	// threshold, relative to that threshold.
	Worst Score `json:"worst"`
	// PSI is the largest PSI over the features, KSP the smallest
	// Bonferroni-corrected KS p-value.
	PSI     float64     `json:"psi_max"`
	KSP     float64     `json:"ks_p"`
	Classes *ClassScore `json:"classes,omitempty"`
	// Features is filled only with Config.Detail.
	Features []FeatureScore `json:"features,omitempty"`
}

// StateChange is emitted when a window moves the model's state.
type StateChange struct {
	V     int       `json:"v"`
	Model string    `json:"model"`
	At    time.Time `json:"at"`
	From  State     `json:"from"`
	To    State     `json:"to"`
	// Cause is the worst statistic of the window that made the change.
	Cause Score `json:"cause"`
}

// Result is what feeding a Detector returns: a report when a window
// closed, and a state change when that report moved the state.
type Result struct {
	Report *Report
	Change *StateChange
}

// Detector turns a model's stream of samples into window reports and
// state changes. It is pure: time comes in as an argument, nothing runs in
// the background, and it does no I/O. It is not safe for concurrent use.
type Detector struct {
	model  string
	p      *Profile
	cfg    Config
	w      *Window
	ladder ladder
}

// NewDetector returns a detector for model against profile p (which must
// not change afterwards) in state OK.
func NewDetector(model string, p *Profile, cfg *Config) (*Detector, error) {
	c := DefaultConfig
	if cfg != nil {
		c = *cfg
	}
	c, err := c.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("setting up drift detection for %s: %w", model, err)
	}
	w, err := NewWindow(p)
	if err != nil {
		return nil, fmt.Errorf("setting up drift detection for %s: %w", model, err)
	}
	return &Detector{model: model, p: p, cfg: c, w: w, ladder: ladder{recover: c.Thresholds.Recover}}, nil
}

// State is the current state.
func (d *Detector) State() State { return d.ladder.state }

// Config is the configuration in effect, defaults filled in.
func (d *Detector) Config() Config { return d.cfg }

// Window is the live window, for showing its histograms; it belongs to
// the detector.
func (d *Detector) Window() *Window { return d.w }

// Add feeds one sample observed at now (see Window.Add) and closes the
// window when it is full or old enough.
func (d *Detector) Add(now time.Time, features []float64, class int) (Result, error) {
	if d.w.N() == 0 {
		d.w.Reset(now)
	}
	if err := d.w.Add(features, class); err != nil {
		return Result{}, fmt.Errorf("drift detection for %s: %w", d.model, err)
	}
	return d.Tick(now), nil
}

// Tick closes the window if it is full, or if MaxDuration has passed
// since its first sample and it holds MinSamples. Call it periodically so
// that a window closes on time without a further sample. A clock that
// went backwards counts as no time passed.
func (d *Detector) Tick(now time.Time) Result {
	n := d.w.N()
	if n >= d.cfg.MaxSamples || (n >= d.cfg.MinSamples && now.Sub(d.w.Start()) >= d.cfg.MaxDuration) {
		return d.close(now)
	}
	return Result{}
}

func (d *Detector) close(now time.Time) Result {
	s := Compare(d.p, d.w)
	r := &Report{
		V: Version, Model: d.model, Start: d.w.Start(), End: now,
		N: d.w.N(), Invalid: d.w.Invalid(), KSP: s.KSP, Classes: s.Classes,
	}
	if d.cfg.Detail {
		r.Features = s.Features
	}
	level, calmLevel := OK, OK
	worstRatio := math.Inf(-1)
	t := &d.cfg.Thresholds
	consider := func(stat, feature string, value, bad float64, l Level, pValue bool) {
		warn, drift := l.Warn, l.Drift
		if pValue {
			warn, drift = badness(warn), badness(drift)
		}
		sc := Score{Stat: stat, Feature: feature, Value: value, Level: levelOf(bad, warn, drift)}
		level = max(level, sc.Level)
		calmLevel = max(calmLevel, levelOf(bad, warn*(1-t.Hysteresis), drift*(1-t.Hysteresis)))
		if ratio := bad / warn; ratio > worstRatio {
			worstRatio, r.Worst = ratio, sc
		}
	}
	for _, f := range s.Features {
		r.PSI = max(r.PSI, f.PSI)
		consider("psi", f.Name, f.PSI, f.PSI, t.PSI, false)
	}
	if s.KSFeature >= 0 {
		consider("ks_p", s.Features[s.KSFeature].Name, s.KSP, badness(s.KSP), t.KSP, true)
	}
	if c := s.Classes; c != nil {
		consider("chi2_p", "", c.P, badness(c.P), t.ChiSquareP, true)
		consider("js", "", c.JS, c.JS, t.JS, false)
	}
	r.Level = level

	from := d.ladder.state
	to := d.ladder.next(level, calmLevel)
	r.State = to
	res := Result{Report: r}
	if to != from {
		res.Change = &StateChange{V: Version, Model: d.model, At: now, From: from, To: to, Cause: r.Worst}
	}
	d.w.Reset(time.Time{})
	return res
}

// badness maps a p-value to −log10 p, so that higher is worse as for PSI
// and JS; p = 0 (underflow) counts as 1e-300.
func badness(p float64) float64 { return -math.Log10(max(p, 1e-300)) }

func levelOf(bad, warn, drift float64) State {
	switch {
	case bad >= drift:
		return Drift
	case bad >= warn:
		return Warn
	default:
		return OK
	}
}

// ladder moves a state up and down with hysteresis.
type ladder struct {
	state   State
	recover int
	calm    int   // consecutive windows below the current state's thresholds
	calmMax State // the highest lowered-threshold level over those windows
}

// next takes a window's level and its level under thresholds lowered by
// the hysteresis, and returns the new state: up at once when level is
// above the state; down, to the highest calm level seen, after recover
// consecutive windows whose calm level is below the state.
func (l *ladder) next(level, calmLevel State) State {
	switch {
	case level > l.state:
		l.state, l.calm, l.calmMax = level, 0, OK
	case calmLevel < l.state:
		l.calm++
		l.calmMax = max(l.calmMax, calmLevel)
		if l.calm >= l.recover {
			l.state, l.calm, l.calmMax = l.calmMax, 0, OK
		}
	default:
		l.calm, l.calmMax = 0, OK
	}
	return l.state
}
