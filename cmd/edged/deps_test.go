package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/edged-dev/edged/internal/testenv"
)

// TestDaemonHasNoFake proves that the fake accelerator (for demos and
// tests) is not in the daemon: the default build of edged does not depend
// on delegates/delegatetest, and the edged_fake build, which the fallback
// demo uses, does.
func TestDaemonHasNoFake(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const fake = "github.com/edged-dev/edged/delegates/delegatetest"
	for _, tc := range []struct {
		tags string
		want bool
	}{{"", false}, {"edged_fake", true}} {
		cmd := exec.Command(testenv.GoTool(t), "list", "-deps", "-tags="+tc.tags, "github.com/edged-dev/edged/cmd/edged")
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps -tags=%q: %v", tc.tags, err)
		}
		if got := slices.Contains(strings.Fields(string(out)), fake); got != tc.want {
			t.Errorf("go list -deps -tags=%q cmd/edged lists %s = %v; want %v", tc.tags, fake, got, tc.want)
		}
	}
}
