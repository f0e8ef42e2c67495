package operator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/sign/signtest"
)

func keys(t *testing.T, purposes ...string) (*sign.RootKey, *sign.SigningKey) {
	t.Helper()
	k := signtest.New(t)
	return k.Root, k.Key(t, purposes...)
}

// TestBuildVerifies: what Build writes is a fleet command whose payload a
// device verifies as the signed, version-scoped command it was built
// from, bound to that device.
func TestBuildVerifies(t *testing.T) {
	root, key := keys(t, sign.KindCommand)
	now := time.Now()
	msg, err := Build(fleet.OpRollback, "rb1", Target{Device: "pi1"}, Rollback("person", 7, 6), key, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var cmd fleet.Command
	if err := fleet.Decode(msg, &cmd); err != nil {
		t.Fatal(err)
	}
	if cmd.Op != fleet.OpRollback || cmd.ID != "rb1" || cmd.Expires.Sub(cmd.Issued) != time.Hour {
		t.Errorf("fleet command %+v; want rollback rb1 valid for an hour", cmd)
	}
	c, err := sign.VerifyCommand(cmd.Payload, root.Public(), sign.CommandVerifyOptions{Device: "pi1", Op: cmd.Op, ID: cmd.ID})
	if err != nil {
		t.Fatalf("the device refuses it: %v", err)
	}
	var p sign.Rollback
	if err := sign.DecodePayload(c, &p); err != nil || p != (sign.Rollback{V: sign.CommandProtocol, Model: "person", From: 7, To: 6}) {
		t.Errorf("payload %+v, %v; want person from 7 to 6", p, err)
	}
	// Another device refuses it.
	if _, err := sign.VerifyCommand(cmd.Payload, root.Public(), sign.CommandVerifyOptions{Device: "pi2", Op: cmd.Op, ID: cmd.ID}); !errors.Is(err, sign.ErrOtherDevice) {
		t.Errorf("pi2 verifying pi1's command: %v; want ErrOtherDevice", err)
	}
	if got := (Target{Group: "lab"}).Topic(fleet.OpHold, "h1"); got != "edged/v1/group/lab/cmd/hold/h1" {
		t.Errorf("group topic %q", got)
	}
}

func TestBuildRefuses(t *testing.T) {
	_, model := keys(t, sign.KindModel)
	if _, err := Build(fleet.OpPromote, "p1", Target{Device: "pi1"}, OnCandidate("person", 3), model, time.Now(), 0); err == nil ||
		!strings.Contains(err.Error(), "edgectl keys rotate --purpose command") {
		t.Errorf("a model key signing a command: %v; want the refusal naming keys rotate", err)
	}
	_, key := keys(t, sign.KindCommand)
	if _, err := Build(fleet.OpPromote, "p1", Target{Device: "a", Group: "b"}, OnCandidate("person", 3), key, time.Now(), 0); err == nil {
		t.Error("a device and a group: want an error")
	}
}

func TestLegacy(t *testing.T) {
	msg, err := Legacy("rb1", "person", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var cmd fleet.Command
	if err := fleet.Decode(msg, &cmd); err != nil || string(cmd.Payload) != `{"model":"person"}` || cmd.Op != fleet.OpRollback {
		t.Errorf("legacy rollback %+v, %v; want the protocol-1 payload", cmd, err)
	}
	if Signed(0) || Signed(1) || !Signed(2) {
		t.Error("Signed: protocol 2 and above read signed commands, not 0 or 1")
	}
	for state, want := range map[string][2]bool{"done": {true, false}, "skipped": {true, false}, "rejected": {true, true}, "running": {false, false}} {
		if Finished(state) != want[0] || Failed(state) != want[1] {
			t.Errorf("%s: finished %v failed %v; want %v", state, Finished(state), Failed(state), want)
		}
	}
}
