package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/operator"
	"github.com/edged-dev/edged/ota/rollout"
)

// retainedCmd is one retained command found on the broker, with the
// statuses devices wrote for it.
type retainedCmd struct {
	topic    string
	op, id   string
	cmd      fleet.Command
	statuses map[string]fleet.CommandStatus
}

func runCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cancel", stdout, stderr)
	var f opFlags
	f.register(fs, true)
	op := fs.String("op", "", "only commands of this `op` (deploy, update-agent, rollback, promote, hold, resume)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := f.target("cancel"); err != nil {
		return err
	}
	if f.rollout != "" {
		return rolloutRequest(ctx, &f, rollout.Control{Action: rollout.ControlCancel, Reason: orDefault(f.reason, "cancelled by the operator")}, stdout, stderr)
	}
	c, stop, err := f.bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	defer stop()
	filter := fleet.CommandFilter(f.device)
	if f.group != "" {
		filter = fleet.GroupCommandFilter(f.group)
	}
	keep := func(t fleet.Topic) bool {
		return (*op == "" || t.Op == *op) && (f.cmdID == "" || t.CmdID == f.cmdID)
	}
	cmds, err := collectRetained(ctx, c, filter, 2*time.Second, keep)
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	var left []leftover
	if f.device != "" {
		if left, err = leftoverStatuses(ctx, c, f.device, cmds, keep); err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
	}
	if len(cmds) == 0 && len(left) == 0 {
		fmt.Fprintf(stdout, "no retained command for %s matches\n", orDefault(f.device, "group "+f.group))
		return nil
	}
	for _, r := range cmds {
		sf := fleet.Prefix + "/dev/+/cmd/" + r.op + "/" + r.id + "/status"
		if f.device != "" {
			sf = fleet.StatusTopic(f.device, r.op, r.id)
		}
		if r.statuses, err = collectStatuses(ctx, c, sf, time.Second, nil); err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, r := range cmds {
		if err := c.Publish(cctx, r.topic, nil, 1, true); err != nil {
			return fmt.Errorf("cancel: %s %s is still on the broker: clearing %s: %w", r.op, r.id, r.topic, err)
		}
		uncleared := map[string]error{}
		for d, st := range r.statuses {
			if finished(st) {
				if err := c.Publish(cctx, fleet.StatusTopic(d, r.op, r.id), nil, 1, true); err != nil {
					uncleared[d] = err
				}
			}
		}
		fmt.Fprint(stdout, cancelReport(r, uncleared))
	}
	for _, l := range left {
		if err := c.Publish(cctx, l.topic, nil, 1, true); err != nil {
			fmt.Fprintf(stdout, "%s %s: withdrawn earlier; %s's final status (%s) stays on the broker: %v\n", l.op, l.id, f.device, l.st.Describe(), err)
			continue
		}
		fmt.Fprintf(stdout, "%s %s: withdrawn earlier; cleared %s's final status (%s)\n", l.op, l.id, f.device, l.st.Describe())
	}
	return nil
}

// leftover is a device's final status of a command no longer on the
// broker: it finished after the command was withdrawn.
type leftover struct {
	topic, op, id string
	st            fleet.CommandStatus
}

// leftoverStatuses finds device's final statuses (of commands keep
// accepts) whose command is retained neither for the device (cmds) nor
// for any group, so that nothing will clear them otherwise.
func leftoverStatuses(ctx context.Context, c *fleet.Client, device string, cmds []*retainedCmd, keep func(fleet.Topic) bool) ([]leftover, error) {
	var mu sync.Mutex
	var out []leftover
	err := c.Subscribe(ctx, fleet.CommandFilter(device)+"/status", 1, func(topic string, p []byte) {
		t, err := fleet.ParseTopic(topic)
		var st fleet.CommandStatus
		if err != nil || t.Kind != fleet.KindStatus || len(p) == 0 || !keep(t) || fleet.Decode(p, &st) != nil || !finished(st) {
			return
		}
		mu.Lock()
		out = append(out, leftover{topic: topic, op: t.Op, id: t.CmdID, st: st})
		mu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("reading the device's command statuses: %w", err)
	}
	sleep(ctx, time.Second)
	c.Unsubscribe(context.WithoutCancel(ctx), fleet.CommandFilter(device)+"/status")
	groups, err := collectRetained(ctx, c, fleet.GroupCommandFilter("+"), time.Second, keep)
	if err != nil {
		return nil, err
	}
	live := map[[2]string]bool{}
	for _, r := range append(cmds, groups...) {
		live[[2]string{r.op, r.id}] = true
	}
	mu.Lock()
	defer mu.Unlock()
	var left []leftover
	for _, l := range out {
		if !live[[2]string{l.op, l.id}] {
			left = append(left, l)
		}
	}
	sort.Slice(left, func(i, j int) bool { return left[i].topic < left[j].topic })
	return left, nil
}

func finished(st fleet.CommandStatus) bool {
	return operator.Finished(st.State) || rollout.StatusOf(st.State).Finished()
}

// cancelReport says what withdrawing r did: which devices had already
// carried it out (their statuses cleared, but for those in uncleared),
// which are still at it, and what to do about them.
func cancelReport(r *retainedCmd, uncleared map[string]error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (issued %s): ", r.op, r.id, r.cmd.Issued.Local().Format(time.DateTime))
	if len(r.statuses) == 0 {
		b.WriteString("withdrawn; no device had acted on it\n")
		return b.String()
	}
	b.WriteString("withdrawn: devices that have not received it will not act on it\n")
	devices := make([]string, 0, len(r.statuses))
	for d := range r.statuses {
		devices = append(devices, d)
	}
	sort.Strings(devices)
	for _, d := range devices {
		if st := r.statuses[d]; finished(st) {
			fmt.Fprintf(&b, "  already done: %s %s", d, st.Describe())
			if err := uncleared[d]; err != nil {
				fmt.Fprintf(&b, " (its status stays on the broker: %v)", err)
			}
			b.WriteString("\n")
		}
	}
	for _, d := range devices {
		if st := r.statuses[d]; !finished(st) {
			fmt.Fprintf(&b, "  still working on it: %s %s; withdrawing does not stop it: see how it ends with edgectl status --device %s", d, st.Describe(), d)
			if r.op == fleet.OpDeploy {
				b.WriteString(", undo the deploy then with edgectl rollback,")
			}
			fmt.Fprintf(&b, " and clear its final status with edgectl cancel --device %s --id %s\n", d, r.id)
		}
	}
	return b.String()
}

// collectRetained gathers the retained commands under filter for wait.
func collectRetained(ctx context.Context, c *fleet.Client, filter string, wait time.Duration, keep func(fleet.Topic) bool) ([]*retainedCmd, error) {
	var mu sync.Mutex
	var out []*retainedCmd
	err := c.Subscribe(ctx, filter, 1, func(topic string, p []byte) {
		t, err := fleet.ParseTopic(topic)
		if err != nil || (t.Kind != fleet.KindCommand && t.Kind != fleet.KindGroupCommand) || len(p) == 0 || (keep != nil && !keep(t)) {
			return
		}
		var cmd fleet.Command
		if json.Unmarshal(p, &cmd) != nil {
			return
		}
		mu.Lock()
		out = append(out, &retainedCmd{topic: topic, op: t.Op, id: t.CmdID, cmd: cmd})
		mu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("reading the retained commands: %w", err)
	}
	sleep(ctx, wait)
	c.Unsubscribe(context.WithoutCancel(ctx), filter)
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].topic < out[j].topic })
	return out, nil
}

// collectStatuses gathers, per device, the newest retained status under
// filter that keep accepts (nil: any) within wait.
func collectStatuses(ctx context.Context, c *fleet.Client, filter string, wait time.Duration, keep func(fleet.CommandStatus) bool) (map[string]fleet.CommandStatus, error) {
	var mu sync.Mutex
	out := map[string]fleet.CommandStatus{}
	err := c.Subscribe(ctx, filter, 1, func(topic string, p []byte) {
		t, err := fleet.ParseTopic(topic)
		var st fleet.CommandStatus
		if err != nil || t.Kind != fleet.KindStatus || len(p) == 0 || fleet.Decode(p, &st) != nil || (keep != nil && !keep(st)) {
			return
		}
		mu.Lock()
		if old, ok := out[t.Device]; !ok || !st.Time.Before(old.Time) {
			out[t.Device] = st
		}
		mu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("reading the commands' statuses: %w", err)
	}
	sleep(ctx, wait)
	c.Unsubscribe(context.WithoutCancel(ctx), filter)
	mu.Lock()
	defer mu.Unlock()
	cp := make(map[string]fleet.CommandStatus, len(out))
	for k, v := range out {
		cp[k] = v
	}
	return cp, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func runCanary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommand(ctx, "canary", map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"status": canaryStatus,
	}, args, stdout, stderr)
}

// canaryRow is one model's evaluation on one device.
type canaryRow struct {
	device, model, active, candidate, phase, reason string
	figures                                         *canaryFigures
}

// canaryFigures are the parts of a device's /v1/status canary section
// edgectl prints.
type canaryFigures struct {
	Candidate string `json:"candidate"`
	Status    string `json:"status"`
	Phase     string `json:"phase"`
	Figures   struct {
		Shadow struct {
			Samples      uint64  `json:"samples"`
			Errors       uint64  `json:"errors"`
			Disagreement float64 `json:"disagreement"`
			ActiveP50    float64 `json:"active_p50_ns"`
			CandidateP50 float64 `json:"candidate_p50_ns"`
		} `json:"shadow"`
		Active    armJSON `json:"active"`
		Candidate armJSON `json:"candidate"`
		Test      *struct {
			Method    string  `json:"method"`
			PTwoSided float64 `json:"p_two_sided"`
		} `json:"test"`
		Statement string `json:"statement"`
	} `json:"figures"`
	Last *struct {
		Reason string `json:"reason"`
	} `json:"last"`
}

type armJSON struct {
	Requests uint64  `json:"requests"`
	Errors   uint64  `json:"errors"`
	P50      float64 `json:"p50_ns"`
}

func canaryStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	bf, device, group, wait, parse := viewFlags("canary status", stdout, stderr)
	fs := bf.fs
	model := fs.String("model", "", "only this `model`")
	url := fs.String("url", "", "read one device's local status API instead of the broker, e.g. http://127.0.0.1:9410")
	token := fs.String("token", "", "the local API's bearer token (http.token), for --url")
	if err := parse(args); err != nil {
		return err
	}
	var rows []canaryRow
	if *url != "" {
		r, err := canaryFromURL(ctx, *url, *token)
		if err != nil {
			return fmt.Errorf("canary status: %w", err)
		}
		rows = r
	} else {
		devs, err := listenFleet(ctx, bf, *device, *group, *wait, "cmd/"+fleet.OpDeploy+"/+/status")
		if err != nil {
			return fmt.Errorf("canary status: %w", err)
		}
		rows = canaryRows(devs)
	}
	var kept []canaryRow
	for _, r := range rows {
		if *model == "" || r.model == *model {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		fmt.Fprintln(stdout, "no candidate under evaluation")
		return nil
	}
	return printCanary(stdout, kept)
}

// printCanary prints the rows as a table, sorted by device and model.
func printCanary(w io.Writer, kept []canaryRow) error {
	sort.Slice(kept, func(i, j int) bool { return kept[i].device+kept[i].model < kept[j].device+kept[j].model })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tMODEL\tACTIVE\tCANDIDATE\tPHASE\tREQUESTS A/C\tERRORS A/C\tP50 A/C\tP-VALUE\tREASON")
	for _, r := range kept {
		req, errs, p50, pv := "-", "-", "-", "-"
		reason := r.reason
		if r.phase == "hold" {
			reason = "holding (" + orDefault(reason, "no reason heard") + "); the active version serves every request until edgectl resume, promote or rollback"
		}
		if f := r.figures; f != nil {
			a, c := f.Figures.Active, f.Figures.Candidate
			req = fmt.Sprintf("%d/%d", a.Requests, c.Requests)
			errs = fmt.Sprintf("%d/%d", a.Errors, c.Errors)
			// On hold the figures are those of the phase it was held in:
			// the arms once the canary served requests, else the shadow
			// comparisons.
			if r.phase == "shadow" || (r.phase == "hold" && a.Requests+c.Requests == 0) {
				req = fmt.Sprintf("%d shadow", f.Figures.Shadow.Samples)
				errs = fmt.Sprintf("%d shadow", f.Figures.Shadow.Errors)
				p50 = fmt.Sprintf("%s/%s", ms(f.Figures.Shadow.ActiveP50), ms(f.Figures.Shadow.CandidateP50))
			} else {
				p50 = fmt.Sprintf("%s/%s", ms(a.P50), ms(c.P50))
			}
			if f.Figures.Test != nil {
				pv = fmt.Sprintf("%.3g (%s)", f.Figures.Test.PTwoSided, f.Figures.Test.Method)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.device, r.model, r.active, r.candidate, r.phase, req, errs, p50, pv, reason)
	}
	return tw.Flush()
}

// canaryRows is the candidates under evaluation the devices report: the
// figures from their telemetry (which they send when asked), the reason
// from the deploy command's status, the versions from their state.
func canaryRows(devs map[string]*deviceView) []canaryRow {
	var rows []canaryRow
	for id, d := range devs {
		var reason, phase string
		var when time.Time
		for _, c := range d.commands {
			if c.Op == fleet.OpDeploy && (c.State == "shadow" || c.State == "canary" || c.State == "hold") && !c.Time.Before(when) {
				reason, phase, when = c.Reason, c.State, c.Time
			}
		}
		byModel := map[string]*canaryRow{}
		if t := d.telemetry; t != nil {
			for _, c := range t.Canaries {
				r := &canaryRow{device: id, model: c.Model, candidate: c.Candidate, phase: c.Phase, reason: reason, figures: figuresOf(c)}
				for _, m := range t.Models {
					if m.Name == c.Model && m.Version != c.Candidate {
						r.active = m.Version
					}
				}
				byModel[c.Model] = r
			}
		}
		if st := d.state; st != nil {
			for _, m := range st.Models {
				if r := byModel[m.Name]; r != nil {
					r.active = m.Active
					continue
				}
				if m.Canary == "" || d.telemetry != nil {
					// A device that sent telemetry without this candidate
					// has ended its evaluation since its state was written.
					continue
				}
				r := &canaryRow{device: id, model: m.Name, active: m.Active, candidate: m.Canary, phase: phase, reason: reason}
				if r.phase == "" {
					r.phase = "unknown"
					r.reason = "the device sent no figures within --wait (it sends them every telemetry.interval; an older agent does not answer a request for them)"
				}
				byModel[m.Name] = r
			}
		}
		for _, r := range byModel {
			rows = append(rows, *r)
		}
	}
	return rows
}

// figuresOf converts a candidate's telemetry to the figures of the local
// status API.
func figuresOf(c fleet.CanaryTelemetry) *canaryFigures {
	f := &canaryFigures{Candidate: c.Candidate, Phase: c.Phase}
	if s := c.Shadow; s != nil {
		f.Figures.Shadow.Samples, f.Figures.Shadow.Errors, f.Figures.Shadow.Disagreement = s.N, s.Errors, s.Disagree
		f.Figures.Shadow.ActiveP50, f.Figures.Shadow.CandidateP50 = s.ActiveP50*1e6, s.CandP50*1e6
	}
	if a := c.Active; a != nil {
		f.Figures.Active = armJSON{Requests: a.N, Errors: a.Errors, P50: a.P50 * 1e6}
	}
	if a := c.Cand; a != nil {
		f.Figures.Candidate = armJSON{Requests: a.N, Errors: a.Errors, P50: a.P50 * 1e6}
	}
	if c.P != nil {
		f.Figures.Test = &struct {
			Method    string  `json:"method"`
			PTwoSided float64 `json:"p_two_sided"`
		}{c.Test, *c.P}
	}
	return f
}

func ms(ns float64) string { return fmt.Sprintf("%.2fms", ns/1e6) }

// canaryFromURL reads a device's /v1/status.
func canaryFromURL(ctx context.Context, base, token string) ([]canaryRow, error) {
	base = strings.TrimRight(base, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s/v1/status: %v", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/v1/status: %s (give --token if the device sets http.token)", base, resp.Status)
	}
	var st struct {
		Device string `json:"device_id"`
		Models []struct {
			Name    string         `json:"name"`
			Version string         `json:"version"`
			Canary  *canaryFigures `json:"canary"`
		} `json:"models"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&st); err != nil {
		return nil, fmt.Errorf("%s/v1/status: %v", base, err)
	}
	var rows []canaryRow
	for _, m := range st.Models {
		if m.Canary == nil {
			continue
		}
		r := canaryRow{device: orDefault(st.Device, base), model: m.Name, active: m.Version, candidate: m.Canary.Candidate,
			phase: m.Canary.Phase, figures: m.Canary}
		if m.Canary.Last != nil {
			r.reason = m.Canary.Last.Reason
		}
		if m.Canary.Figures.Statement != "" && (r.phase != "hold" || r.reason == "") {
			r.reason = m.Canary.Figures.Statement
		}
		rows = append(rows, r)
	}
	return rows, nil
}
