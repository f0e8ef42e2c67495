package link

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edged-dev/edged/internal/testenv"
)

func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func mosquittoBin(t *testing.T) string {
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

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// broker is a mosquitto process on a fixed address; Stop and Start
// simulate an outage. Its state (persistent sessions and their queued
// messages) is kept in dir across restarts.
type broker struct {
	t    *testing.T
	bin  string
	addr string
	conf string
	cmd  *exec.Cmd
	out  bytes.Buffer
}

func newBroker(t *testing.T, addr string) *broker {
	t.Helper()
	b := &broker{t: t, bin: mosquittoBin(t), addr: addr}
	dir := t.TempDir()
	_, port, _ := net.SplitHostPort(addr)
	b.conf = filepath.Join(dir, "mosquitto.conf")
	text := strings.Join([]string{
		"listener " + port + " 127.0.0.1", "allow_anonymous true",
		"persistence true", "persistence_location " + dir + "/", "autosave_interval 0",
		// The subscriber's session queues every message of the outage.
		"max_queued_messages 0", "max_inflight_messages 0", "log_dest stderr",
	}, "\n") + "\n"
	if os.Getuid() == 0 {
		text += "user root\n"
	}
	if err := os.WriteFile(b.conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", b.out.String())
		}
	})
	return b
}

func (b *broker) Start() {
	b.t.Helper()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.out
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	waitFor(b.t, "mosquitto on "+b.addr, 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", b.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// Stop ends mosquitto with SIGTERM, so that it saves its sessions.
func (b *broker) Stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
	b.cmd = nil
}

func waitFor(t testing.TB, what string, d time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}
