package mqttconn_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"

	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/internal/mqttconn"
	"github.com/edged-dev/edged/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// events records what a Session reports.
type events struct {
	mu                sync.Mutex
	ups, losts, setup int
	fails             []time.Duration
	handled           []string
}

func (e *events) get(f func(*events) int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return f(e)
}

// TestSessionReconnects runs a Session against a real mosquitto that goes
// away and comes back: the Session sets every connection up, reports the
// loss and the failed attempts with a backoff within the bounds (jitter
// included), reconnects, hands queued messages to its worker and says
// goodbye on its last connection.
func TestSessionReconnects(t *testing.T) {
	b := mosquittotest.Start(t, nil)
	var ev events
	var goodbye atomic.Bool
	var s *mqttconn.Session
	s, err := mqttconn.NewSession(mqttconn.SessionOptions{
		Broker: b.URL(), ClientID: "session-test",
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 80 * time.Millisecond,
		ConnectTimeout: 2 * time.Second,
		Setup: func(ctx context.Context, c mqtt.Client) error {
			ev.mu.Lock()
			ev.setup++
			ev.mu.Unlock()
			if s.Client() == nil {
				t.Error("Client() is nil during Setup")
			}
			return mqttconn.Wait(ctx, c.Subscribe("in/#", 1, func(_ mqtt.Client, m mqtt.Message) { s.Enqueue(m) }), time.Second)
		},
		Handle: func(_ context.Context, m mqtt.Message) {
			ev.mu.Lock()
			ev.handled = append(ev.handled, string(m.Payload()))
			ev.mu.Unlock()
		},
		Goodbye: func(c mqtt.Client) { goodbye.Store(c.IsConnected()) },
		OnUp:    func() { ev.mu.Lock(); ev.ups++; ev.mu.Unlock() },
		OnLost:  func(error) { ev.mu.Lock(); ev.losts++; ev.mu.Unlock() },
		OnFail: func(_ error, d time.Duration) {
			ev.mu.Lock()
			ev.fails = append(ev.fails, d)
			ev.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	testenv.WaitFor(t, "first connection", 10*time.Second, func() bool { return ev.get(func(e *events) int { return e.ups }) == 1 })
	pub := peer(t, b.URL())
	pub.Publish("in/a", 1, false, "one").Wait()
	testenv.WaitFor(t, "the message handled", 10*time.Second, func() bool { return ev.get(func(e *events) int { return len(e.handled) }) == 1 })
	pub.Disconnect(0)

	b.Stop()
	testenv.WaitFor(t, "the loss reported", 10*time.Second, func() bool { return ev.get(func(e *events) int { return e.losts }) == 1 })
	if s.Client() != nil {
		t.Error("Client() is not nil after the loss")
	}
	testenv.WaitFor(t, "failed attempts", 10*time.Second, func() bool { return ev.get(func(e *events) int { return len(e.fails) }) >= 3 })
	b.Start()
	testenv.WaitFor(t, "the reconnection", 10*time.Second, func() bool { return ev.get(func(e *events) int { return e.ups }) == 2 })
	ev.mu.Lock()
	for i, d := range ev.fails {
		if d < 20*time.Millisecond || d > 80*time.Millisecond {
			t.Errorf("attempt %d: retry in %v; want within [20ms, 80ms]", i, d)
		}
		if i > 0 && d < ev.fails[i-1] {
			t.Errorf("attempt %d: retry in %v after %v; the backoff shrank while the broker was away", i, d, ev.fails[i-1])
		}
	}
	if ev.setup != 2 {
		t.Errorf("Setup ran %d times; want 2", ev.setup)
	}
	ev.mu.Unlock()
	pub = peer(t, b.URL())
	pub.Publish("in/b", 1, false, "two").Wait()
	testenv.WaitFor(t, "the message after the reconnection handled", 10*time.Second, func() bool { return ev.get(func(e *events) int { return len(e.handled) }) == 2 })
	pub.Disconnect(0)
	cancel()
	<-done
	if !goodbye.Load() {
		t.Error("Goodbye did not run on a live connection when the context ended")
	}
	if s.Client() != nil {
		t.Error("Client() is not nil after Run returned")
	}
}

// TestSessionSetupFailure: a connection whose setup fails counts as a
// failed attempt and is retried.
func TestSessionSetupFailure(t *testing.T) {
	b := mosquittotest.Start(t, nil)
	var calls atomic.Int32
	fails := make(chan error, 8)
	s, err := mqttconn.NewSession(mqttconn.SessionOptions{
		Broker: b.URL(), ClientID: "session-setup", MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Setup: func(context.Context, mqtt.Client) error {
			if calls.Add(1) == 1 {
				return errBoom
			}
			return nil
		},
		OnFail: func(err error, _ time.Duration) { fails <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case err := <-fails:
		if err != errBoom {
			t.Errorf("OnFail got %v; want the setup's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no failure reported for a failed setup")
	}
	testenv.WaitFor(t, "the second connection", 10*time.Second, func() bool { return s.Client() != nil })
}

var errBoom = &setupError{}

type setupError struct{}

func (*setupError) Error() string { return "setup refused" }

func TestNewSessionChecks(t *testing.T) {
	for _, o := range []mqttconn.SessionOptions{
		{Broker: "tcp://127.0.0.1:1", MinBackoff: time.Minute, MaxBackoff: time.Second},
		{Broker: "tcp://127.0.0.1:1", KeepAlive: -1},
		{Broker: "tcp://127.0.0.1:1", Queue: -1},
	} {
		if _, err := mqttconn.NewSession(o); err == nil {
			t.Errorf("NewSession(%+v) = nil error", o)
		}
	}
	s, err := mqttconn.NewSession(mqttconn.SessionOptions{Broker: "tcp://127.0.0.1:1", Queue: 2, Handle: func(context.Context, mqtt.Message) {}})
	if err != nil {
		t.Fatal(err)
	}
	var took []bool
	for range 3 {
		took = append(took, s.Enqueue(nil))
	}
	if !took[0] || !took[1] || took[2] {
		t.Errorf("a queue of 2 took %v of 3 messages; want [true true false]", took)
	}
	if s.QueueCap() != 2 {
		t.Errorf("QueueCap() = %d; want 2", s.QueueCap())
	}
}

func TestSessionConnectError(t *testing.T) {
	addr := testenv.FreeAddr(t)
	errs := make(chan error, 1)
	s, err := mqttconn.NewSession(mqttconn.SessionOptions{Broker: "tcp://" + addr, ConnectTimeout: time.Second,
		OnFail: func(err error, _ time.Duration) {
			select {
			case errs <- err:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	err = <-errs
	cancel()
	<-done
	if !strings.Contains(err.Error(), "connect tcp://"+addr) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q; want the broker named and the refusal", err)
	}
}

func peer(t *testing.T, url string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("session-peer").SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("peer connect: %v", tok.Error())
	}
	return c
}

// TestSessionMaxMessage: with MaxMessage set, a retained message above it
// arrives empty, is reported with its size, and the connection stays up.
func TestSessionMaxMessage(t *testing.T) {
	b := mosquittotest.Start(t, nil)
	pub := peer(t, b.URL())
	defer pub.Disconnect(0)
	pub.Publish("in/big", 1, true, make([]byte, 1<<20)).Wait()
	pub.Publish("in/small", 1, true, "small").Wait()
	var mu sync.Mutex
	got := map[string]int{}
	var over []int
	var ups, losts atomic.Int32
	s, err := mqttconn.NewSession(mqttconn.SessionOptions{
		Broker: b.URL(), ClientID: "max-test", MaxMessage: 64 << 10,
		OnOversize: func(topic string, size int) {
			mu.Lock()
			defer mu.Unlock()
			if topic == "in/big" {
				over = append(over, size)
			}
		},
		Setup: func(ctx context.Context, c mqtt.Client) error {
			return mqttconn.Wait(ctx, c.Subscribe("in/#", 1, func(_ mqtt.Client, m mqtt.Message) {
				mu.Lock()
				got[m.Topic()] = len(m.Payload())
				mu.Unlock()
			}), time.Second)
		},
		OnUp:   func() { ups.Add(1) },
		OnLost: func(error) { losts.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	testenv.WaitFor(t, "both retained messages", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if got["in/big"] != 0 || got["in/small"] != 5 || len(over) != 1 || over[0] != 1<<20 {
		t.Errorf("payload sizes %v, oversize reports %v; want big empty (reported as %d bytes), small whole", got, over, 1<<20)
	}
	if ups.Load() != 1 || losts.Load() != 0 {
		t.Errorf("%d connections, %d losses; want 1 and 0", ups.Load(), losts.Load())
	}
}
