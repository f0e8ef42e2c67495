package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/fleettest"
	"github.com/edged-dev/edged/internal/testenv"
)

// TestOperatorLoop is the operator's loop with edgectl alone, with the real
// binaries: mosquitto, three edged processes of one group, and edgectl
// configured by its environment (EDGECTL_BROKER, EDGECTL_KEYS):
//   - a bundle that expired before the rollout reached the first device
//     aborts the rollout and leaves every device on its version;
//   - a canary (deploy with a policy) is watched with canary status,
//     paused, resumed and promoted;
//   - a rollout with a bake time is paused from another edgectl after its
//     first wave, holds, and finishes once resumed;
//   - a rollout whose health gate (error rate on the new version) trips on
//     a device of the first wave aborts and rolls back exactly the two
//     devices that installed the version; the third keeps its version.
//
// An identical model promoted by the canary under back-to-back and spaced
// load is TestCanaryIdenticalTiming.
func TestOperatorLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds edged and edgectl, runs three edged processes")
	}
	checkAgentLeaks(t)
	bin := buildBinaries(t)
	broker := startBroker(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	env := append(os.Environ(), "EDGECTL_BROKER="+broker, "EDGECTL_KEYS="+keys, "EDGECTL_CONFIG="+filepath.Join(dir, "edgectl.yaml"))
	edgectl := edgectlRunner(t, bin, env, 90*time.Second)
	if out, err := edgectl("keys", "init", keys); err != nil {
		t.Fatalf("edgectl keys init: %v\n%s", err, out)
	}
	model := modelPath(t, "person_detect.tflite")
	bundle := func(v int, extra ...string) string {
		t.Helper()
		out := filepath.Join(dir, fmt.Sprintf("person-v%d", v))
		args := append([]string{"bundle", "--name", "person", "--version", fmt.Sprint(v), "--model", model, "--out", out}, extra...)
		if o, err := edgectl(args...); err != nil {
			t.Fatalf("edgectl bundle v%d: %v\n%s", v, err, o)
		}
		return out
	}

	devs := make([]*e2eDevice, 3)
	for i := range devs {
		devs[i] = startE2EDevice(t, bin, dir, fmt.Sprintf("d%d", i+1), broker, filepath.Join(keys, "root.pub"))
	}
	for _, d := range devs {
		testenv.WaitFor(t, d.id+" serving version 1", 30*time.Second, func() bool { return d.version() == "1" })
	}
	versions := func() string {
		var v []string
		for _, d := range devs {
			v = append(v, d.id+"="+d.version())
		}
		return strings.Join(v, " ")
	}
	waitVersions := func(what, want string, within time.Duration) {
		t.Helper()
		testenv.WaitFor(t, what+": "+want, within, func() bool { return versions() == want })
	}

	// 1. An expired bundle: the first device refuses it, the rollout
	// aborts, and no device is rolled back (none installed the version).
	expired := bundle(2, "--valid-for", "1s")
	time.Sleep(1500 * time.Millisecond)
	out, err := edgectl("rollout", "start", "--bundle", expired, "--devices", "d1,d2,d3", "--waves", "1,100%",
		"--abort-after", "1", "--abort-failures", "0%", "--device-timeout", "30s", "--drain", "5s", "--state", filepath.Join(dir, "expired.json"))
	if err == nil || !strings.Contains(out, "abort") {
		t.Errorf("rollout of an expired bundle: %v; want it to abort\n%s", err, out)
	}
	time.Sleep(time.Second) // a wrong rollback would have arrived by now
	if got := versions(); got != "d1=1 d2=1 d3=1" {
		t.Fatalf("after the aborted rollout of an expired bundle: %s; want every device on version 1", got)
	}

	// 2. A canary on d1: watched, paused, resumed, promoted.
	policy := filepath.Join(dir, "policy.yaml")
	must(t, os.WriteFile(policy, []byte("min_samples: 100000\nsample_rate: 1\ncanary_fraction: 0.5\nmax_duration: 1h\n"), 0o644))
	canaryBundle := bundle(3, "--policy", policy)
	out, err = edgectl("deploy", "--bundle", canaryBundle, "--device", "d1")
	if err != nil {
		t.Fatalf("deploy with a canary policy: %v\n%s", err, out)
	}
	// Without --wait, deploy says how to clear the retained command.
	_, clear, ok := strings.Cut(out, "clear it with: edgectl ")
	if !ok {
		t.Fatalf("deploy without --wait does not say how to clear the command:\n%s", out)
	}
	clearArgs := strings.Fields(strings.SplitN(clear, "\n", 2)[0])
	testenv.WaitFor(t, "d1 evaluating version 3", 30*time.Second, func() bool {
		out, _ := edgectl("canary", "status", "--device", "d1")
		return strings.Contains(out, "shadow") || strings.Contains(out, "canary")
	})
	for range 20 {
		if code := devs[0].infer(); code != 200 {
			t.Fatalf("d1 inference during the canary: HTTP %d", code)
		}
	}
	// The figures come from the device's telemetry through the broker (no
	// --url): every request was also run on the candidate (sample_rate 1).
	testenv.WaitFor(t, "d1's shadow comparisons in canary status", 30*time.Second, func() bool {
		out, _ := edgectl("canary", "status", "--device", "d1")
		m := regexp.MustCompile(`(\d+) shadow`).FindStringSubmatch(out)
		return m != nil && m[1] != "0"
	})
	if out, err := edgectl("pause", "--device", "d1", "--model", "person"); err != nil || !strings.Contains(out, "done") {
		t.Fatalf("pause of d1's canary: %v\n%s", err, out)
	}
	testenv.WaitFor(t, "d1's canary held", 30*time.Second, func() bool {
		out, _ := edgectl("canary", "status", "--device", "d1")
		return strings.Contains(out, "hold")
	})
	if out, err := edgectl("resume", "--device", "d1", "--model", "person"); err != nil || !strings.Contains(out, "done") {
		t.Fatalf("resume of d1's canary: %v\n%s", err, out)
	}
	if out, err := edgectl("promote", "--device", "d1", "--model", "person"); err != nil || !strings.Contains(out, "done") {
		t.Fatalf("promote of d1's candidate: %v\n%s", err, out)
	}
	waitVersions("after promote", "d1=3 d2=1 d3=1", 30*time.Second)
	if out, err := edgectl(clearArgs...); err != nil || !strings.Contains(out, "withdrawn") || !strings.Contains(out, "already done: d1") {
		t.Errorf("edgectl %s: %v; want the deploy withdrawn, d1 having acted on it\n%s", strings.Join(clearArgs, " "), err, out)
	}

	// The same canary on d2 with --wait: the wait ends once d2 evaluates
	// the candidate (nothing decides it without traffic), and the
	// evaluation's status stays for canary status.
	out, err = edgectl("deploy", "--bundle", canaryBundle, "--device", "d2", "--wait", "--timeout", "60s")
	if err != nil || !strings.Contains(out, "1 device(s) evaluating person version 3") {
		t.Errorf("deploy --wait with a canary policy: %v; want it to end with d2 evaluating version 3\n%s", err, out)
	}
	if strings.Contains(out, "shadow: shadow:") {
		t.Errorf("deploy --wait repeats the phase:\n%s", out)
	}
	if out, _ := edgectl("canary", "status", "--device", "d2"); !strings.Contains(out, "shadow") || strings.Contains(out, "?") {
		t.Errorf("canary status of d2 right after deploy --wait: want phase shadow\n%s", out)
	}

	// 3. A rollout with a bake time, paused from another edgectl after its
	// first wave (d1), resumed.
	state4 := filepath.Join(dir, "v4.json")
	var rollOut bytes.Buffer
	roll := exec.Command(filepath.Join(bin, "edgectl"), "rollout", "start", "--bundle", bundle(4), "--devices", "d1,d2,d3",
		"--waves", "1,100%", "--bake", "3s", "--device-timeout", "60s", "--state", state4)
	roll.Env, roll.Stdout, roll.Stderr = env, &rollOut, &rollOut
	if err := roll.Start(); err != nil {
		t.Fatal(err)
	}
	rolled := make(chan error, 1)
	go func() { rolled <- roll.Wait() }()
	testenv.WaitFor(t, "d1 on version 4", 60*time.Second, func() bool { return devs[0].version() == "4" })
	if out, err := edgectl("pause", "--rollout", state4, "--reason", "lunch"); err != nil {
		t.Fatalf("pause of the rollout: %v\n%s", err, out)
	}
	time.Sleep(5 * time.Second) // past the bake time
	if got := versions(); got != "d1=4 d2=1 d3=1" {
		t.Errorf("paused rollout: %s; want only the first wave (d1) on version 4", got)
	}
	if out, _ := edgectl("rollout", "status", "--state", state4); !strings.Contains(out, "paused") {
		t.Errorf("rollout status of a paused rollout does not say paused:\n%s", out)
	}
	if out, err := edgectl("resume", "--rollout", state4); err != nil {
		t.Fatalf("resume of the rollout: %v\n%s", err, out)
	}
	select {
	case err := <-rolled:
		if err != nil {
			t.Fatalf("rollout of version 4: %v\n%s", err, rollOut.String())
		}
	case <-time.After(90 * time.Second):
		roll.Process.Kill()
		<-rolled
		t.Fatalf("rollout of version 4 did not finish within 90s of resume\n%s", rollOut.String())
	}
	t.Logf("rollout of version 4:\n%s", rollOut.String())
	waitVersions("after the resumed rollout", "d1=4 d2=4 d3=4", 10*time.Second)

	// 4. A health gate: d2's telemetry reports that a third of its
	// requests on version 5 failed; the rollout aborts in its first wave
	// (d1, d2) and rolls both back to 4; d3 was never sent version 5. The
	// failures are injected as telemetry on the broker, as d2 would
	// publish them: edged has no way to make a version fail requests on
	// demand (malformed requests are refused before they count, deadlines
	// depend on the machine's speed).
	state5 := filepath.Join(dir, "v5.json")
	rollOut.Reset()
	roll = exec.Command(filepath.Join(bin, "edgectl"), "rollout", "start", "--bundle", bundle(5), "--devices", "d1,d2,d3",
		"--waves", "2,100%", "--bake", "1h", "--min-requests", "30", "--max-error-rate", "10%",
		"--abort-after", "1", "--abort-failures", "0%", "--device-timeout", "60s", "--drain", "30s", "--state", state5)
	roll.Env, roll.Stdout, roll.Stderr = env, &rollOut, &rollOut
	if err := roll.Start(); err != nil {
		t.Fatal(err)
	}
	rolled = make(chan error, 1)
	go func() { rolled <- roll.Wait() }()
	testenv.WaitFor(t, "d1 and d2 on version 5", 60*time.Second, func() bool {
		return devs[0].version() == "5" && devs[1].version() == "5"
	})
	op, stopOp := fleettest.Connect(t, fleet.Options{Broker: "tcp://" + broker})
	ctx, stopLoad := context.WithCancel(context.Background())
	var load sync.WaitGroup
	load.Add(1)
	go func() {
		defer load.Done()
		for ctx.Err() == nil {
			devs[0].infer()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	load.Add(1)
	go func() {
		defer load.Done()
		for ctx.Err() == nil {
			b, _ := fleet.Encode(&fleet.Telemetry{V: 1, Time: time.Now().UTC(), Interval: 1,
				Models: []fleet.ModelTelemetry{{Name: "person", Version: "5", Inferences: 40, Errors: 20}}})
			op.Publish(ctx, fleet.TelemetryTopic("d2"), b, 0, false)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	select {
	case err = <-rolled:
	case <-time.After(90 * time.Second):
		roll.Process.Kill()
		err = <-rolled
		t.Errorf("the unhealthy rollout did not end within 90s")
	}
	stopLoad()
	load.Wait()
	stopOp()
	t.Logf("rollout of version 5: %v\n%s", err, rollOut.String())
	if err == nil || !strings.Contains(rollOut.String(), "error rate 33.3%") {
		t.Errorf("rollout with an unhealthy device: %v; want an abort naming the error rate\n%s", err, rollOut.String())
	}
	waitVersions("after the aborted rollout", "d1=4 d2=4 d3=4", 30*time.Second)
	if out, _ := edgectl("rollout", "status", "--state", state5); !strings.Contains(out, "aborted") {
		t.Errorf("rollout status does not say aborted:\n%s", out)
	}
}
