package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/rollout"
	"github.com/edged-dev/edged/ota/transfer"
)

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("deploy", stdout, stderr)
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
	set, err := bf.resolve()
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	if *device == "" && *group == "" {
		*group = set.Group
	}
	if *dir == "" || (*device == "") == (*group == "") {
		return usageErrorf("deploy: want --bundle and one of --device or --group; see 'edgectl deploy --help'")
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
				return usageErrorf("deploy: %q: %v", id, err)
			}
		}
	}

	c, stop, err := bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	defer stop()
	if *device != "" && retainedStates(ctx, c, []string{*device}, time.Second)[*device] == nil {
		msg := fmt.Sprintf("device %s never connected to this broker (no retained state on %s)", *device, fleet.StateTopic(*device))
		if *wait {
			return fmt.Errorf("deploy: %s: check the id and the device's fleet.broker; without --wait the command is left retained for when it connects", msg)
		}
		fmt.Fprintf(stderr, "warning: %s; the command stays retained for when it connects\n", msg)
	}
	if err := pushBlobs(ctx, c, b, *chunk, stderr); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}

	var w *commandWatch
	if *wait {
		if w, err = watchCommand(ctx, c, fleet.OpDeploy, *cmdID); err != nil {
			return err
		}
	}
	if err := c.Publish(ctx, topic, payload, 1, true); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	fmt.Fprintf(stdout, "deploy %s version %d to %s: command %s\n", m.Name, m.Version, target, *cmdID)
	if !*wait {
		fmt.Fprintf(stdout, "the command stays retained on %s for devices offline now; once every device has answered, clear it with: edgectl cancel --%s --id %s\n",
			topic, target, *cmdID)
		return nil
	}
	// A candidate under evaluation (a bundle with a canary policy) has
	// been installed: the wait ends there; the device decides later.
	evaluating := func(state string) bool { return state == "shadow" || state == "canary" || state == "hold" }
	states, waitErr := w.wait(ctx, stdout, *device, *expect, *timeout, func(s string) bool {
		return rollout.StatusOf(s).Finished() || evaluating(s)
	})
	if errors.Is(waitErr, errInterrupted) {
		// The devices carry on: leave the command for those that have
		// not received it yet.
		return fmt.Errorf("%w\nthe command stays retained on %s; follow the devices with: edgectl status --%s; clear it with: edgectl cancel --%s --id %s",
			waitErr, topic, target, target, *cmdID)
	}
	var decided map[string]fleet.CommandStatus
	var under []string
	for d, st := range states {
		if evaluating(st.State) {
			under = append(under, d)
			continue
		}
		if decided == nil {
			decided = map[string]fleet.CommandStatus{}
		}
		decided[d] = st
	}
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer ccancel()
	// The statuses of candidates under evaluation stay: the devices
	// update them with the evaluation's figures and its outcome.
	if err := w.clear(cctx, topic, decided); err != nil {
		return errors.Join(waitErr, err)
	}
	if waitErr != nil {
		return waitErr
	}
	if err := failures("deploy", states); err != nil {
		return err
	}
	if len(under) > 0 {
		sort.Strings(under)
		fmt.Fprintf(stdout, "%d device(s) evaluating %s version %d beside the version they serve (%s): follow with: edgectl canary status; the devices promote or roll it back by the bundle's policy, or decide now with edgectl promote or edgectl rollback\n",
			len(under), m.Name, m.Version, strings.Join(under, ", "))
		if n := len(states) - len(under); n > 0 {
			fmt.Fprintf(stdout, "%d device(s) active on %s version %d\n", n, m.Name, m.Version)
		}
		return nil
	}
	fmt.Fprintf(stdout, "%d device(s) active on %s version %d\n", len(states), m.Name, m.Version)
	return nil
}

func isOne(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}
