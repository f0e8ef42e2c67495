package testenv

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// FreeAddr returns a loopback host:port that nobody listens on (yet).
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free loopback port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// CheckLeaks fails t if goroutines started during it outlive it. Called
// first in a test, its check runs after every cleanup registered later
// (brokers, peers, clients), as cleanups run last-in first-out.
func CheckLeaks(t testing.TB) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// WaitFor polls cond every 5ms until it holds, failing t after d with
// what it waited for.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// SyncBuffer is a bytes.Buffer that several goroutines may use at once:
// exec's output copiers or a logger, and the test reading it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
