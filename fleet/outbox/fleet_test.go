package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/testenv"
)

var _ Publisher = (*fleet.Client)(nil)

// TestFleetOutage is the end-to-end case of the drift and telemetry
// issue: the broker is down while 10 000 events are produced; when it
// comes up every event arrives once, in order, and the outbox is empty.
func TestFleetOutage(t *testing.T) {
	testenv.CheckLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens until the broker starts

	path := tempPath(t)
	b := open(t, path, fast())
	c, err := fleet.New(fleet.Options{Broker: "tcp://" + addr, DeviceID: "pi-7", OnConnect: b.Kick,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(2)
	go func() { defer wg.Done(); c.Run(ctx) }()
	go func() { defer wg.Done(); b.Deliver(ctx, c) }()

	const n = 10_000
	topic := fleet.EventsTopic("pi-7")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	seqs := make([]uint64, n)
	for i := range n {
		ev, err := fleet.Encode(&fleet.Event{Time: at, Kind: "test", Detail: json.RawMessage(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		if seqs[i], err = b.Append(Event, topic, ev); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, "failed publishes", 5*time.Second, func() bool { return b.Stats().PublishErrors >= 2 })

	// The broker comes up with a subscriber already in place.
	s := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler), InlineClient: true})
	defer s.Close()
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, n+100)
	if err := s.Subscribe(topic, 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) { got <- pk.Payload }); err != nil {
		t.Fatal(err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddListener(listeners.NewNet("t", ln)); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	for i := range n {
		select {
		case p := <-got:
			var ev fleet.Event
			if err := fleet.Decode(p, &ev); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if ev.Seq != seqs[i] || string(ev.Detail) != fmt.Sprint(i) {
				t.Fatalf("event %d: seq %d detail %s; want seq %d detail %d", i, ev.Seq, ev.Detail, seqs[i], i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d events received; want %d", i, n)
		}
	}
	t.Logf("%d events delivered in %v after the broker came up", n, time.Since(start).Round(time.Millisecond))
	testenv.WaitFor(t, "an empty outbox", 5*time.Second, func() bool { return b.Pending() == 0 })
	select {
	case p := <-got:
		t.Errorf("extra message %s", p)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	wg.Wait()
	b.Close()
	if m := fileMessages(t, path); m != 0 {
		t.Errorf("file holds %d records after delivery; want 0", m)
	}
}
