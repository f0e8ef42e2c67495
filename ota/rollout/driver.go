package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/atomicfile"
)

// statusQueue is an unbounded queue between the MQTT handler, which must
// not block, and the driver: a dropped final status would stall a wave
// until the device times out.
type statusQueue struct {
	mu    sync.Mutex
	items []statusUpdate
	ready chan struct{}
}

type statusUpdate struct {
	device string
	st     fleet.CommandStatus
}

func (q *statusQueue) push(u statusUpdate) {
	q.mu.Lock()
	q.items = append(q.items, u)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *statusQueue) take() []statusUpdate {
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

// Driver runs one rollout against the broker: device statuses in, deploy
// and rollback commands out, and the state written to its file after
// every event, so that an interrupted rollout is resumed by a new Driver
// on the same file.
type Driver struct {
	Broker  Broker
	File    *File
	Rollout *Rollout
	// Path is the state file's path.
	Path string
	// Out gets a line per device change and the summary after every
	// decision; Err the warnings.
	Out, Err io.Writer
	// Tick is how often device timeouts are checked.
	Tick time.Duration
	// Resumed sends the deploy again to the devices without an outcome.
	Resumed bool
	// Push publishes the bundle's blobs when File.Pushed is not set.
	Push func(ctx context.Context) error

	saved []byte
	last  map[string]fleet.CommandStatus // per device, to skip repeated progress
}

// Run drives the rollout to its end: finished (nil), aborted (the reason
// as an error, after the rollback went out) or interrupted (an error
// saying how to resume).
func (d *Driver) Run(ctx context.Context) error {
	d.last = map[string]fleet.CommandStatus{}
	if !d.File.Pushed {
		if err := d.Push(ctx); err != nil {
			return d.interrupted(ctx, err)
		}
		d.File.Pushed = true
		if err := d.Save(); err != nil {
			return err
		}
	}
	if d.Rollout.Phase() == Aborted {
		return d.abort(ctx, Decision{Action: Abort, Reason: d.Rollout.Summary().Reason})
	}

	q := &statusQueue{ready: make(chan struct{}, 1)}
	filter := fleet.Prefix + "/dev/+/cmd/" + fleet.OpDeploy + "/" + d.File.CmdID + "/status"
	// Subscribe before any deploy goes out so that no status is missed;
	// on resume the retained statuses bring what happened meanwhile.
	if err := d.Broker.Subscribe(ctx, filter, 1, func(topic string, p []byte) {
		t, err := fleet.ParseTopic(topic)
		if err != nil || t.Kind != fleet.KindStatus || len(p) == 0 {
			return
		}
		var st fleet.CommandStatus
		if fleet.Decode(p, &st) != nil || st.ID != d.File.CmdID {
			return
		}
		q.push(statusUpdate{t.Device, st})
	}); err != nil {
		return d.interrupted(ctx, err)
	}
	defer d.Broker.Unsubscribe(context.WithoutCancel(ctx), filter)

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

	tk := time.NewTicker(d.Tick)
	defer tk.Stop()
	var pending []statusUpdate
	dec := d.Rollout.Tick()
	for {
		// Saved once per decision or batch of reports: a status lost
		// to a crash comes back retained on resume.
		if err := d.Save(); err != nil {
			return err
		}
		switch dec.Action {
		case StartWave:
			fmt.Fprintf(d.Out, "%s  %s\n", time.Now().Format("15:04:05"), dec.Reason)
			PrintSummary(d.Out, d.Rollout)
			if err := d.deploy(ctx, dec.Devices); err != nil {
				return d.interrupted(ctx, err)
			}
		case Abort:
			return d.abort(ctx, dec)
		case Finish:
			fmt.Fprintf(d.Out, "%s  finished: %s\n", time.Now().Format("15:04:05"), dec.Reason)
			PrintSummary(d.Out, d.Rollout)
			d.clear(ctx)
			return nil
		}
		// One decision at a time: the reports after one that decided
		// wait for the next turn.
		dec = Decision{Action: Wait}
		for dec.Action == Wait && len(pending) > 0 {
			dec = d.report(pending[0])
			pending = pending[1:]
		}
		if dec.Action != Wait || len(pending) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return d.interrupted(ctx, ctx.Err())
		case <-tk.C:
			dec = d.Rollout.Tick()
		case <-q.ready:
			pending = q.take()
		}
	}
}

// report feeds one status to the planner, skipping repeats that carry no
// news (the same state and the same tenth of a download).
func (d *Driver) report(u statusUpdate) Decision {
	old, seen := d.last[u.device]
	if seen && old.State == u.st.State && old.Reason == u.st.Reason && int(10*old.Progress) == int(10*u.st.Progress) {
		return Decision{Action: Wait}
	}
	d.last[u.device] = u.st
	s := StatusOf(u.st.State)
	reason := u.st.Reason
	if s.Failure() {
		reason = strings.TrimSuffix(u.st.State+": "+reason, ": ")
	}
	before, _ := d.Rollout.Device(u.device)
	dec, err := d.Rollout.Report(u.device, s, reason)
	if err != nil {
		// Not part of this rollout, or not sent the deploy: a status
		// left from something else. Nothing to decide.
		return Decision{Action: Wait}
	}
	if after, _ := d.Rollout.Device(u.device); after.Status != before.Status {
		fmt.Fprintf(d.Out, "%s  %-20s %s\n", u.st.Time.Local().Format("15:04:05"), u.device, u.st.Describe())
	}
	return dec
}

// deploy publishes the retained deploy command to each device.
func (d *Driver) deploy(ctx context.Context, ids []string) error {
	payload, err := DeployPayload(d.File, time.Now().UTC())
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := d.Broker.Publish(ctx, fleet.CommandTopic(id, fleet.OpDeploy, d.File.CmdID), payload, 1, true); err != nil {
			return fmt.Errorf("deploy to %s: %w", id, err)
		}
	}
	return nil
}

// abort sends the rollback to every device the planner names, clears the
// deploy commands so that devices offline now do not install the model
// later, and returns the reason as an error.
func (d *Driver) abort(ctx context.Context, dec Decision) error {
	fmt.Fprintf(d.Out, "%s  ABORT: %s\n", time.Now().Format("15:04:05"), dec.Reason)
	PrintSummary(d.Out, d.Rollout)
	if d.File.Rollback == nil {
		d.File.Rollback = &RollbackRecord{CmdID: d.File.CmdID + "-rollback", Devices: dec.Devices}
		if err := d.Save(); err != nil {
			return err
		}
	}
	rb := d.File.Rollback
	if !rb.Sent {
		payload, err := json.Marshal(struct {
			Model string `json:"model"`
		}{d.File.Model})
		if err != nil {
			return err
		}
		cmd, err := fleet.Encode(&fleet.Command{Op: fleet.OpRollback, ID: rb.CmdID, Payload: payload, Issued: time.Now().UTC()})
		if err != nil {
			return fmt.Errorf("rollout: rollback command: %w", err)
		}
		for _, id := range rb.Devices {
			if err := d.Broker.Publish(ctx, fleet.CommandTopic(id, fleet.OpRollback, rb.CmdID), cmd, 1, true); err != nil {
				return d.interrupted(ctx, fmt.Errorf("rollback to %s: %w", id, err))
			}
		}
		for _, dev := range d.Rollout.Devices() {
			if dev.Status != Pending {
				if err := d.Broker.Publish(ctx, fleet.CommandTopic(dev.ID, fleet.OpDeploy, d.File.CmdID), nil, 1, true); err != nil {
					return d.interrupted(ctx, fmt.Errorf("clearing the deploy to %s: %w", dev.ID, err))
				}
			}
		}
		rb.Sent = true
		if err := d.Save(); err != nil {
			return err
		}
		fmt.Fprintf(d.Out, "rollback %s sent to %d device(s): %s\n", rb.CmdID, len(rb.Devices), strings.Join(rb.Devices, ", "))
		fmt.Fprintf(d.Out, "the rollback commands stay retained on %s/dev/ID/cmd/%s/%s for devices offline now\n", fleet.Prefix, fleet.OpRollback, rb.CmdID)
	}
	return fmt.Errorf("rollout aborted: %s", dec.Reason)
}

// clear removes the retained deploy commands and statuses after a
// finished rollout, so that the broker forgets them.
func (d *Driver) clear(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, dev := range d.Rollout.Devices() {
		if dev.Status == Pending {
			continue
		}
		for _, t := range []string{fleet.CommandTopic(dev.ID, fleet.OpDeploy, d.File.CmdID), fleet.StatusTopic(dev.ID, fleet.OpDeploy, d.File.CmdID)} {
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

// PrintSummary prints one line per wave and the failures with their
// reasons.
func PrintSummary(w io.Writer, r *Rollout) {
	s := r.Summary()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAVE\tTARGET\tSIZE\tPENDING\tDEPLOYING\tACTIVE\tROLLED_BACK\tFAILED\tTIMEOUT")
	row := func(name, target string, size int, c Counts) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", name, target, size, c.Pending, c.Deploying, c.Active, c.RolledBack, c.Failed, c.Timeout)
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
	if s.Reason != "" {
		fmt.Fprintf(w, ": %s", s.Reason)
	}
	fmt.Fprintln(w)
	for _, f := range s.Failures {
		fmt.Fprintf(w, "  %-20s %s %s\n", f.ID, f.Status, f.Reason)
	}
}
