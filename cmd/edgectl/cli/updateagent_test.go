package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/ota/selfupdate"
)

// buildEdged builds cmd/edged as release version into dir.
func buildEdged(t *testing.T, out, version string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, "-ldflags", "-X main.version="+version, "../../edged")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build edged %s: %v\n%s", version, err, b)
	}
}

// supervisor restarts a command when it exits with ExitRestart, as
// systemd's Restart=on-failure does for edged.service.
type supervisor struct {
	mu    sync.Mutex
	cmd   *exec.Cmd
	log   testenv.SyncBuffer
	exits []int
	done  chan struct{}
	stop  bool
}

func supervise(t *testing.T, exe string, args ...string) *supervisor {
	s := &supervisor{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			s.mu.Lock()
			if s.stop {
				s.mu.Unlock()
				return
			}
			cmd := exec.Command(exe, args...)
			// As systemd does: edged exits for its supervisor to restart it.
			cmd.Env = append(os.Environ(), "INVOCATION_ID=test")
			cmd.Stdout, cmd.Stderr = &s.log, &s.log
			err := cmd.Start()
			s.cmd = cmd
			s.mu.Unlock()
			if err != nil {
				fmt.Fprintln(&s.log, "supervisor:", err)
				return
			}
			err = cmd.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			s.mu.Lock()
			s.exits = append(s.exits, code)
			s.mu.Unlock()
			if code != selfupdate.ExitRestart {
				return
			}
		}
	}()
	t.Cleanup(func() {
		s.mu.Lock()
		s.stop = true
		if s.cmd != nil && s.cmd.Process != nil {
			s.cmd.Process.Signal(syscall.SIGTERM)
		}
		s.mu.Unlock()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("edged did not stop 30s after SIGTERM")
		}
		if t.Failed() {
			t.Logf("edged output:\n%s", s.log.String())
		}
	})
	return s
}

// TestUpdateAgentRealEdged updates a real edged from 1.0.0 to 2.0.0
// through the broker: edgectl signs and pushes the binary, the agent
// downloads, verifies and swaps it and exits with ExitRestart, the
// supervisor starts it again, and the new binary reports active once it is
// healthy.
func TestUpdateAgentRealEdged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds edged twice")
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	broker := startMosquitto(t)
	keys := filepath.Join(t.TempDir(), "keys")
	if out, err := edgectl(t, "keys", "init", keys, "--purpose", "agent"); err != nil {
		t.Fatalf("keys init: %v\n%s", err, out)
	}
	signing, _ := filepath.Glob(filepath.Join(keys, "agent-*.key"))
	if len(signing) != 1 {
		t.Fatalf("signing keys: %v", signing)
	}

	bins := t.TempDir()
	v1 := filepath.Join(bins, "edged-1.0.0")
	v2 := filepath.Join(bins, "edged-new") // the platform is read from the file
	start := time.Now()
	buildEdged(t, v1, "1.0.0")
	buildEdged(t, v2, "2.0.0")
	t.Logf("built edged twice in %v", time.Since(start).Round(time.Millisecond))
	fi, err := os.Stat(v2)
	if err != nil {
		t.Fatal(err)
	}

	// device installs v1 as a device's edged and writes its config.
	device := func(id string) (exe, cfg string) {
		dev := t.TempDir()
		exe = filepath.Join(dev, "bin", "edged")
		checkErr(t, os.MkdirAll(filepath.Dir(exe), 0o755))
		b, err := os.ReadFile(v1)
		checkErr(t, err)
		checkErr(t, os.WriteFile(exe, b, 0o755))
		model, err := filepath.Abs("../../../testdata/models/person_detect.tflite")
		checkErr(t, err)
		cfg = filepath.Join(dev, "edged.yaml")
		checkErr(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
version: 1
state_dir: %s
device: {id: %s}
http: {listen: "127.0.0.1:0"}
models:
  - {name: person, version: "1", path: %s}
fleet: {broker: %s, min_backoff: 50ms, max_backoff: 500ms}
telemetry: {interval: 1h}
ota: {root_key: %s}
`, filepath.Join(dev, "state"), id, model, broker, filepath.Join(keys, "root.pub"))), 0o644))
		return exe, cfg
	}
	checkVersions := func(exe string) {
		t.Helper()
		for path, want := range map[string]string{exe: "edged 2.0.0", exe + ".old": "edged 1.0.0"} {
			got, err := exec.Command(path, "--version").Output()
			if err != nil || strings.TrimSpace(string(got)) != want {
				t.Errorf("%s --version = %q, %v; want %q", path, got, err, want)
			}
		}
	}

	// Under a supervisor (systemd): edged exits with 75 and is started
	// again.
	exe, cfg := device("pi-1")
	sup := supervise(t, exe, "--config", cfg)
	start = time.Now()
	out, err := edgectl(t, "update-agent", "--broker", broker, "--binary", v2, "--version", "2.0.0", "--key", signing[0],
		"--device", "pi-1", "--wait", "--timeout", "2m", "--id", "u1")
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("update-agent: %v\n%s", err, out)
	}
	t.Logf("edgectl update-agent (%.1f MB) took %v:\n%s", float64(fi.Size())/1e6, elapsed.Round(time.Millisecond), out)
	for _, want := range []string{"downloading", "verified", "restarting", "active: running version 2.0.0", "1 device(s) running edged 2.0.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("update-agent output lacks %q", want)
		}
	}
	checkVersions(exe)
	sup.mu.Lock()
	exits := append([]int(nil), sup.exits...)
	sup.mu.Unlock()
	if len(exits) != 1 || exits[0] != selfupdate.ExitRestart {
		t.Errorf("edged exits = %v; want one exit %d for the update", exits, selfupdate.ExitRestart)
	}
	for _, line := range strings.Split(sup.log.String(), "\n") {
		if strings.Contains(line, "new binary in place") || strings.Contains(line, "new version is healthy") {
			t.Logf("edged: %s", line)
		}
	}
	// No retained command, status or chunk is left behind.
	for topic := range retained(t, broker) {
		if strings.Contains(topic, "/cmd/") || strings.Contains(topic, "/blob/") {
			t.Errorf("retained after update-agent --wait: %s", topic)
		}
	}

	// Without a supervisor: edged starts the new binary in its own
	// process, and the wait ends as under systemd.
	exe, cfg = device("pi-2")
	p := startPlain(t, exe, nil, "--config", cfg)
	out, err = edgectl(t, "update-agent", "--broker", broker, "--binary", v2, "--version", "2.0.0", "--key", signing[0],
		"--device", "pi-2", "--wait", "--timeout", "2m", "--id", "u2")
	if err != nil || !strings.Contains(out, "1 device(s) running edged 2.0.0") {
		t.Fatalf("update-agent without a supervisor: %v\n%s\nedged:\n%s", err, out, p.log.String())
	}
	checkVersions(exe)
	if !strings.Contains(p.log.String(), "not under a supervisor: starting") || p.exited() {
		t.Errorf("edged without a supervisor: exited %v; want it to run the new binary in place:\n%s", p.exited(), p.log.String())
	}

	// Told to exit and nobody restarts it: the wait says so at once
	// instead of timing out.
	exe, cfg = device("pi-3")
	startPlain(t, exe, []string{"EDGED_RESTART=exit"}, "--config", cfg)
	start = time.Now()
	out, err = edgectl(t, "update-agent", "--broker", broker, "--binary", v2, "--version", "2.0.0", "--key", signing[0],
		"--device", "pi-3", "--wait", "--timeout", "5m", "--restart-grace", "3s", "--id", "u3")
	if err == nil || !strings.Contains(err.Error(), "pi-3 installed the new binary and stopped to restart, but nothing started edged again") {
		t.Fatalf("update-agent to a device nobody restarts: %v\n%s", err, out)
	}
	if el := time.Since(start); el > 2*time.Minute {
		t.Errorf("the wait took %v; want it to end soon after the device stopped", el)
	}
}

// plain is an edged run without a supervisor.
type plain struct {
	cmd  *exec.Cmd
	log  testenv.SyncBuffer
	done chan struct{}
}

func (p *plain) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func startPlain(t *testing.T, exe string, env []string, args ...string) *plain {
	t.Helper()
	p := &plain{cmd: exec.Command(exe, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	checkErr(t, p.cmd.Start())
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			t.Error("edged did not stop 30s after SIGTERM")
		}
		if t.Failed() {
			t.Logf("edged output:\n%s", p.log.String())
		}
	})
	return p
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBinaryPlatform: update-agent reads a binary's platform from the
// file, whatever its name, and refuses one stamped with another version
// than --version or with none.
func TestBinaryPlatform(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	checkErr(t, os.WriteFile(src, []byte("package main\n\nvar version = \"dev\"\n\nfunc main() { println(version) }\n"), 0o644))
	build := func(name, ldflags string, env ...string) string {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, "-ldflags", ldflags, src)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off"), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, b)
		}
		return out
	}
	armv6 := build("edged-release", "-s -w -X main.version=1.4.0", "GOOS=linux", "GOARCH=arm", "GOARM=6")
	arm64 := build("a.out", "-X main.version=1.4.0", "GOOS=linux", "GOARCH=arm64")
	dev := build("edged-linux-amd64", "", "GOOS=linux", "GOARCH=amd64")
	// No Go build information: the ELF header's machine.
	bare := filepath.Join(dir, "edged")
	checkErr(t, os.WriteFile(bare, elfHeader(183), 0o755))
	v140, _ := selfupdate.ParseVersion("1.4.0")
	for _, tc := range []struct {
		arg, variant, err string
	}{
		{armv6, "linux-armv6", ""},
		{arm64, "linux-arm64", ""},
		{"linux-arm64=" + arm64, "linux-arm64", ""},
		{bare, "linux-arm64", ""},
		{"linux-armv7=" + armv6, "", "built for linux-armv6, not linux-armv7"},
		{dev, "", "not stamped with a release version (it reports \"dev\")"},
	} {
		blob, _, err := binaryBlob(tc.arg, v140)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("binaryBlob(%s) = %v; want an error saying %q", tc.arg, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("binaryBlob(%s): %v", tc.arg, err)
		case tc.err == "" && blob.Variant != tc.variant:
			t.Errorf("binaryBlob(%s) variant %q; want %q", tc.arg, blob.Variant, tc.variant)
		}
	}
	v2, _ := selfupdate.ParseVersion("2.0.0")
	if _, _, err := binaryBlob(arm64, v2); err == nil || !strings.Contains(err.Error(), "reports version 1.4.0, not 2.0.0") {
		t.Errorf("binaryBlob of a 1.4.0 build for --version 2.0.0 = %v; want refused", err)
	}
}
