package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/edged-dev/edged/agent/drift"
	"github.com/edged-dev/edged/boards"
	"github.com/edged-dev/edged/fleet"
)

// fleetView is what edgectl drift and status learn by listening: the
// retained state of every device, then whatever telemetry and drift
// reports arrive within the wait.
type fleetView struct {
	mu      sync.Mutex
	devices map[string]*deviceView
}

type deviceView struct {
	state     *fleet.State
	telemetry *fleet.Telemetry
	drift     map[string]*drift.Report // by model, the latest window
	// commands are the retained command statuses (with --device).
	commands []fleet.CommandRecord
	seen     time.Time
	// asked is when edgectl asked the devices for their figures.
	asked time.Time
}

func (v *fleetView) device(id string) *deviceView {
	d := v.devices[id]
	if d == nil {
		d = &deviceView{drift: map[string]*drift.Report{}}
		v.devices[id] = d
	}
	d.seen = time.Now()
	return d
}

// handle files one message; malformed ones are skipped.
func (v *fleetView) handle(topic string, payload []byte) {
	t, err := fleet.ParseTopic(topic)
	if err != nil || len(payload) == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch t.Kind {
	case fleet.KindState:
		var st fleet.State
		if fleet.Decode(payload, &st) == nil {
			v.device(t.Device).state = &st
		}
	case fleet.KindTelemetry:
		var tm fleet.Telemetry
		if fleet.Decode(payload, &tm) == nil {
			v.device(t.Device).telemetry = &tm
		}
	case fleet.KindStatus:
		var st fleet.CommandStatus
		if fleet.Decode(payload, &st) == nil {
			d := v.device(t.Device)
			d.commands = append(d.commands, fleet.CommandRecord{Op: t.Op, CommandStatus: st})
		}
	case fleet.KindDrift:
		var r struct {
			Seq uint64 `json:"seq"`
			drift.Report
		}
		if json.Unmarshal(payload, &r) == nil && r.Model != "" {
			d := v.device(t.Device)
			if old := d.drift[r.Model]; old == nil || !r.End.Before(old.End) {
				d.drift[r.Model] = &r.Report
			}
		}
	}
}

// listenFleet subscribes to the devices' state, telemetry and drift topics
// and returns what it heard. The devices it looks at are asked for their
// figures with a ping, which an agent answers with a telemetry snapshot
// at once: it returns as soon as each online device named (or, without a
// device or group, each online device with a retained state) has sent
// one, or when wait ends. With group set it first asks the group to
// answer a ping and keeps the devices that do (the state message does not
// carry groups).
func listenFleet(ctx context.Context, bf *brokerFlags, device, group string, wait time.Duration, extraKinds ...string) (map[string]*deviceView, error) {
	c, stop, err := bf.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	id := "+"
	if device != "" {
		if err := fleet.ValidID(device); err != nil {
			return nil, fmt.Errorf("--device: %w", err)
		}
		id = device
	}
	v := &fleetView{devices: map[string]*deviceView{}}
	kinds := []string{"state", "telemetry", "drift"}
	if device != "" {
		kinds = append(kinds, "cmd/+/+/status")
	} else {
		kinds = append(kinds, extraKinds...)
	}
	for _, kind := range kinds {
		if err := c.Subscribe(ctx, fleet.Prefix+"/dev/"+id+"/"+kind, 1, v.handle); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(wait)
	asked := time.Now()
	var members map[string]bool
	if group != "" {
		if err := fleet.ValidID(group); err != nil {
			return nil, fmt.Errorf("--group: %w", err)
		}
		// The members answer the group's ping with their telemetry too.
		if members, err = pingGroup(ctx, c, group, wait); err != nil {
			return nil, err
		}
	} else {
		// The retained states arrive at once; then each online device
		// is asked for its figures.
		sleep(ctx, min(time.Second, wait/4))
		var ids []string
		v.mu.Lock()
		for d, dv := range v.devices {
			if dv.state != nil && dv.state.State == fleet.Online {
				ids = append(ids, d)
			}
		}
		v.mu.Unlock()
		asked = time.Now()
		stopPing := pingDevices(ctx, c, ids, wait)
		defer stopPing()
		fresh := func() bool {
			v.mu.Lock()
			defer v.mu.Unlock()
			for _, d := range ids {
				if dv := v.devices[d]; dv == nil || dv.telemetry == nil || dv.telemetry.Time.Before(asked.Truncate(time.Second)) {
					return false
				}
			}
			return true
		}
		for !fresh() && time.Now().Before(deadline) && ctx.Err() == nil {
			sleep(ctx, 50*time.Millisecond)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if device != "" && v.devices[device] == nil {
		return nil, fmt.Errorf("device %s: nothing heard within %v, and no retained state on the broker: it never connected to it (check the id, and the device's fleet.broker)", device, wait)
	}
	if group != "" && len(members) == 0 {
		return nil, fmt.Errorf("group %s: no device answered a ping within %v", group, wait)
	}
	out := map[string]*deviceView{}
	for id, d := range v.devices {
		if members == nil || members[id] {
			d.asked = asked
			out[id] = d
		}
	}
	return out, nil
}

// pingDevices sends a ping to each device (not retained: only devices
// online now are asked); stop clears the answers the devices retained.
func pingDevices(ctx context.Context, c *fleet.Client, ids []string, wait time.Duration) (stop func()) {
	cmdID := fmt.Sprintf("edgectl-%d-%04x", time.Now().Unix(), rand.Uint32()&0xffff)
	now := time.Now().UTC()
	b, err := fleet.Encode(&fleet.Command{Op: fleet.OpPing, ID: cmdID, Issued: now, Expires: now.Add(wait + 30*time.Second)})
	if err != nil {
		return func() {}
	}
	for _, id := range ids {
		c.Publish(ctx, fleet.CommandTopic(id, fleet.OpPing, cmdID), b, 1, false)
	}
	return func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, id := range ids {
			c.Publish(cctx, fleet.StatusTopic(id, fleet.OpPing, cmdID), nil, 1, true)
		}
	}
}

// pingGroup sends a retained ping to the group, collects the devices that
// answer within wait, and clears the command and their statuses.
func pingGroup(ctx context.Context, c *fleet.Client, group string, wait time.Duration) (map[string]bool, error) {
	cmdID := fmt.Sprintf("edgectl-%d-%04x", time.Now().Unix(), rand.Uint32()&0xffff)
	var mu sync.Mutex
	members := map[string]bool{}
	statusFilter := fleet.Prefix + "/dev/+/cmd/" + fleet.OpPing + "/" + cmdID + "/status"
	if err := c.Subscribe(ctx, statusFilter, 1, func(topic string, payload []byte) {
		if t, err := fleet.ParseTopic(topic); err == nil && len(payload) > 0 {
			mu.Lock()
			members[t.Device] = true
			mu.Unlock()
		}
	}); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	b, err := fleet.Encode(&fleet.Command{Op: fleet.OpPing, ID: cmdID, Issued: now, Expires: now.Add(wait + 30*time.Second)})
	if err != nil {
		return nil, err
	}
	topic := fleet.GroupCommandTopic(group, fleet.OpPing, cmdID)
	if err := c.Publish(ctx, topic, b, 1, true); err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
	case <-time.After(wait):
	}
	cctx := context.WithoutCancel(ctx)
	c.Publish(cctx, topic, nil, 1, true)
	c.Unsubscribe(cctx, statusFilter)
	mu.Lock()
	defer mu.Unlock()
	for id := range members {
		c.Publish(cctx, fleet.StatusTopic(id, fleet.OpPing, cmdID), nil, 1, true)
	}
	return members, ctx.Err()
}

func viewFlags(name string, stdout, stderr io.Writer) (*brokerFlags, *string, *string, *time.Duration, func([]string) error) {
	fs := newFlags(name, stdout, stderr)
	bf := &brokerFlags{fs: fs}
	bf.register(fs)
	device := fs.String("device", "", "only this device `id`")
	group := fs.String("group", "", "only the devices of this `group` (they are pinged to find them; default the context's group)")
	all := fs.Bool("all", false, "every device, not only the context's default group")
	wait := fs.Duration("wait", 5*time.Second, "the longest to wait for the devices' answers (online devices are asked for their figures)")
	parse := func(args []string) error {
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usageErrorf("%s: unexpected argument %q", name, pos[0])
		}
		if *device != "" && *group != "" {
			return usageErrorf("%s: give --device or --group, not both", name)
		}
		if *all && (*device != "" || *group != "") {
			return usageErrorf("%s: --all takes no --device or --group", name)
		}
		if *device == "" && *group == "" && !*all {
			set, err := bf.resolve()
			if err != nil {
				return err
			}
			*group = set.Group
		}
		if *wait <= 0 {
			return usageErrorf("%s: --wait must be > 0", name)
		}
		return nil
	}
	return bf, device, group, wait, parse
}

func sortedIDs(devs map[string]*deviceView) []string {
	ids := make([]string, 0, len(devs))
	for id := range devs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// runDrift prints the latest drift state of every model of the devices.
func runDrift(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	bf, device, group, wait, parse := viewFlags("drift", stdout, stderr)
	if err := parse(args); err != nil {
		return err
	}
	devs, err := listenFleet(ctx, bf, *device, *group, *wait)
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	printDrift(stdout, devs)
	return nil
}

func printDrift(w io.Writer, devs map[string]*deviceView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tMODEL\tSTATE\tWINDOW END\tN\tPSI MAX\tKS P\tWORST")
	rows := 0
	for _, id := range sortedIDs(devs) {
		d := devs[id]
		models := make([]string, 0, len(d.drift))
		for m := range d.drift {
			models = append(models, m)
		}
		sort.Strings(models)
		for _, m := range models {
			r := d.drift[m]
			worst := r.Worst.Stat
			if r.Worst.Feature != "" {
				worst += " " + r.Worst.Feature
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.3f\t%.2g\t%s=%.3g\n", id, m, r.State, r.End.UTC().Format(time.RFC3339), r.N, r.PSI, r.KSP, worst, r.Worst.Value)
			rows++
		}
		if len(d.drift) == 0 {
			fmt.Fprintf(tw, "%s\t-\t(no report heard)\t\t\t\t\t\n", id)
			rows++
		}
	}
	tw.Flush()
	if rows == 0 {
		fmt.Fprintln(w, "no devices heard")
	}
}

// runStatus prints every device's state and latest telemetry.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	bf, device, group, wait, parse := viewFlags("status", stdout, stderr)
	if err := parse(args); err != nil {
		return err
	}
	devs, err := listenFleet(ctx, bf, *device, *group, *wait)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	printStatus(stdout, devs)
	if d := devs[*device]; d != nil {
		printDevice(stdout, d)
	}
	return nil
}

// printDevice adds, for one device, the sections of its status page that
// reach the broker: host, fleet link, sources and fleet commands.
func printDevice(w io.Writer, d *deviceView) {
	if t := d.telemetry; t != nil {
		if s := t.System; s != nil {
			fmt.Fprintf(w, "\nhost: CPU %.0f%% busy, load %.2f, memory %d of %d MiB used, data disk %d of %d MiB free", 100*s.CPU, s.Load1, s.MemUsed, s.MemTotal, s.DiskFree, s.DiskTotal)
			if t.CPUTemp != nil {
				fmt.Fprintf(w, ", CPU %.1f °C", *t.CPUTemp)
			}
			if s.ThrottleFlags != nil {
				fmt.Fprintf(w, ", throttling %s", boards.DecodeThrottle(*s.ThrottleFlags))
			}
			fmt.Fprintln(w)
		}
		if l := t.Link; l != nil {
			fmt.Fprintf(w, "fleet link: %d connections lost, outbox %d waiting (%d dropped), %d bytes sent", l.Reconnects, l.Outbox, l.Dropped, l.SentBytes)
			if l.LastError != "" {
				fmt.Fprintf(w, "; last error: %s", l.LastError)
			}
			fmt.Fprintln(w)
		}
		if len(t.Sources) > 0 {
			fmt.Fprintln(w, "\nsources:")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SOURCE\tREADINGS\tRESULTS\tERRORS\tLAST READING")
			for _, s := range t.Sources {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%ds ago\n", s.Name, s.In, s.Out, s.Errors, s.Age)
			}
			tw.Flush()
		}
	}
	if len(d.commands) > 0 {
		sort.Slice(d.commands, func(i, j int) bool { return d.commands[i].Time.After(d.commands[j].Time) })
		fmt.Fprintln(w, "\nfleet commands (retained statuses, newest first):")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME (UTC)\tCOMMAND\tID\tSTATUS")
		for _, c := range d.commands {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Time.UTC().Format("2006-01-02 15:04:05"), c.Op, c.ID, c.Describe())
		}
		tw.Flush()
	}
}

func printStatus(w io.Writer, devs map[string]*deviceView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSTATE\tAGENT\tUPTIME\tMODEL\tMODEL VERSION\tINFERENCES\tP50 MS\tP99 MS\tCACHE HIT\tQUEUE\tCPU °C\tDRIFT\tFIGURES")
	now := time.Now()
	for _, id := range sortedIDs(devs) {
		d := devs[id]
		state, version, uptime := "?", "", ""
		if s := d.state; s != nil {
			state, version = s.State, s.Version
			if s.Uptime > 0 {
				uptime = (time.Duration(s.Uptime) * time.Second).String()
			}
		}
		temp := ""
		var models []fleet.ModelTelemetry
		if t := d.telemetry; t != nil {
			if t.CPUTemp != nil {
				temp = fmt.Sprintf("%.1f", *t.CPUTemp)
			}
			if t.Uptime > 0 {
				uptime = (time.Duration(t.Uptime) * time.Second).String()
			}
			models = t.Models
		}
		if len(models) == 0 && d.state != nil {
			for _, m := range d.state.Models {
				models = append(models, fleet.ModelTelemetry{Name: m.Name, Version: m.Active})
			}
		}
		if len(models) == 0 {
			models = []fleet.ModelTelemetry{{Name: "-"}}
		}
		for _, m := range models {
			ds := ""
			if r := d.drift[m.Name]; r != nil {
				ds = r.State.String()
			}
			inf, p50, p99, hit := "", "", "", ""
			if d.telemetry != nil {
				inf, p50, p99 = fmt.Sprint(m.Inferences), "-", "-"
				if m.P50 > 0 || m.P99 > 0 { // latencies are of the last interval, which may have had no request
					p50, p99 = fmt.Sprintf("%.2f", m.P50), fmt.Sprintf("%.2f", m.P99)
				}
				hit = fmt.Sprintf("%.0f%%", 100*m.CacheHit)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", id, state, version, uptime, m.Name, m.Version, inf, p50, p99, hit, m.QueueDepth, temp, ds, figuresAge(d, now))
		}
	}
	tw.Flush()
	if len(devs) == 0 {
		fmt.Fprintln(w, "no devices heard")
	}
}

// figuresAge says how old a device's telemetry figures are: "now" when
// the device answered edgectl's request, their age otherwise, "stale"
// when it is over two telemetry intervals, and "none" when none came
// (an offline device, or an agent that does not answer a ping with
// them: it sends them every telemetry.interval).
func figuresAge(d *deviceView, now time.Time) string {
	t := d.telemetry
	if t == nil {
		return "none heard"
	}
	if !d.asked.IsZero() && !t.Time.Before(d.asked.Truncate(time.Second)) {
		return "now"
	}
	age := now.Sub(t.Time).Truncate(time.Second)
	if iv := time.Duration(t.Interval * float64(time.Second)); iv > 0 && age > 2*iv {
		return fmt.Sprintf("stale: %v old", age)
	}
	return fmt.Sprintf("%v old", age)
}
