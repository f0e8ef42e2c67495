package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/agent/batch"
	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/clock"
	"github.com/edged-dev/edged/ota/cmdlog"
)

// Deploy command states of a rollout, besides active and rolled_back.
const (
	StatusShadow = "shadow"
	StatusCanary = "canary"
	StatusHold   = "hold"
)

const (
	// defaultCanaryTick is how often the machine is ticked and its state
	// saved when it changed.
	defaultCanaryTick = 2 * time.Second
	// shadowQueue bounds the shadow runs waiting for the candidate.
	shadowQueue = 32
	// recentServed is how many canary request ids remember their served
	// top-1, so that a label posted later can be scored.
	recentServed = 4096
)

var bucketRollouts = []byte("rollouts")

// rolloutRecord is a rollout as kept in canary.db.
type rolloutRecord struct {
	Model   string `json:"model"`
	Version uint64 `json:"version"`
	From    string `json:"from,omitempty"`
	CmdOp   string `json:"cmd_op"`
	CmdID   string `json:"cmd_id"`
	// CmdHash and CmdExpires key and bound the deploy command's record
	// (ota/cmdlog): the sha256 of its payload and its manifest's expiry.
	CmdHash    string           `json:"cmd_hash,omitempty"`
	CmdExpires time.Time        `json:"cmd_expires,omitzero"`
	Status     string           `json:"status"`
	Last       *canary.Decision `json:"last,omitempty"`
	Machine    json.RawMessage  `json:"machine"`
	// Operator is the signed issued time of the last operator command
	// applied to the candidate: an older one is not applied after it.
	Operator time.Time `json:"operator,omitzero"`
}

// Rollout is one candidate under evaluation beside the serving version
// of its model: the agent routes the model's requests through it
// (Handle).
type Rollout struct {
	d       *Deployer
	name    string
	version uint64
	from    string
	cmd     fleet.Command // Op and ID only, for status writes
	hash    string        // of the deploy command's payload, for its record
	expires time.Time     // of its manifest
	cand    Version
	// operator is the issued time of the last operator command applied
	// (guarded by d.mu).
	operator time.Time

	counter atomic.Uint64
	dropped atomic.Uint64
	shadowQ chan shadowJob
	kick    chan struct{}
	cancel  context.CancelFunc

	// ended is set, under d.mu, once the rollout is promoted or rolled
	// back and no longer routed.
	ended bool

	mu      sync.Mutex // guards the fields below; never held while taking d.mu
	m       *canary.Machine
	status  string
	last    *canary.Decision
	pending []canary.Decision
	dirty   bool
	top1    map[string]int
	order   []string // keys of top1, oldest first

	// lastProgress and lastSummary are the evaluation's last progress
	// written to the command's status (control's goroutine only).
	lastProgress time.Time
	lastSummary  string
}

// progressEvery is how often an evaluation's figures go to the deploy
// command's retained status, for edgectl canary status.
const progressEvery = 10 * time.Second

type shadowJob struct {
	in     []infer.Tensor
	out    []infer.Tensor
	specs  []infer.TensorSpec // the active version's outputs
	active time.Duration
}

// startRollouts opens canary.db and resumes the rollouts it holds whose
// candidate is still staged. Feedback comes only through the local API
// (POST /v1/feedback): on the broker anyone who may publish could forge
// it, and the application that made a request is the one that knows how
// it turned out.
func (d *Deployer) startRollouts(dir string) error {
	// Unreadable, it is moved aside: evaluations in progress restart from
	// scratch on the next deploy; the active versions serve meanwhile.
	db, err := openRecord(filepath.Join(dir, "canary.db"), bucketRollouts, d.log)
	if err != nil {
		return fmt.Errorf("canary record: %w", err)
	}
	d.canaryDB = db
	d.rctx, d.rcancel = context.WithCancel(context.Background())
	if d.canaryTick <= 0 {
		d.canaryTick = defaultCanaryTick
	}
	var recs []rolloutRecord
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRollouts).ForEach(func(k, v []byte) error {
			var rec rolloutRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				d.log.Warn("canary record of a model unreadable; dropped", "model", string(k), "err", err)
				rec = rolloutRecord{Model: string(k)}
			}
			recs = append(recs, rec)
			return nil
		})
	})
	for _, rec := range recs {
		if err := d.resume(rec); err != nil {
			d.log.Warn("cannot resume the evaluation of a candidate; the active version serves", "model", rec.Model, "version", rec.Version, "err", err)
			d.dropRecord(rec.Model)
		}
	}
	return nil
}

// resume reloads a rollout from its record, if it is still evaluating or
// held and its candidate is still the staged version.
func (d *Deployer) resume(rec rolloutRecord) error {
	if rec.Machine == nil {
		return errors.New("no machine state")
	}
	m, err := canary.Restore(rec.Machine, clock.System)
	if err != nil {
		return err
	}
	if m.Phase().Final() {
		d.dropRecord(rec.Model)
		return nil
	}
	sm, ok, err := d.st.Model(rec.Model)
	if err != nil {
		return err
	}
	if !ok || sm.Staged != rec.Version {
		return fmt.Errorf("version %d is no longer staged (staged %d)", rec.Version, sm.Staged)
	}
	cmd := fleet.Command{Op: rec.CmdOp, ID: rec.CmdID}
	// A start after a crash counts towards a crash loop, decided before
	// the candidate loads: loading it may be what crashes the agent. A
	// start after a clean stop does not.
	if !d.db.LastRunCrashed() {
		// nothing to count
	} else if dec := m.Start(); dec.Action == canary.Rollback {
		r := d.newRollout(cmd, rec.Model, rec.Version, rec.From, m, nil)
		r.hash, r.expires = rec.CmdHash, rec.CmdExpires
		r.status, r.last, r.operator = rec.Status, rec.Last, rec.Operator
		r.finishDecision(StatusRolledBack, dec, map[string]any{"op": cmd.Op, "cmd": cmd.ID, "version": rec.Version,
			"reason": dec.Reason, "phase": dec.Phase.String(), "state": StatusRolledBack})
		return nil
	}
	s, err := d.prepareStored(context.Background(), rec.Model, rec.Version)
	if err != nil {
		return fmt.Errorf("candidate: %w", err)
	}
	r := d.newRollout(cmd, rec.Model, rec.Version, rec.From, m, s)
	r.hash, r.expires = rec.CmdHash, rec.CmdExpires
	r.status, r.last, r.operator = rec.Status, rec.Last, rec.Operator
	d.log.Info("resuming the evaluation of a candidate", "model", rec.Model, "version", rec.Version, "phase", m.Phase())
	d.register(r)
	return nil
}

// newRollout builds a rollout; register starts it.
func (d *Deployer) newRollout(cmd fleet.Command, name string, version uint64, from string, m *canary.Machine, cand Version) *Rollout {
	return &Rollout{
		d: d, name: name, version: version, from: from, cmd: fleet.Command{Op: cmd.Op, ID: cmd.ID}, cand: cand, m: m,
		shadowQ: make(chan shadowJob, shadowQueue), kick: make(chan struct{}, 1), top1: map[string]int{}, dirty: true,
	}
}

// register serves r beside the active version and starts its goroutines.
func (d *Deployer) register(r *Rollout) {
	ctx, cancel := context.WithCancel(d.rctx)
	r.cancel = cancel
	d.rmu.Lock()
	if d.rollouts == nil {
		d.rollouts = map[string]*Rollout{}
	}
	d.rollouts[r.name] = r
	d.rmu.Unlock()
	d.setCandidate(r.name, r.version)
	d.host.Route(r.name, r)
	d.rwg.Add(2)
	go func() { defer d.rwg.Done(); r.shadowLoop(ctx) }()
	go func() { defer d.rwg.Done(); r.control(ctx) }()
	r.wake()
}

// StopRollouts stops every rollout's goroutines and routing, saves their
// state and closes their candidates. The agent calls it before it closes.
func (d *Deployer) StopRollouts() {
	if d.rcancel == nil {
		return
	}
	d.rcancel()
	d.rwg.Wait()
	d.rmu.Lock()
	rs := d.rollouts
	d.rollouts = nil
	d.rmu.Unlock()
	for _, r := range rs {
		d.host.Route(r.name, nil)
		r.save()
		closeModel(r.cand)
	}
	if d.canaryDB != nil {
		if err := d.canaryDB.Close(); err != nil {
			d.log.Warn("closing canary.db", "err", err)
		}
	}
}

// beginRollout starts evaluating a prepared candidate instead of promoting
// it. The caller holds d.mu.
func (d *Deployer) beginRollout(cmd fleet.Command, expires time.Time, name string, version uint64, from uint64, p canary.Policy, cand Version) error {
	var seed uint64
	if sha := cand.Info().SHA256; len(sha) >= 16 {
		fmt.Sscanf(sha[:16], "%x", &seed)
	}
	m, err := canary.New(p, seed, clock.System)
	if err != nil {
		return err
	}
	fromS := ""
	if from != 0 {
		fromS = fmt.Sprint(from)
	}
	r := d.newRollout(cmd, name, version, fromS, m, cand)
	r.hash, r.expires = cmdlog.Hash(cmd.Payload), expires
	r.status = StatusShadow
	m.Start()
	r.save()
	d.register(r)
	return nil
}

// endRolloutLocked rolls back the rollout of a model, if any, for reason
// (a newer deploy supersedes it). The caller holds d.mu.
func (d *Deployer) endRolloutLocked(name, reason string) {
	r := d.Rollout(name)
	if r == nil {
		return
	}
	r.mu.Lock()
	dec, err := r.m.Resolve(canary.Rollback, reason)
	r.mu.Unlock()
	if err == nil {
		r.actLocked(dec)
	}
}

// Rollout is the candidate of the model named name under evaluation, or
// nil.
func (d *Deployer) Rollout(name string) *Rollout {
	d.rmu.Lock()
	defer d.rmu.Unlock()
	return d.rollouts[name]
}

// onlyRollout is the rollout named, or the single one when name is "".
func (d *Deployer) onlyRollout(name string) (*Rollout, error) {
	d.rmu.Lock()
	defer d.rmu.Unlock()
	if name != "" {
		if r := d.rollouts[name]; r != nil {
			return r, nil
		}
		if e, ok := d.ended[name]; ok {
			return nil, fmt.Errorf("%w: %s; outcomes reported after it count for nothing", canary.ErrNotCounted, e)
		}
		return nil, fmt.Errorf("%w: model %q has no candidate under evaluation", canary.ErrNoCanary, name)
	}
	if len(d.rollouts) == 0 && len(d.ended) == 1 {
		for _, e := range d.ended {
			return nil, fmt.Errorf("%w: %s; outcomes reported after it count for nothing", canary.ErrNotCounted, e)
		}
	}
	if len(d.rollouts) != 1 {
		return nil, fmt.Errorf("%w: name the model: %d models have a candidate under evaluation", canary.ErrNoCanary, len(d.rollouts))
	}
	for _, r := range d.rollouts {
		return r, nil
	}
	return nil, nil
}

// Handle routes a request of the experiment to the arm that serves it,
// the active version s or the candidate, and reports it to the canary
// machine. Both arms go through their whole pipeline without the cache
// and are timed here, at the same points. A request refused by a version
// being swapped out (batch.ErrClosed) is the caller's to retry.
func (r *Rollout) Handle(ctx context.Context, req *infer.Request, s Version) (*infer.Response, error) {
	k := r.counter.Add(1) // a request without an id cannot get feedback
	if req.ID != "" {
		k = canary.Key(req.ID)
	}
	route := r.route(k)
	arm, serve := canary.ArmActive, s
	if route.Serve == canary.ArmCandidate {
		arm, serve = canary.ArmCandidate, r.cand
	}
	sub := *req
	sub.NoCache = true
	start := time.Now()
	resp, err := serve.Handle(ctx, &sub)
	lat := time.Since(start)
	if errors.Is(err, batch.ErrClosed) || errors.Is(err, infer.ErrBadInput) || ctx.Err() != nil {
		// Swapped out (the router retries), refused, or given up by the
		// caller: not the arm's doing.
		return resp, err
	}
	if route.Shadow && arm == canary.ArmActive {
		if err == nil {
			r.shadow(req.Inputs, resp.Outputs, s.Info().Outputs, lat)
		}
		return resp, err
	}
	var out []infer.Tensor
	if err == nil {
		out = resp.Outputs
	}
	r.served(arm, req.ID, lat, err, out, serve.Info().Outputs)
	return resp, err
}

func (r *Rollout) route(key uint64) canary.Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m.Route(key)
}

// shadow queues a copy of an answered request for the candidate.
func (r *Rollout) shadow(in, out []infer.Tensor, specs []infer.TensorSpec, lat time.Duration) {
	// The caller may reuse its buffers once answered.
	cp := make([]infer.Tensor, len(in))
	for i, t := range in {
		cp[i] = t
		cp[i].Data = bytes.Clone(t.Data)
	}
	select {
	case r.shadowQ <- shadowJob{in: cp, out: out, specs: specs, active: lat}:
	default:
		r.dropped.Add(1)
	}
}

// served records a request served in canary (ignored in other phases);
// specs are the outputs of the arm's version.
func (r *Rollout) served(arm canary.Arm, id string, lat time.Duration, err error, out []infer.Tensor, specs []infer.TensorSpec) {
	top := -1
	if id != "" && err == nil && len(out) > 0 {
		top = argmax32(dequantizeAll(out[:1], specs))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m.Phase() != canary.PhaseCanary {
		return
	}
	if top >= 0 {
		r.remember(id, top)
	}
	r.applyLocked(r.m.Served(canary.Request{Arm: arm, Latency: lat, Err: err != nil}))
}

// remember keeps id's served top-1 for a later label; the oldest is
// forgotten beyond recentServed.
func (r *Rollout) remember(id string, top int) {
	if _, ok := r.top1[id]; !ok {
		if len(r.order) >= recentServed {
			delete(r.top1, r.order[0])
			r.order = r.order[1:]
		}
		r.order = append(r.order, id)
	}
	r.top1[id] = top
}

// warmRuns is how many untimed runs of the first shadowed input warm the
// candidate's interpreters and caches before its runs are timed: the
// active version has been serving, and a cold first run is not the
// candidate's speed.
const warmRuns = 3

// shadowLoop runs the candidate on the sampled inputs, one at a time.
func (r *Rollout) shadowLoop(ctx context.Context) {
	timeout := r.d.cfg.HTTP.RequestTimeout.D()
	warm := false
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-r.shadowQ:
			r.mu.Lock()
			stale := r.m.Phase() != canary.PhaseShadow
			r.mu.Unlock()
			if stale {
				continue // queued before the advance: it would slow the canary arm
			}
			ci := r.cand.Info()
			if !warm {
				warm = true
				for range warmRuns {
					wctx, cancel := context.WithTimeout(ctx, timeout)
					r.cand.Handle(wctx, &infer.Request{Model: ci.Name, Version: ci.Version, Inputs: j.in, NoCache: true})
					cancel()
				}
			}
			rctx, cancel := context.WithTimeout(ctx, timeout)
			start := time.Now()
			resp, err := r.cand.Handle(rctx, &infer.Request{Model: ci.Name, Version: ci.Version, Inputs: j.in, NoCache: true})
			lat := time.Since(start)
			cancel()
			if ctx.Err() != nil {
				return
			}
			c := canary.Comparison{Err: true}
			if err == nil {
				c = canary.Compare(dequantizeAll(j.out, j.specs), dequantizeAll(resp.Outputs, ci.Outputs))
			}
			c.ActiveLatency, c.CandidateLatency = j.active, lat
			r.mu.Lock()
			r.applyLocked(r.m.Shadow(c))
			r.mu.Unlock()
		}
	}
}

// apply queues a decision for the control goroutine.
func (r *Rollout) apply(dec canary.Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applyLocked(dec)
}

func (r *Rollout) applyLocked(dec canary.Decision) {
	r.dirty = true
	if dec.Action == canary.Continue {
		return
	}
	r.pending = append(r.pending, dec)
	r.wake()
}

func (r *Rollout) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// control ticks the machine, saves its state and acts on its decisions.
func (r *Rollout) control(ctx context.Context) {
	t := time.NewTicker(r.d.canaryTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.apply(r.tick())
			r.progress(ctx)
		case <-r.kick:
		}
		r.mu.Lock()
		pending := r.pending
		r.pending = nil
		dirty := r.dirty
		r.mu.Unlock()
		changed := false
		if len(pending) > 0 {
			r.d.mu.Lock()
			for _, dec := range pending {
				if !r.ended {
					changed = r.actLocked(dec) || changed
				}
			}
			ended := r.ended
			r.d.mu.Unlock()
			if changed || ended {
				r.d.republish(context.Background())
			}
			if ended {
				return
			}
		} else if dirty {
			r.save()
		}
	}
}

// progress writes the evaluation's figures to the deploy command's
// status when they changed, at most every progressEvery: phase, the
// share of the evidence gathered, and a line of figures.
func (r *Rollout) progress(ctx context.Context) {
	if time.Since(r.lastProgress) < progressEvery {
		return
	}
	r.mu.Lock()
	state, p, f := r.status, r.m.Policy(), r.m.Figures()
	r.mu.Unlock()
	var frac float64
	var sum string
	switch {
	case state == StatusShadow && f.Phase == canary.PhaseShadow:
		sh := f.Shadow
		frac = float64(sh.Samples) / float64(p.MinSamples)
		sum = fmt.Sprintf("%d of %d comparisons, disagreement %.1f%%, errors %.1f%%, median latency %s vs %s active",
			sh.Samples, p.MinSamples, 100*sh.Disagreement, 100*sh.ErrorRate, sh.CandidateP50.Round(time.Microsecond), sh.ActiveP50.Round(time.Microsecond))
	case state == StatusCanary && f.Phase == canary.PhaseCanary:
		c, a := f.Candidate, f.Active
		frac = float64(c.Requests) / float64(p.MinSamples)
		sum = fmt.Sprintf("%d of %d candidate requests, errors %.1f%% vs %.1f%% active, median latency %s vs %s active",
			c.Requests, p.MinSamples, 100*c.ErrorRate, 100*a.ErrorRate, c.P50.Round(time.Microsecond), a.P50.Round(time.Microsecond))
		if f.Statement != "" {
			sum += "; " + f.Statement
		}
	default:
		return
	}
	if sum == r.lastSummary {
		return
	}
	r.lastProgress, r.lastSummary = time.Now(), sum
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r.d.status(sctx, r.cmd, state, min(max(frac, 0), 0.999), sum)
}

func (r *Rollout) tick() canary.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m.Tick()
}

// actLocked carries out a decision; the caller holds d.mu. It reports
// whether the served version changed.
func (r *Rollout) actLocked(dec canary.Decision) bool {
	d := r.d
	var state string
	changed := false
	det := map[string]any{"op": r.cmd.Op, "cmd": r.cmd.ID, "version": r.version, "reason": dec.Reason, "phase": dec.Phase.String()}
	switch dec.Action {
	case canary.Advance:
		state = StatusCanary
	case canary.Hold:
		state = StatusHold
	case canary.Resume:
		state = StatusShadow
		if dec.Phase == canary.PhaseCanary {
			state = StatusCanary
		}
	case canary.Promote:
		pm, err := d.st.Promote(r.name)
		if err != nil {
			// The store cannot name it active: keep the old version.
			d.log.Error("cannot promote the candidate in the store; rolling it back", "model", r.name, "err", err)
			dec.Action, dec.Reason = canary.Rollback, fmt.Sprintf("%s; but the store refused the promotion: %v", dec.Reason, err)
			det["reason"] = dec.Reason
			return r.rollbackLocked(dec, det)
		}
		d.host.Serve(r.cand)
		d.host.Note(r.name, "")
		r.unregister()
		d.probationLocked(r.name, pm.Active, pm.Changed)
		state, changed = StatusActive, true
		det["from"], det["to"] = r.from, r.version
	case canary.Rollback:
		return r.rollbackLocked(dec, det)
	default:
		return false
	}
	det["state"] = state
	r.finishDecision(state, dec, det)
	return changed
}

func (r *Rollout) rollbackLocked(dec canary.Decision, det map[string]any) bool {
	r.unregister()
	// Requests the candidate accepted finish first; the store never
	// promoted it, so the old version stays active.
	closeModel(r.cand)
	det["state"] = StatusRolledBack
	r.finishDecision(StatusRolledBack, dec, det)
	return false
}

// unregister stops routing to the candidate and ends the goroutines.
func (r *Rollout) unregister() {
	r.ended = true
	r.d.rmu.Lock()
	if r.d.rollouts[r.name] == r {
		delete(r.d.rollouts, r.name)
		if r.d.ended == nil {
			r.d.ended = map[string]string{}
		}
		r.d.ended[r.name] = fmt.Sprintf("the evaluation of model %q version %d ended at %s", r.name, r.version, time.Now().UTC().Format(time.RFC3339))
		r.d.host.Route(r.name, nil)
		r.d.setCandidate(r.name, 0)
	}
	r.d.rmu.Unlock()
	if r.cancel != nil {
		r.cancel()
	}
}

// finishDecision records, reports and saves a decision.
func (r *Rollout) finishDecision(state string, dec canary.Decision, det map[string]any) {
	d := r.d
	r.mu.Lock()
	r.status = state
	last := dec
	r.last = &last
	r.mu.Unlock()
	if dec.Figures != nil {
		det["figures"] = dec.Figures
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r.hash != "" && !r.expires.IsZero() {
		rec := cmdlog.Record{Op: r.cmd.Op, ID: r.cmd.ID, Hash: r.hash, State: state, Reason: dec.Reason, Expires: r.expires}
		if err := d.cmds.Put(rec); err != nil {
			d.log.Warn("cannot record the command's state", "id", r.cmd.ID, "err", err)
		}
	}
	d.status(ctx, r.cmd, state, 0, dec.Reason)
	d.noteOutcome(r.name, r.cmd.Op, state)
	d.event(fleet.Event{Kind: "update", Model: r.name, Detail: detail(det)})
	d.log.Info("canary decision", "model", r.name, "version", r.version, "action", dec.Action, "state", state, "reason", dec.Reason)
	r.save()
}

// save writes the rollout's record; a final phase's record is deleted.
func (r *Rollout) save() {
	r.mu.Lock()
	b, err := r.m.Marshal()
	rec := rolloutRecord{Model: r.name, Version: r.version, From: r.from, CmdOp: r.cmd.Op, CmdID: r.cmd.ID, CmdHash: r.hash, CmdExpires: r.expires,
		Status: r.status, Last: r.last, Machine: b, Operator: r.operator}
	final := r.m.Phase().Final()
	r.dirty = false
	r.mu.Unlock()
	if err != nil {
		r.d.log.Warn("cannot save the canary state", "model", r.name, "err", err)
		return
	}
	if final {
		r.d.dropRecord(r.name)
		return
	}
	v, err := json.Marshal(&rec)
	if err == nil {
		err = r.d.canaryDB.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketRollouts).Put([]byte(r.name), v) })
	}
	if err != nil {
		r.d.log.Warn("cannot save the canary state; a restart restarts the evaluation's evidence", "model", r.name, "err", err)
	}
}

func (d *Deployer) dropRecord(name string) {
	if err := d.canaryDB.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketRollouts).Delete([]byte(name)) }); err != nil {
		d.log.Warn("cannot delete a canary record", "model", name, "err", err)
	}
}

// Feedback attributes an application's outcome to the arm that served
// the request (POST /v1/feedback).
func (d *Deployer) Feedback(_ context.Context, f canary.RequestFeedback) error {
	r, err := d.onlyRollout(f.Model)
	if err != nil {
		return err
	}
	key := canary.Key(f.ID)
	r.mu.Lock()
	defer r.mu.Unlock()
	if ph := r.m.Phase(); ph != canary.PhaseCanary {
		return fmt.Errorf("%w: model %q version %d is in its %s phase; outcomes count while it serves a share of requests (canary)", canary.ErrNotCounted, r.name, r.version, ph)
	}
	fb := canary.Feedback{Arm: r.m.ArmOf(key)}
	switch {
	case f.Label != nil:
		top, ok := r.top1[f.ID]
		if !ok {
			return fmt.Errorf("feedback: request id %q is not among the last %d canary requests with an id", f.ID, recentServed)
		}
		fb.Kind, fb.Correct = canary.FeedbackLabel, top == *f.Label
	case f.Correct != nil:
		fb.Kind, fb.Correct = canary.FeedbackLabel, *f.Correct
	default:
		fb.Kind, fb.Score = canary.FeedbackScore, *f.Score
	}
	dec, err := r.m.Feedback(fb)
	if err != nil {
		return err
	}
	r.applyLocked(dec)
	return nil
}

// Status is the rollout as the device's status shows it.
func (r *Rollout) Status() *status.Canary {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.m.Policy()
	f := r.m.Figures()
	cs := &status.Canary{
		Candidate: fmt.Sprint(r.version), Status: r.status, Phase: r.m.Phase().String(),
		MinSamples: p.MinSamples, SampleRate: p.SampleRate, CanaryFraction: p.CanaryFraction,
		Agreement: 1 - f.Shadow.Disagreement, ShadowDropped: r.dropped.Load(), Figures: f,
	}
	if r.last != nil {
		l := *r.last
		l.Figures = nil // the current ones are above
		cs.Last = &l
	}
	return cs
}

// dequantizeAll concatenates outputs as real values, each dequantized
// with its output's scale and zero point.
func dequantizeAll(out []infer.Tensor, specs []infer.TensorSpec) []float32 {
	var v []float32
	for j, t := range out {
		var spec infer.TensorSpec
		if j < len(specs) {
			spec = specs[j]
		}
		vals, err := infer.RealValues(t, spec)
		if err != nil {
			// Compared bytewise: equal outputs agree, others differ.
			for _, b := range t.Data {
				v = append(v, float32(b))
			}
			continue
		}
		for _, x := range vals {
			v = append(v, float32(x))
		}
	}
	return v
}

// argmax is the first index of the largest value (-1 for none).
func argmax32(v []float32) int {
	best := -1
	for i, x := range v {
		if best < 0 || x > v[best] {
			best = i
		}
	}
	return best
}
