package rollout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StateVersion is the version of the JSON state this package writes and
// reads.
const StateVersion = 2

// State is everything edgectl needs to resume a rollout after it dies.
type State struct {
	V         int       `json:"v"`
	Plan      Plan      `json:"plan"`
	Created   time.Time `json:"created"`
	Ended     time.Time `json:"ended,omitzero"`
	Phase     Phase     `json:"phase"`
	Wave      int       `json:"wave"`       // the last wave started; -1 before the first
	WaveSizes []int     `json:"wave_sizes"` // devices per wave, from the plan and the fleet
	Devices   []Device  `json:"devices"`    // in wave order
	Reason    string    `json:"reason,omitempty"`

	// Paused holds the rollout (Pause); PauseReason says why.
	Paused      bool   `json:"paused,omitempty"`
	PauseReason string `json:"pause_reason,omitempty"`
	// BakeStart is when the current wave reached its success share.
	BakeStart time.Time `json:"bake_start,omitzero"`
	// NextSend is when the rate limit lets the next device be sent the
	// deploy.
	NextSend time.Time `json:"next_send,omitzero"`
	// Waiting says why the current wave does not move on.
	Waiting string `json:"waiting,omitempty"`
}

// Marshal returns the state as JSON.
func (r *Rollout) Marshal() ([]byte, error) {
	b, err := json.Marshal(&r.st)
	if err != nil {
		return nil, fmt.Errorf("rollout: marshal state: %w", err)
	}
	return b, nil
}

// maxStateSize bounds a stored state: about 100 bytes a device.
const maxStateSize = 64 << 20

// Restore rebuilds a Rollout from Marshal's bytes. Unknown fields, another
// version or an inconsistent state are errors.
func Restore(b []byte, clock Clock) (*Rollout, error) {
	if clock == nil {
		return nil, errors.New("reading the rollout state: nil clock")
	}
	if len(b) > maxStateSize {
		return nil, fmt.Errorf("reading the rollout state: %d bytes; want at most %d", len(b), maxStateSize)
	}
	var st State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("reading the rollout state: %w", err)
	}
	if dec.More() {
		return nil, errors.New("reading the rollout state: trailing data after the state")
	}
	if err := st.validate(); err != nil {
		return nil, fmt.Errorf("reading the rollout state: %w", err)
	}
	return &Rollout{clock: clock, st: st, index: indexOf(st.Devices)}, nil
}

func (st *State) validate() error {
	// Version 1 had no gates, rate limit or pause: its fields read the
	// same.
	if st.V != 1 && st.V != StateVersion {
		return fmt.Errorf("state version %d; this edgectl reads 1 and %d", st.V, StateVersion)
	}
	st.V = StateVersion
	if err := st.Plan.Validate(); err != nil {
		return err
	}
	switch st.Phase {
	case Running, Aborted, Done, Cancelled:
	default:
		return fmt.Errorf("phase %q; want running, aborted, done or cancelled", st.Phase)
	}
	if len(st.Devices) == 0 {
		return errors.New("no devices")
	}
	if len(st.WaveSizes) == 0 || len(st.WaveSizes) > len(st.Plan.Waves) {
		return fmt.Errorf("%d wave sizes for %d planned waves", len(st.WaveSizes), len(st.Plan.Waves))
	}
	if st.Wave < -1 || st.Wave >= len(st.WaveSizes) {
		return fmt.Errorf("wave %d; want -1 to %d", st.Wave, len(st.WaveSizes)-1)
	}
	seen := make(map[string]bool, len(st.Devices))
	perWave := make([]int, len(st.WaveSizes))
	for i, d := range st.Devices {
		if d.ID == "" || seen[d.ID] {
			return fmt.Errorf("devices[%d]: id %q empty or repeated", i, d.ID)
		}
		seen[d.ID] = true
		if d.Wave < -1 || d.Wave >= len(st.WaveSizes) {
			return fmt.Errorf("devices[%d] %q: wave %d; want -1 to %d", i, d.ID, d.Wave, len(st.WaveSizes)-1)
		}
		if d.Wave >= 0 {
			perWave[d.Wave]++
		}
		// Devices of waves not started are pending; those of earlier
		// waves are not; the current wave's may be, under a rate limit.
		if later := d.Wave < 0 || d.Wave > st.Wave; (later && d.Status != Pending) ||
			(!later && d.Status == Pending && (d.Wave < st.Wave || st.Plan.PerMinute == 0)) {
			return fmt.Errorf("devices[%d] %q: status %s in wave %d while wave %d is the last started", i, d.ID, d.Status, d.Wave, st.Wave)
		}
	}
	for w, n := range st.WaveSizes {
		if perWave[w] != n {
			return fmt.Errorf("wave %d: %d devices; wave_sizes says %d", w, perWave[w], n)
		}
	}
	return nil
}
