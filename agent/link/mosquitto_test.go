package link

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edged-dev/edged/internal/mosquittotest"
)

func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
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

// newBroker makes a mosquitto on addr, not yet started; Stop and Start
// simulate an outage. Its state (persistent sessions and their queued
// messages) is saved on Stop and survives the restart.
func newBroker(t *testing.T, addr string) *mosquittotest.Broker {
	t.Helper()
	return mosquittotest.New(t, &mosquittotest.Options{Addr: addr, Persistent: true,
		// The subscriber's session queues every message of the outage.
		Conf: []string{"max_queued_messages 0", "max_inflight_messages 0"}})
}

func waitFor(t testing.TB, what string, d time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}
