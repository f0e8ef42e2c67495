package rollout

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/edged-dev/edged/internal/atomicfile"
)

// Control is an operator's request to the driver of a rollout, left in
// the file ControlPath(state) for the driver to act on at its next tick.
type Control struct {
	Action string `json:"action"` // ControlPause, ControlResume, ControlCancel, ControlRollback
	Reason string `json:"reason,omitempty"`
}

// Control actions.
const (
	ControlPause    = "pause"
	ControlResume   = "resume"
	ControlCancel   = "cancel"
	ControlRollback = "rollback"
)

// ControlPath is where requests to the driver of the rollout kept in
// state wait.
func ControlPath(state string) string { return state + ".control" }

// RequestControl leaves c for the driver of the rollout kept in state.
func RequestControl(state string, c Control) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(ControlPath(state), b)
}

// takeControl reads and removes a waiting request.
func takeControl(state string) (Control, bool, error) {
	b, err := os.ReadFile(ControlPath(state))
	if errors.Is(err, os.ErrNotExist) {
		return Control{}, false, nil
	}
	if err != nil {
		return Control{}, false, err
	}
	os.Remove(ControlPath(state))
	var c Control
	if err := json.Unmarshal(b, &c); err != nil {
		return Control{}, false, fmt.Errorf("request in %s: %w", ControlPath(state), err)
	}
	return c, true, nil
}

// ErrBusy is returned by Lock when another edgectl drives the rollout.
var ErrBusy = errors.New("another edgectl is driving this rollout")

// Lock takes the lock of the rollout kept in state, held by whoever
// drives it, and returns its release.
func Lock(state string) (unlock func(), err error) {
	f, err := os.OpenFile(state+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("locking %s.lock: %w", state, err)
	}
	return func() { f.Close() }, nil
}

// apply carries out an operator's request on the planner.
func (r *Rollout) apply(c Control) (Decision, error) {
	switch c.Action {
	case ControlPause:
		return r.Pause(c.Reason)
	case ControlResume:
		return r.Resume()
	case ControlCancel:
		return r.Cancel(c.Reason)
	case ControlRollback:
		return r.RollBack(c.Reason)
	}
	return r.wait(), fmt.Errorf("unknown request %q; want pause, resume, cancel or rollback", c.Action)
}

// Apply carries out an operator's request on a rollout no driver runs.
func (r *Rollout) Apply(c Control) (Decision, error) { return r.apply(c) }
