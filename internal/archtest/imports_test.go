package archtest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/edged-dev/edged/internal/testenv"
)

const module = "github.com/edged-dev/edged/"

// layers are the module's packages from the bottom up (docs/ARCHITECTURE.md
// explains each). A package may import packages of its own layer and of
// the layers below, never above. A pattern is a package path, or a path
// ending in "/..." for it and everything under it; the first layer with a
// matching pattern is a package's layer, so a narrow pattern goes in an
// earlier layer than a broad one that also matches. A new package must
// match a pattern.
var layers = [][]string{
	// 0. Foundations: the TFLite runtime, boards, small shared helpers
	// and test harnesses (whose tests may import anything).
	{"runtime/...", "boards", "internal/..."},
	// 1. Backends that run models: the delegate chain, the vendor library.
	{"delegates/..."},
	// 2. The fleet protocol and the trust and storage under OTA.
	{"fleet/...", "ota/sign", "ota/store", "ota/cmdlog"},
	// 3. What travels the protocol: transfers, bundles, rollouts,
	// self-update, telemetry.
	{"ota/...", "telemetry/..."},
	// 4. The agent's own vocabulary: requests, configuration, canary and
	// drift arithmetic; the gRPC stubs generated from the specification.
	{"agent/infer", "agent/infer/infertest", "agent/config", "agent/canary", "agent/drift", "agent/grpcapi/inferencepb"},
	// 5. The agent's parts: pipeline stages, status, drift monitor, fleet
	// link, sources, thumbnails of their pictures, local API.
	{"agent/batch", "agent/cache", "agent/pipeline", "agent/status", "agent/drift/...", "agent/link",
		"agent/source", "agent/frame", "agent/inferstats", "agent/localapi", "agent/grpcapi"},
	// 6. Changing models on commands, through the agent's Host interface;
	// simulated devices built from the same parts.
	{"agent/deploy", "agent/fleetsim"},
	// 7. The agent: wires everything and owns it.
	{"agent"},
	// 8. Programs.
	{"cmd/...", "scripts/..."},
}

// forbidden are imports the layers would allow but the design does not.
var forbidden = map[string][]string{
	// edgectl works with the fleet and with models, never with a whole
	// agent in its process.
	"cmd/edgectl/...": {"agent", "agent/deploy", "agent/localapi", "agent/link"},
	// The local API declares what it needs of the agent (Backend).
	"agent/localapi": {"agent/pipeline", "agent/batch", "agent/cache"},
	"agent/grpcapi":  {"agent/pipeline", "agent/batch", "agent/cache", "agent/localapi"},
}

func match(pattern, pkg string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == p || strings.HasPrefix(pkg, p+"/")
	}
	return pkg == pattern
}

func layerOf(pkg string) int {
	for i, ps := range layers {
		for _, p := range ps {
			if match(p, pkg) {
				return i
			}
		}
	}
	return -1
}

// TestImportDirection lists every package of the module with its imports
// (go list -deps, in the default build and with the build tags of the
// dynamic and demo flavours) and fails on any import that points up a
// layer or is forbidden, and on any package no layer names.
func TestImportDirection(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, tags := range []string{"", "edged_dynamic,edged_fake"} {
		cmd := exec.Command(testenv.GoTool(t), "list", "-deps", "-tags="+tags, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...")
		cmd.Dir = "../.."
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps -tags=%q: %v", tags, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			pkg, ok := strings.CutPrefix(f[0], module)
			if !ok {
				continue // the standard library and other modules
			}
			from := layerOf(pkg)
			if from < 0 {
				t.Errorf("package %s is in no layer: add it to the layers table (and to docs/ARCHITECTURE.md)", pkg)
				continue
			}
			for _, imp := range f[1:] {
				dep, ok := strings.CutPrefix(imp, module)
				if !ok {
					continue
				}
				if to := layerOf(dep); to > from {
					t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down (tags %q)", pkg, from, dep, to, tags)
				}
				for pat, deps := range forbidden {
					if match(pat, pkg) && contains(deps, dep) {
						t.Errorf("%s imports %s, which the design forbids (tags %q)", pkg, dep, tags)
					}
				}
			}
		}
	}
}

func contains(ps []string, dep string) bool {
	for _, p := range ps {
		if match(p, dep) {
			return true
		}
	}
	return false
}

// TestLayersTable checks the table's own sanity: every pattern names a
// package or a tree of packages that exists, so that a rename cannot
// leave a stale entry that silently matches nothing.
func TestLayersTable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	cmd := exec.Command(testenv.GoTool(t), "list", "-tags=edged_dynamic,edged_fake", module+"...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		pkgs = append(pkgs, strings.TrimPrefix(p, module))
	}
	check := func(pattern string) {
		for _, p := range pkgs {
			if match(pattern, p) {
				return
			}
		}
		t.Errorf("pattern %q matches no package", pattern)
	}
	for _, ps := range layers {
		for _, p := range ps {
			check(p)
		}
	}
	for pat, deps := range forbidden {
		check(pat)
		for _, d := range deps {
			check(d)
		}
	}
}
