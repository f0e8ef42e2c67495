package selfupdate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/edged-dev/edged/internal/atomicfile"
)

// StateFile is the name of the state file in Updater.Dir.
const StateFile = "edged-selfupdate.json"

// maxStateSize bounds what readState reads: the file is a few hundred bytes.
const maxStateSize = 64 << 10

// State is the content of the state file.
type State struct {
	V int `json:"v"` // 1
	// Pending is the update on trial, nil when there is none.
	Pending *Pending `json:"pending,omitempty"`
	// Last is how the last update ended.
	Last *Outcome `json:"last,omitempty"`
}

// Pending is an update whose binary is in place but not yet known good.
type Pending struct {
	Version    uint64    `json:"version"`    // manifest version of the new binary
	SHA256     string    `json:"sha256"`     // of the new binary
	From       string    `json:"from"`       // release name of the binary it replaced
	Executable string    `json:"executable"` // the path that was swapped
	Old        string    `json:"old"`        // where the replaced binary was kept
	Applied    time.Time `json:"applied"`
	Deadline   time.Time `json:"deadline"`   // healthy by then, or rolled back
	Starts     int       `json:"starts"`     // starts of the new binary so far
	MaxStarts  int       `json:"max_starts"` // a start beyond this rolls back
	Command    string    `json:"command,omitempty"`
}

// Outcome states.
const (
	OutcomeActive     = "active"      // the new binary reported healthy
	OutcomeRolledBack = "rolled_back" // the old binary was restored
	OutcomeFailed     = "failed"      // the swap did not happen or could not be undone
)

// Outcome is how an update ended.
type Outcome struct {
	Version uint64    `json:"version"`
	State   string    `json:"state"`
	Reason  string    `json:"reason,omitempty"`
	Command string    `json:"command,omitempty"`
	Time    time.Time `json:"time"`
	// Reported is set once the agent has queued an event about it.
	Reported bool `json:"reported,omitempty"`
}

// ErrCorruptState is wrapped by errors about a state file that cannot be
// read as one this package wrote.
var ErrCorruptState = errors.New("corrupt state file")

// readState reads path; a missing file is the empty State.
func readState(path string) (State, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return State{V: 1}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("selfupdate: state file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return State{}, fmt.Errorf("selfupdate: state file %s: %w", path, err)
	}
	if len(data) > maxStateSize {
		return State{}, fmt.Errorf("selfupdate: state file %s: %w: more than %d bytes", path, ErrCorruptState, maxStateSize)
	}
	var st State
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&st); err != nil {
		return State{}, fmt.Errorf("selfupdate: state file %s: %w: %v", path, ErrCorruptState, err)
	}
	if dec.More() {
		return State{}, fmt.Errorf("selfupdate: state file %s: %w: data after the JSON object", path, ErrCorruptState)
	}
	if err := st.check(); err != nil {
		return State{}, fmt.Errorf("selfupdate: state file %s: %w: %v", path, ErrCorruptState, err)
	}
	return st, nil
}

func (st *State) check() error {
	if st.V != 1 {
		return fmt.Errorf("format version %d; want 1", st.V)
	}
	if p := st.Pending; p != nil {
		switch {
		case p.Version == 0:
			return errors.New("pending.version is 0")
		case !filepath.IsAbs(p.Executable) || !filepath.IsAbs(p.Old):
			return fmt.Errorf("pending.executable %q and pending.old %q must be absolute paths", p.Executable, p.Old)
		case filepath.Dir(p.Executable) != filepath.Dir(p.Old):
			return fmt.Errorf("pending.old %q is not beside pending.executable %q", p.Old, p.Executable)
		case p.Executable == p.Old:
			return fmt.Errorf("pending.old is the executable %q", p.Old)
		case p.MaxStarts < 1 || p.Starts < 0:
			return fmt.Errorf("pending.starts %d and max_starts %d out of range", p.Starts, p.MaxStarts)
		case p.Deadline.IsZero():
			return errors.New("pending.deadline is missing")
		}
	}
	if o := st.Last; o != nil {
		switch o.State {
		case OutcomeActive, OutcomeRolledBack, OutcomeFailed:
		default:
			return fmt.Errorf("last.state %q is not one of %s, %s, %s", o.State, OutcomeActive, OutcomeRolledBack, OutcomeFailed)
		}
	}
	return nil
}

// writeState replaces path with st through a temporary file that is
// fsynced and renamed, then fsyncs the directory: after a power cut the
// file holds the old or the new state, never a mix.
func writeState(path string, st State) error {
	st.V = 1
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("selfupdate: state file: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("selfupdate: state file: %w", err)
	}
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("selfupdate: writing state file %s: %w", path, err)
	}
	return nil
}
