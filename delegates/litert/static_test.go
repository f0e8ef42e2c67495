package litert

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/edged-dev/edged/internal/testenv"
)

const puregoPath = "github.com/ebitengine/purego"

// TestDefaultBuildHasNoPurego proves the tag works both ways: the default
// build of the daemon and of this package depends on no purego (so it
// stays a static, cgo-free binary), and the tagged build does.
func TestDefaultBuildHasNoPurego(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	gobin := testenv.GoTool(t)
	deps := func(tags string, pkgs ...string) []string {
		args := append([]string{"list", "-deps", "-tags=" + tags}, pkgs...)
		cmd := exec.Command(gobin, args...)
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		return strings.Fields(string(out))
	}
	tests := []struct {
		name string
		tags string
		pkgs []string
		want bool
	}{
		{name: "default daemon and delegates", pkgs: []string{"github.com/edged-dev/edged/cmd/edged", "github.com/edged-dev/edged/delegates/..."}, want: false},
		{name: "tagged litert", tags: "edged_dynamic", pkgs: []string{"github.com/edged-dev/edged/delegates/litert"}, want: true},
	}
	for _, tt := range tests {
		if got := slices.Contains(deps(tt.tags, tt.pkgs...), puregoPath); got != tt.want {
			t.Errorf("go list -deps -tags=%q %v lists %s = %v; want %v", tt.tags, tt.pkgs, puregoPath, got, tt.want)
		}
	}
}
