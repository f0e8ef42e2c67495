package agent

import (
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/internal/testenv"
)

// TestDeployFetchJitter: with ota.fetch_jitter the agent waits a random
// time up to it before fetching, says so in its log, and then deploys as
// without.
func TestDeployFetchJitter(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	doc, err := os.ReadFile(e.cfgPath)
	must(t, err)
	must(t, os.WriteFile(e.cfgPath, []byte(strings.Replace(string(doc), "  smoke_timeout: 20s\n", "  smoke_timeout: 20s\n  fetch_jitter: 400ms\n", 1)), 0o644))
	cfg, err := config.Load(e.cfgPath)
	must(t, err)
	if cfg.OTA.FetchJitter.D() != 400*time.Millisecond {
		t.Fatalf("ota.fetch_jitter %v; want 400ms", cfg.OTA.FetchJitter.D())
	}
	var log testenv.SyncBuffer
	a, err := New(cfg, slog.New(slog.NewTextHandler(&log, nil)))
	must(t, err)
	e.run(a)
	e.deploy("v2", e.bundleOf(2, "person_detect.tflite", nil))
	sts := e.final("v2")
	if got := states(sts); got[len(got)-1] != statusActive {
		t.Fatalf("deploy with fetch_jitter: states %v; want it to end active", got)
	}
	m := regexp.MustCompile(`msg="waiting before fetching \(ota.fetch_jitter\)" .*wait=(\S+)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no wait logged before the fetch:\n%s", log.String())
	}
	if w, err := time.ParseDuration(m[1]); err != nil || w < 0 || w > 400*time.Millisecond {
		t.Errorf("waited %s (%v); want 0 to 400ms", m[1], err)
	}
}
