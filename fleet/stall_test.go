package fleet

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/edged-dev/edged/internal/testenv"
)

// stalledBroker accepts one MQTT connection and then stops reading it,
// as a broker out of memory does: the client's writes fill the socket
// and stay there.
func stalledBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 1)
	go func() {
		defer close(conns)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if _, err := packets.ReadPacket(c); err != nil { // CONNECT
			c.Close()
			return
		}
		ack := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
		if err := ack.Write(c); err != nil {
			c.Close()
			return
		}
		conns <- c
	}()
	t.Cleanup(func() {
		ln.Close()
		if c, ok := <-conns; ok {
			c.Close()
		}
	})
	return "tcp://" + ln.Addr().String()
}

// TestPublishStalledBroker: when the broker stops reading, a Publish
// waiting for the connection to take its message returns once its
// context ends, and Run returns once its own ends, instead of both
// waiting for paho's 30 s write timeout.
func TestPublishStalledBroker(t *testing.T) {
	c, err := New(Options{Broker: stalledBroker(t), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	go func() { c.Run(ctx); close(ran) }()
	testenv.WaitFor(t, "the connection", 10*time.Second, func() bool { return c.sess.Client() != nil })

	// More than the sockets hold: the connection's writer blocks on it.
	big := make([]byte, 32<<20)
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	err = c.Publish(pctx, "stall/big", big, 0, false)
	pcancel()
	if err == nil {
		t.Fatal("a 32 MiB publish to a broker that reads nothing succeeded")
	}
	// The next messages wait for the writer (paho holds one between its
	// callers and the writer); their callers give up after 200 ms.
	for i := range 3 {
		pctx, pcancel = context.WithTimeout(ctx, 200*time.Millisecond)
		t0 := time.Now()
		err = c.Publish(pctx, "stall/next", []byte("x"), 1, false)
		pcancel()
		if d := time.Since(t0); err == nil || d > 5*time.Second {
			t.Fatalf("publish %d behind a stalled write: %v after %v; want the context's error within 5 s", i+1, err, d.Round(time.Millisecond))
		}
	}
	// Messages given up on pile up to a bound, then a publish is refused
	// at once.
	refused := false
	for i := 0; i < 100 && !refused; i++ {
		pctx, pcancel = context.WithTimeout(ctx, 20*time.Millisecond)
		t0 := time.Now()
		err = c.Publish(pctx, "stall/more", []byte("x"), 1, false)
		pcancel()
		if err != nil && strings.Contains(err.Error(), "has not taken the last 64 messages") {
			refused = true
			if d := time.Since(t0); d > time.Second {
				t.Errorf("refusal after %v; want it at once", d)
			}
		}
	}
	if !refused {
		t.Error("100 publishes given up on behind a stalled write were all queued; want a refusal beyond 64")
	}
	cancel()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5 s after its context ended")
	}
}

// TestConnectedMeansSetUp: a device whose broker accepted the connection
// but never acknowledges its subscription is not connected in Stats: it
// cannot receive commands.
func TestConnectedMeansSetUp(t *testing.T) {
	c, err := New(Options{Broker: stalledBroker(t), DeviceID: "pi-9", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { c.Run(ctx); close(ran) }()
	defer func() { cancel(); <-ran }()
	testenv.WaitFor(t, "the broker's acceptance", 10*time.Second, func() bool { return c.sess.Client() != nil })
	time.Sleep(100 * time.Millisecond) // the subscription is sent, and not acknowledged
	if s := c.Stats(); s.Connected || s.Connects != 1 {
		t.Errorf("stats %+v while subscribing; want one connection, not connected", s)
	}
}
