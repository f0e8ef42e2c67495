package fleetsim_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/fleetsim"
	"github.com/edged-dev/edged/cmd/edgectl/cli"
	"github.com/edged-dev/edged/internal/brokertest"
	"github.com/edged-dev/edged/ota/sign"
)

// operator makes keys and a bundle of hello_world_int8 version 2 with
// edgectl and returns the bundle's directory and the root public key.
func operator(t testing.TB, dir string) (bundle string, root []byte, keys string) {
	t.Helper()
	model, err := filepath.Abs("../../testdata/models/hello_world_int8.tflite")
	if err != nil {
		t.Fatal(err)
	}
	return operatorModel(t, dir, model)
}

// operatorModel is operator with another model file.
func operatorModel(t testing.TB, dir, model string) (bundle string, root []byte, keys string) {
	t.Helper()
	ctx := context.Background()
	run := func(args ...string) {
		var out bytes.Buffer
		if err := cli.Run(ctx, args, &out, &out); err != nil {
			t.Fatalf("edgectl %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}
	keys = filepath.Join(dir, "keys")
	run("keys", "init", keys)
	signing, _ := filepath.Glob(filepath.Join(keys, "model-*.key"))
	if len(signing) != 1 {
		t.Fatalf("signing keys %q; want one", signing)
	}
	bundle = filepath.Join(dir, "v2")
	run("bundle", "--name", "hello", "--version", "2", "--model", model, "--key", signing[0], "--out", bundle)
	pub, err := sign.LoadPublicKey(filepath.Join(keys, "root.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return bundle, pub, keys
}

// TestRolloutAbort rolls version 2 out to 20 simulated devices in waves
// of 1, 25% and 100%, two of which (sim-0000 and sim-0010, 10%) fail to
// load it: the first wave's only device fails, so the rollout aborts
// there with 1 failure of 1 (100% > 0%) and no other device ever gets the
// deploy or leaves version 1.
func TestRolloutAbort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mosquitto and 20 MQTT clients")
	}
	b := brokertest.StartMosquitto(t)
	dir := t.TempDir()
	bundle, root, keys := operator(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := fleetsim.Start(ctx, fleetsim.Options{Broker: b.URL(), N: 20, Dir: filepath.Join(dir, "sim"), RootKey: root,
		Model: "hello", Version: 1, FailShare: 0.1, Latency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Failing(); !slices.Equal(got, []string{"sim-0000", "sim-0010"}) {
		t.Fatalf("failing devices %v; want sim-0000 and sim-0010", got)
	}
	var out bytes.Buffer
	err = cli.Run(ctx, []string{"rollout", "start", "--broker", b.URL(), "--keys", keys, "--bundle", bundle, "--state", filepath.Join(dir, "r.json"),
		"--devices", strings.Join(f.IDs(), ","), "--waves", "1,25%,100%", "--abort-after", "1", "--abort-failures", "0%",
		"--device-timeout", "60s"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "aborted") {
		t.Fatalf("rollout: %v; want aborted\n%s", err, out.String())
	}
	if v := f.Versions(); v[1] != 20 {
		t.Errorf("versions after the abort %v; want all 20 devices on 1\n%s", v, out.String())
	}
	// The rollback goes to the devices that were sent the deploy, at most
	// the first wave.
	if rb := f.RolledBack(); len(rb) > 1 || (len(rb) == 1 && rb[0] != "sim-0000") {
		t.Errorf("rollback reached %v; want at most sim-0000\n%s", rb, out.String())
	}
}

// TestRolloutComplete rolls version 2 out to 12 simulated devices, with
// jitter before each fetch, in waves of 1, 50% and 100%: all end on 2.
func TestRolloutComplete(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mosquitto and 12 MQTT clients")
	}
	b := brokertest.StartMosquitto(t)
	dir := t.TempDir()
	bundle, root, keys := operator(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := fleetsim.Start(ctx, fleetsim.Options{Broker: b.URL(), N: 12, Dir: filepath.Join(dir, "sim"), RootKey: root,
		Model: "hello", Version: 1, Jitter: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if err := cli.Run(ctx, []string{"rollout", "start", "--broker", b.URL(), "--keys", keys, "--bundle", bundle, "--state", filepath.Join(dir, "r.json"),
		"--devices", strings.Join(f.IDs(), ","), "--waves", "1,50%,100%", "--device-timeout", "60s"}, &out, &out); err != nil {
		t.Fatalf("rollout: %v\n%s", err, out.String())
	}
	if v := f.Versions(); v[2] != 12 {
		t.Errorf("versions after the rollout %v; want all 12 devices on 2\n%s", v, out.String())
	}
	if rb := f.RolledBack(); len(rb) > 0 {
		t.Errorf("rollback reached %v; want none", rb)
	}
	if _, err := os.Stat(filepath.Join(dir, "r.json")); err != nil {
		t.Errorf("rollout state file: %v", err)
	}
}
