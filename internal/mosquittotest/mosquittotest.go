// Package mosquittotest runs a real mosquitto broker on a free loopback
// port for the length of a test, so that MQTT code is tested against the
// broker devices use rather than a fake. It is imported only by tests.
//
// When mosquitto is not installed the test is skipped, or fails where
// EDGED_REQUIRE_TOOLS is set (see internal/testenv).
package mosquittotest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
)

// Options configures a broker; nil means defaults.
type Options struct {
	// Addr is the host:port to listen on; empty means a free loopback
	// port. Set it when the address must be known before the broker
	// exists (a client built before an outage ends).
	Addr string
	// Conf holds extra mosquitto.conf lines, written after the listener
	// line so that listener options apply to it: TLS files,
	// "require_certificate true"; or global ones, "max_queued_messages 0".
	Conf []string
	// Persistent keeps retained messages and sessions in the test's temp
	// dir, saved when Stop sends SIGTERM, so that they survive Restart.
	Persistent bool
	// PasswordFile, when set, is the broker's password_file (made with
	// mosquitto_passwd) and anonymous clients are refused; ACLFile, when
	// set, its acl_file.
	PasswordFile string
	ACLFile      string
}

// startTimeout bounds the wait for the listener: mosquitto is up in tens
// of milliseconds, but the test machines are shared and slow.
const startTimeout = 10 * time.Second

// stopTimeout bounds the wait after SIGTERM before the broker is killed.
const stopTimeout = 5 * time.Second

// Broker is a mosquitto process on a fixed address. Its methods may be
// called from any goroutine.
type Broker struct {
	t    testing.TB
	bin  string
	conf string
	log  string // mosquitto's stdout and stderr, appended across restarts
	addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has exited
}

// Start runs a broker until the test ends and returns once it accepts
// connections.
func Start(t testing.TB, opts *Options) *Broker {
	t.Helper()
	b := New(t, opts)
	b.Start()
	return b
}

// New writes the broker's configuration and reserves its address but does
// not run it: call Start. The broker is stopped when the test ends, and
// its output logged if the test failed.
func New(t testing.TB, opts *Options) *Broker {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	b := &Broker{t: t, bin: binary(t), addr: opts.Addr}
	if b.addr == "" {
		b.addr = testenv.FreeAddr(t)
	}
	host, port, err := net.SplitHostPort(b.addr)
	if err != nil {
		t.Fatalf("mosquittotest: address %q: want host:port: %v", b.addr, err)
	}
	dir := t.TempDir()
	lines := []string{"listener " + port + " " + host, "log_dest stderr"}
	if opts.PasswordFile != "" {
		lines = append(lines, "allow_anonymous false", "password_file "+opts.PasswordFile)
	} else {
		lines = append(lines, "allow_anonymous true")
	}
	if opts.ACLFile != "" {
		lines = append(lines, "acl_file "+opts.ACLFile)
	}
	if opts.Persistent {
		// autosave_interval 0 saves only on exit, so a SIGTERM is the
		// one moment the state reaches the disk.
		lines = append(lines, "persistence true", "persistence_location "+dir+"/", "autosave_interval 0")
	} else {
		lines = append(lines, "persistence false")
	}
	lines = append(lines, opts.Conf...)
	if os.Getuid() == 0 {
		// Started as root, mosquitto 2 drops to user mosquitto and then
		// cannot read TLS files or persistence in the test's temp dir.
		lines = append(lines, "user root")
	}
	b.conf = filepath.Join(dir, "mosquitto.conf")
	b.log = filepath.Join(dir, "mosquitto.log")
	if err := os.WriteFile(b.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatalf("mosquittotest: write config: %v", err)
	}
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", b.Output())
		}
	})
	return b
}

// binary finds mosquitto on PATH or where Debian and a source build put
// it (sbin is often not on a user's PATH).
func binary(t testing.TB) string {
	t.Helper()
	if bin, err := exec.LookPath("mosquitto"); err == nil {
		return bin
	}
	for _, bin := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
	}
	testenv.Missing(t, "mosquitto is not installed (apt-get install mosquitto)")
	return ""
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return b.addr }

// Pid is the broker's process id, 0 when it is not running (for load
// scripts reading /proc).
func (b *Broker) Pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// URL is the broker's plain MQTT URL, tcp://host:port.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Output is what mosquitto has logged so far.
func (b *Broker) Output() string {
	out, err := os.ReadFile(b.log)
	if err != nil {
		return fmt.Sprintf("(no output: %v)", err)
	}
	return string(out)
}

// Start runs the broker and returns once it accepts connections; it fails
// the test if the broker is already running, exits, or does not listen
// within 10 s.
func (b *Broker) Start() {
	b.t.Helper()
	b.mu.Lock()
	if b.cmd != nil {
		b.mu.Unlock()
		b.t.Fatalf("mosquittotest: Start on %s: already running", b.addr)
	}
	// A file, not a buffer: the child writes it directly, so there is no
	// copying goroutine and Output can read it at any time.
	log, err := os.OpenFile(b.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		b.mu.Unlock()
		b.t.Fatalf("mosquittotest: open log: %v", err)
	}
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = log, log
	err = cmd.Start()
	log.Close()
	if err != nil {
		b.mu.Unlock()
		b.t.Fatalf("mosquittotest: start %s: %v", b.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.cmd, b.done = cmd, done
	b.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		if c, err := net.DialTimeout("tcp", b.addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			b.t.Fatalf("mosquitto exited before listening on %s (%v); its output is logged at the end of the test", b.addr, cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto did not listen on %s within %v; its output is logged at the end of the test", b.addr, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the broker with SIGTERM, which makes a Persistent broker save
// its state, and waits for it to exit (killing it after 5 s). It does
// nothing if the broker is not running.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(stopTimeout):
		b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd, b.done = nil, nil
}

// Restart stops the broker and starts it again on the same address.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.Start()
}
