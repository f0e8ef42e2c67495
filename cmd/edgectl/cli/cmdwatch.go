package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/rollout"
)

// errInterrupted is the error of a wait that the operator interrupted
// (Ctrl-C, SIGTERM): the devices carry on with the command.
var errInterrupted = errors.New("interrupted")

// statusUpdate is a device's status of a command.
type statusUpdate struct {
	device string
	st     fleet.CommandStatus
}

// commandWatch follows the statuses devices write back for one command
// (deploy, update-agent): it subscribes before the command goes out, so
// that no early status is missed.
type commandWatch struct {
	c       *fleet.Client
	op      string
	cmdID   string
	filter  string
	updates chan statusUpdate
	// check, if set, is asked every second whether the wait should end
	// early with an error (a device that cannot finish).
	check func(states map[string]fleet.CommandStatus) error
}

func watchCommand(ctx context.Context, c *fleet.Client, op, cmdID string) (*commandWatch, error) {
	w := &commandWatch{c: c, op: op, cmdID: cmdID, updates: make(chan statusUpdate, 256),
		filter: fleet.Prefix + "/dev/+/cmd/" + op + "/" + cmdID + "/status"}
	err := c.Subscribe(ctx, w.filter, 1, func(topic string, p []byte) {
		t, err := fleet.ParseTopic(topic)
		if err != nil || t.Kind != fleet.KindStatus || len(p) == 0 {
			return
		}
		var st fleet.CommandStatus
		if fleet.Decode(p, &st) != nil {
			return
		}
		select {
		case w.updates <- statusUpdate{t.Device, st}:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return w, nil
}

// wait prints each device's status changes (one line per state, and per
// 10% of a download) until the device named, or at least expect devices
// and every device heard from, reach a terminal state, or timeout. It
// returns the last status of every device and, on timeout, an error.
func (w *commandWatch) wait(ctx context.Context, stdout io.Writer, device string, expect int, timeout time.Duration, terminal func(state string) bool) (map[string]fleet.CommandStatus, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	states := map[string]fleet.CommandStatus{}
	done := func() int {
		n := 0
		for _, st := range states {
			if terminal(st.State) {
				n++
			}
		}
		return n
	}
	finished := func() bool {
		if device != "" {
			return done() == 1 && len(states) == 1
		}
		return done() >= expect && done() == len(states)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for !finished() {
		select {
		case <-tick.C:
			if w.check != nil {
				if err := w.check(states); err != nil {
					return states, err
				}
			}
		case <-wctx.Done():
			var silent []string
			if device != "" && len(states) == 0 {
				silent = append(silent, device)
			}
			for d, st := range states {
				if !terminal(st.State) {
					silent = append(silent, d+" ("+st.Describe()+")")
				}
			}
			sort.Strings(silent)
			if ctx.Err() != nil {
				return states, fmt.Errorf("%s: %w while waiting: %d of %d device(s) finished; not finished: %s", w.op, errInterrupted, done(), max(len(states), expect), strings.Join(silent, ", "))
			}
			return states, fmt.Errorf("%s: %d of %d device(s) finished within %v; not finished: %s", w.op, done(), max(len(states), expect), timeout, strings.Join(silent, ", "))
		case u := <-w.updates:
			if device != "" && u.device != device {
				continue
			}
			old, seen := states[u.device]
			states[u.device] = u.st
			if seen && (old.Describe() == u.st.Describe() ||
				old.State == u.st.State && int(10*old.Progress) == int(10*u.st.Progress) && old.Reason == u.st.Reason) {
				continue // nothing new to print
			}
			fmt.Fprintf(stdout, "%s  %-20s %s\n", u.st.Time.Local().Format("15:04:05"), u.device, u.st.Describe())
		}
	}
	return states, nil
}

// clear removes the retained command and every status written for it, so
// that a device that comes back later does not act on it and the broker
// forgets them.
func (w *commandWatch) clear(ctx context.Context, cmdTopic string, states map[string]fleet.CommandStatus) error {
	w.c.Unsubscribe(ctx, w.filter)
	topics := []string{cmdTopic}
	for d := range states {
		topics = append(topics, fleet.StatusTopic(d, w.op, w.cmdID))
	}
	for _, t := range topics {
		if err := w.c.Publish(ctx, t, nil, 1, true); err != nil {
			return fmt.Errorf("%s: clearing %s: %w", w.op, t, err)
		}
	}
	return nil
}

// failures lists the devices whose last status is a failure, as an error.
func failures(op string, states map[string]fleet.CommandStatus) error {
	var failed []string
	for d, st := range states {
		if rollout.StatusOf(st.State).Failure() {
			failed = append(failed, d+": "+st.Describe())
		}
	}
	if len(failed) == 0 {
		return nil
	}
	sort.Strings(failed)
	return fmt.Errorf("%s: %d of %d device(s) failed:\n  %s", op, len(failed), len(states), strings.Join(failed, "\n  "))
}
