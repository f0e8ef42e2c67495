package link

import (
	"testing"

	"github.com/edged-dev/edged/internal/mosquittotest"
)

// newBroker makes a mosquitto on addr, not yet started; Stop and Start
// simulate an outage. Its state (persistent sessions and their queued
// messages) is saved on Stop and survives the restart.
func newBroker(t *testing.T, addr string) *mosquittotest.Broker {
	t.Helper()
	return mosquittotest.New(t, &mosquittotest.Options{Addr: addr, Persistent: true,
		// The subscriber's session queues every message of the outage.
		Conf: []string{"max_queued_messages 0", "max_inflight_messages 0"}})
}
