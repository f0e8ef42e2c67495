// Package operator builds the operator's commands besides deploy —
// rollback, promote, hold and resume — as the fleet protocol carries
// them: a signed ota/sign Command (bound to one device or group, with an
// expiry and a nonce) inside a fleet.Command, for edgectl and the rollout
// driver alike.
//
// Agents that predate signed commands (their state message advertises no
// cmd_protocol) read protocol 1: an unsigned {"model": NAME} rollback
// that returns to whatever version was previous, and no hold or resume.
// Legacy builds that message; callers send it only to a device whose
// state shows it serves the version being left.
package operator

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/sign"
)

// DefaultValidity is how long a command stays valid when the caller does
// not say: a device offline longer than this ignores it.
const DefaultValidity = 24 * time.Hour

// Target is the one device or the group a command is for.
type Target struct {
	Device, Group string
}

// Topic is the command's retained topic.
func (t Target) Topic(op, id string) string {
	if t.Group != "" {
		return fleet.GroupCommandTopic(t.Group, op, id)
	}
	return fleet.CommandTopic(t.Device, op, id)
}

func (t Target) String() string {
	if t.Group != "" {
		return "group " + t.Group
	}
	return "device " + t.Device
}

// Rollback is the payload of a rollback leaving version from of model for
// version to.
func Rollback(model string, from, to uint64) *sign.Rollback {
	return &sign.Rollback{V: sign.CommandProtocol, Model: model, From: from, To: to}
}

// OnCandidate is the payload of promote, hold and resume of model's
// candidate version.
func OnCandidate(model string, version uint64) *sign.Target {
	return &sign.Target{V: sign.CommandProtocol, Model: model, Version: version}
}

// Build signs a command for op (sign.OpRollback, OpPromote, OpHold,
// OpResume) with payload, valid from now for validity, and returns the
// fleet command message to publish retained on t.Topic(op, id).
func Build(op, id string, t Target, payload any, key *sign.SigningKey, now time.Time, validity time.Duration) ([]byte, error) {
	if (t.Device == "") == (t.Group == "") {
		return nil, errors.New("want exactly one of a device and a group")
	}
	if validity <= 0 {
		validity = DefaultValidity
	}
	p, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Second)
	c := &sign.Command{V: 1, Op: op, ID: id, Device: t.Device, Group: t.Group, Issued: now, Expires: now.Add(validity), Payload: p}
	if err := sign.SignCommand(c, key); err != nil {
		return nil, err
	}
	signed, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	msg, err := fleet.Encode(&fleet.Command{Op: op, ID: id, Payload: signed, Issued: now, Expires: c.Expires})
	if err != nil {
		return nil, fmt.Errorf("%s command: %w", op, err)
	}
	return msg, nil
}

// Legacy is the protocol-1 rollback for agents that predate signed
// commands: it returns the device to its previous version, whatever it
// serves, so send it only to a device whose state shows it serves the
// version being left.
func Legacy(id, model string, now time.Time) ([]byte, error) {
	p, err := json.Marshal(map[string]string{"model": model})
	if err != nil {
		return nil, err
	}
	return fleet.Encode(&fleet.Command{Op: fleet.OpRollback, ID: id, Payload: p, Issued: now.UTC().Truncate(time.Second)})
}

// Signed reports whether a device whose state advertises protocol reads
// signed commands.
func Signed(protocol int) bool { return protocol >= sign.CommandProtocol }

// StatusSkipped is the state a device reports for a verified command
// that does not apply to its versions: nothing changed.
const StatusSkipped = "skipped"

// Finished reports whether a device's status of an operator command is
// its outcome.
func Finished(state string) bool {
	switch state {
	case fleet.StatusDone, fleet.StatusFailed, fleet.StatusRejected, fleet.StatusExpired, StatusSkipped, "active", "rolled_back":
		return true
	}
	return false
}

// Failed reports whether an outcome is a failure.
func Failed(state string) bool {
	return state == fleet.StatusFailed || state == fleet.StatusRejected || state == fleet.StatusExpired
}
