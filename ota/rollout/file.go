package rollout

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/sign"
)

// FileVersion is the version of the state file a rollout is kept in.
const FileVersion = 1

// File is a rollout's state file: the planner's state plus what the
// driver needs to send commands without the bundle directory, so that an
// interrupted rollout can be resumed.
type File struct {
	V int `json:"v"`
	// CmdID is the deploy command's id, the same for every device, so
	// that a deploy sent again (after a restart) is recognised by the
	// agent as one it already handled.
	CmdID   string `json:"cmd_id"`
	Model   string `json:"model"`
	Version uint64 `json:"version"`
	// Manifest is the signed manifest, byte for byte (base64).
	Manifest []byte    `json:"manifest"`
	Expires  time.Time `json:"expires,omitzero"`
	// Bundle is the bundle directory, for pushing the blobs on resume if
	// the first run died before Pushed.
	Bundle    string          `json:"bundle"`
	ChunkSize int             `json:"chunk_size"`
	Pushed    bool            `json:"pushed"`
	Rollback  *RollbackRecord `json:"rollback,omitempty"`
	Rollout   json.RawMessage `json:"rollout"`
}

// RollbackRecord is the abort's rollback, kept so that a resumed driver
// sends it if the last one died between the decision and the last
// publish.
type RollbackRecord struct {
	CmdID string `json:"cmd_id"`
	// Devices may serve the version: the abort's decision.
	Devices []string `json:"devices"`
	// SentTo were sent the rollback; Done is set once every device was
	// dealt with. (Sent is Done in files of earlier edgectl.)
	Sent []string `json:"sent_to,omitempty"`
	Done bool     `json:"done,omitempty"`
	Old  bool     `json:"sent,omitempty"`
}

// DeployPayload is the deploy command, the same bytes for every device.
func DeployPayload(rf *File, now time.Time) ([]byte, error) {
	cmd := fleet.Command{Op: fleet.OpDeploy, ID: rf.CmdID, Payload: json.RawMessage(rf.Manifest), Issued: now}
	if rf.Expires.After(now) {
		cmd.Expires = rf.Expires
	}
	return fleet.Encode(&cmd)
}

// LoadFile reads a state file and restores its rollout.
func LoadFile(path string) (*File, *Rollout, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var rf File
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rf); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if rf.V != FileVersion {
		return nil, nil, fmt.Errorf("%s: version %d; this edgectl reads %d", path, rf.V, FileVersion)
	}
	if rb := rf.Rollback; rb != nil && rb.Old {
		rb.Done, rb.Sent, rb.Old = true, rb.Devices, false
	}
	if err := fleet.ValidID(rf.CmdID); err != nil {
		return nil, nil, fmt.Errorf("%s: cmd_id: %w", path, err)
	}
	var m sign.Manifest
	if err := json.Unmarshal(rf.Manifest, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: manifest: %w", path, err)
	}
	if m.Name != rf.Model || m.Version != rf.Version {
		return nil, nil, fmt.Errorf("%s: manifest is %s version %d; the file says %s version %d", path, m.Name, m.Version, rf.Model, rf.Version)
	}
	r, err := Restore(rf.Rollout, wallClock{})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rf, r, nil
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now().UTC() }

// WallClock is the real time, in UTC.
var WallClock Clock = wallClock{}

// StatusOf maps a device's deploy status to the planner's. Unknown states
// are progress: the device is alive and working on it.
func StatusOf(state string) Status {
	switch state {
	case "active", fleet.StatusDone:
		return Active
	case "rolled_back":
		return RolledBack
	case fleet.StatusFailed, fleet.StatusRejected, fleet.StatusExpired:
		return Failed
	}
	return Deploying
}
