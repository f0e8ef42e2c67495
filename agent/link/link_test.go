package link

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/outbox"
	"github.com/edged-dev/edged/internal/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

// subscriber is an operator's persistent session (clean session off) so
// that the broker queues what is published while it is away.
func subscriber(t *testing.T, addr, id string, filters map[string]byte, h mqtt.MessageHandler) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(false).SetOrderMatters(true).SetDefaultPublishHandler(h)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	if filters != nil {
		if tok := c.SubscribeMultiple(filters, h); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
	}
	return c
}

func newLink(t *testing.T, addr string, obOpts *outbox.Options) (*Link, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "outbox.db")
	l, err := New(Options{
		Fleet: fleet.Options{Broker: "tcp://" + addr, DeviceID: "pi-7", MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			ConnectTimeout: time.Second},
		Birth: func() fleet.State {
			return fleet.State{Version: "test", Models: []fleet.ModelState{{Name: "m", Active: "1"}}}
		},
		OutboxPath: path, Outbox: obOpts, Log: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, path
}

// TestOutage: the broker is down while 10 000 events are produced; when
// it comes back every event arrives once, in sequence order, and the
// outbox is empty.
func TestOutage(t *testing.T) {
	testenv.CheckLeaks(t)
	addr := testenv.FreeAddr(t)
	br := newBroker(t, addr)
	// The operator's session exists before the outage.
	br.Start()
	sub := subscriber(t, addr, "operator", map[string]byte{fleet.EventsTopic("pi-7"): 1}, func(mqtt.Client, mqtt.Message) {})
	sub.Disconnect(100)
	br.Stop()

	l, _ := newLink(t, addr, &outbox.Options{NoSync: true, MaxBytes: 16 << 20, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- l.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	}()

	const n = 10_000
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	start := time.Now()
	for i := range n {
		if _, err := l.Event(fleet.Event{Time: at, Kind: "test", Detail: json.RawMessage(fmt.Sprint(i))}); err != nil {
			t.Fatalf("Event(%d) = %v", i, err)
		}
	}
	t.Logf("queued %d events in %v while the broker was down", n, time.Since(start).Round(time.Millisecond))
	if got := l.Outbox().Pending(); got != n {
		t.Fatalf("Pending() = %d with the broker down; want %d", got, n)
	}
	if l.Client().Stats().ConnectFailures == 0 {
		testenv.WaitFor(t, "a failed connection attempt", 5*time.Second, func() bool { return l.Client().Stats().ConnectFailures > 0 })
	}

	var mu sync.Mutex
	var seqs []uint64
	var details []int
	got := make(chan struct{}, n+1000)
	start = time.Now()
	br.Start()
	sub = subscriber(t, addr, "operator", nil, func(_ mqtt.Client, m mqtt.Message) {
		var ev fleet.Event
		if err := fleet.Decode(m.Payload(), &ev); err != nil {
			t.Errorf("Decode(%s) = %v", m.Payload(), err)
			return
		}
		var d int
		json.Unmarshal(ev.Detail, &d)
		mu.Lock()
		seqs = append(seqs, ev.Seq)
		details = append(details, d)
		mu.Unlock()
		got <- struct{}{}
	})
	defer sub.Disconnect(100)
	// De-duplicate by seq as a receiver would; count distinct.
	testenv.WaitFor(t, "every event", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		seen := map[uint64]bool{}
		for _, s := range seqs {
			seen[s] = true
		}
		return len(seen) >= n
	})
	t.Logf("delivered %d events (%d messages) in %v after the broker came back", n, len(seqs), time.Since(start).Round(time.Millisecond))
	testenv.WaitFor(t, "an empty outbox", 10*time.Second, func() bool { return l.Outbox().Pending() == 0 })

	mu.Lock()
	defer mu.Unlock()
	var last uint64
	next := 0
	dups := 0
	for i, s := range seqs {
		if s <= last {
			dups++ // QoS 1 may repeat; a receiver drops it by seq
			continue
		}
		last = s
		if details[i] != next {
			t.Fatalf("event %d (seq %d) carries %d; want %d (in order, none missing)", i, s, details[i], next)
		}
		next++
	}
	if next != n {
		t.Errorf("received %d distinct events; want %d", next, n)
	}
	t.Logf("duplicates: %d", dups)
	if st := l.Outbox().Stats(); st.Pending != 0 || st.Delivered < n {
		t.Errorf("outbox stats %+v; want 0 pending and %d delivered", st, n)
	}
}

// TestPingAndBirth: the retained birth names the models, a ping is
// answered with a retained "done" status, and an op nobody handles is
// rejected.
func TestPingAndBirth(t *testing.T) {
	testenv.CheckLeaks(t)
	addr := testenv.FreeAddr(t)
	br := newBroker(t, addr)
	br.Start()
	l, _ := newLink(t, addr, &outbox.Options{NoSync: true})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- l.Run(ctx) }()
	defer func() {
		cancel()
		<-runDone
		l.Close()
	}()
	testenv.WaitFor(t, "the link to connect", 10*time.Second, func() bool { return l.Client().Stats().Connected })

	msgs := make(chan mqtt.Message, 16)
	sub := subscriber(t, addr, "op-ping", map[string]byte{fleet.StateTopic("pi-7"): 1, fleet.Prefix + "/dev/pi-7/cmd/+/+/status": 1},
		func(_ mqtt.Client, m mqtt.Message) { msgs <- m })
	defer sub.Disconnect(100)
	for _, cmd := range []fleet.Command{{Op: fleet.OpPing, ID: "p1", Issued: time.Now()}, {Op: fleet.OpConfig, ID: "c1", Issued: time.Now()}} {
		b, err := fleet.Encode(&cmd)
		if err != nil {
			t.Fatal(err)
		}
		if tok := sub.Publish(fleet.CommandTopic("pi-7", cmd.Op, cmd.ID), 1, true, b); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	want := map[string]string{"ping": fleet.StatusDone, "config": fleet.StatusRejected}
	var birth bool
	for deadline := time.After(10 * time.Second); len(want) > 0 || !birth; {
		select {
		case <-deadline:
			t.Fatalf("still waiting for statuses %v (birth seen: %v)", want, birth)
		case m := <-msgs:
			if m.Topic() == fleet.StateTopic("pi-7") {
				var st fleet.State
				if err := fleet.Decode(m.Payload(), &st); err != nil || st.State != fleet.Online || len(st.Models) != 1 {
					t.Errorf("birth %s (%v); want online with model m", m.Payload(), err)
				}
				birth = true
				continue
			}
			tp, err := fleet.ParseTopic(m.Topic())
			if err != nil {
				t.Fatal(err)
			}
			var st fleet.CommandStatus
			if err := fleet.Decode(m.Payload(), &st); err != nil {
				t.Fatal(err)
			}
			if st.State != want[tp.Op] {
				t.Errorf("status of %s = %q (%s); want %q", tp.Op, st.State, st.Reason, want[tp.Op])
			}
			delete(want, tp.Op)
		}
	}
	// Clear the retained commands.
	for _, tp := range []string{fleet.CommandTopic("pi-7", "ping", "p1"), fleet.CommandTopic("pi-7", "config", "c1")} {
		sub.Publish(tp, 1, true, []byte{}).WaitTimeout(time.Second)
	}
}
