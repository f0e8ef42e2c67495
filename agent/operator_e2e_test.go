package agent

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
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
//     a device of the first wave, whose interpreter fails a third of its
//     requests (an index outside a lookup model's table), aborts and rolls
//     back exactly the two devices that installed the version; the third
//     keeps its version.
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

	// 4. A health gate: version 5 is a lookup model (a GATHER from a
	// table of 4) whose invocation fails for an index outside the table:
	// a third of d2's requests ask for one, so a third fail in d2's real
	// interpreter and count in its telemetry. The rollout aborts in its
	// first wave (d1, d2) and rolls both back to 4; d3 was never sent
	// version 5.
	lookup, err := tflitetest.Lookup([]float32{0.5, 1.5, 2.5, 3.5})
	must(t, err)
	lookupPath := filepath.Join(dir, "lookup.tflite")
	must(t, os.WriteFile(lookupPath, lookup, 0o644))
	v5 := filepath.Join(dir, "lookup-v5")
	if o, err := edgectl("bundle", "--name", "person", "--version", "5", "--model", lookupPath, "--interface-change", "--out", v5); err != nil {
		t.Fatalf("edgectl bundle v5: %v\n%s", err, o)
	}
	state5 := filepath.Join(dir, "v5.json")
	rollOut.Reset()
	roll = exec.Command(filepath.Join(bin, "edgectl"), "rollout", "start", "--bundle", v5, "--devices", "d1,d2,d3",
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
	ctx, stopLoad := context.WithCancel(context.Background())
	var load sync.WaitGroup
	var answered, failed atomic.Int64
	for i, d := range devs[:2] {
		load.Add(1)
		go func() {
			defer load.Done()
			for n := 0; ctx.Err() == nil; n++ {
				idx := n % 4
				if i == 1 && n%3 == 2 {
					idx = 99 // outside the table: the invocation fails
				}
				if code := d.lookup(idx); code == http.StatusOK {
					answered.Add(1)
				} else if i == 1 && idx == 99 && code != 0 {
					failed.Add(1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	select {
	case err = <-rolled:
	case <-time.After(90 * time.Second):
		roll.Process.Kill()
		err = <-rolled
		t.Errorf("the unhealthy rollout did not end within 90s")
	}
	stopLoad()
	load.Wait()
	t.Logf("rollout of version 5 (%d requests answered, %d failed on d2): %v\n%s", answered.Load(), failed.Load(), err, rollOut.String())
	if strings.Contains(rollOut.String(), "unhealthy unhealthy") {
		t.Errorf("the rollout's summary repeats the status:\n%s", rollOut.String())
	}
	if failed.Load() == 0 {
		t.Errorf("no request to d2 failed; want a third of them failing in the interpreter")
	}
	if err == nil || !regexp.MustCompile(`d2.*error rate (3\d|[4-9]\d)(\.\d)?%`).MatchString(rollOut.String()) {
		t.Errorf("rollout with an unhealthy device: %v; want an abort naming d2's error rate (about a third)\n%s", err, rollOut.String())
	}
	waitVersions("after the aborted rollout", "d1=4 d2=4 d3=4", 30*time.Second)
	if out, _ := edgectl("rollout", "status", "--state", state5); !strings.Contains(out, "aborted") {
		t.Errorf("rollout status does not say aborted:\n%s", out)
	}
}

// lookup asks version 5's lookup model for entry idx and returns the
// HTTP status.
func (d *e2eDevice) lookup(idx int) int {
	body := fmt.Sprintf(`{"inputs":[{"name":"index","shape":[1],"datatype":"INT32","data":[%d]}]}`, idx)
	resp, err := http.Post(d.base+"/v2/models/person/infer", "application/json", strings.NewReader(body))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
