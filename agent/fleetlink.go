package agent

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/edged-dev/edged/agent/drift"
	"github.com/edged-dev/edged/agent/drift/monitor"
	"github.com/edged-dev/edged/agent/link"
	"github.com/edged-dev/edged/agent/pipeline"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/outbox"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/telemetry"
)

// newLink builds the fleet link from fleet: (the outbox opens now, so
// drift reports made before Run are kept).
func (a *Agent) newLink() (*link.Link, error) {
	f := a.cfg.Fleet
	password := f.Password
	if f.PasswordFile != "" {
		b, err := os.ReadFile(a.cfg.Path(f.PasswordFile))
		if err != nil {
			return nil, fmt.Errorf("fleet.password_file: %w", err)
		}
		password = string(trimSpace(b))
	}
	path := cmp.Or(a.cfg.Path(f.Outbox.Path), filepath.Join(a.cfg.StateDir, "outbox.db"))
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("fleet.outbox: %w", err)
	}
	var groups []string
	if a.cfg.Device.Group != "" {
		groups = append(groups, a.cfg.Device.Group)
	}
	for _, g := range f.Groups {
		if g != a.cfg.Device.Group {
			groups = append(groups, g)
		}
	}
	l, err := link.New(link.Options{
		Fleet: fleet.Options{
			Broker: f.Broker, DeviceID: a.cfg.Device.ID, Groups: groups, ClientID: f.ClientID,
			Username: f.Username, Password: password,
			CAFile: a.cfg.Path(f.CAFile), CertFile: a.cfg.Path(f.CertFile), KeyFile: a.cfg.Path(f.KeyFile),
			KeepAlive: f.KeepAlive.D(), MinBackoff: f.MinBackoff.D(), MaxBackoff: f.MaxBackoff.D(),
			Log: a.log.With("component", "fleet"),
		},
		Birth:      a.connectBirth,
		OutboxPath: path,
		Outbox:     &outbox.Options{MaxBytes: f.Outbox.MaxBytes},
		Log:        a.log.With("component", "fleet"),
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	return l, nil
}

// Link is the fleet link, or nil without a broker; command handlers are
// plugged in with Link().Handle.
func (a *Agent) Link() *link.Link { return a.link }

// birth is the retained state message published at each connection.
func (a *Agent) birth() fleet.State {
	st := fleet.State{Version: Version, Board: a.board.Summary(), Uptime: int64(time.Since(a.started) / time.Second), CommandProtocol: sign.CommandProtocol}
	for _, acc := range a.board.Accelerators {
		st.Accelerators = append(st.Accelerators, acc.Kind+" "+acc.Path)
	}
	for _, mi := range a.Models() {
		st.Models = append(st.Models, fleet.ModelState{Name: mi.Name, Active: mi.Version})
	}
	// A model a local operator unloaded keeps its deployment state: its
	// active version is the one that serves once it is loaded (its
	// unload is an event).
	for _, m := range a.Missing() {
		if m.Reason == "unloaded" && m.Version != "" {
			st.Models = append(st.Models, fleet.ModelState{Name: m.Model, Active: m.Version})
		}
	}
	sort.Slice(st.Models, func(i, j int) bool { return st.Models[i].Name < st.Models[j].Name })
	return st
}

// connectBirth is the birth published at each connection: with the
// previous and candidate versions the deployer knows of.
func (a *Agent) connectBirth() fleet.State {
	st := a.birth()
	if a.ota != nil {
		a.ota.Fill(&st)
	}
	return st
}

// telemetry builds the snapshot publisher.
func (a *Agent) telemetry() *telemetry.Publisher {
	return &telemetry.Publisher{
		Topic: fleet.TelemetryTopic(a.cfg.Device.ID), Interval: a.cfg.Telemetry.Interval.D(), Publish: a.link.Publish,
		Collectors: []telemetry.Collector{a.sensors, telemetry.NewModels(a)},
		Log:        a.log,
	}
}

// answerPing answers a ping (edgectl status) with a telemetry snapshot
// sent at once, then "pong": the operator sees the figures of now rather
// than those of the last interval. Pings are unsigned, so the snapshots
// they ask for are limited to one a second (telemetry.MinRequestGap).
func (a *Agent) answerPing(pub *telemetry.Publisher) fleet.CommandHandler {
	return func(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
		pub.Request()
		if err := a.link.Client().WriteStatus(ctx, cmd.Op, fleet.CommandStatus{ID: cmd.ID, State: fleet.StatusDone, Reason: "pong"}); err != nil {
			a.log.Warn("cannot answer a ping", "id", cmd.ID, "err", err)
		}
	}
}

// emitDrift runs on a monitor's goroutine for every closed window.
func (a *Agent) emitDrift(m *monitor.Monitor, res drift.Result) {
	r := res.Report
	a.driftG.Observe(r)
	if c := res.Change; c != nil {
		a.driftG.Changed(c)
		a.log.Warn("drift state changed", "model", c.Model, "from", c.From, "to", c.To, "stat", c.Cause.Stat, "feature", c.Cause.Feature, "value", c.Cause.Value)
	}
	if a.link != nil {
		if _, err := a.link.Drift(m.PublicReport(r)); err != nil {
			a.log.Warn("drift report not queued", "model", r.Model, "err", err)
		}
	}
	if c := res.Change; c != nil {
		if err := a.event(fleet.Event{Kind: "drift", Model: c.Model, Time: c.At.UTC(), Detail: monitor.ChangeDetail(c)}); err != nil {
			a.log.Warn("drift event not queued", "model", c.Model, "err", err)
		}
	}
}

// Drift reports every watched model's drift (GET /v1/drift).
func (a *Agent) Drift() []status.Drift {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := []status.Drift{}
	for _, s := range a.models {
		if s.drift != nil {
			out = append(out, s.drift.Status())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}

// DriftPlots are the histograms of the worst features of every watched
// model, for the status page.
func (a *Agent) DriftPlots(worst int) []status.DriftPlot {
	a.mu.RLock()
	var ms []*monitor.Monitor
	for _, s := range a.models {
		if s.drift != nil {
			ms = append(ms, s.drift)
		}
	}
	a.mu.RUnlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].Model() < ms[j].Model() })
	var out []status.DriftPlot
	for _, m := range ms {
		out = append(out, m.Plots(worst)...)
	}
	return out
}

// TelemetryStats implements telemetry.Stats.
func (a *Agent) TelemetryStats() []telemetry.ModelStats {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]telemetry.ModelStats, 0, len(a.models))
	for _, s := range a.models {
		c := s.stats.Snapshot()
		out = append(out, telemetry.ModelStats{Name: s.info.Name, Version: s.info.Version, Inferences: c.Inferences,
			CacheHits: c.CacheHits, Errors: c.Errors, QueueDepth: s.pool.Len(),
			Latency: telemetry.Histogram{Bounds: pipeline.LatencyBounds, Counts: c.Latency}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
