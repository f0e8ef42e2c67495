package cli

// edgectl rollback, promote, pause, resume and cancel: signed operator
// commands (ota/operator) to a device or a group, and requests to a
// rollout's driver.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/operator"
	"github.com/edged-dev/edged/ota/rollout"
	"github.com/edged-dev/edged/ota/sign"
)

// opFlags are the flags every operator command shares.
type opFlags struct {
	bf       brokerFlags
	kf       keyFlags
	device   string
	group    string
	rollout  string
	model    string
	cmdID    string
	timeout  time.Duration
	validFor time.Duration
	reason   string
}

func (f *opFlags) register(fs *flag.FlagSet, withRollout bool) {
	f.bf.register(fs)
	f.kf.register(fs, "command")
	fs.StringVar(&f.device, "device", "", "the device `id`")
	fs.StringVar(&f.group, "group", "", "every device of this `group` (default $EDGECTL_GROUP or the context's, when no --device)")
	if withRollout {
		fs.StringVar(&f.rollout, "rollout", "", "the rollout kept in this state `file` (edgectl rollout start --state)")
		fs.StringVar(&f.reason, "reason", "", "why, for the rollout's log")
	}
	fs.StringVar(&f.model, "model", "", "the model (default: the device's only model)")
	fs.StringVar(&f.cmdID, "id", "", "command id (default OP-MODEL-UNIXTIME-RANDOM)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the devices' answers")
	fs.DurationVar(&f.validFor, "valid-for", operator.DefaultValidity, "a device offline longer than this ignores the command")
}

// target checks the flags and fills the group from the context.
func (f *opFlags) target(name string) error {
	set, err := f.bf.resolve()
	if err != nil {
		return err
	}
	if f.device == "" && f.group == "" && f.rollout == "" {
		f.group = set.Group
	}
	if n := btoi(f.device != "") + btoi(f.group != "") + btoi(f.rollout != ""); n != 1 {
		if f.rollout != "" || strings.Contains(help[name].usage, "--rollout") {
			return usageErrorf("%s: want exactly one of --device, --group and --rollout", name)
		}
		return usageErrorf("%s: want exactly one of --device and --group", name)
	}
	for _, id := range []string{f.device, f.group, f.cmdID} {
		if id != "" {
			if err := fleet.ValidID(id); err != nil {
				return usageErrorf("%s: %q: %v", name, id, err)
			}
		}
	}
	return nil
}

func (f *opFlags) id(op, model string) string {
	if f.cmdID != "" {
		return f.cmdID
	}
	return fmt.Sprintf("%s-%s-%d-%04x", op, model, time.Now().Unix(), rand.Uint32()&0xffff)
}

func runRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rollback", stdout, stderr)
	var f opFlags
	f.register(fs, true)
	from := fs.Uint64("from", 0, "the `version` to leave (default: the device's candidate, else its active version)")
	to := fs.Uint64("to", 0, "the `version` to return to (default: the device's previous version)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := f.target("rollback"); err != nil {
		return err
	}
	if f.rollout != "" {
		return rolloutRequest(ctx, &f, rollout.Control{Action: rollout.ControlRollback, Reason: orDefault(f.reason, "rolled back by the operator")}, stdout, stderr)
	}
	if f.group != "" && (f.model == "" || *from == 0 || *to == 0) {
		return usageErrorf("rollback: for a group, give --model, --from and --to")
	}
	return sendOperator(ctx, &f, fleet.OpRollback, stdout, func(st *fleet.State) (any, string, error) {
		model, err := pickModel(f.model, st, f.device)
		if err != nil {
			return nil, "", err
		}
		fv, tv := *from, *to
		if st != nil {
			m, _ := modelOf(st, model)
			if fv == 0 && m.Canary != "" {
				// A candidate under evaluation is what a rollback
				// withdraws first: the active version stays.
				if fv, err = strconv.ParseUint(m.Canary, 10, 64); err != nil {
					return nil, "", fmt.Errorf("device %s evaluates model %s version %q; give --from", f.device, model, m.Canary)
				}
			}
			if fv == 0 {
				if fv, err = strconv.ParseUint(m.Active, 10, 64); err != nil {
					return nil, "", fmt.Errorf("device %s serves model %s version %q, not a deployed version; give --from", f.device, model, m.Active)
				}
			}
			if tv == 0 {
				if m.Canary != "" && m.Canary == strconv.FormatUint(fv, 10) {
					tv, err = strconv.ParseUint(m.Active, 10, 64)
				} else if tv, err = strconv.ParseUint(m.Previous, 10, 64); err != nil || m.Previous == "" {
					return nil, "", fmt.Errorf("device %s reports no previous version of model %s to return to; give --to", f.device, model)
				}
				if err != nil {
					return nil, "", fmt.Errorf("device %s: cannot tell the version to return to; give --to", f.device)
				}
			}
		}
		return operator.Rollback(model, fv, tv), fmt.Sprintf("roll back %s from version %d to %d", model, fv, tv), nil
	})
}

func runPromote(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return candidateCommand(ctx, "promote", fleet.OpPromote, false, args, stdout, stderr)
}

func runPause(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return candidateCommand(ctx, "pause", fleet.OpHold, true, args, stdout, stderr)
}

func runResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return candidateCommand(ctx, "resume", fleet.OpResume, true, args, stdout, stderr)
}

// candidateCommand sends promote, hold or resume for a model's candidate,
// or pauses or resumes a rollout.
func candidateCommand(ctx context.Context, name, op string, withRollout bool, args []string, stdout, stderr io.Writer) error {
	fs := newFlags(name, stdout, stderr)
	var f opFlags
	f.register(fs, withRollout)
	version := fs.Uint64("version", 0, "the candidate `version` (default: the device's candidate)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := f.target(name); err != nil {
		return err
	}
	if f.rollout != "" {
		return rolloutRequest(ctx, &f, rollout.Control{Action: name, Reason: f.reason}, stdout, stderr)
	}
	if f.group != "" && (f.model == "" || *version == 0) {
		return usageErrorf("%s: for a group, give --model and --version", name)
	}
	return sendOperator(ctx, &f, op, stdout, func(st *fleet.State) (any, string, error) {
		model, err := pickModel(f.model, st, f.device)
		if err != nil {
			return nil, "", err
		}
		v := *version
		if v == 0 && st != nil {
			m, _ := modelOf(st, model)
			if m.Canary == "" {
				return nil, "", fmt.Errorf("device %s evaluates no candidate of model %s (it serves version %s)", f.device, model, orDefault(m.Active, "none"))
			}
			if v, err = strconv.ParseUint(m.Canary, 10, 64); err != nil {
				return nil, "", fmt.Errorf("device %s: candidate version %q; give --version", f.device, m.Canary)
			}
		}
		verb := map[string]string{fleet.OpPromote: "promote", fleet.OpHold: "hold the evaluation of", fleet.OpResume: "resume the evaluation of"}[op]
		return operator.OnCandidate(model, v), fmt.Sprintf("%s %s version %d", verb, model, v), nil
	})
}

// pickModel is the model named, or the device's only one.
func pickModel(model string, st *fleet.State, device string) (string, error) {
	if model != "" {
		if err := fleet.ValidID(model); err != nil {
			return "", usageErrorf("--model %q: %v", model, err)
		}
		if st != nil {
			if _, ok := modelOf(st, model); !ok {
				var names []string
				for _, m := range st.Models {
					names = append(names, m.Name)
				}
				return "", fmt.Errorf("device %s serves no model %s (it serves %s)", device, model, orDefault(strings.Join(names, ", "), "none"))
			}
		}
		return model, nil
	}
	if st == nil || len(st.Models) != 1 {
		return "", usageErrorf("give --model")
	}
	return st.Models[0].Name, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// sendOperator signs and sends an operator command to a device or a group
// and waits for the outcomes: build makes the payload from the device's
// state (nil for a group) and says what it does.
func sendOperator(ctx context.Context, f *opFlags, op string, stdout io.Writer, build func(*fleet.State) (any, string, error)) error {
	key, err := f.kf.load(sign.KindCommand, f.bf.set)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	c, stop, err := f.bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer stop()

	t := operator.Target{Device: f.device, Group: f.group}
	var st *fleet.State
	var members []string
	if f.device != "" {
		st = retainedStates(ctx, c, []string{f.device}, 3*time.Second)[f.device]
		if st == nil {
			return fmt.Errorf("%s: device %s never connected to this broker (no retained state): check the id and the device's fleet.broker", op, f.device)
		}
		members = []string{f.device}
	} else {
		m, err := pingGroup(ctx, c, f.group, 3*time.Second)
		if err != nil {
			return fmt.Errorf("%s: group %s: %w", op, f.group, err)
		}
		for id := range m {
			members = append(members, id)
		}
		sort.Strings(members)
		if len(members) == 0 {
			fmt.Fprintf(stdout, "no device of group %s answered a ping; the command stays retained for them until it expires\n", f.group)
		}
	}
	payload, what, err := build(st)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var model string
	switch p := payload.(type) {
	case *sign.Rollback:
		model = p.Model
	case *sign.Target:
		model = p.Model
	}
	id := f.id(op, model)
	now := time.Now()
	var msg []byte
	if st != nil && !operator.Signed(st.CommandProtocol) {
		// An agent from before signed commands: only its rollback and
		// promote exist, unscoped; send them only when they do what the
		// operator asked.
		m, _ := modelOf(st, model)
		switch p := payload.(type) {
		case *sign.Rollback:
			if m.Active != strconv.FormatUint(p.From, 10) {
				return fmt.Errorf("%s: device %s runs an agent without version-scoped rollback and serves %s version %s, not %d: nothing sent", op, f.device, model, m.Active, p.From)
			}
			msg, err = operator.Legacy(id, model, now)
		default:
			return fmt.Errorf("%s: device %s runs an agent without signed commands (it advertises no cmd_protocol); update it with edgectl update-agent", op, f.device)
		}
	} else {
		msg, err = operator.Build(op, id, t, payload, key, now, f.validFor)
	}
	if err != nil {
		return fmt.Errorf("%s: %s", op, Message(err))
	}

	w, err := watchCommand(ctx, c, op, id)
	if err != nil {
		return err
	}
	topic := t.Topic(op, id)
	if err := c.Publish(ctx, topic, msg, 1, true); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	fmt.Fprintf(stdout, "%s on %s: command %s\n", what, t, id)
	expect := len(members)
	states, waitErr := w.wait(ctx, stdout, f.device, max(expect, 1), f.timeout, operator.Finished)
	// Clear what has an outcome: the command once every device it is
	// for answered, the statuses of those that did.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	answered := map[string]fleet.CommandStatus{}
	for d, s := range states {
		if operator.Finished(s.State) {
			answered[d] = s
		}
	}
	all := len(answered) > 0 && len(answered) >= expect
	for _, m := range members {
		if _, ok := answered[m]; !ok {
			all = false
		}
	}
	clearTopics := []string{}
	if all {
		clearTopics = append(clearTopics, topic)
	}
	for d := range answered {
		clearTopics = append(clearTopics, fleet.StatusTopic(d, op, id))
	}
	w.c.Unsubscribe(cctx, w.filter)
	for _, tp := range clearTopics {
		if err := c.Publish(cctx, tp, nil, 1, true); err != nil {
			fmt.Fprintf(stdout, "could not clear %s from the broker (%v); it expires %s, or withdraw it with 'edgectl cancel --%s %s --id %s'\n",
				tp, err, now.Add(f.validFor).Format(time.RFC3339), map[bool]string{true: "device", false: "group"}[f.device != ""], orDefault(f.device, f.group), id)
		}
	}
	var failed []string
	skipped := 0
	for d, s := range answered {
		if operator.Failed(s.State) {
			failed = append(failed, d+": "+s.Describe())
		}
		if s.State == operator.StatusSkipped {
			skipped++
		}
	}
	sort.Strings(failed)
	if !all {
		var silent []string
		for _, m := range members {
			if _, ok := answered[m]; !ok {
				silent = append(silent, m)
			}
		}
		exp := now.Add(f.validFor).Format(time.RFC3339)
		note := fmt.Sprintf("the command stays retained on %s until it expires (%s) for devices that have not answered", topic, exp)
		if len(silent) > 0 {
			note = fmt.Sprintf("no outcome from %s within %v; %s; withdraw it with 'edgectl cancel --%s %s --id %s'",
				strings.Join(silent, ", "), f.timeout, note, map[bool]string{true: "device", false: "group"}[f.device != ""], orDefault(f.device, f.group), id)
		}
		if len(failed) == 0 {
			return errors.New(note)
		}
		fmt.Fprintln(stdout, note)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s: %d device(s) refused or failed:\n  %s", op, len(failed), strings.Join(failed, "\n  "))
	}
	if waitErr != nil && !all {
		return waitErr
	}
	fmt.Fprintln(stdout, operatorOutcome(op, len(answered)-skipped, skipped))
	return nil
}

// operatorOutcome says what an operator command did on the devices that
// carried it out (changed) and what comes next; skipped devices changed
// nothing, and their lines above say why.
func operatorOutcome(op string, changed, skipped int) string {
	var s string
	switch op {
	case fleet.OpRollback:
		s = fmt.Sprintf("%d device(s) rolled back: the version they returned to serves every request", changed)
	case fleet.OpPromote:
		s = fmt.Sprintf("%d device(s) promoted the candidate: it serves every request and its evaluation has ended", changed)
	case fleet.OpHold:
		s = fmt.Sprintf("%d device(s) holding the evaluation: the active version serves every request until edgectl resume (continue the evaluation), promote or rollback", changed)
	case fleet.OpResume:
		s = fmt.Sprintf("%d device(s) evaluating the candidate again: follow with edgectl canary status", changed)
	default:
		s = fmt.Sprintf("%d device(s) carried out the %s command", changed, op)
	}
	if changed == 0 {
		s = "no device changed anything"
	}
	if skipped > 0 {
		s += fmt.Sprintf("; %d device(s) skipped it and changed nothing (the reason is on each one's line above)", skipped)
	}
	return s
}

// rolloutRequest hands a pause, resume, cancel or rollback to the
// edgectl driving the rollout, or carries it out when none does.
func rolloutRequest(ctx context.Context, f *opFlags, c rollout.Control, stdout, stderr io.Writer) error {
	path := f.rollout
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s: rollout state %s: %w", c.Action, path, err)
	}
	unlock, err := rollout.Lock(path)
	if errors.Is(err, rollout.ErrBusy) {
		if err := rollout.RequestControl(path, c); err != nil {
			return fmt.Errorf("%s: %w", c.Action, err)
		}
		deadline := time.Now().Add(f.timeout)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(rollout.ControlPath(path)); errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(stdout, "the edgectl driving %s took the request (%s); its output shows what follows\n", path, c.Action)
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		os.Remove(rollout.ControlPath(path))
		return fmt.Errorf("%s: the edgectl driving %s did not take the request within %v", c.Action, path, f.timeout)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.Action, err)
	}
	defer unlock()
	rf, r, err := rollout.LoadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Action, err)
	}
	dec, err := r.Apply(c)
	if err != nil {
		return fmt.Errorf("%s: %s", c.Action, Message(err))
	}
	needBroker := dec.Action == rollout.Abort || dec.Action == rollout.Cancel
	var d *rollout.Driver
	save := func() error { return (&rollout.Driver{File: rf, Rollout: r, Path: path}).Save() }
	if !needBroker {
		if err := save(); err != nil {
			return err
		}
		rollout.PrintSummary(stdout, r)
		fmt.Fprintf(stdout, "no edgectl drives this rollout now: continue it with 'edgectl rollout resume --state %s'\n", path)
		return nil
	}
	var key *sign.SigningKey
	if dec.Action == rollout.Abort {
		if key, err = f.kf.load(sign.KindCommand, f.bf.set); err != nil {
			return fmt.Errorf("%s: %w", c.Action, err)
		}
	}
	cl, stop, err := f.bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Action, err)
	}
	defer stop()
	if err := save(); err != nil {
		return err
	}
	d = newDriver(cl, rf, r, path, driveFlags{tick: time.Second, drain: f.timeout}, key, false, stdout, stderr)
	d.OperatorRollback = dec.Operator
	err = d.Run(ctx)
	if dec.Action == rollout.Abort && r.Phase() == rollout.Aborted && rf.Rollback != nil && rf.Rollback.Done {
		return nil // the rollback went out: what was asked
	}
	return err
}
