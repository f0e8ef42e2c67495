// Package monitor watches a served model for drift: the pipeline's drift
// tap offers it every answered request, which waits in a bounded queue
// (dropped and counted when full, so inference never waits) for the
// monitor's goroutine to extract its features (drift.Schema) and feed the
// detector against the model's reference profile. Gauges are its
// Prometheus view.
package monitor

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/drift"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/status"
)

// Monitor watches one served model: the drift tap offers it every answered
// request, which waits in a bounded queue (dropped and counted when full,
// so inference never waits) for the monitor's goroutine to extract its
// features and feed the detector.
type Monitor struct {
	model, version string
	schema         *drift.Schema
	profile        *drift.Profile
	index          []int // schema feature i -> profile feature, or -1
	detail         bool
	emit           func(m *Monitor, res drift.Result)
	log            *slog.Logger

	every   uint64 // feed one request in every
	offered atomic.Uint64
	queue   chan sample
	stop    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
	drops   prometheus.Counter

	// bufs recycles the input copies, so that a request costs a copy
	// and no allocation.
	bufs sync.Pool

	// all and feats are the goroutine's scratch.
	all, feats []float64

	mu      sync.Mutex // guards what the goroutine and the readers share
	det     *drift.Detector
	shadow  *drift.Window // the window being filled, for plots
	lastWin *drift.Window // the last closed window
	last    *drift.Report // with every feature's scores
	windows uint64
	errors  uint64
}

type sample struct {
	at  time.Time
	in  []infer.Tensor
	out []infer.Tensor
}

// New loads the model's profile and starts the monitor.
func New(c *config.Config, mc config.Model, mi infer.ModelInfo, emit func(*Monitor, drift.Result), drops prometheus.Counter, log *slog.Logger) (*Monitor, error) {
	dc := c.DriftFor(mc)
	b, err := os.ReadFile(c.Path(dc.Profile))
	if err != nil {
		return nil, fmt.Errorf("model %q: drift profile: %w", mc.Name, err)
	}
	p, err := drift.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("model %q: drift profile %s: %w", mc.Name, dc.Profile, err)
	}
	schema, err := drift.NewSchema(mi)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	m := &Monitor{model: mi.Name, version: mi.Version, schema: schema, profile: p, emit: emit, log: log, drops: drops,
		detail: dc.Detail != nil && *dc.Detail}
	// The profile may hold a subset of the schema's features (say, the
	// inputs only); every one it holds must exist.
	pos := map[string]int{}
	for i, f := range p.Features {
		pos[f.Name] = i
	}
	m.index = make([]int, len(schema.Features()))
	found := 0
	for i, f := range schema.Features() {
		m.index[i] = -1
		if k, ok := pos[f.Name]; ok {
			m.index[i] = k
			found++
		}
	}
	if found != len(p.Features) {
		var missing []string
		for _, f := range p.Features {
			if !slices.ContainsFunc(schema.Features(), func(s drift.FeatureSpec) bool { return s.Name == f.Name }) {
				missing = append(missing, f.Name)
			}
		}
		return nil, fmt.Errorf("model %q: drift profile %s has features %q the model does not produce (it produces %d features named input<i>… and output<j>…; make the profile with edgectl profile)", mc.Name, dc.Profile, missing, len(schema.Features()))
	}
	if p.Classes != nil && len(p.Classes.Counts) != schema.Classes {
		return nil, fmt.Errorf("model %q: drift profile %s has %d classes; the model's output 0 has %d", mc.Name, dc.Profile, len(p.Classes.Counts), schema.Classes)
	}
	t := dc.Thresholds
	cfg := &drift.Config{
		MaxSamples: dc.Window.MaxSamples, MinSamples: dc.Window.MinSamples, MaxDuration: dc.Window.MaxDuration.D(),
		// Always detailed here: /v1/drift and the status page show every
		// feature; the published report drops them unless asked.
		Detail: true,
		Thresholds: drift.Thresholds{
			PSI: drift.Level(t.PSI), KSP: drift.Level(t.KSP), ChiSquareP: drift.Level(t.ChiSquareP), JS: drift.Level(t.JS),
			Hysteresis: t.Hysteresis, Recover: t.Recover,
		},
	}
	if m.det, err = drift.NewDetector(mi.Name, p, cfg); err != nil {
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	if m.shadow, err = drift.NewWindow(p); err != nil {
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	m.lastWin, _ = drift.NewWindow(p)
	queue := dc.Queue
	if queue == 0 {
		queue = config.DefaultDriftQueue
	}
	m.queue, m.stop, m.done = make(chan sample, queue), make(chan struct{}), make(chan struct{})
	m.all, m.feats = make([]float64, 0, len(m.index)), make([]float64, len(p.Features))
	m.every = uint64(max(1, dc.SampleEvery))
	return m, nil
}

// Start runs the monitor's goroutine until Close.
func (m *Monitor) Start() *Monitor {
	go m.run()
	return m
}

// Offer queues one answered request without waiting. The inputs are
// copied: the caller may reuse its buffers; the outputs are the caller's
// own fresh copies and are only read.
func (m *Monitor) Offer(in, out []infer.Tensor) {
	if m.every > 1 && m.offered.Add(1)%m.every != 0 {
		return
	}
	if len(m.queue) == cap(m.queue) {
		m.drop() // full: do not copy what would be dropped
		return
	}
	s := m.copyIn(in, out)
	select {
	case m.queue <- s:
	default:
		m.release(s)
		m.drop()
	}
}

// copyIn copies the inputs into recycled buffers.
func (m *Monitor) copyIn(in, out []infer.Tensor) sample {
	s := sample{at: time.Now(), in: make([]infer.Tensor, len(in)), out: out}
	for i, t := range in {
		var buf []byte
		if p, ok := m.bufs.Get().(*[]byte); ok && cap(*p) >= len(t.Data) {
			buf = (*p)[:len(t.Data)]
		} else {
			buf = make([]byte, len(t.Data))
		}
		copy(buf, t.Data)
		s.in[i] = infer.Tensor{Data: buf}
	}
	return s
}

func (m *Monitor) release(s sample) {
	for _, t := range s.in {
		b := t.Data
		m.bufs.Put(&b)
	}
}

func (m *Monitor) drop() {
	m.dropped.Add(1)
	if m.drops != nil {
		m.drops.Inc()
	}
}

// Close stops the goroutine.
func (m *Monitor) Close() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

func (m *Monitor) run() {
	defer close(m.done)
	// Ticks close a window on time when requests stop coming.
	every := min(5*time.Second, max(m.det.Config().MaxDuration/10, 10*time.Millisecond))
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.mu.Lock()
			res := m.det.Tick(time.Now())
			m.closed(res)
			m.mu.Unlock()
			m.publish(res)
		case s := <-m.queue:
			m.publish(m.process(s))
		}
	}
}

// process feeds one sample to the detector and recycles its buffers.
func (m *Monitor) process(s sample) drift.Result {
	var class int
	var err error
	m.all, class, err = m.schema.Sample(m.all[:0], s.in, s.out)
	m.release(s)
	if err != nil {
		m.mu.Lock()
		m.errors++
		m.mu.Unlock()
		return drift.Result{}
	}
	for i, k := range m.index {
		if k >= 0 {
			m.feats[k] = m.all[i]
		}
	}
	if m.profile.Classes == nil {
		class = drift.NoClass
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.shadow.Add(m.feats, class)
	res, err := m.det.Add(s.at, m.feats, class)
	if err != nil {
		m.errors++
	}
	m.closed(res)
	return res
}

// closed records a closed window; m.mu is held.
func (m *Monitor) closed(res drift.Result) {
	if res.Report == nil {
		return
	}
	m.windows++
	m.last = res.Report
	m.lastWin, m.shadow = m.shadow, m.lastWin
	m.shadow.Reset(time.Time{})
}

func (m *Monitor) publish(res drift.Result) {
	if res.Report != nil && m.emit != nil {
		m.emit(m, res)
	}
}

// PublicReport is the report as published: per-feature scores only with
// detail.
func (m *Monitor) PublicReport(r *drift.Report) *drift.Report {
	if m.detail {
		return r
	}
	c := *r
	c.Features = nil
	return &c
}

// Model is the name of the model watched.
func (m *Monitor) Model() string { return m.model }

// Status is the monitor's state (GET /v1/drift).
func (m *Monitor) Status() status.Drift {
	m.mu.Lock()
	defer m.mu.Unlock()
	return status.Drift{Model: m.model, Version: m.version, State: m.det.State(), Samples: m.det.Window().N(),
		Windows: m.windows, Dropped: m.dropped.Load(), Errors: m.errors, Last: m.last}
}

// Plots returns the reference and live histograms of the worst features
// (by PSI of the last window): the last closed window's, or the one being
// filled before any has closed.
func (m *Monitor) Plots(worst int) []status.DriftPlot {
	m.mu.Lock()
	defer m.mu.Unlock()
	win := m.lastWin
	var scores []drift.FeatureScore
	if m.last != nil {
		scores = slices.Clone(m.last.Features)
	} else {
		win = m.shadow
		for _, f := range m.profile.Features {
			scores = append(scores, drift.FeatureScore{Name: f.Name})
		}
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]].PSI > scores[order[b]].PSI })
	var out []status.DriftPlot
	for _, i := range order[:min(worst, len(order))] {
		f := &m.profile.Features[i]
		out = append(out, status.DriftPlot{
			Model: m.model, Feature: f.Name, PSI: scores[i].PSI, KSP: scores[i].KSP, State: m.det.State().String(),
			Edges: f.Edges, Ref: drift.Proportions(nil, f.Counts), Live: drift.Proportions(nil, win.Counts(i)),
		})
	}
	return out
}

// Gauges are the Prometheus view of every watched model.
type Gauges struct {
	state, psiMax, ksP, chi2P, js *prometheus.GaugeVec
	featPSI, featKSP              *prometheus.GaugeVec
	windows, dropped              *prometheus.CounterVec
	levels, changes               *prometheus.CounterVec
}

// NewGauges registers the drift metrics with reg.
func NewGauges(reg prometheus.Registerer) *Gauges {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	d := &Gauges{
		state:   g("edged_drift_state", "Drift state of the model: 0 ok, 1 warn, 2 drift.", "model"),
		psiMax:  g("edged_drift_psi_max", "Largest PSI over the features in the last window.", "model"),
		ksP:     g("edged_drift_ks_p", "Smallest Bonferroni-corrected KS p-value in the last window.", "model"),
		chi2P:   g("edged_drift_chi2_p", "Chi-square p-value of the top-1 classes in the last window.", "model"),
		js:      g("edged_drift_js", "Jensen-Shannon distance (bits) of the top-1 classes in the last window.", "model"),
		featPSI: g("edged_drift_feature_psi", "PSI of one feature in the last window.", "model", "feature"),
		featKSP: g("edged_drift_feature_ks_p", "KS p-value (uncorrected) of one feature in the last window.", "model", "feature"),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edged_drift_windows_total", Help: "Drift windows closed."}, []string{"model"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edged_drift_samples_dropped_total", Help: "Samples not fed to the detector because its queue was full."}, []string{"model"}),
		levels:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edged_drift_window_levels_total", Help: "Closed windows by their own level (before hysteresis)."}, []string{"model", "level"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edged_drift_state_changes_total", Help: "Drift state changes by the state entered."}, []string{"model", "to"}),
	}
	reg.MustRegister(d.state, d.psiMax, d.ksP, d.chi2P, d.js, d.featPSI, d.featKSP, d.windows, d.dropped, d.levels, d.changes)
	return d
}

// Observe records a closed window's report.
func (g *Gauges) Observe(r *drift.Report) {
	g.state.WithLabelValues(r.Model).Set(float64(r.State))
	g.psiMax.WithLabelValues(r.Model).Set(r.PSI)
	g.ksP.WithLabelValues(r.Model).Set(r.KSP)
	if c := r.Classes; c != nil {
		g.chi2P.WithLabelValues(r.Model).Set(c.P)
		g.js.WithLabelValues(r.Model).Set(c.JS)
	}
	for _, f := range r.Features {
		g.featPSI.WithLabelValues(r.Model, f.Name).Set(f.PSI)
		g.featKSP.WithLabelValues(r.Model, f.Name).Set(f.KSP)
	}
	g.windows.WithLabelValues(r.Model).Inc()
	g.levels.WithLabelValues(r.Model, r.Level.String()).Inc()
}

// Changed counts a state change.
func (g *Gauges) Changed(c *drift.StateChange) {
	g.changes.WithLabelValues(c.Model, c.To.String()).Inc()
}

// Dropped is the counter of a model's samples dropped for a full queue.
func (g *Gauges) Dropped(model string) prometheus.Counter {
	return g.dropped.WithLabelValues(model)
}

// ChangeDetail is a state change as a fleet event's detail.
func ChangeDetail(c *drift.StateChange) json.RawMessage {
	b, err := json.Marshal(c)
	if err != nil {
		return nil
	}
	return b
}
