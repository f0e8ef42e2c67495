package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/atomicfile"
	"github.com/edged-dev/edged/ota/operator"
	"github.com/edged-dev/edged/ota/sign"
)

// inbound is one message from the broker.
type inbound struct {
	topic   fleet.Topic
	payload []byte
}

// inboundQueue is an unbounded queue between the MQTT handler, which must
// not block, and the driver: a dropped final status would stall a wave
// until the device times out.
type inboundQueue struct {
	mu    sync.Mutex
	items []inbound
	ready chan struct{}
}

func (q *inboundQueue) push(m inbound) {
	q.mu.Lock()
	q.items = append(q.items, m)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *inboundQueue) take() []inbound {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// Broker is what the driver needs of the fleet's MQTT client.
type Broker interface {
	Publish(ctx context.Context, topic string, payload []byte, qos byte, retained bool) error
	Subscribe(ctx context.Context, filter string, qos byte, h fleet.MessageHandler) error
	Unsubscribe(ctx context.Context, filters ...string) error
}

// Driver runs one rollout against the broker: device statuses, states,
// telemetry and drift reports in; deploy and rollback commands out; the
// state written to its file after every event, so that an interrupted
// rollout is resumed by a new Driver on the same file.
type Driver struct {
	Broker  Broker
	File    *File
	Rollout *Rollout
	// Path is the state file's path; operators' requests (pause, resume,
	// cancel, rollback) wait in ControlPath(Path).
	Path string
	// Out gets a line per device change and the summary after every
	// decision; Err the warnings.
	Out, Err io.Writer
	// Tick is how often timeouts, the rate limit and requests are
	// checked.
	Tick time.Duration
	// Resumed sends the deploy again to the devices without an outcome.
	Resumed bool
	// OperatorRollback says the abort Run carries out is a rollback the
	// operator asked for (Rollout.RollBack), which it reports as such.
	OperatorRollback bool
	// Push publishes the bundle's blobs when File.Pushed is not set.
	Push func(ctx context.Context) error
	// Key signs the rollback an abort sends (a key certified for
	// operator commands). Without it the abort names the devices to roll
	// back by hand.
	Key *sign.SigningKey
	// Drain bounds how long an abort waits for devices still downloading
	// before it sends them the rollback too, and how long it waits for
	// the rollbacks' outcomes. 0: a minute.
	Drain time.Duration
	// Poll is how long a device being deployed may stay silent before the
	// driver reads its retained status again, and sends it the deploy
	// again if it never answered: a broker cluster may lose a live
	// delivery (see docs/SCALING.md). 0: 30 seconds.
	Poll time.Duration
	// Retry bounds how long a command's publish is tried again while the
	// connection to the broker is lost (a cluster node going away) before
	// the rollout is interrupted. 0: a minute.
	Retry time.Duration

	saved   []byte
	last    map[string]fleet.CommandStatus // per device, to skip repeated progress
	devs    map[string]*seen               // what the broker says of each device of the rollout
	q       *inboundQueue
	ticker  *time.Ticker
	rbState map[string]fleet.CommandStatus // rollback outcomes

	// heard is when each device being deployed was last sent the deploy
	// or heard from, polled when its status was last read again; exact
	// are the per-device status subscriptions that reading made.
	heard, polled map[string]time.Time
	exact         map[string]bool
}

// subQoS is the QoS of the driver's subscriptions. 0: on a NATS cluster
// a QoS 1 subscription is a replicated JetStream consumer, whose live
// deliveries were seen to stall; a QoS 0 one is a plain subscription.
// What a QoS 1 subscription would bring again after a reconnection, the
// retained statuses and states bring, and a status missed on a live
// connection is read again by the poll.
const subQoS = 0

// saveEvery is how often the state file is written for reports that
// decided nothing.
const saveEvery = time.Second

// seen is what the broker said of one device.
type seen struct {
	state    *fleet.State
	starts   []time.Time // the agent's start times seen (state time − uptime)
	baseP99  float64     // the model's last p99 on another version
	obs      Observation
	observed bool
}

// Run drives the rollout to its end: finished (nil), aborted (the reason
// as an error, after the rollback went out), cancelled (nil) or
// interrupted (an error saying how to resume).
func (d *Driver) Run(ctx context.Context) error {
	d.last = map[string]fleet.CommandStatus{}
	d.devs = map[string]*seen{}
	d.heard, d.polled, d.exact = map[string]time.Time{}, map[string]time.Time{}, map[string]bool{}
	for _, dev := range d.Rollout.Devices() {
		d.devs[dev.ID] = &seen{}
	}
	if !d.File.Pushed {
		if err := d.Push(ctx); err != nil {
			return d.interrupted(ctx, err)
		}
		d.File.Pushed = true
		if err := d.Save(); err != nil {
			return err
		}
	}

	d.q = &inboundQueue{ready: make(chan struct{}, 1)}
	filters := []string{
		fleet.Prefix + "/dev/+/cmd/" + fleet.OpDeploy + "/" + d.File.CmdID + "/status",
		fleet.Prefix + "/dev/+/state", fleet.Prefix + "/dev/+/telemetry", fleet.Prefix + "/dev/+/drift",
	}
	if rb := d.File.Rollback; rb != nil {
		filters = append(filters, fleet.Prefix+"/dev/+/cmd/"+fleet.OpRollback+"/"+rb.CmdID+"/status")
	}
	// Subscribe before any command goes out so that no status is missed;
	// on resume the retained statuses bring what happened meanwhile.
	for _, f := range filters {
		if err := d.subscribe(ctx, f); err != nil {
			return d.interrupted(ctx, err)
		}
	}
	defer d.Broker.Unsubscribe(context.WithoutCancel(ctx), filters...)
	defer d.unsubscribeExact(ctx)
	d.ticker = time.NewTicker(d.Tick)
	defer d.ticker.Stop()

	switch d.Rollout.Phase() {
	case Aborted:
		return d.abort(ctx, Decision{Action: Abort, Devices: d.rollbackSet(), Reason: d.Rollout.Summary().Reason, Operator: d.OperatorRollback})
	case Done, Cancelled:
		return nil
	}
	if d.Resumed {
		// A deploy decided just before edgectl died may not have gone
		// out; sending it again is harmless, as agents answer a command
		// id they handled with its recorded status. Their timeouts start
		// again: edgectl's downtime is not the devices' silence.
		if ids := d.Rollout.Deploying(); len(ids) > 0 {
			fmt.Fprintf(d.Out, "sending the deploy again to %d device(s) without an outcome\n", len(ids))
			if err := d.deploy(ctx, ids); err != nil {
				return d.interrupted(ctx, err)
			}
			d.Rollout.Resent(ids)
		}
	}

	var pending []inbound
	dec := d.Rollout.Tick()
	var waiting waitNote
	var saved time.Time
	for {
		// Saved before every decision is acted on, and at most every
		// saveEvery for reports alone (the tick brings the loop back):
		// a status lost to a crash comes back retained on resume, and
		// the whole file costs ~20 ms to write at 1000 devices.
		if dec.Action != Wait || time.Since(saved) >= saveEvery {
			if err := d.Save(); err != nil {
				return err
			}
			saved = time.Now()
		}
		switch dec.Action {
		case StartWave, Release:
			fmt.Fprintf(d.Out, "%s  %s\n", clock(), dec.Reason)
			if dec.Action == StartWave {
				PrintSummary(d.Out, d.Rollout)
			}
			if err := d.deploy(ctx, dec.Devices); err != nil {
				return d.interrupted(ctx, err)
			}
		case Abort:
			return d.abort(ctx, dec)
		case Cancel:
			fmt.Fprintf(d.Out, "%s  cancelled: %s\n", clock(), dec.Reason)
			d.clearDeploys(ctx, dec.Devices)
			PrintSummary(d.Out, d.Rollout)
			fmt.Fprintln(d.Out, "devices that installed the version keep it; roll them back with 'edgectl rollback --rollout "+d.Path+"'")
			return nil
		case Finish:
			fmt.Fprintf(d.Out, "%s  finished: %s\n", clock(), dec.Reason)
			PrintSummary(d.Out, d.Rollout)
			d.clearDeploys(ctx, nil)
			return nil
		}
		if w := d.Rollout.Summary().Waiting; waiting.changed(w, time.Now()) {
			fmt.Fprintf(d.Out, "%s  waiting: %s\n", clock(), w)
		}
		// One decision at a time: the messages after one that decided
		// wait for the next turn.
		dec = Decision{Action: Wait}
		for dec.Action == Wait && len(pending) > 0 {
			dec = d.handle(pending[0])
			pending = pending[1:]
		}
		if dec.Action != Wait || len(pending) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return d.interrupted(ctx, ctx.Err())
		case <-d.ticker.C:
			d.poll(ctx, time.Now())
			dec = d.Rollout.Tick()
			if dec.Action == Wait {
				dec = d.control()
			}
		case <-d.q.ready:
			pending = d.q.take()
		}
	}
}

func clock() string { return time.Now().Format("15:04:05") }

func (d *Driver) subscribe(ctx context.Context, filter string) error {
	return d.Broker.Subscribe(ctx, filter, subQoS, func(topic string, p []byte) {
		t, err := fleet.ParseTopic(topic)
		if err != nil || len(p) == 0 {
			return
		}
		if _, ok := d.devs[t.Device]; !ok {
			return // not part of this rollout
		}
		d.q.push(inbound{t, p})
	})
}

// control acts on an operator's request waiting in the control file.
func (d *Driver) control() Decision {
	c, ok, err := takeControl(d.Path)
	if err != nil {
		fmt.Fprintln(d.Err, err)
		return Decision{Action: Wait}
	}
	if !ok {
		return Decision{Action: Wait}
	}
	dec, err := d.Rollout.apply(c)
	if err != nil {
		fmt.Fprintf(d.Err, "%s: %v\n", c.Action, err)
		return Decision{Action: Wait}
	}
	msg := c.Action
	if c.Reason != "" {
		msg += ": " + c.Reason
	}
	fmt.Fprintf(d.Out, "%s  operator: %s\n", clock(), msg)
	return dec
}

// handle feeds one message to the planner.
func (d *Driver) handle(m inbound) Decision {
	switch m.topic.Kind {
	case fleet.KindStatus:
		var st fleet.CommandStatus
		if fleet.Decode(m.payload, &st) != nil {
			return Decision{Action: Wait}
		}
		switch {
		case m.topic.Op == fleet.OpDeploy && st.ID == d.File.CmdID:
			d.heard[m.topic.Device] = time.Now()
			return d.report(m.topic.Device, st)
		case m.topic.Op == fleet.OpRollback && d.File.Rollback != nil && st.ID == d.File.Rollback.CmdID:
			d.rollbackStatus(m.topic.Device, st)
		}
	case fleet.KindState:
		var st fleet.State
		if fleet.Decode(m.payload, &st) == nil {
			d.noteState(m.topic.Device, &st)
			return d.observe(m.topic.Device)
		}
	case fleet.KindTelemetry:
		var tm fleet.Telemetry
		if fleet.Decode(m.payload, &tm) == nil {
			d.noteTelemetry(m.topic.Device, &tm)
			return d.observe(m.topic.Device)
		}
	case fleet.KindDrift:
		var r struct {
			Model string `json:"model"`
			State string `json:"state"`
		}
		if json.Unmarshal(m.payload, &r) == nil && r.Model == d.File.Model {
			d.devs[m.topic.Device].obs.Drift = r.State
			d.devs[m.topic.Device].observed = true
			return d.observe(m.topic.Device)
		}
	}
	return Decision{Action: Wait}
}

// report feeds one status to the planner, skipping repeats that carry no
// news (the same state and the same tenth of a download) and statuses
// the device wrote before the last one taken: a device sends a status
// again after a reconnection and the broker may deliver one twice, so a
// late copy of "downloading" must not undo an "active".
func (d *Driver) report(id string, st fleet.CommandStatus) Decision {
	old, seen := d.last[id]
	if seen && old.State == st.State && old.Reason == st.Reason && int(10*old.Progress) == int(10*st.Progress) {
		return Decision{Action: Wait}
	}
	if seen && st.Time.Before(old.Time) {
		return Decision{Action: Wait}
	}
	d.last[id] = st
	s := StatusOf(st.State)
	reason := st.Reason
	if s.Failure() {
		reason = strings.TrimSuffix(st.State+": "+reason, ": ")
	}
	before, _ := d.Rollout.Device(id)
	dec, err := d.Rollout.Report(id, s, reason)
	if err != nil {
		// Not sent the deploy: a status left from something else.
		return Decision{Action: Wait}
	}
	if after, _ := d.Rollout.Device(id); after.Status != before.Status || s == Deploying && old.State != st.State {
		fmt.Fprintf(d.Out, "%s  %-20s %s\n", st.Time.Local().Format("15:04:05"), id, st.Describe())
	}
	return dec
}

// noteState keeps a device's state and counts the agent's starts.
func (d *Driver) noteState(id string, st *fleet.State) {
	s := d.devs[id]
	s.state = st
	// The version a device serves before it installs this one is what its
	// rollback returns to; its state may arrive only after it was sent the
	// deploy.
	if dev, ok := d.Rollout.Device(id); ok && dev.Status != Pending && dev.From == "" {
		if m, _, ok := d.modelState(id); ok && m.Active != "" && m.Active != strconv.FormatUint(d.File.Version, 10) {
			d.Rollout.NoteFrom(id, m.Active)
		}
	}
	if st.State != fleet.Online || st.Time.IsZero() {
		return
	}
	start := st.Time.Add(-time.Duration(st.Uptime) * time.Second)
	for _, t := range s.starts {
		if d := start.Sub(t); d > -5*time.Second && d < 5*time.Second {
			return // a reconnection of the same run
		}
	}
	s.starts = append(s.starts, start)
	if len(s.starts) > 64 {
		s.starts = s.starts[1:]
	}
	if dev, _ := d.Rollout.Device(id); !dev.Sent.IsZero() && start.After(dev.Sent) {
		s.obs.Restarts++
		s.observed = true
	}
}

// noteTelemetry takes the model's figures: the new version's requests,
// errors and p99, and the previous version's p99 as the baseline.
func (d *Driver) noteTelemetry(id string, tm *fleet.Telemetry) {
	s := d.devs[id]
	v := strconv.FormatUint(d.File.Version, 10)
	for _, m := range tm.Models {
		if m.Name != d.File.Model {
			continue
		}
		if m.Version != v {
			if m.P99 > 0 {
				s.baseP99 = m.P99
			}
			continue
		}
		s.obs.Requests, s.obs.Errors = m.Inferences, m.Errors
		if m.P99 > 0 {
			s.obs.P99 = m.P99
		}
		s.observed = true
	}
}

// observe gives the planner a device's observation, with its baseline:
// its own p99 before the deploy, else the median of the fleet's.
func (d *Driver) observe(id string) Decision {
	s := d.devs[id]
	dev, _ := d.Rollout.Device(id)
	if !s.observed || dev.Status == Pending {
		return Decision{Action: Wait}
	}
	o := s.obs
	o.BaseP99 = s.baseP99
	if o.BaseP99 == 0 {
		var base []float64
		for _, x := range d.devs {
			if x.baseP99 > 0 {
				base = append(base, x.baseP99)
			}
		}
		if len(base) > 0 {
			sort.Float64s(base)
			o.BaseP99 = base[len(base)/2]
		}
	}
	before := dev.Status
	dec, err := d.Rollout.Observe(id, o)
	if err != nil {
		return Decision{Action: Wait}
	}
	if after, _ := d.Rollout.Device(id); after.Status != before {
		fmt.Fprintf(d.Out, "%s  %-20s %s\n", clock(), id, after.Reason)
	}
	return dec
}

// activeVersion is the version of the model a device's state says it
// serves, or "".
func (d *Driver) modelState(id string) (fleet.ModelState, int, bool) {
	s := d.devs[id]
	if s == nil || s.state == nil {
		return fleet.ModelState{}, 0, false
	}
	for _, m := range s.state.Models {
		if m.Name == d.File.Model {
			return m, s.state.CommandProtocol, true
		}
	}
	return fleet.ModelState{}, s.state.CommandProtocol, true
}

// deploy publishes the retained deploy command to each device, noting the
// version each served before.
func (d *Driver) deploy(ctx context.Context, ids []string) error {
	payload, err := DeployPayload(d.File, time.Now().UTC())
	if err != nil {
		return err
	}
	v := strconv.FormatUint(d.File.Version, 10)
	for _, id := range ids {
		if m, _, ok := d.modelState(id); ok && m.Active != v {
			d.Rollout.NoteFrom(id, m.Active)
		}
		if err := d.publish(ctx, fleet.CommandTopic(id, fleet.OpDeploy, d.File.CmdID), payload); err != nil {
			return fmt.Errorf("deploy to %s: %w", id, err)
		}
		d.heard[id] = time.Now()
	}
	return nil
}

// publish publishes a retained command at QoS 1, trying again within
// Retry while the connection is lost: the client reconnects, to another
// node of a cluster if its node went away.
func (d *Driver) publish(ctx context.Context, topic string, payload []byte) error {
	limit := d.Retry
	if limit <= 0 {
		limit = time.Minute
	}
	deadline := time.Now().Add(limit)
	wait := 200 * time.Millisecond
	for {
		err := d.Broker.Publish(ctx, topic, payload, 1, true)
		if err == nil || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return err
		}
		fmt.Fprintf(d.Err, "%s  publishing to %s: %v; trying again\n", clock(), topic, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// poll reads again the retained status of each device being deployed
// (or timed out) that has been silent for Poll, by subscribing to its
// status topic anew, and sends the deploy again to one that never
// answered: a broker cluster may lose a live delivery either way, and a
// device answers a deploy it handled with its recorded status.
func (d *Driver) poll(ctx context.Context, now time.Time) {
	every := d.Poll
	if every <= 0 {
		every = 30 * time.Second
	}
	var payload []byte
	for _, dev := range d.Rollout.Devices() {
		if dev.Status != Deploying && dev.Status != Timeout {
			continue
		}
		h, ok := d.heard[dev.ID]
		if !ok {
			d.heard[dev.ID] = now // resumed: its silence counts from now
			continue
		}
		if now.Sub(h) < every || now.Sub(d.polled[dev.ID]) < every {
			continue
		}
		d.polled[dev.ID] = now
		if _, answered := d.last[dev.ID]; !answered {
			if payload == nil {
				var err error
				if payload, err = DeployPayload(d.File, now.UTC()); err != nil {
					fmt.Fprintf(d.Err, "deploy to %s: %v\n", dev.ID, err)
					return
				}
			}
			if err := d.Broker.Publish(ctx, fleet.CommandTopic(dev.ID, fleet.OpDeploy, d.File.CmdID), payload, 1, true); err != nil {
				fmt.Fprintf(d.Err, "%s  sending the deploy again to %s: %v\n", clock(), dev.ID, err)
				continue
			}
			fmt.Fprintf(d.Out, "%s  %-20s no answer for %s: deploy sent again\n", clock(), dev.ID, now.Sub(h).Round(time.Second))
		}
		topic := fleet.StatusTopic(dev.ID, fleet.OpDeploy, d.File.CmdID)
		if d.exact[topic] {
			if err := d.Broker.Unsubscribe(ctx, topic); err != nil {
				fmt.Fprintf(d.Err, "%s  reading the status of %s again: %v\n", clock(), dev.ID, err)
			}
		}
		d.exact[topic] = true
		if err := d.subscribe(ctx, topic); err != nil {
			fmt.Fprintf(d.Err, "%s  reading the status of %s again: %v\n", clock(), dev.ID, err)
		}
	}
}

// unsubscribeExact ends the per-device subscriptions poll made.
func (d *Driver) unsubscribeExact(ctx context.Context) {
	if len(d.exact) == 0 {
		return
	}
	topics := make([]string, 0, len(d.exact))
	for t := range d.exact {
		topics = append(topics, t)
	}
	d.Broker.Unsubscribe(context.WithoutCancel(ctx), topics...)
}

// rollbackSet is the devices an abort rolls back, for a resumed abort.
func (d *Driver) rollbackSet() []string {
	if d.File.Rollback != nil {
		return d.File.Rollback.Devices
	}
	var ids []string
	for _, dev := range d.Rollout.Devices() {
		if dev.Status.Installed() || dev.Status == Deploying || dev.Status == Timeout {
			ids = append(ids, dev.ID)
		}
	}
	return ids
}

// abort clears the deploy commands (so that devices offline now do not
// install the version later), waits within Drain for devices still
// downloading, sends a version-scoped rollback to every device that may
// serve the version, waits for their outcomes and returns the reason as
// an error.
func (d *Driver) abort(ctx context.Context, dec Decision) error {
	if dec.Operator {
		fmt.Fprintf(d.Out, "%s  ROLLBACK asked by the operator: %s\n", clock(), dec.Reason)
	} else {
		fmt.Fprintf(d.Out, "%s  ABORT: %s\n", clock(), dec.Reason)
	}
	if d.File.Rollback == nil {
		d.File.Rollback = &RollbackRecord{CmdID: d.File.CmdID + "-rollback", Devices: dec.Devices}
		if err := d.Save(); err != nil {
			return err
		}
	}
	rb := d.File.Rollback
	filter := fleet.Prefix + "/dev/+/cmd/" + fleet.OpRollback + "/" + rb.CmdID + "/status"
	if err := d.subscribe(ctx, filter); err != nil {
		return d.interrupted(ctx, err)
	}
	defer d.Broker.Unsubscribe(context.WithoutCancel(ctx), filter)
	d.clearDeploys(ctx, nil)
	drain := d.Drain
	if drain <= 0 {
		drain = time.Minute
	}

	// Devices still downloading may install the version after the
	// rollback reached them (they would skip it): wait for them.
	downloading := func() []string {
		var ids []string
		for _, id := range rb.Devices {
			if dev, _ := d.Rollout.Device(id); dev.Status == Deploying && !slices.Contains(rb.Sent, id) && !candidateLoaded(d.last[id].State) {
				ids = append(ids, id)
			}
		}
		return ids
	}
	if ids := downloading(); len(ids) > 0 {
		fmt.Fprintf(d.Out, "waiting up to %s for %d device(s) still deploying: %s\n", drain, len(ids), strings.Join(ids, ", "))
		d.pump(ctx, drain, func() bool { return len(downloading()) == 0 })
	}
	PrintSummary(d.Out, d.Rollout)

	var manual []string
	now := time.Now()
	for _, id := range rb.Devices {
		if slices.Contains(rb.Sent, id) {
			continue
		}
		dev, _ := d.Rollout.Device(id)
		if dev.Status == Failed || dev.Status == RolledBack {
			continue // never installed it
		}
		msg, why := d.rollbackFor(id, dev, now)
		if msg == nil {
			manual = append(manual, fmt.Sprintf("%s: %s", id, why))
			continue
		}
		if err := d.publish(ctx, fleet.CommandTopic(id, fleet.OpRollback, rb.CmdID), msg); err != nil {
			return d.interrupted(ctx, fmt.Errorf("rollback to %s: %w", id, err))
		}
		rb.Sent = append(rb.Sent, id)
		if err := d.Save(); err != nil {
			return err
		}
	}
	rb.Done = true
	if err := d.Save(); err != nil {
		return err
	}
	if len(rb.Sent) > 0 {
		fmt.Fprintf(d.Out, "rollback %s sent to %d device(s): %s\n", rb.CmdID, len(rb.Sent), strings.Join(rb.Sent, ", "))
		d.pump(ctx, drain, func() bool { return len(d.rbState) >= len(rb.Sent) })
		d.reportRollbacks(ctx)
		changed := false
		for id, st := range d.rbState {
			if st.State == fleet.StatusDone && d.Rollout.RolledBackTo(id) {
				changed = true
			}
		}
		if changed {
			if err := d.Save(); err != nil {
				return err
			}
			PrintSummary(d.Out, d.Rollout)
		}
	} else {
		fmt.Fprintln(d.Out, "no device installed the version: nothing to roll back")
	}
	for _, m := range manual {
		fmt.Fprintf(d.Out, "  not rolled back: %s\n", m)
	}
	return fmt.Errorf("rollout aborted: %s", dec.Reason)
}

// candidateLoaded reports whether a deploy status says the device
// evaluates the candidate (loaded beside the active version).
func candidateLoaded(state string) bool {
	return state == "shadow" || state == "canary" || state == "hold"
}

// rollbackFor builds a device's rollback: signed and version-scoped for
// agents that read signed commands, the protocol-1 rollback for older
// ones only when their state shows they serve the version; nil and why
// when none can be sent.
func (d *Driver) rollbackFor(id string, dev Device, now time.Time) ([]byte, string) {
	v := strconv.FormatUint(d.File.Version, 10)
	m, protocol, known := d.modelState(id)
	if known && !operator.Signed(protocol) {
		if m.Active != v {
			return nil, fmt.Sprintf("an agent without signed commands that does not report serving version %s; nothing sent", v)
		}
		b, err := operator.Legacy(d.File.Rollback.CmdID, d.File.Model, now)
		if err != nil {
			return nil, err.Error()
		}
		return b, ""
	}
	to := dev.From
	if m.Active == v && m.Previous != "" {
		to = m.Previous
	}
	if m.Canary == v && m.Active != "" {
		to = m.Active
	}
	hint := fmt.Sprintf("edgectl rollback --device %s --model %s --from %d --to PREVIOUS", id, d.File.Model, d.File.Version)
	toV, err := strconv.ParseUint(to, 10, 64)
	if err != nil || toV == 0 || toV == d.File.Version {
		return nil, "the version it served before is not known; roll it back with " + hint
	}
	if d.Key == nil {
		return nil, fmt.Sprintf("no key to sign the rollback; roll it back with edgectl rollback --device %s --model %s --from %d --to %d", id, d.File.Model, d.File.Version, toV)
	}
	b, err := operator.Build(fleet.OpRollback, d.File.Rollback.CmdID, operator.Target{Device: id},
		operator.Rollback(d.File.Model, d.File.Version, toV), d.Key, now, operator.DefaultValidity)
	if err != nil {
		return nil, err.Error()
	}
	return b, ""
}

func (d *Driver) rollbackStatus(id string, st fleet.CommandStatus) {
	if d.rbState == nil {
		d.rbState = map[string]fleet.CommandStatus{}
	}
	if operator.Finished(st.State) {
		d.rbState[id] = st
	}
}

// reportRollbacks prints each rollback's outcome and clears the retained
// command and status of those with one; the others stay retained until
// they expire, for devices offline now.
func (d *Driver) reportRollbacks(ctx context.Context) {
	rb := d.File.Rollback
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var silent []string
	for _, id := range rb.Sent {
		st, ok := d.rbState[id]
		if !ok {
			silent = append(silent, id)
			continue
		}
		fmt.Fprintf(d.Out, "  %-20s rollback %s\n", id, st.Describe())
		for _, t := range []string{fleet.CommandTopic(id, fleet.OpRollback, rb.CmdID), fleet.StatusTopic(id, fleet.OpRollback, rb.CmdID)} {
			if err := d.Broker.Publish(cctx, t, nil, 1, true); err != nil {
				fmt.Fprintf(d.Err, "clearing %s: %v\n", t, err)
			}
		}
	}
	if len(silent) > 0 {
		fmt.Fprintf(d.Out, "no answer yet from %s: the rollback stays retained for them until it expires (%s)\n",
			strings.Join(silent, ", "), operator.DefaultValidity)
	}
}

// pump feeds messages to the planner (recorded, deciding nothing after
// the abort) until done or the time is up.
func (d *Driver) pump(ctx context.Context, limit time.Duration, done func() bool) {
	t := time.NewTimer(limit)
	defer t.Stop()
	saveFailed := false
	for !done() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-d.ticker.C:
			d.Rollout.Tick()
		case <-d.q.ready:
			for _, m := range d.q.take() {
				d.handle(m)
			}
			// The rollback goes on whatever the disk says; the operator
			// learns, once, that the state file may be behind.
			if err := d.Save(); err != nil && !saveFailed && d.Err != nil {
				saveFailed = true
				fmt.Fprintf(d.Err, "saving the rollout's state: %v; the rollback goes on, but %s may not show its outcome\n", err, d.Path)
			}
		}
	}
}

// clearDeploys removes the retained deploy commands and statuses of the
// devices named (nil: every device sent the deploy), so that the broker
// forgets them and devices offline now do not act on them later.
func (d *Driver) clearDeploys(ctx context.Context, ids []string) {
	if ids == nil {
		for _, dev := range d.Rollout.Devices() {
			if dev.Status != Pending {
				ids = append(ids, dev.ID)
			}
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, id := range ids {
		for _, t := range []string{fleet.CommandTopic(id, fleet.OpDeploy, d.File.CmdID), fleet.StatusTopic(id, fleet.OpDeploy, d.File.CmdID)} {
			if err := d.Broker.Publish(cctx, t, nil, 1, true); err != nil {
				fmt.Fprintf(d.Err, "clearing %s: %v\n", t, err)
				return
			}
		}
	}
}

// interrupted saves the state and says how to continue.
func (d *Driver) interrupted(ctx context.Context, err error) error {
	serr := d.Save()
	return errors.Join(fmt.Errorf("rollout interrupted: %w; continue with 'edgectl rollout resume --state %s'", err, d.Path), serr)
}

// Save writes the state file if it changed, atomically: a crash leaves
// the old file or the new one, never half of one.
func (d *Driver) Save() error {
	st, err := d.Rollout.Marshal()
	if err != nil {
		return err
	}
	d.File.Rollout = st
	b, err := json.MarshalIndent(d.File, "", " ")
	if err != nil {
		return fmt.Errorf("rollout: state: %w", err)
	}
	if string(b) == string(d.saved) {
		return nil
	}
	if err := atomicfile.WriteFile(d.Path, append(b[:len(b):len(b)], '\n')); err != nil {
		return fmt.Errorf("rollout: saving the state: %w", err)
	}
	d.saved = b
	return nil
}

// PrintSummary prints one line per wave, why the current one waits, and
// the failures with their reasons.
func PrintSummary(w io.Writer, r *Rollout) {
	s := r.Summary()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAVE\tTARGET\tSIZE\tPENDING\tDEPLOYING\tACTIVE\tUNHEALTHY\tROLLED_BACK\tFAILED\tTIMEOUT")
	row := func(name, target string, size int, c Counts) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", name, target, size, c.Pending, c.Deploying, c.Active, c.Unhealthy, c.RolledBack, c.Failed, c.Timeout)
	}
	total := 0
	for _, ws := range s.Waves {
		name := fmt.Sprint(ws.Wave)
		if ws.Wave == s.Wave && s.Phase == Running {
			name += "*"
		}
		row(name, ws.Target, ws.Size, ws.Counts)
		total += ws.Size
	}
	row("all", "", total, s.Total)
	tw.Flush()
	fmt.Fprintf(w, "phase %s", s.Phase)
	if s.Paused {
		fmt.Fprint(w, " (paused)")
	}
	if s.Reason != "" {
		fmt.Fprintf(w, ": %s", s.Reason)
	}
	fmt.Fprintln(w)
	if s.Waiting != "" && s.Phase == Running {
		fmt.Fprintf(w, "waiting: %s\n", s.Waiting)
	}
	for _, f := range s.Failures {
		if strings.HasPrefix(f.Reason, f.Status.String()+":") {
			fmt.Fprintf(w, "  %-20s %s\n", f.ID, f.Reason) // the reason names the status
		} else {
			fmt.Fprintf(w, "  %-20s %s %s\n", f.ID, f.Status, f.Reason)
		}
	}
}

// waitNote decides when to print why a rollout waits: when the reason
// changes, not each time a countdown or a count in it moves (a bake of
// 30 minutes would print a line a second), and at most once a minute
// while only the figures move.
type waitNote struct {
	key, text string
	at        time.Time
}

// waitNoteEvery is how often a reason whose figures move is printed again.
const waitNoteEvery = time.Minute

// changed reports whether w is to be printed now, and records it if so.
func (n *waitNote) changed(w string, now time.Time) bool {
	key := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, w)
	switch {
	case w == "" || w == n.text:
		if w == "" {
			n.key, n.text = "", ""
		}
		return false
	case key == n.key && now.Sub(n.at) < waitNoteEvery:
		return false
	}
	n.key, n.text, n.at = key, w, now
	return true
}
