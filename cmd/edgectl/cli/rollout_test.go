package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/rollout"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/transfer"
	"go.uber.org/goleak"
)

// testFleet is a set of fake devices that act on deploy and rollback
// commands as the agent does (agent/deploy): verify, fetch, report,
// answer a command id handled before with its recorded status, publish
// their state (model m, version 6 before the deploy), and take only
// signed, version-scoped rollbacks.
type testFleet struct {
	t      *testing.T
	broker string
	root   ed25519.PublicKey

	mu        sync.Mutex
	deploys   map[string]int      // deploy commands received, per device
	rollbacks map[string][]string // rollbacks received, per device: "from F to T: STATE"
}

func newTestFleet(t *testing.T, broker string, root ed25519.PublicKey) *testFleet {
	return &testFleet{t: t, broker: broker, root: root, deploys: map[string]int{}, rollbacks: map[string][]string{}}
}

// add starts a device; reject makes it reject every deploy, delay holds
// each deploy before its outcome, onDeploy sees each deploy received.
func (f *testFleet) add(id string, reject bool, delay time.Duration, onDeploy func(id string)) {
	t := f.t
	t.Helper()
	var c *fleet.Client
	ready := make(chan struct{})
	var once sync.Once
	dir := t.TempDir()
	done := map[string]string{} // command op/id -> final state
	status := func(ctx context.Context, cmd fleet.Command, state, reason string) {
		c.WriteStatus(ctx, cmd.Op, fleet.CommandStatus{ID: cmd.ID, State: state, Reason: reason})
	}
	var vmu sync.Mutex
	active, previous := "6", "5"
	birth := func() fleet.State {
		vmu.Lock()
		defer vmu.Unlock()
		return fleet.State{CommandProtocol: sign.CommandProtocol, Models: []fleet.ModelState{{Name: "m", Active: active, Previous: previous}}}
	}
	publishState := func(ctx context.Context) {
		st := birth()
		st.State, st.Time = fleet.Online, time.Now()
		if b, err := fleet.Encode(&st); err == nil {
			c.Publish(ctx, fleet.StateTopic(id), b, 1, true)
		}
	}
	rollback := func(ctx context.Context, cmd fleet.Command) (string, string) {
		sc, err := sign.VerifyCommand(cmd.Payload, f.root, sign.CommandVerifyOptions{Device: id, Groups: []string{"lab"}, Op: cmd.Op, ID: cmd.ID})
		var p sign.Rollback
		if err == nil {
			err = sign.DecodePayload(sc, &p)
		}
		if err != nil {
			f.mu.Lock()
			f.rollbacks[id] = append(f.rollbacks[id], "refused: "+err.Error())
			f.mu.Unlock()
			return fleet.StatusRejected, err.Error()
		}
		vmu.Lock()
		state := "skipped"
		if active == fmt.Sprint(p.From) && previous == fmt.Sprint(p.To) {
			active, previous, state = previous, "", fleet.StatusDone
		}
		vmu.Unlock()
		f.mu.Lock()
		f.rollbacks[id] = append(f.rollbacks[id], fmt.Sprintf("from %d to %d: %s", p.From, p.To, state))
		f.mu.Unlock()
		publishState(ctx)
		return state, ""
	}
	deploy := func(ctx context.Context, cmd fleet.Command) (string, string) {
		m, err := sign.Verify(cmd.Payload, f.root, sign.VerifyOptions{Kind: sign.KindModel})
		if err != nil {
			return fleet.StatusRejected, err.Error()
		}
		for _, blob := range m.Blobs {
			meta, err := transfer.FetchMeta(ctx, c, blob.SHA256, blob.Size)
			if err != nil {
				return fleet.StatusFailed, err.Error()
			}
			status(ctx, cmd, "downloading", "")
			r := &transfer.Receiver{Sub: c, Dir: dir, Log: slog.New(slog.DiscardHandler)}
			if _, err := r.Fetch(ctx, meta); err != nil {
				return fleet.StatusFailed, err.Error()
			}
		}
		status(ctx, cmd, "verified", "")
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return "", ""
		}
		if reject {
			return fleet.StatusRejected, "smoke inference failed"
		}
		vmu.Lock()
		active, previous = fmt.Sprint(m.Version), active
		vmu.Unlock()
		publishState(ctx)
		return "active", ""
	}
	handle := func(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
		key := cmd.Op + "/" + cmd.ID
		f.mu.Lock()
		if cmd.Op == fleet.OpDeploy {
			f.deploys[id]++
		}
		f.mu.Unlock()
		if cmd.Op == fleet.OpDeploy && onDeploy != nil {
			onDeploy(id)
		}
		if st, ok := done[key]; ok {
			status(ctx, cmd, st, "")
			return
		}
		st, reason := fleet.StatusDone, ""
		switch cmd.Op {
		case fleet.OpDeploy:
			st, reason = deploy(ctx, cmd)
		case fleet.OpRollback:
			st, reason = rollback(ctx, cmd)
		}
		if st == "" {
			return
		}
		done[key] = st
		status(ctx, cmd, st, reason)
	}
	c, err := fleet.New(fleet.Options{Broker: f.broker, DeviceID: id, Groups: []string{"lab"}, OnCommand: handle, Birth: birth,
		Log: slog.New(slog.DiscardHandler), OnConnect: func() { once.Do(func() { close(ready) }) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { c.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	<-ready
}

func (f *testFleet) deployed() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return copyCounts(f.deploys)
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func deviceIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("d%02d", i)
	}
	return ids
}

// rolloutSetup starts a broker and makes a bundle of model m version 7.
func rolloutSetup(t *testing.T) (broker, bundleDir string, root ed25519.PublicKey) {
	t.Helper()
	broker = startMosquitto(t)
	keyDir, key := makeKeys(t)
	root, err := sign.LoadPublicKey(filepath.Join(keyDir, "root.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if bundleDir, err = bundleWith(t, key, "iris.tflite"); err != nil {
		t.Fatalf("bundle: %v\n%s", err, bundleDir)
	}
	// The abort's rollbacks are signed with the key directory's command
	// key.
	t.Setenv("EDGECTL_KEYS", keyDir)
	return broker, bundleDir, root
}

func edgectlCtx(ctx context.Context, args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := run(ctx, args, &out, &errb)
	return out.String() + errb.String(), err
}

func TestRolloutAllActive(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	broker, dir, root := rolloutSetup(t)
	fl := newTestFleet(t, broker, root)
	for _, id := range deviceIDs(10) {
		fl.add(id, false, 0, nil)
	}
	state := filepath.Join(t.TempDir(), "rollout.json")
	out, err := edgectl(t, "rollout", "start", "--broker", broker, "--bundle", dir, "--all", "--discover-wait", "1s",
		"--waves", "1,5%,25%,100%", "--success", "95%", "--abort-after", "5", "--abort-failures", "20%",
		"--device-timeout", "30s", "--tick", "100ms", "--state", state, "--id", "m7")
	t.Logf("rollout start:\n%s", out)
	if err != nil {
		t.Fatalf("rollout start = %v; want success", err)
	}
	// 10 devices, targets 1, 5%, 25%, 100%: ceil(0.5)=1 is raised to
	// one more device (2), ceil(2.5)=3, 10: waves of 1, 1, 1 and 7.
	for _, want := range []string{
		"to 10 device(s) in 4 wave(s)",
		"start wave 0 of 4: 1 devices",
		"start wave 1 of 4: 1 devices",
		"start wave 2 of 4: 1 devices",
		"start wave 3 of 4: 7 devices",
		"finished: 10 of 10 devices active, 0 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rollout start output lacks %q", want)
		}
	}
	for _, id := range deviceIDs(10) {
		if n := fl.deployed()[id]; n != 1 {
			t.Errorf("deploys received by %s = %d; want 1", id, n)
		}
	}
	// The deploy commands and statuses are cleared once done.
	for topic := range retained(t, broker) {
		if strings.Contains(topic, "/cmd/") {
			t.Errorf("retained after the rollout: %s", topic)
		}
	}

	out, err = edgectl(t, "rollout", "status", "--state", state)
	if err != nil {
		t.Fatalf("rollout status: %v\n%s", err, out)
	}
	if !strings.Contains(out, "phase done") || !regexpLine(out, `^all\s+10\s+0\s+0\s+10\s+0\s+0\s+0\s+0$`) {
		t.Errorf("rollout status = \n%s\nwant phase done and 10 active of 10", out)
	}
	// A finished rollout resumes to nothing.
	if out, err := edgectl(t, "rollout", "resume", "--state", state, "--broker", broker); err != nil || !strings.Contains(out, "already done") {
		t.Errorf("rollout resume after done = %v\n%s; want already done", err, out)
	}
}

func TestRolloutAbort(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	broker, dir, root := rolloutSetup(t)
	fl := newTestFleet(t, broker, root)
	reject := map[string]bool{"d01": true, "d03": true, "d06": true, "d08": true}
	ids := deviceIDs(10)
	for _, id := range ids {
		fl.add(id, reject[id], 0, nil)
	}
	state := filepath.Join(t.TempDir(), "rollout.json")
	// Waves of 2, 3 and 5 devices needing 1, 2 and 3 active: no wave can
	// fail on its own with these rejects (at most 1, 1 and 2 of them), so
	// the abort comes from the failure share: 2 failures out of 5 or more
	// outcomes at the latest once waves 0 and 1 have all reported
	// (2/5 = 40% > 20%).
	// The group's members are found by a ping.
	out, err := edgectl(t, "rollout", "start", "--broker", broker, "--bundle", dir, "--group", "lab", "--discover-wait", "1s",
		"--waves", "2,50%,100%", "--success", "50%", "--abort-after", "5", "--abort-failures", "20%",
		"--device-timeout", "30s", "--tick", "100ms", "--state", state)
	t.Logf("rollout start:\n%s", out)
	if err == nil || !strings.Contains(err.Error(), "rollout aborted") || !strings.Contains(err.Error(), "devices with an outcome failed") {
		t.Fatalf("rollout start = %v; want an abort on the failure share", err)
	}
	// Exactly the devices that installed version 7 get a signed
	// rollback from 7 to 6, and take it; the rejecting devices, which
	// never installed it, get none.
	deployed := fl.deployed()
	var installed []string
	for id := range deployed {
		if !reject[id] {
			installed = append(installed, id)
		}
	}
	sort.Strings(installed)
	fl.mu.Lock()
	got := keys(fl.rollbacks)
	for id, rs := range fl.rollbacks {
		if len(rs) != 1 || rs[0] != "from 7 to 6: done" {
			t.Errorf("rollbacks received by %s = %q; want one, from 7 to 6, done", id, rs)
		}
	}
	fl.mu.Unlock()
	if !slices.Equal(got, installed) || len(deployed) < 5 {
		t.Errorf("devices that received a rollback = %v; want those that installed the version %v (of %d sent the deploy, at least 5)", got, installed, len(deployed))
	}
	// The rollbacks with an outcome are cleared from the broker.
	for topic := range retained(t, broker) {
		if strings.Contains(topic, "/cmd/rollback/") {
			t.Errorf("rollback retained after its outcome: %s", topic)
		}
	}
	for topic := range retained(t, broker) {
		if strings.Contains(topic, "/cmd/deploy/") && !strings.HasSuffix(topic, "/status") {
			t.Errorf("deploy command retained after the abort: %s", topic)
		}
	}
	out, err = edgectl(t, "rollout", "status", "--state", state)
	if err != nil || !strings.Contains(out, "phase aborted") || !strings.Contains(out, "rejected: smoke inference failed") {
		t.Errorf("rollout status = %v\n%s\nwant phase aborted with the rejects' reasons", err, out)
	}
	// Resuming an aborted rollout sends nothing more and fails again.
	if out, err := edgectl(t, "rollout", "resume", "--state", state, "--broker", broker); err == nil || !strings.Contains(err.Error(), "aborted") {
		t.Errorf("rollout resume after abort = %v\n%s; want the abort", err, out)
	}
}

func TestRolloutResume(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	broker, dir, root := rolloutSetup(t)
	fl := newTestFleet(t, broker, root)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Kill edgectl as soon as the last wave's third device gets its
	// deploy: the wave is then partly sent and nothing of it done.
	ids := deviceIDs(10)
	for _, id := range ids {
		fl.add(id, false, 300*time.Millisecond, func(got string) {
			if got == "d05" {
				cancel()
			}
		})
	}
	state := filepath.Join(t.TempDir(), "rollout.json")
	args := []string{"rollout", "start", "--broker", broker, "--bundle", dir, "--devices", strings.Join(ids, ","),
		"--waves", "1,5%,25%,100%", "--success", "95%", "--device-timeout", "1s", "--tick", "100ms", "--state", state}
	out, err := edgectlCtx(ctx, args...)
	t.Logf("rollout start:\n%s", out)
	if err == nil || !strings.Contains(err.Error(), "rollout interrupted") {
		t.Fatalf("rollout start cancelled = %v; want interrupted", err)
	}
	_, r, err := rollout.LoadFile(state)
	if err != nil {
		t.Fatalf("loadRollout after the kill: %v", err)
	}
	if r.Phase() != rollout.Running {
		t.Fatalf("phase after the kill = %s; want running", r.Phase())
	}
	var activeAtKill []string
	for _, d := range r.Devices() {
		if d.Status == rollout.Active {
			activeAtKill = append(activeAtKill, d.ID)
		}
	}
	if !slices.Equal(activeAtKill, []string{"d00", "d01", "d02"}) {
		t.Errorf("active at the kill = %v; want the first three waves [d00 d01 d02]", activeAtKill)
	}

	// edgectl stays down longer than the device timeout: the devices
	// it was waiting for must not time out on resume for that.
	time.Sleep(1500 * time.Millisecond)
	out, err = edgectl(t, "rollout", "resume", "--broker", broker, "--state", state, "--tick", "100ms")
	t.Logf("rollout resume:\n%s", out)
	if err != nil {
		t.Fatalf("rollout resume = %v; want success", err)
	}
	if !strings.Contains(out, "finished: 10 of 10 devices active") {
		t.Errorf("rollout resume output lacks the finish")
	}
	got := fl.deployed()
	for _, id := range activeAtKill {
		if got[id] != 1 {
			t.Errorf("deploys received by %s (active before the kill) = %d; want 1", id, got[id])
		}
	}
	for _, id := range ids {
		if got[id] < 1 {
			t.Errorf("deploys received by %s = %d; want at least 1", id, got[id])
		}
	}
	_, r, err = rollout.LoadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Summary(); s.Phase != rollout.Done || s.Total.Active != 10 {
		t.Errorf("after resume: phase %s, %d active; want done, 10", s.Phase, s.Total.Active)
	}
}

// TestRolloutTimeout: a device that never answers times out, which
// counts as a failure; the device that installed the version is rolled
// back, and the silent one, whose version nobody knows, is named for the
// operator.
func TestRolloutTimeout(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	broker, dir, root := rolloutSetup(t)
	fl := newTestFleet(t, broker, root)
	fl.add("d00", false, 0, nil)
	state := filepath.Join(t.TempDir(), "rollout.json")
	start := time.Now()
	out, err := edgectl(t, "rollout", "start", "--broker", broker, "--bundle", dir, "--devices", "d00,ghost",
		"--waves", "100%", "--success", "100%", "--abort-after", "1", "--abort-failures", "0%",
		"--device-timeout", "1s", "--tick", "100ms", "--state", state)
	t.Logf("rollout start:\n%s", out)
	if err == nil || !strings.Contains(err.Error(), "rollout aborted") {
		t.Fatalf("rollout start = %v; want an abort", err)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("abort after %v; want at least the device timeout (1s)", el)
	}
	if !strings.Contains(out, "ghost") || !strings.Contains(out, "timeout no report for") {
		t.Errorf("output lacks ghost's timeout")
	}
	if !strings.Contains(out, "sent to 1 device(s): d00") || !strings.Contains(out, "not rolled back: ghost: the version it served before is not known") {
		t.Errorf("output lacks the rollback to d00 and the note on ghost")
	}
	fl.mu.Lock()
	if rs := fl.rollbacks["d00"]; len(rs) != 1 || rs[0] != "from 7 to 6: done" {
		t.Errorf("d00's rollbacks = %q; want from 7 to 6, done", rs)
	}
	fl.mu.Unlock()
}

func TestRolloutFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no subcommand", []string{"rollout"}, "want a subcommand: resume, start, status"},
		{"no target", []string{"rollout", "start", "--bundle", dir, "--state", filepath.Join(dir, "s")}, "exactly one of --devices, --group or --all"},
		{"two targets", []string{"rollout", "start", "--bundle", dir, "--state", filepath.Join(dir, "s"), "--all", "--group", "lab"}, "exactly one of"},
		{"bad waves", []string{"rollout", "start", "--bundle", dir, "--state", filepath.Join(dir, "s"), "--all", "--waves", "1,0%"}, "--waves"},
		{"bad success", []string{"rollout", "start", "--bundle", dir, "--state", filepath.Join(dir, "s"), "--all", "--success", "120%"}, "--success"},
		{"state exists", []string{"rollout", "start", "--bundle", dir, "--state", dir, "--all"}, "rollout resume"},
		{"status without file", []string{"rollout", "status", "--state", filepath.Join(dir, "none")}, "no such file"},
	}
	for _, tt := range tests {
		out, err := edgectl(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: edgectl %v = %v\n%s; want an error containing %q", tt.name, tt.args, err, out, tt.wantErr)
		}
	}
}

func regexpLine(text, pattern string) bool {
	re := regexp.MustCompile(pattern)
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(strings.TrimSpace(l)) {
			return true
		}
	}
	return false
}

// TestRollbackFinishedRollout: rolling back a rollout that finished sends
// each device that installed the version its rollback, and the rollout
// then counts them rolled back, not active.
func TestRollbackFinishedRollout(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	broker, dir, root := rolloutSetup(t)
	fl := newTestFleet(t, broker, root)
	fl.add("d00", false, 0, nil)
	fl.add("d01", false, 0, nil)
	state := filepath.Join(t.TempDir(), "rollout.json")
	out, err := edgectl(t, "rollout", "start", "--broker", broker, "--bundle", dir, "--devices", "d00,d01",
		"--waves", "100%", "--device-timeout", "30s", "--tick", "100ms", "--state", state)
	if err != nil {
		t.Fatalf("rollout start = %v\n%s", err, out)
	}
	out, err = edgectl(t, "rollback", "--broker", broker, "--rollout", state)
	t.Logf("rollback --rollout:\n%s", out)
	if err != nil {
		t.Fatalf("rollback of the finished rollout = %v", err)
	}
	if strings.Contains(out, "ABORT") || !strings.Contains(out, "ROLLBACK asked by the operator") {
		t.Errorf("rollback of a finished rollout is reported as an abort:\n%s", out)
	}
	fl.mu.Lock()
	for _, id := range []string{"d00", "d01"} {
		if rs := fl.rollbacks[id]; len(rs) != 1 || rs[0] != "from 7 to 6: done" {
			t.Errorf("%s's rollbacks = %q; want from 7 to 6, done", id, rs)
		}
	}
	fl.mu.Unlock()
	_, r, err := rollout.LoadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Summary().Total; c.Active != 0 || c.RolledBack != 2 {
		t.Errorf("after the rollback: %d active, %d rolled back; want 0 and 2", c.Active, c.RolledBack)
	}
	out, _ = edgectl(t, "rollout", "status", "--state", state)
	t.Logf("rollout status:\n%s", out)
}
