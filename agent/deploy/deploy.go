package deploy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/link"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/cmdlog"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/store"
	"github.com/edged-dev/edged/ota/transfer"
)

// Command states written by the deploy and rollback handlers besides
// fleet's generic ones; edgectl deploy knows them.
const (
	StatusDownloading = "downloading"
	StatusVerified    = "verified"
	StatusStaged      = "staged"
	StatusActive      = "active"
	StatusRolledBack  = "rolled_back"
)

// Files of a version in the store.
const (
	FileModel    = "model.tflite"
	fileManifest = "manifest.json"
	fileLabels   = "labels.txt"
	fileProfile  = "profile.json"
	// fileEdgeTPU is the edgetpu variant, fetched only when this host's
	// delegate chain would run it.
	fileEdgeTPU = "model_edgetpu.tflite"
)

const (
	// clockSkew is how far a manifest's created time may lie ahead of the
	// device clock: devices without a real-time clock drift.
	clockSkew = 5 * time.Minute
	// metaTimeout bounds the wait for a blob's retained meta: edgectl
	// publishes it before the command, so a missing one was never pushed
	// or was cleared.
	metaTimeout = 2 * time.Minute
	// idleTimeout ends a download that received nothing for this long; the
	// command fails and resumes when it is delivered again.
	idleTimeout = 5 * time.Minute
)

// Store is what the deployer needs of ota/store; tests wrap it to inject
// write errors (Deployer.WrapStore).
type Store interface {
	Model(name string) (store.Model, bool, error)
	Models() ([]store.Model, error)
	Stage(name string, version uint64, files []store.File) error
	Promote(name string) (store.Model, error)
	Rollback(name string) (store.Model, error)
	MarkGood(name string) error
	Path(name string, version uint64, file string) string
}

// Deployer runs the OTA commands of one agent.
type Deployer struct {
	host    Host
	cfg     *config.Config
	link    *link.Link
	log     *slog.Logger
	root    ed25519.PublicKey
	db      *store.Store
	st      Store
	cmds    *cmdlog.Log
	dlDir   string
	maxBlob int64
	smoke   time.Duration
	window  time.Duration
	now     func() time.Time

	// mu serialises model changes: the command handlers and probation
	// timers.
	mu     sync.Mutex
	timers map[string]*time.Timer
	closed bool

	// onProgress, if set, sees every download progress on the handler's
	// goroutine (tests).
	onProgress func(context.Context, transfer.Progress)

	// Rollouts of candidates under evaluation (canary.go): the ones
	// running, their record, lifetime and tick. rmu guards rollouts.
	rmu      sync.Mutex
	rollouts map[string]*Rollout
	// ended says, by model, which evaluation ended last and when: the
	// answer to feedback that arrives after it.
	ended map[string]string

	// vmu guards what the state message says of each model beyond its
	// active version, as last read: previous versions (from the store,
	// read under mu) and candidates under evaluation (kept by register
	// and unregister). The birth at a connection reads them without
	// waiting for a deploy in progress.
	vmu        sync.Mutex
	previous   map[string]string
	candidates map[string]string
	canaryDB   *bolt.DB
	rctx       context.Context
	rcancel    context.CancelFunc
	rwg        sync.WaitGroup
	canaryTick time.Duration

	// rep is what the console shows (report.go).
	rep report
}

// outcome is where a command ended.
type outcome struct {
	state   string // "" when interrupted by the agent stopping
	reason  string
	check   string // which manifest check failed, for rejections
	model   string
	version uint64 // the version the command was about
	from    uint64 // the version serving before
	to      uint64 // the version serving after
	// expires is when the verified command stops being valid (its
	// manifest's or its own expiry), nonce its nonce: a command is
	// recorded only when expires is set, that is once it verified.
	expires time.Time
	nonce   string
}

// New opens the store, handles crash loops, serves the store's active
// versions on host and takes the deploy, rollback and promote commands on
// the link. It returns the models it serves, which the config's files
// then do not replace.
func New(host Host, cfg *config.Config, l *link.Link, log *slog.Logger) (*Deployer, map[string]bool, error) {
	o := cfg.OTA
	root, err := LoadRootKey(cfg)
	if err != nil {
		return nil, nil, err
	}
	dir, err := filepath.Abs(cfg.Path(o.StoreDir))
	if err != nil {
		return nil, nil, fmt.Errorf("ota.store_dir: %w", err)
	}
	log = log.With("component", "ota")
	d := &Deployer{
		host: host, cfg: cfg, link: l, log: log, root: root, dlDir: filepath.Join(dir, "downloads"), maxBlob: o.MaxBlobBytes,
		smoke: o.SmokeTimeout.D(), window: o.CrashLoop.Window.D(), now: time.Now, timers: map[string]*time.Timer{},
	}
	sopts := &store.Options{CrashWindow: d.window, CrashStarts: o.CrashLoop.Starts, Log: log}
	db, err := store.Open(dir, sopts)
	if errors.Is(err, store.ErrCorrupt) {
		// Moved aside: start from the config's models, and say so.
		log.Error("model store corrupt; serving the configured models", "err", err)
		d.event(fleet.Event{Kind: "error", Detail: detail(map[string]any{"op": "store", "reason": err.Error()})})
		db, err = store.Open(dir, sopts)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ota: %w", err)
	}
	d.db, d.st = db, db
	sweepDownloads(d.dlDir, d.now(), log)
	if d.cmds, err = openCommands(dir, log); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("ota: %w", err)
	}
	loaded, err := d.start(dir)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, loaded, nil
}

// start handles a crash loop, serves the store's active versions and
// registers the command handlers.
func (d *Deployer) start(dir string) (map[string]bool, error) {
	log, db := d.log, d.db

	if err := db.RecordStart(); err != nil {
		log.Warn("cannot record the start; crash loops go unnoticed", "err", err)
	}
	rolled, err := db.CheckCrashLoop()
	if err != nil {
		log.Warn("cannot check for a crash loop", "err", err)
	}
	for _, r := range rolled {
		d.noteOutcome(r.Name, "crash_loop", StatusRolledBack)
		d.event(fleet.Event{Kind: "update", Model: r.Name, Detail: detail(map[string]any{
			"op": "crash_loop", "state": StatusRolledBack, "from": r.From, "to": r.To,
			"reason": fmt.Sprintf("%d starts within %v after version %d was promoted", r.Starts, d.window, r.From),
		})})
	}

	loaded, err := d.serveStored()
	if err != nil {
		return nil, err
	}
	if err := d.startRollouts(dir); err != nil {
		return nil, fmt.Errorf("ota: %w", err)
	}
	d.link.Handle(fleet.OpDeploy, d.deploy)
	d.link.Handle(fleet.OpRollback, d.onRollback)
	d.link.Handle(fleet.OpPromote, d.onPromote)
	d.link.Handle(fleet.OpHold, d.onHold)
	d.link.Handle(fleet.OpResume, d.onResume)
	return loaded, nil
}

// serveStored serves the store's active versions (not of ensembles),
// each checked first (serveStoredModel).
func (d *Deployer) serveStored() (map[string]bool, error) {
	loaded := map[string]bool{}
	ms, err := d.st.Models()
	if err != nil {
		return nil, fmt.Errorf("ota: %w", err)
	}
	for _, m := range ms {
		if m.Active == 0 {
			continue
		}
		if mc, ok := d.host.ConfigModel(m.Name); ok && mc.Ensemble != nil {
			continue
		}
		if s, ok := d.serveStoredModel(m.Name); ok {
			d.host.Serve(s)
			loaded[m.Name] = true
		}
	}
	return loaded, nil
}

// AgentVersion is the highest agent version this device installed, kept
// in the model store apart from the self-updater's state file.
func (d *Deployer) AgentVersion() uint64 {
	v, err := d.db.AgentVersion()
	if err != nil {
		d.log.Warn("cannot read the highest agent version installed", "err", err)
	}
	return v
}

// RecordAgentVersion raises the highest agent version installed.
func (d *Deployer) RecordAgentVersion(v uint64) {
	if err := d.db.RecordAgentVersion(v); err != nil {
		d.log.Warn("cannot record the agent version installed", "version", v, "err", err)
	}
}

// LoadRootKey reads ota.root_key: a key file or the key in base64.
func LoadRootKey(c *config.Config) (ed25519.PublicKey, error) {
	if b, ok := c.OTA.InlineRootKey(); ok {
		return ed25519.PublicKey(b), nil
	}
	k, err := sign.LoadPublicKey(c.Path(c.OTA.RootKey))
	if err != nil {
		return nil, fmt.Errorf("ota.root_key: %w", err)
	}
	return k, nil
}

// Close stops the probation timers and closes the store and the command
// record. Stop the rollouts first (StopRollouts).
func (d *Deployer) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	for _, t := range d.timers {
		t.Stop()
	}
	// Reached only when the agent stops, not when it crashes: the next
	// start does not count towards a crash loop.
	if err := d.db.RecordStop(); err != nil {
		d.log.Warn("cannot record the clean stop; the next start counts as after a crash", "err", err)
	}
	if err := d.cmds.Close(); err != nil {
		d.log.Warn("closing the command record", "err", err)
	}
	if err := d.db.Close(); err != nil {
		d.log.Warn("closing the model store", "err", err)
	}
}

// modelConfig is the entry that serves a version from the store: the
// config's settings for the model (or the defaults) with the store's
// files, and the bundle's labels and drift profile when it carried them.
func (d *Deployer) modelConfig(name string, version uint64) config.Model {
	path := d.st.Path(name, version, FileModel)
	v := strconv.FormatUint(version, 10)
	mc, ok := d.host.ConfigModel(name)
	if ok {
		// The config's variants are of the config's version.
		mc.Path, mc.Version, mc.Variants = path, v, nil
	} else {
		mc = config.NewModel(name, path, v)
	}
	if p := d.st.Path(name, version, fileLabels); exists(p) {
		mc.Labels = p
	}
	if p := d.st.Path(name, version, fileEdgeTPU); exists(p) {
		mc.Variants = map[string]string{bundle.VariantEdgeTPU: p}
	}
	if p := d.st.Path(name, version, fileProfile); exists(p) {
		dc := config.Drift{}
		if mc.Drift != nil {
			dc = *mc.Drift
		}
		dc.Profile = p
		mc.Drift = &dc
	}
	return mc
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// prepare loads a version and runs its smoke inference within
// ota.smoke_timeout. A load that outlasts it is abandoned: its model is
// closed whenever it finishes.
func (d *Deployer) prepare(ctx context.Context, mc config.Model) (Version, error) {
	type result struct {
		s   Version
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := d.host.Load(mc)
		ch <- result{s, err}
	}()
	abandon := func() {
		go func() {
			if r := <-ch; r.s != nil {
				closeModel(r.s)
			}
		}()
	}
	t := time.NewTimer(d.smoke)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-t.C:
		abandon()
		return nil, fmt.Errorf("model %q version %s: loading and the smoke inference took longer than ota.smoke_timeout (%v)", mc.Name, mc.Version, d.smoke)
	case <-ctx.Done():
		abandon()
		return nil, ctx.Err()
	}
}

func closeModel(s Version) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.Close(ctx)
}

// probation marks version good once it has served for the crash-loop
// window since changed without a restart.
func (d *Deployer) probation(name string, version uint64, changed time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.probationLocked(name, version, changed)
}

// probationLocked is probation for a caller holding d.mu.
func (d *Deployer) probationLocked(name string, version uint64, changed time.Time) {
	if d.closed {
		return
	}
	if t := d.timers[name]; t != nil {
		t.Stop()
	}
	wait := max(0, changed.Add(d.window).Sub(d.now()))
	d.timers[name] = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.closed {
			return
		}
		m, _, err := d.st.Model(name)
		if err != nil || m.Active != version || m.Good {
			return
		}
		if err := d.st.MarkGood(name); err != nil {
			d.log.Warn("cannot end the probation of a model", "model", name, "version", version, "err", err)
			return
		}
		d.log.Info("model version marked good", "model", name, "version", version)
	})
}

// deploy handles a deploy command.
func (d *Deployer) deploy(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
	if d.repeat(ctx, cmd) {
		return
	}
	out := d.runDeploy(ctx, cmd)
	d.finish(ctx, cmd, out)
}

// repeat answers a command handled before (the same op, id and payload)
// with its recorded status.
func (d *Deployer) repeat(ctx context.Context, cmd fleet.Command) bool {
	rec, found := d.cmds.Lookup(cmd.Op, cmd.ID, cmd.Payload)
	if !found || rec.State == fleet.StatusFailed {
		return false // failed commands are tried again
	}
	d.log.Info("command already handled; status repeated", "op", cmd.Op, "id", cmd.ID, "state", rec.State)
	d.status(ctx, cmd, rec.State, 0, rec.Reason)
	return true
}

// finish records the outcome, writes the final status, publishes the event
// and, after a change, the device's state.
func (d *Deployer) finish(ctx context.Context, cmd fleet.Command, out outcome) {
	if out.state == "" {
		d.log.Info("command interrupted; it resumes when delivered again", "op", cmd.Op, "id", cmd.ID)
		return
	}
	if !out.expires.IsZero() {
		rec := cmdlog.Record{Op: cmd.Op, ID: cmd.ID, Hash: cmdlog.Hash(cmd.Payload), Nonce: out.nonce, State: out.state, Reason: out.reason, Expires: out.expires}
		if err := d.cmds.Put(rec); err != nil {
			d.log.Warn("cannot record the command; a repeated delivery is handled again", "id", cmd.ID, "err", err)
		}
	}
	d.status(ctx, cmd, out.state, 0, out.reason)
	d.noteOutcome(out.model, cmd.Op, out.state)
	det := map[string]any{"op": cmd.Op, "cmd": cmd.ID, "state": out.state}
	for k, v := range map[string]uint64{"version": out.version, "from": out.from, "to": out.to} {
		if v != 0 {
			det[k] = v
		}
	}
	if out.reason != "" {
		det["reason"] = out.reason
	}
	if out.check != "" {
		det["check"] = out.check
	}
	d.event(fleet.Event{Kind: "update", Model: out.model, Detail: detail(det)})
	lvl := slog.LevelInfo
	if out.state != StatusActive && out.state != fleet.StatusDone {
		lvl = slog.LevelWarn
	}
	d.log.Log(ctx, lvl, "command finished", "op", cmd.Op, "id", cmd.ID, "model", out.model, "state", out.state, "reason", out.reason)
	if out.model != "" {
		d.republish(ctx) // a version or a candidate may have changed
	}
}

func (d *Deployer) runDeploy(ctx context.Context, cmd fleet.Command) outcome {
	hdr, err := sign.Peek(cmd.Payload)
	if err != nil {
		return outcome{state: fleet.StatusRejected, check: "malformed", reason: err.Error()}
	}
	out := outcome{model: hdr.Name, version: hdr.Version}
	if !config.ValidName(hdr.Name) {
		out.state, out.check, out.reason = fleet.StatusRejected, "malformed", fmt.Sprintf("manifest names model %q; want 1-128 letters, digits, '.', '_' or '-'", hdr.Name)
		out.model = ""
		return out
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, _, err := d.st.Model(hdr.Name)
	if err != nil {
		return d.failed(out, err)
	}
	if r := d.Rollout(hdr.Name); r != nil && r.version == hdr.Version {
		// The candidate under evaluation deployed again (or its manifest
		// replayed): promoting takes a signed promote command.
		out.state, out.reason = StatusSkipped, fmt.Sprintf("model %s version %d is the candidate under evaluation; promote it with a promote command", hdr.Name, hdr.Version)
		return out
	}
	if s, ok := d.host.Serving(hdr.Name); ok {
		out.from, _ = strconv.ParseUint(s.Info().Version, 10, 64)
	}
	m, err := sign.Verify(cmd.Payload, d.root, sign.VerifyOptions{
		Now: d.now, Skew: clockSkew, Kind: sign.KindModel, Name: hdr.Name, LastVersion: cur.LastVersion,
	})
	if err != nil {
		out.state, out.check, out.reason = fleet.StatusRejected, sign.Check(err), err.Error()
		return out
	}
	out.expires = m.Expires
	if mc, ok := d.host.ConfigModel(m.Name); ok && mc.Ensemble != nil {
		out.state, out.check, out.reason = fleet.StatusRejected, "ensemble", fmt.Sprintf("model %q is an ensemble in the config; deploy its members", m.Name)
		return out
	}
	var policy *canary.Policy
	if len(m.Policy) > 0 && string(m.Policy) != "null" {
		p, err := canary.ParsePolicy(m.Policy)
		if err != nil {
			out.state, out.check, out.reason = fleet.StatusRejected, "policy", err.Error()
			return out
		}
		policy = &p
	}
	if s, ok := d.host.Serving(m.Name); ok {
		if why := interfaceChange(m, s.Info()); why != "" {
			out.state, out.check, out.reason = fleet.StatusRejected, "interface", fmt.Sprintf("model %s %s", m.Name, why)
			return out
		}
	}
	blob, ok := m.Blob(bundle.VariantCPU)
	if !ok {
		// An accelerator variant alone leaves nothing to fall back on
		// when the accelerator fails; the old version keeps serving.
		out.state, out.check, out.reason = fleet.StatusRejected, "variant", fmt.Sprintf("manifest has no %q variant; every model needs one as its CPU fallback", bundle.VariantCPU)
		return out
	}
	if blob.Size > d.maxBlob {
		out.state, out.check, out.reason = fleet.StatusRejected, "size", fmt.Sprintf("the %s variant is %d bytes; ota.max_blob_bytes allows %d", blob.Variant, blob.Size, d.maxBlob)
		return out
	}

	d.log.Info("deploying", "id", cmd.ID, "model", m.Name, "version", m.Version, "from", out.from, "bytes", blob.Size)
	path, err := d.fetch(ctx, cmd, m, blob)
	if ctx.Err() != nil {
		return outcome{}
	}
	if err != nil {
		// Kept for the command's next delivery, until the manifest expires.
		return d.failed(out, err)
	}
	// Downloaded whole: nothing is left to resume, whatever comes next.
	defer discardDownload(d.dlDir, blob.SHA256, d.log)
	if err := verifyFile(path, blob); err != nil {
		return d.failed(out, err)
	}
	// The edgetpu variant too, when an Edge TPU here would run it.
	var tpuPath string
	if tb, ok := m.Blob(bundle.VariantEdgeTPU); ok && tb.Size <= d.maxBlob && d.host.BackendPresent(ctx, bundle.VariantEdgeTPU) {
		tpuPath, err = d.fetch(ctx, cmd, m, tb)
		if ctx.Err() != nil {
			return outcome{}
		}
		if err == nil {
			defer discardDownload(d.dlDir, tb.SHA256, d.log)
			err = verifyFile(tpuPath, tb)
		}
		if err != nil {
			return d.failed(out, err)
		}
	}
	d.status(ctx, cmd, StatusVerified, 0, "")

	// A newer deploy replaces a candidate still under evaluation.
	d.endRolloutLocked(m.Name, fmt.Sprintf("superseded by version %d (command %s)", m.Version, cmd.ID))
	if cur.Active == 0 {
		d.adopt(m.Name, m.Version)
	}
	if err := d.stage(m, cmd.Payload, path, tpuPath); err != nil {
		return d.failed(out, err)
	}
	d.status(ctx, cmd, StatusStaged, 0, "")

	mc := d.modelConfig(m.Name, m.Version)
	s, err := d.prepare(ctx, mc)
	if ctx.Err() != nil {
		return outcome{}
	}
	if err != nil {
		// Only staged: the store still names the old version active.
		out.state, out.reason = StatusRolledBack, err.Error()
		return out
	}
	if policy != nil {
		// Evaluated beside the active version before it is promoted.
		if err := d.beginRollout(cmd, m.Expires, m.Name, m.Version, out.from, *policy, s); err != nil {
			closeModel(s)
			return d.failed(out, err)
		}
		out.state = StatusShadow
		out.reason = fmt.Sprintf("model %s version %d in shadow: %g%% of requests also run on it, %d comparisons to decide", m.Name, m.Version, 100*policy.SampleRate, policy.MinSamples)
		return out
	}
	pm, err := d.st.Promote(m.Name)
	if err != nil {
		closeModel(s)
		return d.failed(out, err)
	}
	d.host.Serve(s)
	d.host.Note(m.Name, "")
	d.probationLocked(m.Name, pm.Active, pm.Changed)
	out.state, out.to = StatusActive, m.Version
	out.reason = fmt.Sprintf("model %s version %d serving", m.Name, m.Version)
	return out
}

func (d *Deployer) failed(out outcome, err error) outcome {
	out.state, out.reason = fleet.StatusFailed, err.Error()
	return out
}

// stage writes the model, the manifest and what the manifest carries
// into the store; a failure leaves nothing staged.
func (d *Deployer) stage(m *sign.Manifest, raw []byte, path, tpuPath string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	files := []store.File{{Name: FileModel, Data: f}, {Name: fileManifest, Data: bytes.NewReader(raw)}}
	if tpuPath != "" {
		tf, err := os.Open(tpuPath)
		if err != nil {
			return err
		}
		defer tf.Close()
		files = append(files, store.File{Name: fileEdgeTPU, Data: tf})
	}
	if len(m.Labels) > 0 {
		files = append(files, store.File{Name: fileLabels, Data: strings.NewReader(strings.Join(m.Labels, "\n") + "\n")})
	}
	if len(m.Profile) > 0 && string(m.Profile) != "null" {
		files = append(files, store.File{Name: fileProfile, Data: bytes.NewReader(m.Profile)})
	}
	return d.st.Stage(m.Name, m.Version, files)
}

// adopt copies the config's file of a model into the store as its active
// version before the model's first deployment, so that a rollback or a
// crash loop has a version to return to. It needs a numeric config
// version below the deployed one; without it the first deployment has no
// previous version. Failures only cost that.
func (d *Deployer) adopt(name string, deploying uint64) {
	mc, ok := d.host.ConfigModel(name)
	if !ok || mc.Ensemble != nil {
		return
	}
	v, err := strconv.ParseUint(mc.Version, 10, 64)
	if err != nil || v == 0 || v >= deploying {
		d.log.Info("the configured version cannot be rolled back to: it is not a number below the deployed one", "model", name, "version", mc.Version, "deploying", deploying)
		return
	}
	f, err := os.Open(d.cfg.Path(mc.Path))
	if err == nil {
		err = d.st.Stage(name, v, []store.File{{Name: FileModel, Data: f}})
		f.Close()
	}
	if err == nil {
		_, err = d.st.Promote(name)
	}
	if err == nil {
		// It served before the deployment.
		err = d.st.MarkGood(name)
	}
	if err != nil {
		d.log.Warn("cannot keep the configured version to roll back to", "model", name, "version", v, "err", err)
	}
}

// status writes a command's status. One not acknowledged now (the
// device is offline) is sent again once the link is back, unless a later
// status of the command replaced it; after a restart the command's
// recorded outcome answers its next delivery.
func (d *Deployer) status(ctx context.Context, cmd fleet.Command, state string, progress float64, reason string) {
	err := d.link.Client().WriteStatus(ctx, cmd.Op, fleet.CommandStatus{ID: cmd.ID, State: state, Progress: progress, Reason: reason})
	if err != nil {
		d.log.Debug("command status not sent now; it is sent again once connected", "op", cmd.Op, "id", cmd.ID, "state", state, "err", err)
	}
}

func (d *Deployer) event(ev fleet.Event) {
	if _, err := d.link.Event(ev); err != nil {
		d.log.Warn("event not queued", "kind", ev.Kind, "model", ev.Model, "err", err)
	}
}

func detail(v map[string]any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// republish replaces the retained birth after a model change, so that the
// fleet's view of the device does not wait for its next connection.
func (d *Deployer) republish(ctx context.Context) {
	st := d.host.Birth()
	st.State, st.Time = fleet.Online, d.now().UTC()
	d.mu.Lock()
	d.readPrevious(st.Models)
	d.mu.Unlock()
	d.Fill(&st)
	b, err := fleet.Encode(&st)
	if err == nil {
		err = d.link.Publish(ctx, fleet.StateTopic(d.cfg.Device.ID), b, 1, true)
	}
	if err != nil {
		d.log.Debug("state not republished; the next connection publishes it", "err", err)
	}
}

// readPrevious records the previous version of each model from the store.
// The caller holds d.mu.
func (d *Deployer) readPrevious(models []fleet.ModelState) {
	prev := map[string]string{}
	for _, ms := range models {
		if m, ok, err := d.st.Model(ms.Name); err == nil && ok && m.Previous != 0 {
			prev[ms.Name] = strconv.FormatUint(m.Previous, 10)
		}
	}
	d.vmu.Lock()
	d.previous = prev
	d.vmu.Unlock()
}

// setCandidate records the candidate version of a model under evaluation
// ("": none) for the state message.
func (d *Deployer) setCandidate(name string, version uint64) {
	d.vmu.Lock()
	defer d.vmu.Unlock()
	if d.candidates == nil {
		d.candidates = map[string]string{}
	}
	if version == 0 {
		delete(d.candidates, name)
	} else {
		d.candidates[name] = strconv.FormatUint(version, 10)
	}
}

// Fill completes a state message with what the deployer knows of each
// model: its previous version and the candidate under evaluation. When no
// deploy is in progress the previous versions are read again from the
// store; otherwise those last read are used, so that a connection's birth
// never waits for a download.
func (d *Deployer) Fill(st *fleet.State) {
	if d.mu.TryLock() {
		d.readPrevious(st.Models)
		d.mu.Unlock()
	}
	d.vmu.Lock()
	defer d.vmu.Unlock()
	for i := range st.Models {
		m := &st.Models[i]
		if v := d.previous[m.Name]; v != "" && m.Previous == "" {
			m.Previous = v
		}
		if v := d.candidates[m.Name]; v != "" {
			m.Canary = v
		}
	}
}
