// Package testenv decides what a test does when a tool it needs (node and
// the TFLite oracle, mosquitto, qemu) is missing: it skips on a developer's
// machine, and fails where EDGED_REQUIRE_TOOLS is set — as `make test` and
// CI set it — so that a missing tool can never turn a check into a pass.
package testenv

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"
)

// Missing reports that what the test needs is absent: t.Skip normally,
// t.Fatal when EDGED_REQUIRE_TOOLS is set.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("EDGED_REQUIRE_TOOLS") != "" {
		t.Fatalf("EDGED_REQUIRE_TOOLS is set, but: "+format, args...)
	}
	t.Skipf(format, args...)
}

// SelfCommand runs the test binary itself again (for tests that kill a
// child process). Under qemu-user without binfmt_misc the binary cannot
// be executed directly: scripts/cross-test.sh names the emulator in
// EDGED_TEST_EMULATOR, and the child runs under it.
func SelfCommand(args ...string) *exec.Cmd {
	if emu := os.Getenv("EDGED_TEST_EMULATOR"); emu != "" {
		return exec.Command(emu, append([]string{os.Args[0]}, args...)...)
	}
	return exec.Command(os.Args[0], args...)
}

// GoTool returns the path of the go command for tests that build binaries,
// reporting it Missing when it is not on PATH.
func GoTool(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		Missing(t, "the go command is not on PATH: %v", err)
	}
	return p
}

// Build builds a command of this repository (pkg as "./cmd/edged") into
// dir and returns the binary's path, named as the package's directory.
func Build(t testing.TB, dir, pkg string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, path.Base(pkg))
	cmd := exec.Command(GoTool(t), "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}
