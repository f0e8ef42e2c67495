package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/edged-dev/edged/agent/fleet"
	"github.com/edged-dev/edged/ota/transfer"
)

// Terminal states of a deploy command, as devices report them.
var (
	deployOK     = []string{"active", fleet.StatusDone}
	deployFailed = []string{"rolled_back", fleet.StatusFailed, fleet.StatusRejected, fleet.StatusExpired}
)

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("deploy", stderr)
	var bf brokerFlags
	bf.register(fs)
	dir := fs.String("bundle", "", "bundle directory (required)")
	device := fs.String("device", "", "device id to deploy to")
	group := fs.String("group", "", "group to deploy to")
	wait := fs.Bool("wait", false, "print each device's progress until done, then clear the command")
	timeout := fs.Duration("timeout", 10*time.Minute, "with --wait: give up after this")
	expect := fs.Int("expect", 1, "with --wait and --group: how many devices must finish")
	cmdID := fs.String("id", "", "command id; default NAME-vVERSION-UNIXTIME")
	chunk := fs.Int("chunk-size", transfer.DefaultChunkSize, "chunk size in bytes")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || (*device == "") == (*group == "") {
		return errors.New("deploy: want --bundle and one of --device or --group")
	}
	b, err := readBundle(*dir)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	m := b.Manifest
	now := time.Now().UTC()
	if *cmdID == "" {
		*cmdID = fmt.Sprintf("%s-v%d-%d", m.Name, m.Version, now.Unix())
	}
	cmd := fleet.Command{Op: fleet.OpDeploy, ID: *cmdID, Payload: json.RawMessage(b.Raw), Issued: now}
	if m.Expires.After(now) {
		cmd.Expires = m.Expires // a device may not install it later anyway
	}
	payload, err := fleet.Encode(&cmd)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	topic, target := fleet.CommandTopic(*device, fleet.OpDeploy, *cmdID), "device "+*device
	if *group != "" {
		topic, target = fleet.GroupCommandTopic(*group, fleet.OpDeploy, *cmdID), "group "+*group
	}
	for _, id := range []string{*device, *group, *cmdID} {
		if id != "" {
			if err := fleet.ValidID(id); err != nil {
				return fmt.Errorf("deploy: %w", err)
			}
		}
	}

	c, stop, err := bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	defer stop()
	if err := pushBlobs(ctx, c, b, *chunk, stderr); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}

	// Subscribe to the statuses before the command goes out, so that no
	// early status is missed.
	type update struct {
		device string
		st     fleet.CommandStatus
	}
	updates := make(chan update, 256)
	statusFilter := fleet.Prefix + "/dev/+/cmd/" + fleet.OpDeploy + "/" + *cmdID + "/status"
	if *wait {
		err := c.Subscribe(ctx, statusFilter, 1, func(topic string, p []byte) {
			t, err := fleet.ParseTopic(topic)
			if err != nil || t.Kind != fleet.KindStatus || len(p) == 0 {
				return
			}
			var st fleet.CommandStatus
			if err := fleet.Decode(p, &st); err != nil {
				return
			}
			select {
			case updates <- update{t.Device, st}:
			default:
			}
		})
		if err != nil {
			return fmt.Errorf("deploy: %w", err)
		}
	}
	if err := c.Publish(ctx, topic, payload, 1, true); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	fmt.Fprintf(stdout, "deploy %s version %d to %s: command %s\n", m.Name, m.Version, target, *cmdID)
	if !*wait {
		fmt.Fprintf(stdout, "the command stays retained on %s; clear it with an empty retained message when done\n", topic)
		return nil
	}

	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	states := map[string]fleet.CommandStatus{}
	finished := func() bool {
		n := 0
		for _, st := range states {
			if isOne(st.State, deployOK) || isOne(st.State, deployFailed) {
				n++
			}
		}
		if *device != "" {
			return n == 1 && len(states) == 1
		}
		return n >= *expect && n == len(states)
	}
	var waitErr error
	for !finished() {
		select {
		case <-wctx.Done():
			waitErr = fmt.Errorf("deploy: %d of %d device(s) finished within %v", countDone(states), max(len(states), *expect), *timeout)
		case u := <-updates:
			if *device != "" && u.device != *device {
				continue
			}
			old, seen := states[u.device]
			states[u.device] = u.st
			// One line per state, and per 10% of a download.
			if seen && old.State == u.st.State && int(10*old.Progress) == int(10*u.st.Progress) && old.Reason == u.st.Reason {
				continue
			}
			fmt.Fprintf(stdout, "%s  %-20s %s\n", u.st.Time.Local().Format("15:04:05"), u.device, describeStatus(u.st))
			continue
		}
		break
	}

	// Clear the command and the statuses, so that a device that comes
	// back later does not act on it and the broker forgets them.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer ccancel()
	c.Unsubscribe(cctx, statusFilter)
	clear := []string{topic}
	for d := range states {
		clear = append(clear, fleet.StatusTopic(d, fleet.OpDeploy, *cmdID))
	}
	for _, t := range clear {
		if err := c.Publish(cctx, t, nil, 1, true); err != nil {
			return errors.Join(waitErr, fmt.Errorf("deploy: clearing %s: %w", t, err))
		}
	}
	if waitErr != nil {
		return waitErr
	}
	var failed []string
	for d, st := range states {
		if isOne(st.State, deployFailed) {
			failed = append(failed, d+": "+describeStatus(st))
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return fmt.Errorf("deploy: %d of %d device(s) failed:\n  %s", len(failed), len(states), strings.Join(failed, "\n  "))
	}
	fmt.Fprintf(stdout, "%d device(s) active on %s version %d\n", len(states), m.Name, m.Version)
	return nil
}

func describeStatus(st fleet.CommandStatus) string {
	s := st.State
	if st.Progress > 0 && st.Progress < 1 {
		s += fmt.Sprintf(" %3.0f%%", 100*st.Progress)
	}
	if st.Reason != "" {
		s += ": " + st.Reason
	}
	return s
}

func countDone(states map[string]fleet.CommandStatus) int {
	n := 0
	for _, st := range states {
		if isOne(st.State, deployOK) || isOne(st.State, deployFailed) {
			n++
		}
	}
	return n
}

func isOne(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}
