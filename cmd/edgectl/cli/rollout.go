package cli

// edgectl rollout: a model to a fleet in waves. ota/rollout plans and
// drives it; this file reads the flags, finds the devices and says how
// it went.

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
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/rollout"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/transfer"
)

func runRollout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommand(ctx, "rollout", map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"start":  rolloutStart,
		"resume": rolloutResume,
		"status": rolloutStatus,
	}, args, stdout, stderr)
}

// driveFlags are the flags start and resume share.
type driveFlags struct {
	tick  time.Duration
	drain time.Duration
	keys  keyFlags
}

func (f *driveFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.tick, "tick", time.Second, "how often timeouts, the rate limit and pause/resume requests are checked")
	fs.DurationVar(&f.drain, "drain", 2*time.Minute, "on abort: how long to wait for devices still deploying, and for the rollbacks' outcomes")
	f.keys.register(fs, "command")
}

func rolloutStart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rollout start", stdout, stderr)
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
	bake := fs.Duration("bake", 0, "how long each wave must stay healthy at its success share before the next starts")
	minReq := fs.Uint64("min-requests", 0, "requests every active device of a wave must serve on the new version before the wave counts as baked")
	perMinute := fs.Int("per-minute", 0, "send the deploy to at most this many devices a minute (0: no limit)")
	maxErr := fs.String("max-error-rate", "", "a device whose error rate on the new version exceeds this share (e.g. 5%) is unhealthy, a failure")
	maxP99 := fs.Float64("max-p99-ratio", 0, "a device whose p99 latency exceeds this multiple of the previous version's is unhealthy")
	maxRestarts := fs.Int("max-restarts", 0, "a device whose agent restarted more than this many times since the deploy is unhealthy (crash loop)")
	driftGate := fs.Bool("abort-on-drift", false, "a device whose model reports a drift state of drift is unhealthy")
	order := fs.String("order", string(rollout.OrderSorted), "sorted (by device id) or shuffle")
	seed := fs.Uint64("seed", 0, "with --order shuffle: the shuffle's seed (default: the time)")
	cmdID := fs.String("id", "", "deploy command id; default NAME-vVERSION-UNIXTIME")
	chunk := fs.Int("chunk-size", transfer.DefaultChunkSize, "chunk size in bytes")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("rollout start: unexpected argument %q", pos[0])
	}
	if *dir == "" || *statePath == "" {
		return usageErrorf("rollout start: --bundle and --state are required; see 'edgectl rollout start --help'")
	}
	set, err := bf.resolve()
	if err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	if *devices == "" && *group == "" && !*all {
		*group = set.Group
	}
	if n := btoi(*devices != "") + btoi(*group != "") + btoi(*all); n != 1 {
		return usageErrorf("rollout start: want exactly one of --devices, --group or --all")
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
	p.Bake, p.MinRequests, p.PerMinute = rollout.Duration(*bake), *minReq, *perMinute
	p.Health.MaxP99Ratio, p.Health.MaxRestarts, p.Health.Drift = *maxP99, *maxRestarts, *driftGate
	if *maxErr != "" {
		if p.Health.MaxErrorRate, err = rollout.ParseShare(*maxErr); err != nil {
			perr = append(perr, fmt.Errorf("--max-error-rate: %w", err))
		}
	}
	if p.Order == rollout.OrderShuffle && p.Seed == 0 {
		p.Seed = uint64(time.Now().UnixNano())
	}
	if len(perr) == 0 {
		if err := p.Validate(); err != nil {
			perr = append(perr, err)
		}
	}
	if err := errors.Join(perr...); err != nil {
		return usageErrorf("rollout start: %v", err)
	}
	// The key that signs an abort's rollbacks must be there before
	// anything is deployed.
	key, err := df.keys.load(sign.KindCommand, set)
	if err != nil {
		return fmt.Errorf("rollout start: %w (an abort signs its rollbacks)", err)
	}
	unlock, err := rollout.Lock(*statePath)
	if err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	defer unlock()

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
	rf := &rollout.File{V: rollout.FileVersion, CmdID: *cmdID, Model: m.Name, Version: m.Version, Manifest: b.Raw,
		Bundle: abs, ChunkSize: *chunk}
	if m.Expires.After(now) {
		rf.Expires = m.Expires
	}
	// Fail before touching the broker if the command cannot be built.
	if _, err := rollout.DeployPayload(rf, now); err != nil {
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
	if *devices != "" {
		if unseen := unseenDevices(ctx, c, ids, 2*time.Second); len(unseen) > 0 {
			fmt.Fprintf(stderr, "warning: %d device(s) never connected to this broker (no retained state): %s; they get the deploy when they do, or time out\n",
				len(unseen), strings.Join(unseen, ", "))
		}
	}
	r, err := rollout.New(p, ids, rollout.WallClock)
	if err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	fmt.Fprintf(stdout, "rollout of %s version %d to %d device(s) in %d wave(s); command %s; state in %s\n",
		m.Name, m.Version, len(ids), len(r.Summary().Waves), *cmdID, *statePath)
	d := newDriver(c, rf, r, *statePath, df, key, false, stdout, stderr)
	if err := d.Save(); err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	return d.Run(ctx)
}

func rolloutResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rollout resume", stdout, stderr)
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
		return usageErrorf("rollout resume: unexpected argument %q", pos[0])
	}
	if *statePath == "" {
		return usageErrorf("rollout resume: --state is required")
	}
	unlock, err := rollout.Lock(*statePath)
	if err != nil {
		return fmt.Errorf("rollout resume: %w", err)
	}
	defer unlock()
	rf, r, err := rollout.LoadFile(*statePath)
	if err != nil {
		return fmt.Errorf("rollout resume: %w", err)
	}
	if *dir != "" {
		if rf.Bundle, err = filepath.Abs(*dir); err != nil {
			return fmt.Errorf("rollout resume: %w", err)
		}
	}
	if r.Phase() == rollout.Done || r.Phase() == rollout.Cancelled {
		rollout.PrintSummary(stdout, r)
		fmt.Fprintf(stdout, "the rollout is already %s\n", r.Phase())
		return nil
	}
	if r.Phase() == rollout.Aborted && rf.Rollback != nil && rf.Rollback.Done {
		rollout.PrintSummary(stdout, r)
		return fmt.Errorf("rollout resume: the rollout was aborted: %s", r.Summary().Reason)
	}
	set, err := bf.resolve()
	if err != nil {
		return fmt.Errorf("rollout resume: %w", err)
	}
	key, err := df.keys.load(sign.KindCommand, set)
	if err != nil {
		return fmt.Errorf("rollout resume: %w (an abort signs its rollbacks)", err)
	}
	c, stop, err := bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("rollout resume: %w", err)
	}
	defer stop()
	fmt.Fprintf(stdout, "resuming the rollout of %s version %d (command %s) from %s\n", rf.Model, rf.Version, rf.CmdID, *statePath)
	return newDriver(c, rf, r, *statePath, df, key, true, stdout, stderr).Run(ctx)
}

func rolloutStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rollout status", stdout, stderr)
	statePath := fs.String("state", "", "state file written by rollout start (required)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("rollout status: unexpected argument %q", pos[0])
	}
	if *statePath == "" {
		return usageErrorf("rollout status: --state is required")
	}
	rf, r, err := rollout.LoadFile(*statePath)
	if err != nil {
		return fmt.Errorf("rollout status: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r.Summary())
	}
	fmt.Fprintf(stdout, "rollout of %s version %d, command %s\n", rf.Model, rf.Version, rf.CmdID)
	rollout.PrintSummary(stdout, r)
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// newDriver drives a rollout on c; its blobs, when not pushed yet, come
// from the bundle directory the state file names.
func newDriver(c *fleet.Client, rf *rollout.File, r *rollout.Rollout, path string, df driveFlags, key *sign.SigningKey, resumed bool, stdout, stderr io.Writer) *rollout.Driver {
	return &rollout.Driver{Broker: c, File: rf, Rollout: r, Path: path, Out: stdout, Err: stderr, Tick: df.tick, Resumed: resumed,
		Key: key, Drain: df.drain,
		Push: func(ctx context.Context) error {
			b, err := readBundle(rf.Bundle)
			if err != nil {
				return fmt.Errorf("blobs not pushed yet, and the bundle cannot be read: %w (give --bundle)", err)
			}
			if string(b.Raw) != string(rf.Manifest) {
				return fmt.Errorf("the manifest in %s is not the one this rollout started with", rf.Bundle)
			}
			return pushBlobs(ctx, c, b, rf.ChunkSize, stderr)
		}}
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
