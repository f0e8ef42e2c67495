package cli

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/transfer"
	"go.uber.org/goleak"
)

// startMosquitto runs mosquitto on a free loopback port until the test
// ends and returns its URL.
func startMosquitto(t *testing.T) string {
	t.Helper()
	return mosquittotest.Start(t, nil).URL()
}

// fakeDevice acts on deploy commands as the agent will: verify the
// manifest, fetch the blobs, report progress, and end active, or
// rolled_back when fail is set.
func fakeDevice(t *testing.T, broker, id string, root ed25519.PublicKey, fail string) {
	t.Helper()
	var c *fleet.Client
	ready := make(chan struct{})
	var once sync.Once
	dir := t.TempDir()
	status := func(ctx context.Context, cmd fleet.Command, state string, progress float64, reason string) {
		c.WriteStatus(ctx, cmd.Op, fleet.CommandStatus{ID: cmd.ID, State: state, Progress: progress, Reason: reason})
	}
	handle := func(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
		m, err := sign.Verify(cmd.Payload, root, sign.VerifyOptions{Kind: sign.KindModel})
		if err != nil {
			status(ctx, cmd, fleet.StatusFailed, 0, err.Error())
			return
		}
		for _, blob := range m.Blobs {
			meta, err := transfer.FetchMeta(ctx, c, blob.SHA256, blob.Size)
			if err != nil {
				status(ctx, cmd, fleet.StatusFailed, 0, err.Error())
				return
			}
			r := &transfer.Receiver{Sub: c, Dir: dir, Log: slog.New(slog.DiscardHandler), Progress: func(p transfer.Progress) {
				status(ctx, cmd, "downloading", float64(p.Bytes)/float64(p.Size)*0.99, "")
			}}
			if _, err := r.Fetch(ctx, meta); err != nil {
				status(ctx, cmd, fleet.StatusFailed, 0, err.Error())
				return
			}
		}
		status(ctx, cmd, "verified", 0, "")
		if fail != "" {
			status(ctx, cmd, "rolled_back", 0, fail)
			return
		}
		status(ctx, cmd, "active", 0, "")
	}
	c, err := fleet.New(fleet.Options{Broker: broker, DeviceID: id, Groups: []string{"lab"}, OnCommand: handle,
		Log: slog.New(slog.DiscardHandler), OnConnect: func() { once.Do(func() { close(ready) }) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-ready
}

// retained collects the retained messages under edged/v1/.
func retained(t *testing.T, broker string) map[string]int {
	t.Helper()
	c, err := fleet.New(fleet.Options{Broker: broker, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	var mu sync.Mutex
	got := map[string]int{}
	for c.Subscribe(ctx, fleet.Prefix+"/#", 1, func(topic string, p []byte) {
		mu.Lock()
		got[topic] = len(p)
		mu.Unlock()
	}) != nil {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	return got
}

// deployTest sets up what the deploy tests share: a check that they
// leave no goroutine behind, a broker, the operator's keys (keys init), a
// bundle of model signed with them, and a fake device of group lab for
// each of devices, failing its deploys with fail when set. It returns the
// broker's URL and the bundle's directory.
func deployTest(t *testing.T, model, fail string, devices ...string) (broker, bundle string) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	broker = startMosquitto(t)
	keys, key := makeKeys(t)
	root, err := sign.LoadPublicKey(filepath.Join(keys, "root.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if bundle, err = bundleWith(t, key, model); err != nil {
		t.Fatal(err)
	}
	for _, d := range devices {
		fakeDevice(t, broker, d, root, fail)
	}
	return broker, bundle
}

func TestDeploy(t *testing.T) {
	broker, dir := deployTest(t, "mobilenet_v1_0.25_128_quant.tflite", "", "pi-1", "pi-2")
	out, err := edgectl(t, "deploy", "--broker", broker, "--bundle", dir, "--group", "lab", "--wait", "--expect", "2", "--timeout", "30s", "--id", "d1")
	if err != nil {
		t.Fatalf("deploy --group lab: %v\n%s", err, out)
	}
	t.Logf("edgectl deploy output:\n%s", out)
	for _, want := range []string{"pi-1", "pi-2", "downloading", "verified", "2 device(s) active on m version 7"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	// The command and statuses are cleared; the blobs stay until gc.
	left := retained(t, broker)
	for topic := range left {
		if strings.Contains(topic, "/cmd/") {
			t.Errorf("retained after deploy --wait: %s", topic)
		}
	}
	if len(left) == 0 {
		t.Error("no blob retained after deploy")
	}
	if out, err := edgectl(t, "gc", "--broker", broker, "--bundle", dir); err != nil {
		t.Fatalf("gc: %v\n%s", err, out)
	}
	for topic := range retained(t, broker) {
		if strings.Contains(topic, "/blob/") {
			t.Errorf("retained after gc: %s", topic)
		}
	}
}

func TestDeployRolledBack(t *testing.T) {
	broker, dir := deployTest(t, "iris.tflite", "smoke inference failed", "pi-9")
	out, err := edgectl(t, "deploy", "--broker", broker, "--bundle", dir, "--device", "pi-9", "--wait", "--timeout", "30s")
	if err == nil || !strings.Contains(err.Error(), "pi-9: rolled_back: smoke inference failed") {
		t.Fatalf("deploy = %v\n%s; want pi-9 rolled back with its reason", err, out)
	}

	// A device that never connected is reported at once, not after
	// the timeout.
	start := time.Now()
	out, err = edgectl(t, "deploy", "--broker", broker, "--bundle", dir, "--device", "pi-404", "--wait", "--timeout", "1m")
	if err == nil || !strings.Contains(err.Error(), "device pi-404 never connected to this broker") {
		t.Fatalf("deploy to nobody = %v\n%s; want it reported as never seen", err, out)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("deploy to nobody took %v; want it at once, not the timeout", el)
	}
}

// TestDeployInterrupted: an operator who stops deploy --wait (Ctrl-C) is
// told which devices have not finished and that the command stays
// retained, with how to clear it; not "context canceled".
func TestDeployInterrupted(t *testing.T) {
	broker, dir := deployTest(t, "iris.tflite", "", "pi-1")
	// Three devices expected, one in the group: the wait cannot end.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	out, err := edgectlCtx(ctx, "deploy", "--broker", broker, "--bundle", dir, "--group", "lab", "--wait", "--expect", "3", "--timeout", "1m", "--id", "d9")
	t.Logf("deploy:\n%s", out)
	if err == nil {
		t.Fatal("interrupted deploy --wait succeeded; want an error")
	}
	msg := err.Error()
	for _, want := range []string{"interrupted while waiting: 1 of 3 device(s) finished", "stays retained", "edgectl cancel --group lab --id d9"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "context canceled") {
		t.Errorf("error %q says context canceled", msg)
	}
	if _, ok := retained(t, broker)[fleet.GroupCommandTopic("lab", fleet.OpDeploy, "d9")]; !ok {
		t.Error("the deploy command was cleared after the interrupted wait; want it retained")
	}
}
