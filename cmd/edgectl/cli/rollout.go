package cli

// edgectl rollout: a model to a fleet in waves (DESIGN §5). ota/rollout
// decides; this file only translates: device statuses in, deploy and
// rollback commands out, and the state written to a file after every
// event so that "rollout resume" continues after edgectl dies.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/atomicfile"
	"github.com/edged-dev/edged/ota/rollout"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/transfer"
)

// rolloutFileVersion is the version of the state file "rollout start"
// writes.
const rolloutFileVersion = 1

// rolloutFile is the state file: the planner's state plus what resume
// needs to send commands without the bundle directory.
type rolloutFile struct {
	V int `json:"v"`
	// CmdID is the deploy command's id, the same for every device, so
	// that a deploy sent again (after a restart) is recognised by the
	// agent as one it already handled.
	CmdID   string `json:"cmd_id"`
	Model   string `json:"model"`
	Version uint64 `json:"version"`
	// Manifest is the signed manifest, byte for byte (base64).
	Manifest []byte    `json:"manifest"`
	Expires  time.Time `json:"expires,omitzero"`
	// Bundle is the bundle directory, for pushing the blobs on resume if
	// the first run died before Pushed.
	Bundle    string          `json:"bundle"`
	ChunkSize int             `json:"chunk_size"`
	Pushed    bool            `json:"pushed"`
	Rollback  *rollbackRecord `json:"rollback,omitempty"`
	Rollout   json.RawMessage `json:"rollout"`
}

// rollbackRecord is the abort's rollback, kept so that resume sends it if
// edgectl died between the decision and the last publish.
type rollbackRecord struct {
	CmdID   string   `json:"cmd_id"`
	Devices []string `json:"devices"`
	Sent    bool     `json:"sent"`
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now().UTC() }

func runRollout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "start":
			return rolloutStart(ctx, args[1:], stdout, stderr)
		case "resume":
			return rolloutResume(ctx, args[1:], stdout, stderr)
		case "status":
			return rolloutStatus(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, `usage:
  edgectl rollout start --broker URL --bundle DIR (--devices a,b,... | --group G | --all) --state FILE [plan flags]
  edgectl rollout resume --broker URL --state FILE
  edgectl rollout status --state FILE`)
	if len(args) == 0 {
		return errors.New("rollout: want start, resume or status")
	}
	return fmt.Errorf("rollout: unknown subcommand %q; want start, resume or status", args[0])
}

// driveFlags are the flags start and resume share.
type driveFlags struct {
	tick time.Duration
}

func (f *driveFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.tick, "tick", time.Second, "how often device timeouts are checked")
}

func rolloutStart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rollout start", stderr)
	var bf brokerFlags
	bf.register(fs)
	var df driveFlags
	df.register(fs)
	def := rollout.DefaultPlan()
	dir := fs.String("bundle", "", "bundle directory (required)")
	statePath := fs.String("state", "", "state `file`, written after every event; resume and status read it (required)")
	devices := fs.String("devices", "", "comma-separated device ids")
	group := fs.String("group", "", "the devices of this group (pinged to find them: the state message does not carry groups)")
	all := fs.Bool("all", false, "every online device with a retained state message")
	discover := fs.Duration("discover-wait", 3*time.Second, "with --group or --all: how long to listen for devices")
	waves := fs.String("waves", "1,5%,25%,100%", "cumulative wave sizes, counts or percentages of the fleet")
	success := fs.String("success", "95%", "share of a wave that must be active before the next starts")
	abortAfter := fs.Int("abort-after", def.AbortAfter, "devices with an outcome before --abort-failures is checked")
	abortFailures := fs.String("abort-failures", "10%", "abort when failures exceed this share of the devices with an outcome")
	devTimeout := fs.Duration("device-timeout", def.DeviceTimeout.D(), "a deploying device silent this long counts as failed")
	order := fs.String("order", string(rollout.OrderSorted), "sorted (by device id) or shuffle")
	seed := fs.Uint64("seed", 0, "with --order shuffle: the shuffle's seed (default: the time)")
	cmdID := fs.String("id", "", "deploy command id; default NAME-vVERSION-UNIXTIME")
	chunk := fs.Int("chunk-size", transfer.DefaultChunkSize, "chunk size in bytes")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("rollout start: unexpected argument %q", pos[0])
	}
	if *dir == "" || *statePath == "" {
		return errors.New("rollout start: --bundle and --state are required")
	}
	if n := btoi(*devices != "") + btoi(*group != "") + btoi(*all); n != 1 {
		return errors.New("rollout start: want exactly one of --devices, --group or --all")
	}
	if _, err := os.Stat(*statePath); err == nil {
		return fmt.Errorf("rollout start: %s exists; continue it with 'edgectl rollout resume --state %s' or choose another file", *statePath, *statePath)
	}

	p := def
	var perr []error
	if p.Waves, err = rollout.ParseWaves(*waves); err != nil {
		perr = append(perr, fmt.Errorf("--waves: %w", err))
	}
	if p.Success, err = rollout.ParseShare(*success); err != nil {
		perr = append(perr, fmt.Errorf("--success: %w", err))
	}
	if p.AbortFailures, err = rollout.ParseShare(*abortFailures); err != nil {
		perr = append(perr, fmt.Errorf("--abort-failures: %w", err))
	}
	p.AbortAfter, p.DeviceTimeout, p.Order, p.Seed = *abortAfter, rollout.Duration(*devTimeout), rollout.Order(*order), *seed
	if p.Order == rollout.OrderShuffle && p.Seed == 0 {
		p.Seed = uint64(time.Now().UnixNano())
	}
	if len(perr) == 0 {
		if err := p.Validate(); err != nil {
			perr = append(perr, err)
		}
	}
	if err := errors.Join(perr...); err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}

	b, err := readBundle(*dir)
	if err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	m := b.Manifest
	now := time.Now().UTC()
	if *cmdID == "" {
		*cmdID = fmt.Sprintf("%s-v%d-%d", m.Name, m.Version, now.Unix())
	}
	if err := fleet.ValidID(*cmdID); err != nil {
		return fmt.Errorf("rollout start: --id: %w", err)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	rf := &rolloutFile{V: rolloutFileVersion, CmdID: *cmdID, Model: m.Name, Version: m.Version, Manifest: b.Raw,
		Bundle: abs, ChunkSize: *chunk}
	if m.Expires.After(now) {
		rf.Expires = m.Expires
	}
	// Fail before touching the broker if the command cannot be built.
	if _, err := deployPayload(rf, now); err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}

	c, stop, err := bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	defer stop()
	ids, err := discoverDevices(ctx, c, *devices, *group, *all, *discover, stderr)
	if err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	r, err := rollout.New(p, ids, wallClock{})
	if err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	fmt.Fprintf(stdout, "rollout of %s version %d to %d device(s) in %d wave(s); command %s; state in %s\n",
		m.Name, m.Version, len(ids), len(r.Summary().Waves), *cmdID, *statePath)
	d := &driver{c: c, rf: rf, r: r, path: *statePath, stdout: stdout, stderr: stderr, tick: df.tick}
	if err := d.save(); err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	return d.run(ctx)
}

func rolloutResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rollout resume", stderr)
	var bf brokerFlags
	bf.register(fs)
	var df driveFlags
	df.register(fs)
	statePath := fs.String("state", "", "state file written by rollout start (required)")
	dir := fs.String("bundle", "", "bundle directory, if the blobs were not pushed yet and it moved since start")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("rollout resume: unexpected argument %q", pos[0])
	}
	if *statePath == "" {
		return errors.New("rollout resume: --state is required")
	}
	rf, r, err := loadRollout(*statePath)
	if err != nil {
		return fmt.Errorf("rollout resume: %w", err)
	}
	if *dir != "" {
		if rf.Bundle, err = filepath.Abs(*dir); err != nil {
			return fmt.Errorf("rollout resume: %w", err)
		}
	}
	if r.Phase() == rollout.Done {
		printSummary(stdout, r)
		fmt.Fprintln(stdout, "the rollout is already done")
		return nil
	}
	if r.Phase() == rollout.Aborted && rf.Rollback != nil && rf.Rollback.Sent {
		printSummary(stdout, r)
		return fmt.Errorf("rollout resume: the rollout was aborted: %s", r.Summary().Reason)
	}
	c, stop, err := bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("rollout resume: %w", err)
	}
	defer stop()
	fmt.Fprintf(stdout, "resuming the rollout of %s version %d (command %s) from %s\n", rf.Model, rf.Version, rf.CmdID, *statePath)
	d := &driver{c: c, rf: rf, r: r, path: *statePath, stdout: stdout, stderr: stderr, tick: df.tick, resumed: true}
	return d.run(ctx)
}

func rolloutStatus(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rollout status", stderr)
	statePath := fs.String("state", "", "state file written by rollout start (required)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("rollout status: unexpected argument %q", pos[0])
	}
	if *statePath == "" {
		return errors.New("rollout status: --state is required")
	}
	rf, r, err := loadRollout(*statePath)
	if err != nil {
		return fmt.Errorf("rollout status: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r.Summary())
	}
	fmt.Fprintf(stdout, "rollout of %s version %d, command %s\n", rf.Model, rf.Version, rf.CmdID)
	printSummary(stdout, r)
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// discoverDevices returns the rollout's devices: the list given, the
// group's members (which answer a ping: fleet.State carries no groups), or
// every device whose retained state says online.
func discoverDevices(ctx context.Context, c *fleet.Client, list, group string, all bool, wait time.Duration, stderr io.Writer) ([]string, error) {
	switch {
	case list != "":
		var ids []string
		for _, id := range strings.Split(list, ",") {
			id = strings.TrimSpace(id)
			if err := fleet.ValidID(id); err != nil {
				return nil, fmt.Errorf("--devices: %q: %w", id, err)
			}
			ids = append(ids, id)
		}
		return ids, nil
	case group != "":
		if err := fleet.ValidID(group); err != nil {
			return nil, fmt.Errorf("--group: %w", err)
		}
		members, err := pingGroup(ctx, c, group, wait)
		if err != nil {
			return nil, fmt.Errorf("--group %s: %w", group, err)
		}
		if len(members) == 0 {
			return nil, fmt.Errorf("--group %s: no device answered a ping within %v; name them with --devices", group, wait)
		}
		ids := make([]string, 0, len(members))
		for id := range members {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return ids, nil
	}
	var mu sync.Mutex
	online := map[string]bool{}
	filter := fleet.Prefix + "/dev/+/state"
	if err := c.Subscribe(ctx, filter, 1, func(topic string, p []byte) {
		t, err := fleet.ParseTopic(topic)
		var st fleet.State
		if err != nil || t.Kind != fleet.KindState || len(p) == 0 || fleet.Decode(p, &st) != nil {
			return
		}
		mu.Lock()
		online[t.Device] = st.State == fleet.Online
		mu.Unlock()
	}); err != nil {
		return nil, fmt.Errorf("--all: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(wait):
	}
	c.Unsubscribe(context.WithoutCancel(ctx), filter)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	var ids, offline []string
	for id, on := range online {
		if on {
			ids = append(ids, id)
		} else {
			offline = append(offline, id)
		}
	}
	sort.Strings(ids)
	sort.Strings(offline)
	if len(offline) > 0 {
		fmt.Fprintf(stderr, "skipping %d offline device(s): %s\n", len(offline), strings.Join(offline, ", "))
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("--all: no online device heard within %v", wait)
	}
	return ids, nil
}

// deployPayload is the deploy command, the same bytes for every device.
func deployPayload(rf *rolloutFile, now time.Time) ([]byte, error) {
	cmd := fleet.Command{Op: fleet.OpDeploy, ID: rf.CmdID, Payload: json.RawMessage(rf.Manifest), Issued: now}
	if rf.Expires.After(now) {
		cmd.Expires = rf.Expires
	}
	return fleet.Encode(&cmd)
}

// rolloutStatusOf maps a device's deploy status to the planner's. Unknown
// states are progress: the device is alive and working on it.
func rolloutStatusOf(state string) rollout.Status {
	switch {
	case isOne(state, deployOK):
		return rollout.Active
	case state == "rolled_back":
		return rollout.RolledBack
	case isOne(state, deployFailed):
		return rollout.Failed
	}
	return rollout.Deploying
}

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

// driver runs one rollout against the broker.
type driver struct {
	c              *fleet.Client
	rf             *rolloutFile
	r              *rollout.Rollout
	path           string
	stdout, stderr io.Writer
	tick           time.Duration
	resumed        bool

	saved []byte
	last  map[string]fleet.CommandStatus // per device, to skip repeated progress
}

func (d *driver) run(ctx context.Context) error {
	d.last = map[string]fleet.CommandStatus{}
	if !d.rf.Pushed {
		b, err := readBundle(d.rf.Bundle)
		if err != nil {
			return fmt.Errorf("rollout: blobs not pushed yet, and the bundle cannot be read: %w (give --bundle)", err)
		}
		if string(b.Raw) != string(d.rf.Manifest) {
			return fmt.Errorf("rollout: the manifest in %s is not the one this rollout started with", d.rf.Bundle)
		}
		if err := pushBlobs(ctx, d.c, b, d.rf.ChunkSize, d.stderr); err != nil {
			return d.interrupted(ctx, err)
		}
		d.rf.Pushed = true
		if err := d.save(); err != nil {
			return err
		}
	}
	if d.r.Phase() == rollout.Aborted {
		return d.abort(ctx, rollout.Decision{Action: rollout.Abort, Reason: d.r.Summary().Reason})
	}

	q := &statusQueue{ready: make(chan struct{}, 1)}
	filter := fleet.Prefix + "/dev/+/cmd/" + fleet.OpDeploy + "/" + d.rf.CmdID + "/status"
	// Subscribe before any deploy goes out so that no status is missed;
	// on resume the retained statuses bring what happened meanwhile.
	if err := d.c.Subscribe(ctx, filter, 1, func(topic string, p []byte) {
		t, err := fleet.ParseTopic(topic)
		if err != nil || t.Kind != fleet.KindStatus || len(p) == 0 {
			return
		}
		var st fleet.CommandStatus
		if fleet.Decode(p, &st) != nil || st.ID != d.rf.CmdID {
			return
		}
		q.push(statusUpdate{t.Device, st})
	}); err != nil {
		return d.interrupted(ctx, err)
	}
	defer d.c.Unsubscribe(context.WithoutCancel(ctx), filter)

	if d.resumed {
		// A deploy decided just before edgectl died may not have gone
		// out; sending it again is harmless, as agents answer a command
		// id they handled with its recorded status. Their timeouts start
		// again: edgectl's downtime is not the devices' silence.
		if ids := d.r.Deploying(); len(ids) > 0 {
			fmt.Fprintf(d.stdout, "sending the deploy again to %d device(s) without an outcome\n", len(ids))
			if err := d.deploy(ctx, ids); err != nil {
				return d.interrupted(ctx, err)
			}
			d.r.Resent(ids)
		}
	}

	tk := time.NewTicker(d.tick)
	defer tk.Stop()
	var pending []statusUpdate
	dec := d.r.Tick()
	for {
		// Saved once per decision or batch of reports: a status lost
		// to a crash comes back retained on resume.
		if err := d.save(); err != nil {
			return err
		}
		switch dec.Action {
		case rollout.StartWave:
			fmt.Fprintf(d.stdout, "%s  %s\n", time.Now().Format("15:04:05"), dec.Reason)
			printSummary(d.stdout, d.r)
			if err := d.deploy(ctx, dec.Devices); err != nil {
				return d.interrupted(ctx, err)
			}
		case rollout.Abort:
			return d.abort(ctx, dec)
		case rollout.Finish:
			fmt.Fprintf(d.stdout, "%s  finished: %s\n", time.Now().Format("15:04:05"), dec.Reason)
			printSummary(d.stdout, d.r)
			d.clear(ctx)
			return nil
		}
		// One decision at a time: the reports after one that decided
		// wait for the next turn.
		dec = rollout.Decision{Action: rollout.Wait}
		for dec.Action == rollout.Wait && len(pending) > 0 {
			dec = d.report(pending[0])
			pending = pending[1:]
		}
		if dec.Action != rollout.Wait || len(pending) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return d.interrupted(ctx, ctx.Err())
		case <-tk.C:
			dec = d.r.Tick()
		case <-q.ready:
			pending = q.take()
		}
	}
}

// report feeds one status to the planner, skipping repeats that carry no
// news (the same state and the same tenth of a download).
func (d *driver) report(u statusUpdate) rollout.Decision {
	old, seen := d.last[u.device]
	if seen && old.State == u.st.State && old.Reason == u.st.Reason && int(10*old.Progress) == int(10*u.st.Progress) {
		return rollout.Decision{Action: rollout.Wait}
	}
	d.last[u.device] = u.st
	s := rolloutStatusOf(u.st.State)
	reason := u.st.Reason
	if s.Failure() {
		reason = strings.TrimSuffix(u.st.State+": "+reason, ": ")
	}
	before, _ := d.r.Device(u.device)
	dec, err := d.r.Report(u.device, s, reason)
	if err != nil {
		// Not part of this rollout, or not sent the deploy: a status
		// left from something else. Nothing to decide.
		return rollout.Decision{Action: rollout.Wait}
	}
	if after, _ := d.r.Device(u.device); after.Status != before.Status {
		fmt.Fprintf(d.stdout, "%s  %-20s %s\n", u.st.Time.Local().Format("15:04:05"), u.device, describeStatus(u.st))
	}
	return dec
}

// deploy publishes the retained deploy command to each device.
func (d *driver) deploy(ctx context.Context, ids []string) error {
	payload, err := deployPayload(d.rf, time.Now().UTC())
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := d.c.Publish(ctx, fleet.CommandTopic(id, fleet.OpDeploy, d.rf.CmdID), payload, 1, true); err != nil {
			return fmt.Errorf("deploy to %s: %w", id, err)
		}
	}
	return nil
}

// abort sends the rollback to every device the planner names, clears the
// deploy commands so that devices offline now do not install the model
// later, and returns the reason as an error.
func (d *driver) abort(ctx context.Context, dec rollout.Decision) error {
	fmt.Fprintf(d.stdout, "%s  ABORT: %s\n", time.Now().Format("15:04:05"), dec.Reason)
	printSummary(d.stdout, d.r)
	if d.rf.Rollback == nil {
		d.rf.Rollback = &rollbackRecord{CmdID: d.rf.CmdID + "-rollback", Devices: dec.Devices}
		if err := d.save(); err != nil {
			return err
		}
	}
	rb := d.rf.Rollback
	if !rb.Sent {
		payload, err := json.Marshal(struct {
			Model string `json:"model"`
		}{d.rf.Model})
		if err != nil {
			return err
		}
		cmd, err := fleet.Encode(&fleet.Command{Op: fleet.OpRollback, ID: rb.CmdID, Payload: payload, Issued: time.Now().UTC()})
		if err != nil {
			return fmt.Errorf("rollout: rollback command: %w", err)
		}
		for _, id := range rb.Devices {
			if err := d.c.Publish(ctx, fleet.CommandTopic(id, fleet.OpRollback, rb.CmdID), cmd, 1, true); err != nil {
				return d.interrupted(ctx, fmt.Errorf("rollback to %s: %w", id, err))
			}
		}
		for _, dev := range d.r.Devices() {
			if dev.Status != rollout.Pending {
				if err := d.c.Publish(ctx, fleet.CommandTopic(dev.ID, fleet.OpDeploy, d.rf.CmdID), nil, 1, true); err != nil {
					return d.interrupted(ctx, fmt.Errorf("clearing the deploy to %s: %w", dev.ID, err))
				}
			}
		}
		rb.Sent = true
		if err := d.save(); err != nil {
			return err
		}
		fmt.Fprintf(d.stdout, "rollback %s sent to %d device(s): %s\n", rb.CmdID, len(rb.Devices), strings.Join(rb.Devices, ", "))
		fmt.Fprintf(d.stdout, "the rollback commands stay retained on %s/dev/ID/cmd/%s/%s for devices offline now\n", fleet.Prefix, fleet.OpRollback, rb.CmdID)
	}
	return fmt.Errorf("rollout aborted: %s", dec.Reason)
}

// clear removes the retained deploy commands and statuses after a
// finished rollout, so that the broker forgets them.
func (d *driver) clear(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, dev := range d.r.Devices() {
		if dev.Status == rollout.Pending {
			continue
		}
		for _, t := range []string{fleet.CommandTopic(dev.ID, fleet.OpDeploy, d.rf.CmdID), fleet.StatusTopic(dev.ID, fleet.OpDeploy, d.rf.CmdID)} {
			if err := d.c.Publish(cctx, t, nil, 1, true); err != nil {
				fmt.Fprintf(d.stderr, "clearing %s: %v\n", t, err)
				return
			}
		}
	}
}

// interrupted saves the state and says how to continue.
func (d *driver) interrupted(ctx context.Context, err error) error {
	serr := d.save()
	return errors.Join(fmt.Errorf("rollout interrupted: %w; continue with 'edgectl rollout resume --state %s'", err, d.path), serr)
}

// save writes the state file if it changed, atomically: a crash leaves
// the old file or the new one, never half of one.
func (d *driver) save() error {
	st, err := d.r.Marshal()
	if err != nil {
		return err
	}
	d.rf.Rollout = st
	b, err := json.MarshalIndent(d.rf, "", " ")
	if err != nil {
		return fmt.Errorf("rollout: state: %w", err)
	}
	if string(b) == string(d.saved) {
		return nil
	}
	if err := atomicfile.WriteFile(d.path, append(b[:len(b):len(b)], '\n')); err != nil {
		return fmt.Errorf("rollout: saving the state: %w", err)
	}
	d.saved = b
	return nil
}

// loadRollout reads a state file.
func loadRollout(path string) (*rolloutFile, *rollout.Rollout, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var rf rolloutFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rf); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if rf.V != rolloutFileVersion {
		return nil, nil, fmt.Errorf("%s: version %d; this edgectl reads %d", path, rf.V, rolloutFileVersion)
	}
	if err := fleet.ValidID(rf.CmdID); err != nil {
		return nil, nil, fmt.Errorf("%s: cmd_id: %w", path, err)
	}
	var m sign.Manifest
	if err := json.Unmarshal(rf.Manifest, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: manifest: %w", path, err)
	}
	if m.Name != rf.Model || m.Version != rf.Version {
		return nil, nil, fmt.Errorf("%s: manifest is %s version %d; the file says %s version %d", path, m.Name, m.Version, rf.Model, rf.Version)
	}
	r, err := rollout.Restore(rf.Rollout, wallClock{})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rf, r, nil
}

// printSummary prints one line per wave and the failures with their
// reasons.
func printSummary(w io.Writer, r *rollout.Rollout) {
	s := r.Summary()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAVE\tTARGET\tSIZE\tPENDING\tDEPLOYING\tACTIVE\tROLLED_BACK\tFAILED\tTIMEOUT")
	row := func(name, target string, size int, c rollout.Counts) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", name, target, size, c.Pending, c.Deploying, c.Active, c.RolledBack, c.Failed, c.Timeout)
	}
	total := 0
	for _, ws := range s.Waves {
		name := fmt.Sprint(ws.Wave)
		if ws.Wave == s.Wave && s.Phase == rollout.Running {
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
