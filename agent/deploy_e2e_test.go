package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
)

// TestDeployBinaries is the "done when", with the real binaries:
// mosquitto, edged with a root public key, edgectl keys init, bundle and
// deploy --wait; the new version is served on /v2/models/{name}, and a
// tampered bundle is refused while the old version keeps serving.
func TestDeployBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds edged and edgectl")
	}
	checkAgentLeaks(t)
	bin := buildBinaries(t)
	edgectl := edgectlRunner(t, bin, nil, 60*time.Second)
	broker := startBroker(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if out, err := edgectl("keys", "init", keys); err != nil {
		t.Fatalf("edgectl keys init: %v\n%s", err, out)
	}
	signing, _ := filepath.Glob(filepath.Join(keys, "model-*.key"))
	if len(signing) != 1 {
		t.Fatalf("signing keys %q; want one", signing)
	}
	model := modelPath(t, "person_detect.tflite")
	bundleV := func(v int) string {
		out := filepath.Join(dir, fmt.Sprintf("person-v%d", v))
		if o, err := edgectl("bundle", "--name", "person", "--version", fmt.Sprint(v), "--model", model, "--key", signing[0], "--out", out); err != nil {
			t.Fatalf("edgectl bundle v%d: %v\n%s", v, err, o)
		}
		return out
	}

	dev := startE2EDevice(t, bin, dir, "e2e", broker, filepath.Join(keys, "root.pub"))
	version := dev.version
	testenv.WaitFor(t, "edged serving version 1", 20*time.Second, func() bool { return version() == "1" })

	deploy := func(b string) (string, error) {
		return edgectl("deploy", "--broker", "tcp://"+broker, "--bundle", b, "--device", "e2e", "--wait", "--timeout", "40s")
	}
	start := time.Now()
	out, err := deploy(bundleV(2))
	t.Logf("edgectl bundle + deploy --wait v2: %v\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil || !strings.Contains(out, "active") {
		t.Fatalf("edgectl deploy v2: %v\n%s", err, out)
	}
	if v := version(); v != "2" {
		t.Fatalf("GET /v2/models/person: version %q after deploy; want 2", v)
	}

	// A bundle whose manifest was changed after signing.
	b3 := bundleV(3)
	mf := filepath.Join(b3, "manifest.json")
	raw, err := os.ReadFile(mf)
	must(t, err)
	tampered := bytes.Replace(raw, []byte(`"version": 3`), []byte(`"version": 4`), 1)
	if bytes.Equal(tampered, raw) {
		t.Fatalf("manifest.json has no \"version\": 3:\n%s", raw)
	}
	must(t, os.WriteFile(mf, tampered, 0o644))
	out, err = deploy(b3)
	if err == nil || !strings.Contains(out, "rejected") || !strings.Contains(out, "bad signature") {
		t.Errorf("edgectl deploy of a tampered bundle: %v\n%s; want it to fail with rejected: bad signature", err, out)
	}
	if v := version(); v != "2" {
		t.Errorf("GET /v2/models/person: version %q after the tampered deploy; want 2", v)
	}
}
