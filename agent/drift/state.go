package drift

import "fmt"

// State is a model's drift state.
type State uint8

// States, in increasing order of concern.
const (
	OK State = iota
	Warn
	Drift
)

var stateNames = [...]string{OK: "ok", Warn: "warn", Drift: "drift"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("drift state: invalid value %d", uint8(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if string(b) == n {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("drift state: %q is not ok, warn or drift", b)
}
