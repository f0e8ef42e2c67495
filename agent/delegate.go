package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/litert"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/runtime/tflite"
)

// probeAtLoad bounds the probe that decides whether a backend the model
// has no variant of joins its chain.
const probeAtLoad = 2 * time.Second

// delegateSet builds every model's delegate chain and reports what the
// chains do: the health gauge, the fallback counter, log lines and fleet
// events. One per agent.
type delegateSet struct {
	cfg     config.Delegates
	log     *slog.Logger
	healthy *prometheus.GaugeVec
	falls   *prometheus.CounterVec
	// emit sends an event over the fleet link (nil without one).
	emit func(fleet.Event)

	// fake stands in for the edgetpu backend when delegates.fake is on;
	// like a device it is shared by every model.
	fake      fakeAccelerator
	mu        sync.Mutex
	healTimer *time.Timer
	closed    bool
}

func newDelegateSet(cfg config.Delegates, reg prometheus.Registerer, log *slog.Logger, emit func(fleet.Event)) (*delegateSet, error) {
	d := &delegateSet{cfg: cfg, log: log, emit: emit}
	d.healthy = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edged_delegate_healthy", Help: "1 when the backend serves the model, 0 when it is absent or failed and the next one in the chain serves."}, []string{"model", "delegate"})
	d.falls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edged_delegate_fallbacks_total", Help: "Requests served further down the chain than the model's first backend (the delegate label)."}, []string{"model", "delegate"})
	reg.MustRegister(d.healthy, d.falls)
	if f := cfg.Fake; f != nil && f.Enabled {
		if newFake == nil {
			return nil, errors.New("delegates.fake: this edged has no fake accelerator; it is for demos and tests, in builds with the edged_fake tag (go run -tags edged_fake ./cmd/edged)")
		}
		d.fake = newFake(f.Name)
	}
	return d, nil
}

// armFake starts the fake's failure countdown once every model is loaded,
// so that the chains' check calls at load time are not counted.
func (d *delegateSet) armFake() {
	if d.fake != nil && d.cfg.Fake.Mode == "fail_after" {
		d.fake.FailAfter(d.cfg.Fake.FailAfter)
	}
}

func (d *delegateSet) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.healTimer != nil {
		d.healTimer.Stop()
	}
}

// fakeBackend runs the cpu variant: the fake computes with the CPU.
type fakeBackend struct{ fakeAccelerator }

func (fakeBackend) Variants() []string { return []string{"cpu"} }

// backend returns the backend registered as name (see delegates.Register),
// configured for this host; opts configure the CPU and maxBatch readies
// it for batches; m is the loaded cpu variant. The fake, when on, takes
// the place of the Edge TPU.
func (d *delegateSet) backend(name string, opts *tflite.Options, maxBatch int, m *tflite.Model) (delegates.Backend, error) {
	if name == litert.EdgeTPU && d.fake != nil {
		return fakeBackend{d.fake}, nil
	}
	l := d.cfg.LiteRT
	b, ok := delegates.Configured(name, delegates.Config{CPU: opts, MaxBatch: maxBatch, Model: m, TFLite: l.TFLite, EdgeTPU: l.EdgeTPU, GPU: l.GPU, Device: l.Device})
	if !ok {
		return nil, fmt.Errorf("delegates.prefer: no backend %q in this edged", name)
	}
	return b, nil
}

// chain builds a model's delegate chain from delegates.prefer and the
// model's variants; with no accelerator it is the CPU alone, whose
// runners (one per instance of the model) batch. A backend joins when the
// model has a variant of its own for it (so an absent Edge TPU is
// reported and probed again: USB devices come back) or when it probes
// present now; the others would only run the cpu variant on a device
// that is not there: they are left out, and returned with the reason. A
// backend present but failed joins (its library is checked again with
// backoff).
func (d *delegateSet) chain(c *config.Config, mc config.Model, opts *tflite.Options, cpu []byte, m *tflite.Model) (*delegates.Chain, []status.Delegate, error) {
	variants, err := readVariants(c, mc)
	if err != nil {
		return nil, nil, err
	}
	variants["cpu"] = cpu
	var prefer []delegates.Backend
	var leftOut []status.Delegate
	for _, name := range d.cfg.Prefer {
		b, err := d.backend(name, opts, mc.Batch.MaxBatch, m)
		if err != nil {
			return nil, nil, err
		}
		if name != "cpu" && mc.Variants[name] == "" && !(name == litert.EdgeTPU && d.fake != nil) {
			if err, absent := probeAbsent(b); absent {
				leftOut = append(leftOut, status.Delegate{Delegate: name, State: delegates.Absent.String(), Reason: errString(err), Since: time.Now(), Check: delegates.LastCheck(b)})
				continue
			}
		}
		prefer = append(prefer, b)
	}
	links, skipped, err := delegates.Plan(prefer, variants)
	if err != nil {
		return nil, nil, err
	}
	if len(skipped) > 0 {
		d.log.Debug("backends without a variant of the model", "model", mc.Name, "skipped", skipped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*delegates.DefaultProbeTimeout)
	defer cancel()
	var agreeWith delegates.Backend
	if d.cfg.Auto {
		// The accelerators are held to the CPU runtime in TFLite's own
		// requantization (bit-exact with XNNPACK): the reference kernels'
		// rounding compounds through deep quantized networks.
		agreeWith = delegates.CPU{Options: &tflite.Options{Threads: opts.Threads, Arithmetic: tflite.LiteRT}}
	}
	ch, err := delegates.NewChain(ctx, mc.Name, links, &delegates.Options{
		AttemptTimeout: d.cfg.AttemptTimeout.D(),
		BackoffInitial: d.cfg.BackoffInitial.D(),
		BackoffMax:     d.cfg.BackoffMax.D(),
		// As many CPU runners as the model has instances.
		FallbackRunners: mc.Instances,
		Auto:            d.cfg.Auto,
		AgreeWith:       agreeWith,
		OnEvent:         d.event,
		OnHealth: func(model, delegate string, ok bool) {
			v := 0.0
			if ok {
				v = 1
			}
			d.healthy.WithLabelValues(model, delegate).Set(v)
		},
	})
	return ch, leftOut, err
}

// checkBackends checks every backend delegates.prefer names (the vendor
// libraries in a child process) and logs each outcome, before models
// load; the models' chains reuse the outcomes.
func (d *delegateSet) checkBackends(threads int) {
	var wg sync.WaitGroup
	for _, name := range d.cfg.Prefer {
		if name == "cpu" || (name == litert.EdgeTPU && d.fake != nil) {
			continue
		}
		b, err := d.backend(name, &tflite.Options{Threads: threads}, 1, nil)
		if err != nil {
			d.log.Warn("backend check", "backend", name, "state", delegates.Absent, "reason", err)
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), delegates.DefaultProbeTimeout)
			defer cancel()
			o := delegates.CheckBackend(ctx, b)
			attrs := []any{"backend", name, "state", o.State}
			if o.Isolated {
				attrs = append(attrs, "libraries", o.Libraries, "version", o.Version, "detail", o.Detail, "took", o.Took.Round(time.Millisecond))
			}
			if o.Reason != "" {
				attrs = append(attrs, "reason", o.Reason)
			}
			if o.State == delegates.Failed {
				d.log.Warn("backend check", attrs...)
				return
			}
			d.log.Info("backend check", attrs...)
		})
	}
	wg.Wait()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// readVariants reads a model's accelerator variants.
func readVariants(c *config.Config, mc config.Model) (map[string][]byte, error) {
	variants := map[string][]byte{}
	for v, p := range mc.Variants {
		b, err := os.ReadFile(c.Path(p))
		if err != nil {
			return nil, fmt.Errorf("variants.%s: %w", v, err)
		}
		variants[v] = b
	}
	return variants, nil
}

// probeAbsent probes b: absent reports it not on this host, and err why.
func probeAbsent(b delegates.Backend) (err error, absent bool) {
	ctx, cancel := context.WithTimeout(context.Background(), probeAtLoad)
	defer cancel()
	ok, err := b.Probe(ctx)
	return err, delegates.ProbeState(ok, err) == delegates.Absent
}

// fallbacks is the counter of a model's requests served further down its
// chain than the first backend; nil for a chain of the CPU alone.
func (d *delegateSet) fallbacks(model string, c *delegates.Chain) prometheus.Counter {
	st := c.Status()
	if len(st) < 2 {
		return nil
	}
	return d.falls.WithLabelValues(model, st[0].Delegate)
}

// event logs a chain's state change, sends it to the fleet and schedules
// the fake's recovery.
func (d *delegateSet) event(e delegates.Event) {
	attrs := []any{"model", e.Model, "delegate", e.Delegate, "variant", e.Variant}
	switch {
	case e.To == delegates.Healthy:
		d.log.Info("delegate back in use", append(attrs, "from", e.From)...)
	case e.From == e.To:
		// A failed re-probe: no news for the fleet.
		d.log.Info("delegate still out of use", append(attrs, "state", e.To, "reason", e.Reason, "next_probe", e.Next)...)
		return
	default:
		d.log.Warn("delegate out of use; the next backend in the chain serves", append(attrs, "state", e.To, "reason", e.Reason)...)
	}
	if d.emit != nil {
		detail, _ := json.Marshal(map[string]any{
			"delegate": e.Delegate, "variant": e.Variant, "from": e.From.String(), "to": e.To.String(), "reason": e.Reason,
		})
		d.emit(fleet.Event{Kind: "delegate", Model: e.Model, Time: e.Time.UTC(), Detail: detail})
	}
	if d.fake == nil || e.Delegate != d.fake.Name() || e.To == delegates.Healthy {
		return
	}
	after := d.cfg.Fake.RecoverAfter.D()
	d.mu.Lock()
	defer d.mu.Unlock()
	if after > 0 && d.healTimer == nil && !d.closed {
		d.healTimer = time.AfterFunc(after, func() {
			d.log.Info("fake accelerator heals", "delegate", d.fake.Name())
			d.fake.Recover()
		})
	}
}

// delegateStatus reports the model's chain, then the backends left out of
// it; an ensemble is served by its members' chains.
func (s *servedModel) delegateStatus() []status.Delegate {
	if s.exec == nil {
		return []status.Delegate{{Delegate: "cpu", Variant: "cpu", Fallback: true, State: delegates.Healthy.String(), Since: s.loaded}}
	}
	var out []status.Delegate
	for _, st := range s.exec.Chain().Status() {
		out = append(out, status.Delegate{
			Delegate: st.Delegate, Variant: st.Variant, Fallback: st.Fallback, State: st.State.String(), Reason: st.Reason,
			Since: st.Since, NextProbe: st.NextProbe, Served: st.Served, Failures: st.Failures, Check: st.Check, Auto: st.Trial,
		})
	}
	return append(out, s.leftOut...)
}

// present reports whether a backend that delegates.prefer lists is on
// this host now, so that OTA fetches its variant; the fake computes from
// the cpu variant and needs none.
func (d *delegateSet) present(ctx context.Context, name string) bool {
	if d == nil || !slices.Contains(d.cfg.Prefer, name) || (name == litert.EdgeTPU && d.fake != nil) {
		return false
	}
	b, err := d.backend(name, &tflite.Options{Threads: 1}, 1, nil)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, probeAtLoad)
	defer cancel()
	ok, err := b.Probe(ctx)
	return ok && err == nil
}
