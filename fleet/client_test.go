package fleet

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/internal/mochitest"
	"github.com/edged-dev/edged/internal/testenv"
)

func birth(version string) func() State {
	return func() State {
		return State{Version: version, Board: "test-board", Models: []ModelState{{Name: "kws", Active: "3"}}, Uptime: 5}
	}
}

func statusIs(id, state, reason string) func([]byte) error {
	return func(b []byte) error {
		var s CommandStatus
		if err := Decode(b, &s); err != nil {
			return err
		}
		if s.ID != id || s.State != state || !strings.Contains(s.Reason, reason) {
			return fmt.Errorf("status %+v; want id %q state %q reason containing %q", s, id, state, reason)
		}
		return nil
	}
}

// roundTrip checks the birth, commands for the device and its group,
// rejected commands and the retained statuses. peerOpts gives the
// options of the test's own clients (TLS).
func roundTrip(t *testing.T, broker string, o Options, peerOpts func() *mqtt.ClientOptions) {
	r := &received{}
	o.DeviceID, o.Groups, o.Birth, o.OnCommand = "pi-7", []string{"north", "all"}, birth("0.4.0"), r.handler()
	c, stop, ready := runClient(t, o)
	r.client.Store(c)
	defer stop()
	testenv.WaitFor(t, "connection", 10*time.Second, func() bool { return ready() == 1 })

	statuses := Prefix + "/dev/pi-7/cmd/+/+/status"
	p := newPeerTLS(t, broker, peerOpts(), StateTopic("pi-7"), statuses)
	// Subscribed after the birth: it arrives because it is retained.
	p.expect(t, StateTopic("pi-7"), true, stateIs(Online, "0.4.0"))

	p.publish(t, CommandTopic("pi-7", "ping", "c1"), `{"v":1,"op":"ping","id":"c1","issued":"2026-03-01T12:00:00Z"}`, true)
	p.expect(t, StatusTopic("pi-7", "ping", "c1"), false, statusIs("c1", StatusDone, ""))
	p.publish(t, GroupCommandTopic("south", "ping", "c0"), `{"v":1,"op":"ping","id":"c0","issued":"2026-03-01T12:00:00Z"}`, true)
	p.publish(t, GroupCommandTopic("north", "deploy", "c2"), `{"v":1,"op":"deploy","id":"c2","payload":{"m":"kws"},"issued":"2026-03-01T12:00:00Z"}`, true)
	p.expect(t, StatusTopic("pi-7", "deploy", "c2"), false, statusIs("c2", StatusDone, ""))
	p.publish(t, CommandTopic("pi-7", "ping", "c4"), `{"v":2,"op":"ping"}`, true)
	p.expect(t, StatusTopic("pi-7", "ping", "c4"), false, statusIs("c4", StatusRejected, `"v":2; this build reads 1`))
	p.publish(t, CommandTopic("pi-7", "ping", "c5"), `{"v":1,"op":"ping","id":"c6","issued":"2026-03-01T12:00:00Z"}`, true)
	p.expect(t, StatusTopic("pi-7", "ping", "c5"), false, statusIs("c5", StatusRejected, `id "c6" on topic of op "ping" id "c5"`))
	p.publish(t, CommandTopic("pi-7", "reboot", "c7"), `{"v":1,"op":"reboot","id":"c7","issued":"2026-03-01T12:00:00Z"}`, true)
	p.expect(t, StatusTopic("pi-7", "reboot", "c7"), false, statusIs("c7", StatusRejected, `op "reboot"; want one of`))
	// The operator clears c1: an empty retained message, ignored.
	p.publish(t, CommandTopic("pi-7", "ping", "c1"), "", true)
	p.publish(t, CommandTopic("pi-7", "ping", "c8"), `{"v":1,"op":"ping","id":"c8","issued":"2026-03-01T12:00:00Z"}`, false)
	p.expect(t, StatusTopic("pi-7", "ping", "c8"), false, statusIs("c8", StatusDone, ""))

	issued := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	want := []struct {
		from Topic
		cmd  Command
	}{
		{Topic{Kind: KindCommand, Device: "pi-7", Op: "ping", CmdID: "c1"}, Command{V: 1, Op: "ping", ID: "c1", Issued: issued}},
		{Topic{Kind: KindGroupCommand, Group: "north", Op: "deploy", CmdID: "c2"}, Command{V: 1, Op: "deploy", ID: "c2", Payload: []byte(`{"m":"kws"}`), Issued: issued}},
		{Topic{Kind: KindCommand, Device: "pi-7", Op: "ping", CmdID: "c8"}, Command{V: 1, Op: "ping", ID: "c8", Issued: issued}},
	}
	if n := r.len(); n != len(want) {
		t.Fatalf("handler saw %d commands; want %d", n, len(want))
	}
	for i, w := range want {
		from, cmd := r.get(i)
		if from != w.from || !reflect.DeepEqual(cmd, w.cmd) {
			t.Errorf("command %d = %+v from %+v; want %+v from %+v", i, cmd, from, w.cmd, w.from)
		}
	}
	if errs := r.errors(); len(errs) > 0 {
		t.Errorf("WriteStatus errors: %v", errs)
	}
	if st := c.Stats(); st.Commands != 3 || st.Rejected != 3 || st.Dropped != 0 {
		t.Errorf("stats %+v; want 3 commands, 3 rejected, 0 dropped", st)
	}

	// A late subscriber finds every status, retained.
	p2 := newPeerTLS(t, broker, peerOpts(), statuses)
	got := map[string]bool{}
	for len(got) < 6 {
		m := p2.next(t)
		if !m.Retained() {
			t.Errorf("status on %s not retained", m.Topic())
		}
		got[m.Topic()] = true
	}
	for _, id := range []string{"ping/c1", "deploy/c2", "ping/c4", "ping/c5", "reboot/c7", "ping/c8"} {
		if !got[Prefix+"/dev/pi-7/cmd/"+id+"/status"] {
			t.Errorf("no retained status for %s; got %v", id, got)
		}
	}
	stop()
}

func plainPeer() *mqtt.ClientOptions { return mqtt.NewClientOptions() }

func TestClientRoundTrip(t *testing.T) {
	testenv.CheckLeaks(t)
	addr := testenv.FreeAddr(t)
	stopB := mochitest.Start(t, addr)
	defer stopB()
	roundTrip(t, "tcp://"+addr, Options{Broker: "tcp://" + addr}, plainPeer)
}

// TestClientWill cuts the link: the broker publishes the will, retained;
// the client comes back with a new birth.
func TestClientWill(t *testing.T) {
	testenv.CheckLeaks(t)
	addr := testenv.FreeAddr(t)
	stopB := mochitest.Start(t, addr)
	defer stopB()
	px := startProxy(t, addr)
	c, stop, ready := runClient(t, Options{Broker: "tcp://" + px.addr(), DeviceID: "pi-7", Birth: birth("0.4.0"),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	defer stop()
	testenv.WaitFor(t, "connection", 10*time.Second, func() bool { return ready() == 1 })
	p := newPeer(t, "tcp://"+addr, StateTopic("pi-7"))
	p.expect(t, StateTopic("pi-7"), true, stateIs(Online, "0.4.0"))

	px.refuse.Store(true)
	px.cut()
	p.expect(t, StateTopic("pi-7"), false, exactly(`{"v":1,"state":"offline"}`))
	late := newPeer(t, "tcp://"+addr, StateTopic("pi-7"))
	late.expect(t, StateTopic("pi-7"), true, exactly(`{"v":1,"state":"offline"}`))
	testenv.WaitFor(t, "failed attempts", 10*time.Second, func() bool { return c.Stats().ConnectFailures >= 2 })

	px.refuse.Store(false)
	p.expect(t, StateTopic("pi-7"), false, stateIs(Online, "0.4.0"))
	testenv.WaitFor(t, "OnConnect", 10*time.Second, func() bool { return ready() == 2 })
	if st := c.Stats(); st.Connects != 2 || st.Lost != 1 || !st.Connected || st.LastError == "" {
		t.Errorf("stats %+v; want 2 connects, 1 lost, connected, a last error", st)
	}
}

// TestClientBrokerRestart: the client reconnects, publishes a new birth
// and subscribes again, to its commands and to Subscribe's filters.
func TestClientBrokerRestart(t *testing.T) {
	testenv.CheckLeaks(t)
	addr := testenv.FreeAddr(t)
	broker := "tcp://" + addr
	stopB := mochitest.Start(t, addr)
	r := &received{}
	c, stop, ready := runClient(t, Options{Broker: broker, DeviceID: "pi-7", Groups: []string{"north"}, Birth: birth("0.4.0"), OnCommand: r.handler(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	r.client.Store(c)
	defer stop()
	testenv.WaitFor(t, "connection", 10*time.Second, func() bool { return ready() == 1 })
	extra := make(chan string, 4)
	if err := c.Subscribe(context.Background(), "test/extra/+", 1, func(topic string, payload []byte) { extra <- topic + " " + string(payload) }); err != nil {
		t.Fatal(err)
	}

	stopB()
	testenv.WaitFor(t, "the loss", 10*time.Second, func() bool { return !c.Stats().Connected })
	if err := c.Publish(context.Background(), "test/x", []byte("x"), 1, false); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Publish while disconnected = %v; want ErrNotConnected", err)
	}
	time.Sleep(200 * time.Millisecond) // a few failed attempts
	stopB2 := mochitest.Start(t, addr)
	defer stopB2()
	testenv.WaitFor(t, "reconnection", 10*time.Second, func() bool { return ready() == 2 })

	// The new broker has no retained state but the new birth.
	p := newPeer(t, broker, StateTopic("pi-7"), Prefix+"/dev/pi-7/cmd/+/+/status")
	p.expect(t, StateTopic("pi-7"), true, stateIs(Online, "0.4.0"))
	p.publish(t, GroupCommandTopic("north", "ping", "after"), `{"v":1,"op":"ping","id":"after","issued":"2026-03-01T12:00:00Z"}`, true)
	p.expect(t, StatusTopic("pi-7", "ping", "after"), false, statusIs("after", StatusDone, ""))
	p.publish(t, "test/extra/1", "hello", false)
	select {
	case got := <-extra:
		if got != "test/extra/1 hello" {
			t.Errorf("extra subscription got %q; want %q", got, "test/extra/1 hello")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("extra subscription not restored after reconnect")
	}
	if err := c.Unsubscribe(context.Background(), "test/extra/+"); err != nil {
		t.Fatal(err)
	}
	p.publish(t, "test/extra/2", "late", false)
	select {
	case got := <-extra:
		t.Errorf("after Unsubscribe got %q", got)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestClientShutdown: a clean stop leaves the retained offline state
// (the broker sends no will then).
func TestClientShutdown(t *testing.T) {
	testenv.CheckLeaks(t)
	addr := testenv.FreeAddr(t)
	stopB := mochitest.Start(t, addr)
	defer stopB()
	c, stop, ready := runClient(t, Options{Broker: "tcp://" + addr, DeviceID: "pi-7"})
	testenv.WaitFor(t, "connection", 10*time.Second, func() bool { return ready() == 1 })
	p := newPeer(t, "tcp://"+addr, StateTopic("pi-7"))
	p.expect(t, StateTopic("pi-7"), true, stateIs(Online, ""))
	if err := c.Publish(context.Background(), EventsTopic("pi-7"), []byte(`{"x":1}`), 1, false); err != nil {
		t.Errorf("Publish: %v", err)
	}
	stop()
	newPeer(t, "tcp://"+addr, StateTopic("pi-7")).expect(t, StateTopic("pi-7"), true, exactly(`{"v":1,"state":"offline"}`))
}

// TestClientUnreachable: with no broker, Run keeps retrying and still
// returns promptly, with nothing left running, when ctx ends.
func TestClientUnreachable(t *testing.T) {
	testenv.CheckLeaks(t)
	c, stop, _ := runClient(t, Options{Broker: "tcp://" + testenv.FreeAddr(t), DeviceID: "pi-7",
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	testenv.WaitFor(t, "failed attempts", 10*time.Second, func() bool { return c.Stats().ConnectFailures >= 2 })
	start := time.Now()
	stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %v to stop; want < 2s", d)
	}
	if st := c.Stats(); st.Connects != 0 || !strings.Contains(st.LastError, "connection refused") {
		t.Errorf("stats %+v; want no connects and a refused connection", st)
	}
}

func TestPublishErrors(t *testing.T) {
	c, err := New(Options{Broker: "tcp://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		topic   string
		qos     byte
		wantErr string
	}{
		{"a/b", 3, "QoS 3; want 0, 1 or 2"},
		{"", 1, "not a topic name"},
		{"a/+", 1, "not a topic name"},
		{"a/#", 1, "not a topic name"},
		{"a/b", 1, "not connected"},
	}
	for _, tt := range tests {
		if err := c.Publish(context.Background(), tt.topic, nil, tt.qos, false); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Publish(%q, qos %d) = %v; want an error containing %q", tt.topic, tt.qos, err, tt.wantErr)
		}
	}
	if err := c.WriteStatus(context.Background(), "ping", CommandStatus{ID: "c"}); err == nil {
		t.Error("WriteStatus on an operator client succeeded")
	}
}

func TestNewErrors(t *testing.T) {
	h := func(context.Context, Topic, Command) {}
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"no broker", Options{}, "broker must be set"},
		{"bad scheme", Options{Broker: "http://x:1"}, `scheme "http"`},
		{"no host", Options{Broker: "tcp://"}, "no host"},
		{"bad device", Options{Broker: "tcp://x:1", DeviceID: "a/b"}, `device id: id "a/b" contains '/'`},
		{"bad group", Options{Broker: "tcp://x:1", DeviceID: "a", Groups: []string{"g", "+"}}, "groups[1]:"},
		{"handler without device", Options{Broker: "tcp://x:1", OnCommand: h}, "need a device id"},
		{"ca on plain", Options{Broker: "tcp://x:1", CAFile: "ca.pem"}, "is not TLS"},
		{"missing ca", Options{Broker: "ssl://x:1", CAFile: "/nonexistent/ca.pem"}, "ca file: open /nonexistent/ca.pem"},
		{"backoff", Options{Broker: "tcp://x:1", MinBackoff: time.Minute, MaxBackoff: time.Second}, "min backoff 1m0s > max backoff 1s"},
		{"negative", Options{Broker: "tcp://x:1", KeepAlive: -1}, "durations must be >= 0"},
	}
	for _, tt := range tests {
		if _, err := New(tt.o); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(%s) = %v; want an error containing %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestRunTwice(t *testing.T) {
	testenv.CheckLeaks(t)
	c, stop, _ := runClient(t, Options{Broker: "tcp://" + testenv.FreeAddr(t), MinBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	defer stop()
	testenv.WaitFor(t, "first attempt", 10*time.Second, func() bool { return c.Stats().ConnectFailures >= 1 })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
			t.Errorf("second Run = %v; want already running", err)
		}
	}()
	wg.Wait()
}
