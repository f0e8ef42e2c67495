package brokertest

import (
	"testing"

	"github.com/edged-dev/edged/internal/mosquittotest"
)

// Mosquitto is one mosquitto whose retained messages and sessions are
// saved on Stop and survive Start.
type Mosquitto struct {
	*mosquittotest.Broker
}

// StartMosquitto runs a persistent mosquitto with unbounded queues (the
// settings of examples/mosquitto for a fleet's broker).
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	return &Mosquitto{mosquittotest.Start(t, &mosquittotest.Options{Persistent: true,
		Conf: []string{"max_inflight_messages 0", "max_queued_messages 0"}})}
}

func (*Mosquitto) Kind() string { return "mosquitto" }

func (*Mosquitto) Caps() Caps { return Caps{RetainedWildcard: true} }
