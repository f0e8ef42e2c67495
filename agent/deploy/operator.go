package deploy

// The operator's commands besides deploy: rollback, promote, hold and
// resume. Each carries a command signed by a key certified for operator
// commands (ota/sign), bound to this device or one of its groups, with an
// expiry and a nonce; anything else is refused with the check that failed
// named in the status and the event, and changes nothing. Each is scoped
// to versions, so that one delivered twice, or again after the command
// record was lost, changes nothing the second time.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/sign"
)

// StatusSkipped is the final state of a verified command that does not
// apply to this device's versions (a rollback of a version it does not
// serve, a promote of a candidate it does not evaluate): nothing changed.
const StatusSkipped = "skipped"

// operatorCommand answers a command handled before with its recorded
// status, or verifies it and decodes its payload into p. It returns nil
// when the command was answered (repeated or rejected).
func (d *Deployer) operatorCommand(ctx context.Context, cmd fleet.Command, p sign.Payload) *sign.Command {
	if d.repeat(ctx, cmd) {
		return nil
	}
	c, err := sign.VerifyCommand(cmd.Payload, d.root, sign.CommandVerifyOptions{
		Now: d.now, Skew: clockSkew, Device: d.cfg.Device.ID, Groups: d.groups(),
		Op: cmd.Op, ID: cmd.ID, Seen: d.cmds.SeenNonce,
	})
	if err == nil {
		err = sign.DecodePayload(c, p)
	}
	if err != nil {
		// Not recorded: only verified commands are.
		d.finish(ctx, cmd, outcome{state: fleet.StatusRejected, check: sign.Check(err), reason: err.Error()})
		return nil
	}
	return c
}

// groups are the groups whose commands this device takes.
func (d *Deployer) groups() []string {
	gs := append([]string(nil), d.cfg.Fleet.Groups...)
	if g := d.cfg.Device.Group; g != "" {
		gs = append(gs, g)
	}
	return gs
}

// verified sets the outcome's record fields from the command.
func verified(out outcome, c *sign.Command) outcome {
	out.expires, out.nonce = c.Expires, c.Nonce
	return out
}

// onRollback handles a rollback: leave version From of a model for
// version To, whether From is the active version (To must be the
// previous one) or a candidate under evaluation (To must be the active
// one).
func (d *Deployer) onRollback(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
	var p sign.Rollback
	c := d.operatorCommand(ctx, cmd, &p)
	if c == nil {
		return
	}
	if r := d.Rollout(p.Model); r != nil && r.version == p.From {
		out := outcome{model: p.Model, version: p.From}
		if r.from != strconv.FormatUint(p.To, 10) {
			out.state, out.reason = StatusSkipped, fmt.Sprintf("model %s: version %d is a candidate beside version %s, not %d; nothing changed", p.Model, p.From, r.from, p.To)
		} else {
			out = d.resolve(cmd, r, canary.Rollback, c.Issued)
		}
		d.finish(ctx, cmd, verified(out, c))
		return
	}
	d.finish(ctx, cmd, verified(d.runRollback(ctx, p), c))
}

func (d *Deployer) runRollback(ctx context.Context, p sign.Rollback) outcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := outcome{model: p.Model, version: p.To}
	m, _, err := d.st.Model(p.Model)
	if err != nil {
		return d.failed(out, err)
	}
	serving := ""
	if s, ok := d.host.Serving(p.Model); ok {
		serving = s.Info().Version
	}
	switch {
	case serving != strconv.FormatUint(p.From, 10) || m.Active != p.From:
		out.state, out.reason = StatusSkipped, fmt.Sprintf("model %s serves version %q, not %d; nothing rolled back", p.Model, serving, p.From)
		return out
	case m.Previous != p.To:
		out.state, out.reason = StatusSkipped, fmt.Sprintf("model %s: the version to return to is %d, not %d; nothing rolled back", p.Model, m.Previous, p.To)
		if m.Previous == 0 {
			out.reason = fmt.Sprintf("model %s has no previous version to return to, not %d; nothing rolled back", p.Model, p.To)
		}
		return out
	}
	out.from = m.Active
	s, err := d.prepareStored(ctx, p.Model, m.Previous)
	if ctx.Err() != nil {
		return outcome{}
	}
	if err != nil {
		return d.failed(out, fmt.Errorf("previous version: %w", err))
	}
	rm, err := d.st.Rollback(p.Model)
	if err != nil {
		closeModel(s)
		return d.failed(out, err)
	}
	d.host.Serve(s)
	d.host.Note(p.Model, "")
	if t := d.timers[p.Model]; t != nil {
		t.Stop() // the previous version counts as good
	}
	out.state, out.to = fleet.StatusDone, rm.Active
	out.reason = fmt.Sprintf("model %s rolled back from version %d to %d", p.Model, out.from, rm.Active)
	return out
}

// onPromote, onHold and onResume act on the candidate of a model under
// evaluation, when it is the version the command names.
func (d *Deployer) onPromote(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
	d.onTarget(ctx, cmd, canary.Promote)
}

func (d *Deployer) onHold(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
	d.onTarget(ctx, cmd, canary.Hold)
}

func (d *Deployer) onResume(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
	d.onTarget(ctx, cmd, canary.Resume)
}

func (d *Deployer) onTarget(ctx context.Context, cmd fleet.Command, a canary.Action) {
	var p sign.Target
	c := d.operatorCommand(ctx, cmd, &p)
	if c == nil {
		return
	}
	out := outcome{model: p.Model, version: p.Version}
	switch r := d.Rollout(p.Model); {
	case r == nil:
		out.state, out.reason = StatusSkipped, fmt.Sprintf("model %s has no candidate under evaluation; nothing changed", p.Model)
	case r.version != p.Version:
		out.state, out.reason = StatusSkipped, fmt.Sprintf("model %s's candidate is version %d, not %d; nothing changed", p.Model, r.version, p.Version)
	default:
		out = d.resolve(cmd, r, a, c.Issued)
	}
	d.finish(ctx, cmd, verified(out, c))
}

// resolve applies an operator's decision to a rollout.
// issued is the command's signed issued time: a command issued before one
// already applied to the candidate changes nothing (the same second is
// not before: edgectl issues in whole seconds), so that commands
// delivered again (after the command record was lost) cannot undo a later
// hold or resume.
func (d *Deployer) resolve(cmd fleet.Command, r *Rollout, a canary.Action, issued time.Time) outcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.ended {
		return outcome{state: StatusSkipped, model: r.name, version: r.version, reason: fmt.Sprintf("model %q: the candidate's evaluation already ended", r.name)}
	}
	if issued.Before(r.operator) {
		return outcome{state: StatusSkipped, model: r.name, version: r.version,
			reason: fmt.Sprintf("model %s: an operator command issued %s, after this one (%s), was applied to version %d; nothing changed",
				r.name, r.operator.UTC().Format(time.RFC3339), issued.UTC().Format(time.RFC3339), r.version)}
	}
	why := fmt.Sprintf("%s command %s", cmd.Op, cmd.ID)
	r.mu.Lock()
	var dec canary.Decision
	var err error
	if a == canary.Resume {
		dec, err = r.m.Resume(why)
	} else {
		dec, err = r.m.Resolve(a, why)
	}
	r.mu.Unlock()
	if err != nil {
		return outcome{state: fleet.StatusRejected, model: r.name, version: r.version, reason: err.Error()}
	}
	if issued.After(r.operator) {
		r.operator = issued // saved with the decision
	}
	r.actLocked(dec)
	out := outcome{state: fleet.StatusDone, model: r.name, version: r.version, reason: dec.Reason}
	if a == canary.Promote {
		out.to = r.version
	}
	return out
}
