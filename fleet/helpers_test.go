package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// proxy forwards TCP connections to a broker; cut drops them all at once
// without an MQTT DISCONNECT, as a cellular link does.
type proxy struct {
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
	refuse   atomic.Bool // close new connections at once
}

func startProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, upstream: upstream}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			down.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.upstream, time.Second)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(up, down)
		go pipe(down, up)
	}
}

// cut closes every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// peer is the test's own MQTT client, in the operator's seat.
type peer struct {
	c   mqtt.Client
	msg chan mqtt.Message
}

func newPeer(t *testing.T, broker string, filters ...string) *peer {
	t.Helper()
	return newPeerTLS(t, broker, nil, filters...)
}

func newPeerTLS(t *testing.T, broker string, o *mqtt.ClientOptions, filters ...string) *peer {
	t.Helper()
	p := &peer{msg: make(chan mqtt.Message, 64)}
	if o == nil {
		o = mqtt.NewClientOptions()
	}
	o.AddBroker(broker).SetClientID(fmt.Sprintf("peer-%d", time.Now().UnixNano())).SetAutoReconnect(false)
	p.c = mqtt.NewClient(o)
	if tok := p.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("peer connect %s: %v", broker, tok.Error())
	}
	t.Cleanup(func() { p.c.Disconnect(100) })
	for _, f := range filters {
		if tok := p.c.Subscribe(f, 1, func(_ mqtt.Client, m mqtt.Message) { p.msg <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("peer subscribe %s: %v", f, tok.Error())
		}
	}
	return p
}

func (p *peer) publish(t *testing.T, topic string, payload string, retained bool) {
	t.Helper()
	if tok := p.c.Publish(topic, 1, retained, []byte(payload)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("peer publish %s: %v", topic, tok.Error())
	}
}

// next waits for the next message.
func (p *peer) next(t *testing.T) mqtt.Message {
	t.Helper()
	select {
	case m := <-p.msg:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("peer: no message within 10s")
		return nil
	}
}

// expect waits for a message on topic, skipping others, and checks it.
func (p *peer) expect(t *testing.T, topic string, retained bool, check func(payload []byte) error) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-p.msg:
			if m.Topic() != topic {
				continue
			}
			if err := check(m.Payload()); err != nil {
				t.Logf("peer: on %s: %v (%s); waiting for another", topic, err, m.Payload())
				continue
			}
			if m.Retained() != retained {
				t.Errorf("message on %s retained = %v; want %v", topic, m.Retained(), retained)
			}
			return
		case <-deadline:
			t.Fatalf("peer: no matching message on %s within 10s", topic)
		}
	}
}

// runClient starts a Client and returns it with a stop function that
// waits for Run to return, and the number of connections that are ready
// (birth published, subscribed: OnConnect called).
func runClient(t *testing.T, o Options) (*Client, func(), func() int64) {
	t.Helper()
	var ready atomic.Int64
	onConnect := o.OnConnect
	o.OnConnect = func() {
		ready.Add(1)
		if onConnect != nil {
			onConnect()
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v; want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return c, stop, ready.Load
}

// received collects the commands a handler saw.
type received struct {
	client atomic.Pointer[Client]
	mu     sync.Mutex
	from   []Topic
	cmds   []Command
	errs   []error // of WriteStatus
}

func (r *received) handler() CommandHandler {
	return func(ctx context.Context, from Topic, cmd Command) {
		r.mu.Lock()
		r.from = append(r.from, from)
		r.cmds = append(r.cmds, cmd)
		r.mu.Unlock()
		err := r.client.Load().WriteStatus(ctx, cmd.Op, CommandStatus{ID: cmd.ID, State: StatusDone})
		if err != nil && !errors.Is(err, context.Canceled) {
			r.mu.Lock()
			r.errs = append(r.errs, err)
			r.mu.Unlock()
		}
	}
}

func (r *received) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

func (r *received) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cmds)
}

func (r *received) get(i int) (Topic, Command) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.from[i], r.cmds[i]
}

// stateIs checks a State payload's state and version.
func stateIs(state, version string) func([]byte) error {
	return func(b []byte) error {
		var s State
		if err := Decode(b, &s); err != nil {
			return err
		}
		if s.State != state || s.Version != version {
			return fmt.Errorf("state %q version %q; want %q %q", s.State, s.Version, state, version)
		}
		return nil
	}
}

func exactly(want string) func([]byte) error {
	return func(b []byte) error {
		if string(b) != want {
			return fmt.Errorf("payload %s; want %s", b, want)
		}
		return nil
	}
}
