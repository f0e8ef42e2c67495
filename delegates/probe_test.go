package delegates_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
	"github.com/edged-dev/edged/internal/testenv"
)

// The checks the test binary runs as a child: each stands for one way a
// vendor library behaves when opened.
func registerTestChecks() {
	delegates.RegisterChildCheck("test-ok", func(ctx context.Context, req []byte, stage func(string)) delegates.ProbeOutcome {
		stage("opening the library")
		return delegates.ProbeOutcome{State: delegates.Healthy, Version: "2.21.0-test", Detail: "asked " + string(req)}
	})
	delegates.RegisterChildCheck("test-absent", func(ctx context.Context, req []byte, stage func(string)) delegates.ProbeOutcome {
		return delegates.ProbeOutcome{State: delegates.Absent, Reason: "dlopen libx.so: cannot open shared object file"}
	})
	delegates.RegisterChildCheck("test-killed", func(ctx context.Context, req []byte, stage func(string)) delegates.ProbeOutcome {
		stage("opening /lib/truncated.so")
		// The shell takes this process's place and dies of SIGBUS, as a
		// process without the Go runtime's handlers would.
		syscall.Exec("/bin/sh", []string{"sh", "-c", "kill -BUS $$"}, os.Environ())
		return delegates.ProbeOutcome{}
	})
	delegates.RegisterChildCheck("test-gocrash", func(ctx context.Context, req []byte, stage func(string)) delegates.ProbeOutcome {
		stage("opening /lib/truncated.so")
		// The Go runtime reports the signal and exits with status 2.
		syscall.Kill(os.Getpid(), syscall.SIGBUS)
		time.Sleep(time.Minute)
		return delegates.ProbeOutcome{}
	})
	delegates.RegisterChildCheck("test-hang", func(ctx context.Context, req []byte, stage func(string)) delegates.ProbeOutcome {
		stage("creating the GPU delegate")
		time.Sleep(time.Hour)
		return delegates.ProbeOutcome{}
	})
	delegates.RegisterChildCheck("test-exit", func(ctx context.Context, req []byte, stage func(string)) delegates.ProbeOutcome {
		stage("running the check model")
		os.Stderr.WriteString("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nlibrary: out of memory\n")
		os.Exit(3)
		return delegates.ProbeOutcome{}
	})
}

// useSelf runs the children under the emulator the test binary runs
// under, when there is one.
func useSelf(t *testing.T) {
	old := delegates.ChildCommand
	delegates.ChildCommand = func(args ...string) *exec.Cmd { return testenv.SelfCommand(args...) }
	t.Cleanup(func() { delegates.ChildCommand = old })
}

func TestCheckInChild(t *testing.T) {
	useSelf(t)
	base := delegates.ProbeOutcome{Backend: "xnnpack", Libraries: []string{"/lib/libx.so"}}
	tests := []struct {
		check     string
		timeout   time.Duration
		state     delegates.State
		reason    string
		version   string
		notReason string
	}{
		{check: "test-ok", state: delegates.Healthy, version: "2.21.0-test"},
		{check: "test-absent", state: delegates.Absent, reason: "dlopen libx.so: cannot open shared object file"},
		{check: "test-killed", state: delegates.Failed, reason: "the check process was killed by SIGBUS while opening /lib/truncated.so"},
		{check: "test-gocrash", state: delegates.Failed, reason: "the check process crashed with SIGBUS while opening /lib/truncated.so"},
		{check: "test-hang", timeout: 2 * time.Second, state: delegates.Failed, reason: "the check process did not finish within 2s (hung while creating the GPU delegate); killed"},
		{check: "test-exit", state: delegates.Failed, reason: "the check process failed (exit status 3) while running the check model: library: out of memory", notReason: "INFO"},
		{check: "test-unknown", state: delegates.Failed, reason: "this executable has no check test-unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.check, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = time.Minute
			}
			start := time.Now()
			o := delegates.CheckInChild(context.Background(), tt.check, []byte("req"), timeout, base)
			if o.State != tt.state || o.Reason != tt.reason || o.Version != tt.version || !o.Isolated {
				t.Errorf("outcome %+v\nwant state %s, reason %q, version %q, isolated", o, tt.state, tt.reason, tt.version)
			}
			if o.Backend != "xnnpack" || len(o.Libraries) != 1 || o.At.Before(start) || o.Took <= 0 {
				t.Errorf("outcome %+v; want the backend, libraries, time and duration filled in", o)
			}
			if tt.state == delegates.Healthy && o.Detail != "asked req" {
				t.Errorf("detail %q; want the request to reach the child (\"asked req\")", o.Detail)
			}
			if tt.notReason != "" && strings.Contains(o.Reason, tt.notReason) {
				t.Errorf("reason %q mentions %q", o.Reason, tt.notReason)
			}
			if err := o.Err(); (err == nil) != (tt.state == delegates.Healthy) || errors.Is(err, delegates.ErrNotPresent) != (tt.state == delegates.Absent) {
				t.Errorf("Err() = %v for state %s", err, tt.state)
			}
		})
	}
}

func TestProbeOutcomeJSON(t *testing.T) {
	o := delegates.ProbeOutcome{Backend: "gpu", State: delegates.Failed, Reason: "r"}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"state":"failed"`) {
		t.Errorf("JSON %s; want \"state\":\"failed\"", b)
	}
	var back delegates.ProbeOutcome
	if err := json.Unmarshal(b, &back); err != nil || back.State != delegates.Failed {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}

// checked is an accelerator that reports a library check.
type checked struct {
	*delegatetest.Accelerator
	o delegates.ProbeOutcome
}

func (c checked) LastProbe() (delegates.ProbeOutcome, bool) { return c.o, true }

// TestChainShowsCheck: a chain's status carries each backend's library
// check, and CheckBackend combines it with Probe's verdict.
func TestChainShowsCheck(t *testing.T) {
	model, _ := personDetect(t)
	acc := delegatetest.New("xnnpack", cpu)
	acc.Vanish()
	b := checked{acc, delegates.ProbeOutcome{Backend: "xnnpack", State: delegates.Healthy, Version: "2.21.0-dev", Isolated: true}}
	links := []delegates.Link{{Backend: b, Variant: "cpu", Model: model}, {Backend: cpu, Variant: "cpu", Model: model}}
	c, err := delegates.NewChain(context.Background(), "person_detect", links, &delegates.Options{BackoffInitial: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := c.Status()
	if st[0].Check == nil || st[0].Check.Version != "2.21.0-dev" || st[1].Check != nil {
		t.Errorf("Status checks = %v, %v; want the accelerator's (2.21.0-dev) and none for the cpu", st[0].Check, st[1].Check)
	}
	o := delegates.CheckBackend(context.Background(), b)
	if o.State != delegates.Absent || o.Version != "2.21.0-dev" || !o.Isolated || o.Reason == "" {
		t.Errorf("CheckBackend = %+v; want absent (Probe's verdict) with the check's version and a reason", o)
	}
	if o := delegates.CheckBackend(context.Background(), cpu); o.State != delegates.Healthy || o.Backend != "cpu" || o.Isolated {
		t.Errorf("CheckBackend(cpu) = %+v; want healthy, not isolated", o)
	}
}
