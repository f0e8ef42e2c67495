package mqttlimit_test

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/internal/mqttlimit"
	"github.com/edged-dev/edged/internal/testenv"
)

// TestBroker: through a real mosquitto, a retained 3 MB message reaches a
// limited client as an empty payload that the client acknowledges (so it
// is not sent again within the session), on every connection, and the
// connection stays up; small messages pass unchanged.
func TestBroker(t *testing.T) {
	b := mosquittotest.Start(t, nil)
	op := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("op"))
	if tok := op.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer op.Disconnect(100)
	big := bytes.Repeat([]byte("x"), 3<<20)
	for topic, payload := range map[string][]byte{"big": big, "small": []byte("hello")} {
		if tok := op.Publish(topic, 1, true, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	for conn := 1; conn <= 2; conn++ {
		var mu sync.Mutex
		got := map[string][]byte{}
		var drops, lost atomic.Int32
		o := mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("dev").SetAutoReconnect(false).
			SetCustomOpenConnectionFn(mqttlimit.OpenConnection(64<<10, func(topic string, size int) {
				if topic == "big" && size == len(big) {
					drops.Add(1)
				}
			})).
			SetConnectionLostHandler(func(mqtt.Client, error) { lost.Add(1) })
		c := mqtt.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		tok := c.SubscribeMultiple(map[string]byte{"big": 1, "small": 1}, func(_ mqtt.Client, m mqtt.Message) {
			mu.Lock()
			got[m.Topic()] = m.Payload()
			mu.Unlock()
		})
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		testenv.WaitFor(t, "both retained messages", 10*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) == 2
		})
		mu.Lock()
		if len(got["big"]) != 0 || string(got["small"]) != "hello" {
			t.Errorf("connection %d: big %d bytes, small %q; want 0 and hello", conn, len(got["big"]), got["small"])
		}
		mu.Unlock()
		if drops.Load() != 1 || lost.Load() != 0 || !c.IsConnectionOpen() {
			t.Errorf("connection %d: %d drops, %d losses, open %v; want 1, 0, true", conn, drops.Load(), lost.Load(), c.IsConnectionOpen())
		}
		c.Disconnect(100)
	}
}
