package agent

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/deploy"
	"github.com/edged-dev/edged/agent/frame"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/pipeline"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/boards"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/recent"
	"github.com/edged-dev/edged/telemetry"
)

// Console figures: what the status page, /v1/status, /metrics and the
// telemetry snapshot show beyond the served models.

// historyStep is the interval between two samples of a model's history;
// historyLen samples (10 minutes) are kept.
const (
	historyStep = 5 * time.Second
	historyLen  = 120
)

// newSensors builds the host, link and source collectors, registered with
// the metrics registry and shared with the telemetry publisher.
func (a *Agent) newSensors() *telemetry.Set {
	sys, proc := os.DirFS(a.cfg.Telemetry.ThermalRoot), os.DirFS("/proc")
	list := []telemetry.Named{
		{Name: "uptime", Collector: telemetry.Uptime{Started: a.started}},
		{Name: "cpu", Collector: &telemetry.CPU{FS: proc}},
		{Name: "load", Collector: telemetry.Load{FS: proc}},
		{Name: "memory", Collector: telemetry.Memory{FS: proc}},
		{Name: "disk", Collector: telemetry.Disk{Path: a.cfg.StateDir}},
		{Name: "thermal", Collector: telemetry.Thermal{FS: sys}},
		{Name: "throttle", Collector: telemetry.Throttle{FS: sys}},
		{Name: "sources", Collector: telemetry.Sources{Src: a}},
	}
	if a.cfg.OTA.Enabled(&a.cfg.Fleet) {
		// Deployments are taken: the model store and the candidates.
		list = append(list, telemetry.Named{Name: "ota", Collector: telemetry.OTA{Src: a}}, telemetry.Named{Name: "canary", Collector: telemetry.Canaries{Src: a}})
	}
	if a.link != nil {
		list = append(list, telemetry.Named{Name: "link", Collector: telemetry.Link{Client: a.link.Client(), Outbox: a.link.Outbox()}})
	}
	set := telemetry.NewSet(a.log, list...)
	set.Snapshot() // the first CPU reading, which later ones compare with
	return set
}

// SourceTelemetry implements telemetry.SourceStats.
func (a *Agent) SourceTelemetry() []fleet.SourceTelemetry {
	out := make([]fleet.SourceTelemetry, 0, len(a.taps))
	for _, t := range a.taps {
		out = append(out, fleet.SourceTelemetry{Name: t.name, In: t.in.Load(), Out: t.out.Load(), Errors: t.errors(), Last: t.lastTime()})
	}
	return out
}

// sourceName is a source's name in the console and the logs: its
// configured name, else its type and position ("synthetic0").
func sourceName(i int, sc config.Source) string {
	if sc.Name != "" {
		return sc.Name
	}
	return sc.Type + strconv.Itoa(i)
}

// sourceTap stands between a source and the agent: it counts the
// source's readings and results, keeps the last result for the console
// and logs each at debug level, with a sampled line at info level.
type sourceTap struct {
	a         *Agent
	name, typ string
	model     string
	log       *slog.Logger
	in, out   atomic.Uint64
	errs      atomic.Uint64
	// turnedAway, set for an MQTT source, counts the inputs it refused
	// before inference (malformed, oversize, queue full) and the results
	// it could not publish: they count as errors too.
	turnedAway  atomic.Pointer[func() uint64]
	last        atomic.Int64 // Unix ns of the last reading
	mu          sync.Mutex
	result      *status.Result
	lastInfo    time.Time
	lastInfoTop string
	// thumb is the last input sampled for the console, when the model
	// takes a picture; png its encoding, made when first asked for.
	thumb *frame.Thumb
	png   []byte
}

// frameEvery is the most often a source's input is sampled for its
// thumbnail.
const frameEvery = time.Second

// infoEvery is the most often a source's results are logged at info
// level; a change of the top label is logged sooner, at most every
// infoChange.
const (
	infoEvery  = time.Minute
	infoChange = 10 * time.Second
)

// errors counts readings that produced no result: failed inferences,
// inputs the source refused and results it could not deliver.
func (t *sourceTap) errors() uint64 {
	n := t.errs.Load()
	if f := t.turnedAway.Load(); f != nil {
		n += (*f)()
	}
	return n
}

func (t *sourceTap) lastTime() time.Time {
	if ns := t.last.Load(); ns != 0 {
		return time.Unix(0, ns).UTC()
	}
	return time.Time{}
}

// Model implements source.Inferer.
func (t *sourceTap) Model(name, version string) (infer.ModelInfo, error) {
	return t.a.Model(name, version)
}

// Infer implements source.Inferer.
func (t *sourceTap) Infer(ctx context.Context, model, version string, in []infer.Tensor) ([]infer.Tensor, error) {
	start := time.Now()
	t.in.Add(1)
	t.last.Store(start.UnixNano())
	req := &infer.Request{Model: model, Version: version, Inputs: in}
	resp, err := t.a.Handle(ctx, req)
	r := &status.Result{Time: start.UTC()}
	if err != nil {
		t.errs.Add(1)
		r.Error = err.Error()
		t.log.Debug("source reading failed", "source", t.name, "model", model, "err", err)
		t.keep(r, "")
		return nil, err
	}
	t.out.Add(1)
	r.Version = resp.Version
	mi, merr := t.a.Model(model, resp.Version)
	var boxes []frame.Box
	if merr == nil {
		var detected bool
		if boxes, detected = frame.Detections(resp.Outputs, mi, minDetection, 5); detected {
			r.Summary = describeBoxes(boxes)
		} else {
			r.Top, r.Summary = summarize(resp.Outputs, mi, 3)
		}
		if len(in) > 0 && len(mi.Inputs) > 0 && frame.IsImage(mi.Inputs[0]) {
			t.sampleFrame(start, in[0], r, boxes)
		}
	}
	line := describeResult(model, t.name, r)
	t.log.Debug("source result", "source", t.name, "model", model, "version", resp.Version, "result", line, "cache_hit", resp.CacheHit)
	top := ""
	if len(r.Top) > 0 {
		top = r.Top[0].Label
	}
	if t.keep(r, top) {
		t.log.Info(line, "source", t.name, "sampled", true)
	}
	return resp.Outputs, nil
}

// keep records r as the last result and reports whether it is due an
// info line.
func (t *sourceTap) keep(r *status.Result, top string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.result = r
	due := r.Error == "" && (r.Time.Sub(t.lastInfo) >= infoEvery || (top != t.lastInfoTop && r.Time.Sub(t.lastInfo) >= infoChange))
	if due {
		t.lastInfo, t.lastInfoTop = r.Time, top
	}
	return due
}

// minDetection is the least score of a detected object the console
// shows.
const minDetection = 0.5

// describeBoxes is the detected objects in a few words: "2 objects:
// person 0.87, dog 0.61".
func describeBoxes(boxes []frame.Box) string {
	if len(boxes) == 0 {
		return fmt.Sprintf("no object scoring %.2f or more", minDetection)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d object", len(boxes))
	if len(boxes) > 1 {
		b.WriteString("s")
	}
	for i, bx := range boxes {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s %.2f", sep, bx.Label, bx.Score)
	}
	return b.String()
}

// sampleFrame keeps a thumbnail of input in with what the model said of
// it, at most every frameEvery: one small picture per source, made by a
// downscale of the input as it is.
func (t *sourceTap) sampleFrame(at time.Time, in infer.Tensor, r *status.Result, boxes []frame.Box) {
	t.mu.Lock()
	due := t.thumb == nil || at.Sub(t.thumb.Time) >= frameEvery
	t.mu.Unlock()
	if !due {
		return
	}
	img, err := frame.Scale(in)
	if err != nil {
		t.log.Debug("no thumbnail of the reading", "source", t.name, "err", err)
		return
	}
	th := &frame.Thumb{Img: img, Time: at.UTC(), Boxes: boxes}
	if len(r.Top) > 0 {
		label := r.Top[0].Label
		if label == "" {
			label = "class " + strconv.Itoa(r.Top[0].Index)
		}
		th.Labels = []frame.Label{{Text: label, Score: r.Top[0].Score}}
	}
	t.mu.Lock()
	t.thumb, t.png = th, nil
	t.mu.Unlock()
}

// frame is the PNG of the source's last thumbnail.
func (t *sourceTap) frame() ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.thumb == nil {
		return nil, false
	}
	if t.png == nil {
		b, err := t.thumb.PNG()
		if err != nil {
			t.log.Warn("cannot encode the thumbnail", "source", t.name, "err", err)
			return nil, false
		}
		t.png = b
	}
	return t.png, true
}

// Frame is the PNG thumbnail of the last input of the source named name
// (GET /v1/sources/{name}/frame).
func (a *Agent) Frame(name string) ([]byte, bool) {
	for _, t := range a.taps {
		if t.name == name {
			return t.frame()
		}
	}
	return nil, false
}

func (t *sourceTap) status() status.Source {
	t.mu.Lock()
	r, th := t.result, t.thumb
	t.mu.Unlock()
	s := status.Source{Name: t.name, Type: t.typ, Model: t.model, In: t.in.Load(), Out: t.out.Load(), Errors: t.errors(), Last: t.lastTime(), Result: r}
	if th != nil {
		w, h := th.Size()
		s.Frame = &status.Frame{Path: "/v1/sources/" + url.PathEscape(t.name) + "/frame", Width: w, Height: h, Time: th.Time}
	}
	return s
}

// describeResult is a result in one line: "person_detect: 'person' 0.91
// from camera0".
func describeResult(model, source string, r *status.Result) string {
	switch {
	case len(r.Top) > 0 && r.Top[0].Label != "":
		return fmt.Sprintf("%s: '%s' %.2f from %s", model, r.Top[0].Label, r.Top[0].Score, source)
	case len(r.Top) > 0:
		return fmt.Sprintf("%s: class %d %.2f from %s", model, r.Top[0].Index, r.Top[0].Score, source)
	default:
		return fmt.Sprintf("%s: %s from %s", model, r.Summary, source)
	}
}

// summarize reads the first output: the k best scores with their labels
// when the model has one label per value (or has few values), else a
// summary.
func summarize(outs []infer.Tensor, mi infer.ModelInfo, k int) ([]status.Score, string) {
	if len(outs) == 0 || len(mi.Outputs) == 0 {
		return nil, "no output"
	}
	vals, err := infer.RealValues(outs[0], mi.Outputs[0])
	if err != nil || len(vals) == 0 {
		return nil, fmt.Sprintf("%d output bytes", len(outs[0].Data))
	}
	if len(vals) != len(mi.Labels) && len(vals) > 16 {
		hi := 0
		for i, v := range vals {
			if v > vals[hi] {
				hi = i
			}
		}
		return nil, fmt.Sprintf("%d values, max %.3g at %d", len(vals), vals[hi], hi)
	}
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return vals[idx[i]] > vals[idx[j]] })
	var top []status.Score
	for _, i := range idx[:min(k, len(idx))] {
		s := status.Score{Index: i, Score: vals[i]}
		if len(vals) == len(mi.Labels) {
			s.Label = mi.Labels[i]
		}
		top = append(top, s)
	}
	return top, ""
}

// sample is one step of a model's history.
type sample struct {
	rate, p50, p99 float64
}

// history keeps each model's recent figures: a sample every historyStep
// from its request counters.
type history struct {
	// step is the sampling interval (historyStep; tests set it before
	// Run).
	step   time.Duration
	mu     sync.Mutex
	prev   map[string]pipeline.Snapshot
	series map[string]*recent.Ring[sample]
}

// record takes a sample of every model's counters.
func (h *history) record(a *Agent) {
	a.mu.RLock()
	cur := make(map[string]pipeline.Snapshot, len(a.models))
	for name, s := range a.models {
		cur[name] = s.stats.Snapshot()
	}
	a.mu.RUnlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.series == nil {
		h.series, h.prev = map[string]*recent.Ring[sample]{}, map[string]pipeline.Snapshot{}
	}
	for name, c := range cur {
		p, ok := h.prev[name]
		h.prev[name] = c
		if !ok || p.Inferences > c.Inferences {
			continue // first sample, or another version's counters
		}
		r := h.series[name]
		if r == nil {
			r = recent.New[sample](historyLen)
			h.series[name] = r
		}
		lat := telemetry.Histogram{Bounds: pipeline.LatencyBounds, Counts: c.Latency}.Sub(telemetry.Histogram{Bounds: pipeline.LatencyBounds, Counts: p.Latency})
		r.Add(sample{rate: float64(c.Inferences-p.Inferences) / h.step.Seconds(), p50: 1e3 * lat.Quantile(0.5), p99: 1e3 * lat.Quantile(0.99)})
	}
}

func (h *history) of(name string) *status.History {
	h.mu.Lock()
	r := h.series[name]
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	ss := r.Oldest()
	out := &status.History{Step: h.step.Seconds(), Rate: make([]float64, len(ss)), P50: make([]float64, len(ss)), P99: make([]float64, len(ss))}
	for i, s := range ss {
		out.Rate[i], out.P50[i], out.P99[i] = round3(s.rate), round3(s.p50), round3(s.p99)
	}
	return out
}

func round3(v float64) float64 {
	return float64(int64(v*1e3+0.5)) / 1e3
}

// runHistory samples the models' counters until ctx ends.
func (a *Agent) runHistory(ctx context.Context) {
	t := time.NewTicker(a.hist.step)
	defer t.Stop()
	a.hist.record(a)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.hist.record(a)
		}
	}
}

// requests are a served model's request figures.
func requests(s *servedModel) *status.Requests {
	c := s.stats.Snapshot()
	lat := telemetry.Histogram{Bounds: pipeline.LatencyBounds, Counts: c.Latency}
	r := &status.Requests{Answered: c.Inferences, CacheHits: c.CacheHits, Errors: c.Errors, Outcomes: c.Outcomes,
		P50: round3(1e3 * lat.Quantile(0.5)), P99: round3(1e3 * lat.Quantile(0.99))}
	for _, b := range s.pool.BatchSizes() {
		r.BatchSizes = append(r.BatchSizes, status.BatchSize{Size: b.Size, Batches: b.Batches})
	}
	return r
}

// consoleStatus fills the status sections beyond the models.
func (a *Agent) consoleStatus(st *status.Device) {
	snap := a.sensors.Snapshot()
	sys := &status.System{CPUTemp: snap.CPUTemp, Collectors: a.sensors.Outcomes()}
	if snap.System != nil {
		sys.SystemTelemetry = *snap.System
		if f := snap.System.ThrottleFlags; f != nil {
			sys.Throttle = boards.DecodeThrottle(*f).String()
		}
	}
	st.System = sys
	for _, t := range a.taps {
		st.Sources = append(st.Sources, t.status())
	}
	if a.link != nil {
		cs, ob := a.link.Client().Stats(), a.link.Outbox().Stats()
		l := &status.Link{Broker: a.cfg.Fleet.Broker, Connected: cs.Connected, Connects: cs.Connects, Lost: cs.Lost, Failures: cs.ConnectFailures,
			LastError: cs.LastError, Outbox: ob.Pending, OutboxBytes: ob.Bytes, Published: cs.Published, SentBytes: cs.PublishedBytes}
		for _, n := range ob.Dropped {
			l.Dropped += n
		}
		st.Link = l
		st.Commands = a.link.Client().RecentCommands()
		st.Events = a.link.RecentEvents()
	} else {
		st.Events = a.events.Newest()
	}
	st.OTA = snap.OTA
	prev := map[string]string{}
	if snap.OTA != nil {
		for _, mo := range snap.OTA.Models {
			prev[mo.Name] = mo.Previous
		}
	}
	for i := range st.Models {
		m := &st.Models[i]
		m.History = a.hist.of(m.Name)
		m.Previous = prev[m.Name]
	}
}

// OTATelemetry implements telemetry.OTAStats: nil when the agent takes
// no deployments.
func (a *Agent) OTATelemetry() *fleet.OTATelemetry {
	if a.ota == nil {
		return nil
	}
	return a.ota.OTATelemetry()
}

// CanaryTelemetry implements telemetry.CanaryStats.
func (a *Agent) CanaryTelemetry() []fleet.CanaryTelemetry {
	a.mu.RLock()
	rs := make(map[string]*deploy.Rollout, len(a.rollouts))
	maps.Copy(rs, a.rollouts)
	a.mu.RUnlock()
	out := make([]fleet.CanaryTelemetry, 0, len(rs))
	for name, r := range rs {
		out = append(out, canaryTelemetry(name, r.Status()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}

// canaryTelemetry is a rollout's figures as the snapshot sends them:
// latencies in ms, three decimals; the shadow comparisons until the
// canary phase, the arms from it on.
func canaryTelemetry(model string, c *status.Canary) fleet.CanaryTelemetry {
	f := c.Figures
	ms := func(d time.Duration) float64 { return round3(float64(d) / 1e6) }
	arm := func(a canary.ArmFigures) *fleet.ArmTelemetry {
		return &fleet.ArmTelemetry{N: a.Requests, Errors: a.Errors, P50: ms(a.P50), P99: ms(a.P99), Mean: ms(a.Mean)}
	}
	ct := fleet.CanaryTelemetry{Model: model, Candidate: c.Candidate, Phase: c.Phase, ElapsedS: int64(f.Elapsed / time.Second)}
	if f.Active.Requests+f.Candidate.Requests > 0 {
		ct.Active, ct.Cand = arm(f.Active), arm(f.Candidate)
	}
	if sh := f.Shadow; sh.Samples > 0 && c.Phase != canary.PhaseCanary.String() {
		ct.Shadow = &fleet.ShadowTelemetry{N: sh.Samples, Errors: sh.Errors, Disagree: round3(sh.Disagreement), ActiveP50: ms(sh.ActiveP50), CandP50: ms(sh.CandidateP50)}
	}
	if t := f.Test; t != nil && !math.IsNaN(t.PTwoSided) && !math.IsInf(t.PTwoSided, 0) {
		// Three significant digits: enough to read, fewer bytes.
		p, _ := strconv.ParseFloat(strconv.FormatFloat(t.PTwoSided, 'g', 3, 64), 64)
		ct.P, ct.Test = &p, t.Method
	}
	return ct
}
