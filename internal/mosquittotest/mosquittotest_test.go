package mosquittotest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edged-dev/edged/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The packets below are MQTT 3.1.1 (OASIS standard, sections 3.1-3.9),
// worked by hand.
var (
	// CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60 s,
	// client id "t1". Remaining length 10 + 2 + 2 = 14.
	connect = []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 't', '1'}
	// CONNACK: session not present, return code 0 (accepted).
	connack = []byte{0x20, 2, 0, 0}
	// PUBLISH QoS 0 with RETAIN to topic "t/r", payload "hi":
	// remaining length 2 + 3 + 2 = 7.
	publishRetained = []byte{0x31, 7, 0, 3, 't', '/', 'r', 'h', 'i'}
	// SUBSCRIBE packet id 1 to "t/r" at QoS 0: remaining length 2 + 2 + 3 + 1 = 8.
	subscribe = []byte{0x82, 8, 0, 1, 0, 3, 't', '/', 'r', 0}
	// SUBACK for packet id 1, granted QoS 0.
	suback     = []byte{0x90, 3, 0, 1, 0}
	disconnect = []byte{0xe0, 0}
)

// session dials addr and completes CONNECT/CONNACK.
func session(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	send(t, c, connect)
	expect(t, c, "CONNACK", connack)
	return c
}

func send(t *testing.T, c net.Conn, p []byte) {
	t.Helper()
	if _, err := c.Write(p); err != nil {
		t.Fatalf("write % x: %v", p, err)
	}
}

func expect(t *testing.T, c net.Conn, what string, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read %s: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s = % x; want % x", what, got, want)
	}
}

// TestRestartRetained publishes a retained message, restarts the broker
// and subscribes: a Persistent broker saved it on SIGTERM, an in-memory
// one lost it.
func TestRestartRetained(t *testing.T) {
	tests := []struct {
		name       string
		persistent bool
		want       bool // retained message delivered after Restart
	}{
		{name: "persistent", persistent: true, want: true},
		{name: "in memory", persistent: false, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := Start(t, &Options{Persistent: tc.persistent})
			if !strings.HasPrefix(b.Addr(), "127.0.0.1:") || b.URL() != "tcp://"+b.Addr() {
				t.Fatalf("Addr() = %q, URL() = %q; want 127.0.0.1:port and tcp:// before it", b.Addr(), b.URL())
			}
			c := session(t, b.Addr())
			send(t, c, publishRetained)
			send(t, c, disconnect)
			// The broker closes the connection only after it has handled
			// every packet before DISCONNECT, so the message is stored.
			if n, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Fatalf("read after DISCONNECT = %d, %v; want EOF", n, err)
			}

			b.Restart()
			c = session(t, b.Addr())
			send(t, c, subscribe)
			expect(t, c, "SUBACK", suback)
			if !tc.want {
				c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				if n, err := c.Read(make([]byte, 1)); !isTimeout(err) {
					t.Fatalf("read after SUBACK = %d bytes, %v; want nothing (retained message lost)", n, err)
				}
				return
			}
			// A retained message sent on subscription keeps RETAIN set.
			expect(t, c, "retained PUBLISH", publishRetained)
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestConf: extra lines reach mosquitto; a listener on a second port
// accepts MQTT too.
func TestConf(t *testing.T) {
	second := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(second)
	b := Start(t, &Options{Conf: []string{"listener " + port + " 127.0.0.1"}})
	session(t, b.Addr())
	session(t, second)
}

// TestStop: after Stop nothing listens, and Stop twice is harmless.
func TestStop(t *testing.T) {
	b := Start(t, nil)
	b.Stop()
	b.Stop()
	if c, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("dial %s after Stop succeeded; want refused", b.Addr())
	}
}

// TestNewAddr: a broker made with a fixed address listens there once
// started, not before.
func TestNewAddr(t *testing.T) {
	addr := testenv.FreeAddr(t)
	b := New(t, &Options{Addr: addr})
	if b.Addr() != addr {
		t.Fatalf("Addr() = %q; want %q", b.Addr(), addr)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("dial %s before Start succeeded; want refused", addr)
	}
	b.Start()
	session(t, addr)
	// mosquitto logs its start-up to stderr (log_dest stderr).
	if out := b.Output(); !strings.Contains(out, "starting") {
		t.Errorf("Output() = %q; want the start-up log", out)
	}
}
