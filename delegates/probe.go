package delegates

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProbeOutcome is what a check of a backend's vendor libraries found.
// Libraries are checked in a child process before the daemon maps them
// (see CheckInChild): a truncated library can crash the process that
// opens it, a driver can hang, and another library can stand at the
// expected path.
type ProbeOutcome struct {
	Backend string `json:"backend"`
	// State: Healthy (the libraries passed), Absent (not on this host) or
	// Failed (present but unusable: Reason says why).
	State State `json:"state"`
	// Libraries are the files checked, as configured.
	Libraries []string `json:"libraries,omitempty"`
	// Version is what the library says it is (TfLiteVersion).
	Version string `json:"version,omitempty"`
	// Detail is what the check saw when it passed (devices, flags).
	Detail string `json:"detail,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Isolated is true when the check ran in a child process.
	Isolated bool          `json:"isolated"`
	Took     time.Duration `json:"took_ns"`
	At       time.Time     `json:"at"`
}

func (o ProbeOutcome) String() string {
	s := fmt.Sprintf("%s: %s", o.Backend, o.State)
	if o.Version != "" {
		s += " (TFLite " + o.Version + ")"
	}
	if o.Detail != "" {
		s += ": " + o.Detail
	}
	if o.Reason != "" {
		s += ": " + o.Reason
	}
	return s
}

// Err is the outcome as Probe's error: nil when it passed, wrapping
// ErrNotPresent when absent.
func (o ProbeOutcome) Err() error {
	switch o.State {
	case Healthy:
		return nil
	case Absent:
		return fmt.Errorf("%s: %w", o.Reason, ErrNotPresent)
	}
	return errors.New(o.Reason)
}

// MarshalText writes a State as its name, so that JSON shows "healthy",
// "absent" or "failed".
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a State's name.
func (s *State) UnmarshalText(b []byte) error {
	for _, v := range []State{Healthy, Absent, Failed} {
		if v.String() == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("unknown backend state %q", b)
}

// ProbeReporter is implemented by backends that check their libraries:
// LastProbe is the outcome of the latest check (false when none ran).
type ProbeReporter interface {
	LastProbe() (ProbeOutcome, bool)
}

// A ChildCheck runs in a child process started by CheckInChild: it gets
// the request and reports progress with stage (what it is about to do,
// so that a crash can be placed) before it returns its outcome.
type ChildCheck func(ctx context.Context, req []byte, stage func(string)) ProbeOutcome

var (
	childMu     sync.Mutex
	childChecks = map[string]ChildCheck{}
)

// RegisterChildCheck makes check available to CheckInChild under name;
// meant for init functions.
func RegisterChildCheck(name string, check ChildCheck) {
	childMu.Lock()
	defer childMu.Unlock()
	childChecks[name] = check
}

// The child is this executable, started with these variables set; the
// request comes on its standard input, the progress and outcome go to
// its standard output.
const (
	childEnv       = "EDGED_LIBRARY_CHECK"
	stagePrefix    = "stage "
	outcomePrefix  = "outcome "
	childStderrMax = 4 << 10
)

// ChildCommand starts the child process of a check: this executable with
// args. Tests whose binary runs under an emulator replace it.
var ChildCommand = func(args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, args...)
}

// ServeChildCheck runs the check this process was started for, writes
// its outcome and exits; it returns at once in any other process. Every
// main that links a backend with a ChildCheck calls it first thing.
func ServeChildCheck() {
	name := os.Getenv(childEnv)
	if name == "" {
		return
	}
	os.Exit(serveChild(name, os.Stdin, os.Stdout))
}

func serveChild(name string, in io.Reader, out io.Writer) int {
	childMu.Lock()
	check := childChecks[name]
	childMu.Unlock()
	if check == nil {
		fmt.Fprintf(out, "%s%s\n", outcomePrefix, mustJSON(ProbeOutcome{Backend: name, State: Failed, Reason: "this executable has no check " + name}))
		return 0
	}
	req, err := io.ReadAll(in)
	if err != nil {
		return 1
	}
	o := check(context.Background(), req, func(s string) {
		fmt.Fprintf(out, "%s%s\n", stagePrefix, strings.ReplaceAll(s, "\n", " "))
	})
	o.Isolated = true
	fmt.Fprintf(out, "%s%s\n", outcomePrefix, mustJSON(o))
	return 0
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // ProbeOutcome always marshals
	}
	return b
}

// CheckInChild runs the check name on req in a child process and returns
// its outcome; the child is killed after timeout. A child that crashes,
// hangs or answers nothing gives a Failed outcome whose Reason says so
// and names the stage it was at. base is the outcome's Backend and
// Libraries, filled in whatever happens.
func CheckInChild(ctx context.Context, name string, req []byte, timeout time.Duration, base ProbeOutcome) ProbeOutcome {
	start := time.Now()
	o := base
	fail := func(format string, args ...any) ProbeOutcome {
		o.State, o.Reason, o.Isolated = Failed, fmt.Sprintf(format, args...), true
		o.Took, o.At = time.Since(start), time.Now()
		return o
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := ChildCommand()
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	cmd.Stdin = bytes.NewReader(req)
	var stderr headBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fail("starting the check process: %v", err)
	}
	// Its own process group, so that the kill reaches whatever it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fail("starting the check process: %v", err)
	}
	done := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			close(killed)
		case <-done:
		}
	}()
	stage := "starting"
	var result []byte
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, stagePrefix):
			stage = strings.TrimPrefix(line, stagePrefix)
		case strings.HasPrefix(line, outcomePrefix):
			result = []byte(strings.TrimPrefix(line, outcomePrefix))
		}
	}
	werr := cmd.Wait()
	close(done)
	if result != nil {
		var got ProbeOutcome
		if err := json.Unmarshal(result, &got); err != nil {
			return fail("the check process answered %q: %v", result, err)
		}
		got.Backend, got.Libraries, got.Isolated = o.Backend, o.Libraries, true
		got.Took, got.At = time.Since(start), time.Now()
		return got
	}
	select {
	case <-killed:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail("the check process did not finish within %v (hung while %s); killed", timeout, stage)
		}
		return fail("check cancelled while %s: %v", stage, ctx.Err())
	default:
	}
	cause, crashed := exitCause(werr, stderr.String())
	if crashed {
		return fail("the check process %s while %s", cause, stage)
	}
	return fail("the check process %s while %s%s", cause, stage, lastLine(stderr.String()))
}

// goSignal finds the signal in the Go runtime's report of a fatal one: a
// fault in C code ("[signal SIGBUS: bus error code=…") or a signal it
// does not handle ("SIGBUS: bus error" at the start of a line).
var goSignal = regexp.MustCompile(`(?m)\[signal (SIG[A-Z]+)|^(SIG[A-Z]+): `)

// exitCause says how a child ended without answering: killed by a
// signal, or a fatal signal the Go runtime caught and reported on its
// standard error (a fault in C code) — crashed — or an exit status.
func exitCause(err error, stderr string) (string, bool) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "was killed by " + signalName(ws.Signal()), true
		}
	}
	if m := goSignal.FindStringSubmatch(stderr); m != nil {
		return "crashed with " + m[1] + m[2], true
	}
	if err != nil {
		return "failed (" + err.Error() + ")", false
	}
	return "exited without an answer", false
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGBUS:
		return "SIGBUS"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGILL:
		return "SIGILL"
	case syscall.SIGKILL:
		return "SIGKILL"
	}
	return s.String()
}

// lastLine gives the last line of the child's standard error that says
// something (not a library's INFO log), for the reason.
func lastLine(s string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "INFO:") {
			if len(l) > 200 {
				l = l[:200] + "…"
			}
			return ": " + l
		}
	}
	return ""
}

// headBuffer keeps the first childStderrMax bytes written to it.
type headBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *headBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := childStderrMax - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (t *headBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// CheckBackend probes b and describes the outcome: its state and reason
// from Probe, with what the check of its libraries found (version,
// detail, isolation) when it reports one.
func CheckBackend(ctx context.Context, b Backend) ProbeOutcome {
	start := time.Now()
	present, err := b.Probe(ctx)
	o := ProbeOutcome{Backend: b.Name(), Took: time.Since(start), At: time.Now()}
	if c := LastCheck(b); c != nil {
		o = *c
	}
	o.State, o.Reason = ProbeState(present, err), ""
	if err != nil {
		o.Reason = err.Error()
	}
	return o
}
