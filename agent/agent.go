// Package agent builds and owns every component of the edged daemon: the
// served models, each version with its request pipeline (agent/pipeline),
// the input sources, the fleet link and the deployer (agent/deploy, for
// which the Agent is the Host), the local HTTP endpoint and the metrics
// registry. Handle routes a request to the version (and canary arm) that
// serves it. Run starts the parts and stops them all when its context
// ends. docs/ARCHITECTURE.md shows how they fit.
package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/edged-dev/edged/agent/batch"
	"github.com/edged-dev/edged/agent/cache"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/deploy"
	"github.com/edged-dev/edged/agent/drift/monitor"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/inferstats"
	"github.com/edged-dev/edged/agent/link"
	"github.com/edged-dev/edged/agent/localapi"
	"github.com/edged-dev/edged/agent/pipeline"
	"github.com/edged-dev/edged/agent/source"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/boards"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/connlimit"
	"github.com/edged-dev/edged/internal/memlimit"
	"github.com/edged-dev/edged/internal/recent"
	"github.com/edged-dev/edged/telemetry"
)

// Version is the agent's version, set by cmd/edged.
var Version = "dev"

// Agent is the daemon.
type Agent struct {
	cfg     *config.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	started time.Time
	board   boards.Board

	mu     sync.RWMutex
	models map[string]*servedModel
	caches map[string]*cache.Store // by model name, when enabled

	closeOnce sync.Once

	metrics   *pipeline.Metrics
	modelInfo *prometheus.GaugeVec
	driftG    *monitor.Gauges

	// link connects to the fleet when fleet.broker is set (else nil).
	link *link.Link
	// dl builds the models' delegate chains (delegate.go).
	dl *delegateSet
	// ota takes model deployments when ota.root_key is set too (else nil).
	ota *deploy.Deployer
	// rollouts route the requests of models with a candidate under
	// evaluation (set by ota through Route), guarded by mu.
	rollouts map[string]*deploy.Rollout
	// missing holds why configured models that do not serve failed to
	// load; notes why a model serves another version than the one
	// deployed (set by ota through Note). Both guarded by mu.
	missing map[string]string
	notes   map[string]string
	// profiling is held while GET /debug/profile runs (profile.go).
	profiling sync.Mutex
	// unloaded are the models a local operator unloaded (repository.go),
	// guarded by mu; repoMu serialises loads and unloads.
	unloaded map[string]*unloadedModel
	repoMu   sync.Mutex
	// stats are the statistics extension's, counted by the HTTP and gRPC
	// endpoints alike.
	stats inferstats.Table

	// sensors are the host, link and source collectors (console.go);
	// taps count each source's readings; hist samples the models'
	// figures; events are the last events without a broker.
	sensors *telemetry.Set
	taps    []*sourceTap
	hist    history
	events  *recent.Ring[fleet.Event]

	// Ready is closed once the HTTP endpoint listens.
	ready chan struct{}
	addr  net.Addr
}

// New loads every configured model. A model that fails to load does not
// keep the others from serving: it is logged, reported as an event and
// named, with the reason, by Status().Missing and /v2/health/ready (not
// ready) until a deployment serves it. (edged --check fails on it.)
func New(cfg *config.Config, log *slog.Logger) (*Agent, error) {
	a := &Agent{cfg: cfg, log: log, reg: prometheus.NewRegistry(), started: time.Now(), models: map[string]*servedModel{}, caches: map[string]*cache.Store{}, ready: make(chan struct{})}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = pipeline.NewMetrics(a.reg)
	a.modelInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edged_model_info", Help: "Served models (value 1) with version and sha256."}, []string{"model", "version", "sha256"})
	a.reg.MustRegister(a.modelInfo)
	a.board = detectBoard(log)
	if cfg.Runtime.Threads == 0 {
		// runtime.threads: 0 means the board's default.
		cfg.Runtime.Threads = a.board.DefaultThreads()
	}
	a.driftG = monitor.NewGauges(a.reg)
	if cfg.Fleet.Enabled() {
		l, err := a.newLink()
		if err != nil {
			return nil, err
		}
		a.link = l
	}
	a.events = recent.New[fleet.Event](50)
	a.hist.step = historyStep
	a.sensors = a.newSensors()
	a.reg.MustRegister(a.sensors.Metrics())
	for i, sc := range cfg.Sources {
		name := sourceName(i, sc)
		a.taps = append(a.taps, &sourceTap{a: a, name: name, typ: sc.Type, model: sc.Model, log: log.With("component", "source")})
	}
	dl, err := newDelegateSet(cfg.Delegates, a.reg, log, a.delegateEvent)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.dl = dl
	a.dl.checkBackends(cfg.Runtime.Threads)
	for _, mc := range cfg.Models {
		if mc.Cache.Enabled {
			st, err := a.openCache(mc)
			if err != nil {
				a.Close()
				return nil, err
			}
			a.caches[mc.Name] = st
		}
	}
	var fromStore map[string]bool
	if cfg.OTA.Enabled(&cfg.Fleet) {
		if a.ota, fromStore, err = deploy.New(a, cfg, a.link, log); err != nil {
			a.Close()
			return nil, err
		}
	} else if cfg.OTA.RootKey != "" {
		log.Warn("ota.root_key is set but fleet.broker is not; no deployments are taken")
	}
	for _, mc := range cfg.Models {
		if fromStore[mc.Name] {
			continue // a version deployed over the air serves instead
		}
		if err := a.LoadModel(mc); err != nil {
			a.missingModel(mc.Name, err)
		}
	}
	a.dl.armFake()
	return a, nil
}

// delegateEvent queues a delegate chain's event for the fleet.
func (a *Agent) delegateEvent(ev fleet.Event) {
	if err := a.event(ev); err != nil {
		a.log.Warn("delegate event not queued", "model", ev.Model, "err", err)
	}
}

// openCache opens the model's result cache under state_dir/cache.
func (a *Agent) openCache(mc config.Model) (*cache.Store, error) {
	dir := filepath.Join(a.cfg.StateDir, "cache")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("model %q: cache: %w", mc.Name, err)
	}
	st, err := cache.Open(filepath.Join(dir, mc.Name+".db"), &cache.Options{
		MaxEntries: mc.Cache.MaxEntries, TTL: mc.Cache.TTL.D(), Log: a.log,
		Registerer: a.reg, ConstLabels: prometheus.Labels{"model": mc.Name},
	})
	if err != nil {
		return nil, fmt.Errorf("model %q: cache: %w", mc.Name, err)
	}
	return st, nil
}

// Close stops every model's batchers and closes the caches. Run calls it
// when it returns; call it yourself for an Agent that never ran.
func (a *Agent) Close() {
	a.closeOnce.Do(func() {
		if a.ota != nil {
			a.ota.StopRollouts()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, s := range a.models {
			s.close(ctx)
		}
		for name, st := range a.caches {
			if err := st.Close(); err != nil {
				a.log.Warn("closing cache", "model", name, "err", err)
			}
		}
		if a.ota != nil {
			a.ota.Close()
		}
		if a.dl != nil {
			a.dl.close()
		}
		if a.link != nil {
			if err := a.link.Close(); err != nil {
				a.log.Warn("closing outbox", "err", err)
			}
		}
	})
}

// LoadModel loads (or reloads) a model and swaps it in atomically:
// requests in flight finish on the version they started on.
func (a *Agent) LoadModel(mc config.Model) error {
	s, err := a.prepareModel(mc)
	if err != nil {
		return err
	}
	a.installModel(s)
	return nil
}

// prepareModel loads a model, runs its smoke inference, starts its drift
// monitor and builds its pipeline, without serving it yet.
func (a *Agent) prepareModel(mc config.Model) (*servedModel, error) {
	var s *servedModel
	var err error
	if mc.Ensemble != nil {
		s, err = a.loadEnsemble(mc)
	} else {
		s, err = loadModel(a.cfg, mc, a.reg, a.log, a.dl)
	}
	if err != nil {
		return nil, err
	}
	if dc := a.cfg.DriftFor(mc); dc.Profile != "" {
		var dm *monitor.Monitor
		dm, err = monitor.New(a.cfg, mc, s.info, a.emitDrift, a.driftG.Dropped(mc.Name), a.log)
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			s.close(ctx)
			cancel()
			return nil, err
		}
		s.drift = dm.Start()
	}
	a.build(s)
	return s, nil
}

// build stacks the version's pipeline on its batcher pool: metrics →
// check → drift tap → cache → batcher pool (→ executor).
func (a *Agent) build(s *servedModel) {
	var tap, cached infer.Middleware
	if s.drift != nil {
		tap = pipeline.Tap(s.drift.Offer)
	}
	a.mu.RLock()
	st := a.caches[s.info.Name]
	a.mu.RUnlock()
	if st != nil {
		cached = st.Stage(s.info.SHA256, a.log)
		s.info.Cached = true
	}
	s.handler = infer.Pipeline(s.pool, a.metrics.Stage(s.info, &s.stats), pipeline.Check(s.info), tap, cached)
}

// installModel serves s in place of the version of its model serving now.
func (a *Agent) installModel(s *servedModel) { a.swapIn(s, true) }

// swapIn serves s in place of the version of its model serving now. When
// the model is unloaded, s serves only with force (a load); otherwise it
// is closed and kept as the version the model serves once loaded.
func (a *Agent) swapIn(s *servedModel, force bool) {
	a.mu.Lock()
	if u := a.unloaded[s.info.Name]; u != nil && !force {
		u.info = s.info
		a.mu.Unlock()
		a.log.Info("model unloaded by a local operator; the new version serves once it is loaded", "model", s.info.Name, "version", s.info.Version)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.RequestTimeout.D())
			defer cancel()
			s.close(ctx)
		}()
		return
	}
	old := a.models[s.info.Name]
	a.models[s.info.Name] = s
	delete(a.missing, s.info.Name)
	delete(a.unloaded, s.info.Name)
	a.mu.Unlock()
	if old != nil {
		a.modelInfo.DeleteLabelValues(old.info.Name, old.info.Version, old.info.SHA256)
		// Requests the old version accepted finish on it.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.RequestTimeout.D())
			defer cancel()
			old.close(ctx)
		}()
	}
	a.modelInfo.WithLabelValues(s.info.Name, s.info.Version, s.info.SHA256).Set(1)
	a.log.Info("model loaded", "model", s.info.Name, "version", s.info.Version, "sha256", s.info.SHA256[:12], "path", s.info.Path, "inputs", len(s.info.Inputs), "outputs", len(s.info.Outputs))
}

func (a *Agent) model(name, version string) (*servedModel, error) {
	a.mu.RLock()
	s := a.models[name]
	a.mu.RUnlock()
	if s == nil {
		a.mu.RLock()
		err := a.errUnloadedLocked(name, version)
		a.mu.RUnlock()
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %q", infer.ErrModelNotFound, name)
	}
	if version != "" && version != s.info.Version {
		return nil, fmt.Errorf("%w: %q version %q (serving version %q)", infer.ErrModelNotFound, name, version, s.info.Version)
	}
	return s, nil
}

// swapRetries bounds how often a request that met a version being
// swapped out is sent to the version that replaced it.
const swapRetries = 3

// Handle serves one request: it picks the version that serves it (and,
// while a candidate is under evaluation, the arm) and sends it down that
// version's pipeline. A request that picked a version just as it was
// swapped out (its batchers closing) goes to the new version: a swap
// drops nothing.
func (a *Agent) Handle(ctx context.Context, req *infer.Request) (*infer.Response, error) {
	if !req.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, req.Deadline)
		defer cancel()
	}
	var lastS *servedModel
	var lastR *deploy.Rollout
	for try := 0; ; try++ {
		s, r, err := a.route(req)
		if err != nil {
			return nil, err
		}
		if try > 0 && s == lastS && r == lastR {
			return nil, fmt.Errorf("model %q: %w", req.Model, batch.ErrClosed)
		}
		var resp *infer.Response
		if r != nil {
			resp, err = r.Handle(ctx, req, s)
		} else {
			resp, err = s.handler.Handle(ctx, req)
		}
		if !errors.Is(err, batch.ErrClosed) || try == swapRetries {
			return resp, err
		}
		lastS, lastR = s, r
	}
}

// route returns the version that serves req and the rollout that routes
// it between that version and a candidate (nil when none does: no
// candidate, or a pinned version).
func (a *Agent) route(req *infer.Request) (*servedModel, *deploy.Rollout, error) {
	s, err := a.model(req.Model, req.Version)
	if err != nil || req.Version != "" {
		return s, nil, err
	}
	a.mu.RLock()
	r := a.rollouts[req.Model]
	a.mu.RUnlock()
	return s, r, nil
}

// Infer runs one request on a model (version "" means the current one)
// and returns its outputs.
func (a *Agent) Infer(ctx context.Context, name, version string, in []infer.Tensor) ([]infer.Tensor, error) {
	resp, err := a.Handle(ctx, &infer.Request{Model: name, Version: version, Inputs: in})
	if err != nil {
		return nil, err
	}
	return resp.Outputs, nil
}

// Model describes a served model.
func (a *Agent) Model(name, version string) (infer.ModelInfo, error) {
	s, err := a.model(name, version)
	if err != nil {
		return infer.ModelInfo{}, err
	}
	return s.info, nil
}

// Admit tells the HTTP endpoint, before it reads a request body, whether
// the model can take a request now. It errs towards admitting: a request
// the cache could answer is refused only when the queues are full anyway.
func (a *Agent) Admit(name, version string) error {
	s, err := a.model(name, version)
	if err != nil {
		return err
	}
	return s.pool.Admit()
}

// Models lists the served models by name.
func (a *Agent) Models() []infer.ModelInfo {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]infer.ModelInfo, 0, len(a.models))
	for _, s := range a.models {
		out = append(out, s.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Ready reports whether every configured model is served.
// Missing names the configured models that do not serve, with the
// reason.
func (a *Agent) Missing() []status.Missing {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []status.Missing
	for _, mc := range a.cfg.Models {
		if a.models[mc.Name] != nil || a.unloaded[mc.Name] != nil {
			continue
		}
		why := a.missing[mc.Name]
		if why == "" {
			why = "not loaded"
		}
		out = append(out, status.Missing{Model: mc.Name, Reason: why})
	}
	for name, u := range a.unloaded {
		m := status.Missing{Model: name, Version: u.info.Version, Reason: "unloaded", Unloaded: u.since}
		if r := a.rollouts[name]; r != nil {
			m.Canary = r.Status()
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}

// missingModel records that a configured model failed to load.
func (a *Agent) missingModel(name string, err error) {
	a.log.Error("model not served; the others serve", "model", name, "err", err)
	a.mu.Lock()
	if a.missing == nil {
		a.missing = map[string]string{}
	}
	a.missing[name] = err.Error()
	a.mu.Unlock()
	det, _ := json.Marshal(map[string]any{"op": "load", "reason": err.Error()})
	if err := a.event(fleet.Event{Kind: "error", Model: name, Detail: det}); err != nil {
		a.log.Warn("event not queued", "model", name, "err", err)
	}
}

// event queues ev for the fleet, or keeps it for the console without a
// broker (with one, the link keeps the last events).
func (a *Agent) event(ev fleet.Event) error {
	if a.link == nil {
		if ev.Time.IsZero() {
			ev.Time = time.Now().UTC()
		}
		a.events.Add(ev)
		return nil
	}
	_, err := a.link.Event(ev)
	return err
}

func (a *Agent) Ready() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	// Models deployed over the air may add to the configured ones; a
	// model a local operator unloaded does not count (as in Triton).
	for _, mc := range a.cfg.Models {
		if a.models[mc.Name] == nil && a.unloaded[mc.Name] == nil {
			return false
		}
	}
	return true
}

// StuckAfter is how long one invocation may run before the inference
// path counts as stuck (Healthy turns false and the systemd watchdog
// stops being fed, so systemd restarts the service).
const StuckAfter = 60 * time.Second

// Healthy reports whether no invocation has been running longer than
// StuckAfter; it names the stuck model otherwise.
func (a *Agent) Healthy() (bool, string) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, s := range a.models {
		if t := s.stuckSince(); !t.IsZero() && time.Since(t) > StuckAfter {
			return false, fmt.Sprintf("model %q has an invocation running for %s", s.info.Name, time.Since(t).Round(time.Second))
		}
	}
	return true, ""
}

// Status reports the agent's state.
func (a *Agent) Status() status.Device {
	st := status.Device{Version: Version, DeviceID: a.cfg.Device.ID, Started: a.started, UptimeSec: time.Since(a.started).Seconds(), Ready: a.Ready(), Board: a.board, HTTP: a.cfg.HTTP.Listen}
	st.Missing = a.Missing()
	a.mu.RLock()
	for _, s := range a.models {
		ms := status.Model{Name: s.info.Name, Version: s.info.Version, SHA256: s.info.SHA256, Path: s.info.Path, Loaded: s.loaded,
			Reason: a.notes[s.info.Name], Queued: s.pool.Len(), Capacity: s.capacity, Instances: s.pool.Size(), MaxBatch: s.info.MaxBatch, Batchable: s.batchable()}
		if c := a.caches[s.info.Name]; c != nil {
			cs := c.Stats()
			ms.Cache = &status.Cache{Entries: cs.Entries, Hits: cs.Hits, Misses: cs.Misses, Evictions: cs.Evictions}
		}
		if s.drift != nil {
			ms.Drift = s.drift.Status().State.String()
		}
		if r := a.rollouts[s.info.Name]; r != nil {
			ms.Canary = r.Status()
		}
		ms.Delegates = s.delegateStatus()
		ms.Requests = requests(s)
		st.Models = append(st.Models, ms)
	}
	a.mu.RUnlock()
	sort.Slice(st.Models, func(i, j int) bool { return st.Models[i].Name < st.Models[j].Name })
	a.consoleStatus(&st)
	return st
}

// Addr is the address the endpoint listens on, once Run has started it.
func (a *Agent) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case <-a.ready:
		return a.addr, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// bodyMemory is http.body_memory, or its default from the board's memory.
func (a *Agent) bodyMemory() int64 {
	if n := a.cfg.HTTP.BodyMemory; n > 0 {
		return n
	}
	total, err := memlimit.Total("/")
	if err != nil {
		a.log.Warn("board memory unknown; request bodies are bounded as on a 1 GiB board", "err", err)
		total = 1 << 30
	}
	return memlimit.DefaultBudget(total, a.cfg.HTTP.MaxRequestBytes)
}

// Run serves until ctx ends, then drains requests in flight and returns
// nil; it returns an error only when a component cannot start or fails.
func (a *Agent) Run(ctx context.Context) error {
	token := a.cfg.HTTP.Token
	if a.cfg.HTTP.TokenFile != "" {
		b, err := os.ReadFile(a.cfg.HTTP.TokenFile)
		if err != nil {
			return fmt.Errorf("http.token_file: %w", err)
		}
		token = string(trimSpace(b))
	}
	host, _, _ := net.SplitHostPort(a.cfg.HTTP.Listen)
	pprof := config.IsLoopback(host)
	if a.cfg.HTTP.Pprof != nil {
		pprof = *a.cfg.HTTP.Pprof
	}
	budget := memlimit.NewBudget(a.bodyMemory(), 0)
	defer budget.Close()
	api := localapi.New(a, localapi.Options{
		Token: token, MaxRequestBytes: a.cfg.HTTP.MaxRequestBytes, RequestTimeout: a.cfg.HTTP.RequestTimeout.D(),
		Gatherer: a.reg, Registerer: a.reg, Pprof: pprof, Profiler: a, Log: a.log, Version: Version,
		BodyBudget: budget, Hosts: localapi.HostsFor(a.cfg.HTTP.Listen, a.cfg.HTTP.AllowedHosts, config.IsLoopback(host)),
		Repository: a, Stats: &a.stats,
	})
	ln, err := net.Listen("tcp", a.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	a.addr = ln.Addr()
	// Every connection costs memory before its request is checked: at
	// most http.max_connections are served, the others wait in the
	// kernel's backlog, and a waiting client takes the place of the
	// keep-alive connection idle longest.
	limited := connlimit.New(ln, cmp.Or(max(a.cfg.HTTP.MaxConnections, 0), 256))
	ln = limited
	close(a.ready)
	// ReadTimeout cuts off a client that sends its request slowly (each
	// held connection costs a goroutine and buffers); headers are small.
	// WriteTimeout, counted from the request's headers, covers reading
	// the body, the inference and 30 s of writing: a client that never
	// reads its answer gives its connection back.
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: a.cfg.HTTP.ReadTimeout.D(),
		WriteTimeout: a.cfg.HTTP.ReadTimeout.D() + a.cfg.HTTP.RequestTimeout.D() + 30*time.Second,
		IdleTimeout:  120 * time.Second, MaxHeaderBytes: 64 << 10, ConnState: limited.ConnState}

	var wg sync.WaitGroup
	errc := make(chan error, 3+len(a.cfg.Sources))
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	a.log.Info("local endpoint listening", "url", "http://"+ln.Addr().String()+"/")
	stopGRPC, err := a.serveGRPC(token, errc, &wg)
	if err != nil {
		srv.Close()
		wg.Wait()
		return err
	}

	srcCtx, stopSources := context.WithCancel(ctx)
	defer stopSources()
	for i, sc := range a.cfg.Sources {
		src, err := a.newSource(i, sc, a.log.With("source", a.taps[i].name, "type", sc.Type))
		if err != nil {
			stopSources()
			srv.Close()
			wg.Wait()
			return fmt.Errorf("sources[%d]: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := src.Run(srcCtx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("sources[%d]: %w", i, err)
			}
		}()
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		a.runHistory(srcCtx)
	}()
	if a.link != nil {
		pub := a.telemetry()
		a.link.Handle(fleet.OpPing, a.answerPing(pub))
		for _, run := range []func(context.Context) error{a.link.Run, pub.Run} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := run(srcCtx); err != nil {
					errc <- err
				}
			}()
		}
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	stopSources()
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	stopGRPC()
	wg.Wait()
	a.Close()
	a.log.Info("stopped")
	return runErr
}

// sourceRunner is what the agent needs of a source.
type sourceRunner interface {
	Run(ctx context.Context) error
}

// newSource builds the source a config entry asks for; a periph source
// opens its sensor here, so a missing bus fails the start.
func (a *Agent) newSource(i int, sc config.Source, log *slog.Logger) (sourceRunner, error) {
	switch sc.Type {
	case "mqtt":
		m := sc.MQTT
		// Unique per device and source: a broker drops the older of two
		// connections with one client id.
		clientID := cmp.Or(m.ClientID, fmt.Sprintf("edged-%s-src%d", a.cfg.Device.ID, i))
		src, err := source.NewMQTT(source.MQTTOptions{
			Broker: m.Broker, ClientID: clientID, Username: m.Username, Password: m.Password,
			CAFile: a.cfg.Path(m.CAFile), CertFile: a.cfg.Path(m.CertFile), KeyFile: a.cfg.Path(m.KeyFile),
			Topic: m.Topic, ResultTopic: m.ResultTopic, QoS: m.QoS, Encoding: m.Encoding, MaxPayload: m.MaxPayload,
			Model: sc.Model, Dequantize: m.Dequantize, Queue: m.Queue, RequestTimeout: a.cfg.HTTP.RequestTimeout.D(),
		}, a.taps[i], log)
		if err != nil {
			return nil, err
		}
		refused := func() uint64 { st := src.Stats(); return st.BadPayload + st.Dropped + st.PublishErrs }
		a.taps[i].turnedAway.Store(&refused)
		return src, nil
	case "periph":
		p := sc.Periph
		dev, err := source.OpenBME280(p.Bus, p.Address)
		if err != nil {
			return nil, err
		}
		src, err := source.NewPeriph(source.PeriphOptions{
			Model: sc.Model, Interval: sc.Interval.D(), Window: p.Window, Stride: p.Stride,
			RequestTimeout: a.cfg.HTTP.RequestTimeout.D(),
		}, dev, a.taps[i], log)
		if err != nil {
			dev.Close()
			return nil, err
		}
		return src, nil
	default:
		src, err := source.NewSynthetic(sc, a.cfg.Path, a.taps[i], log)
		if err != nil {
			return nil, err
		}
		return src, nil
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
