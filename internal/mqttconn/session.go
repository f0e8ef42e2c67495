package mqttconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/internal/mqttlimit"
)

// Will is the message the broker publishes when a connection dies.
type Will struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool
}

// SessionOptions configure a Session. Zero durations mean the defaults
// named.
type SessionOptions struct {
	// Broker is the broker's URL, or several separated by commas (a
	// cluster's nodes), tried in turn on every connection attempt.
	Broker   string
	ClientID string
	Username string
	Password string
	// TLS is the configuration for a TLS broker URL (see TLSConfig); nil
	// for a plain one.
	TLS *tls.Config
	// Will, if set, is registered with every connection.
	Will *Will
	// KeepAlive is the MQTT keepalive; default 30s.
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt and its Setup's
	// subscriptions; default 10s.
	ConnectTimeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff (with ±20%
	// jitter, so that a fleet does not come back in step after a broker
	// restart) between connection attempts; defaults 500ms and 1m. The
	// backoff starts again from MinBackoff after a connection that stayed
	// up longer than the current backoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxMessage, if > 0, bounds what is read of each packet from the
	// broker before paho decodes it: a message larger than MaxMessage bytes
	// (less its topic) arrives with an empty payload and OnOversize, if
	// set, hears of its topic and size (see internal/mqttlimit).
	MaxMessage int
	OnOversize func(topic string, size int)

	// Setup prepares a connection once the broker has accepted it, before
	// it counts as up: routes, subscriptions, a birth message. An error
	// ends that connection and counts as a failed attempt. Optional.
	Setup func(ctx context.Context, c mqtt.Client) error
	// Goodbye, if set, runs on the connection when Run's context ends,
	// before the clean disconnect: the broker sends the will only when a
	// connection dies, so a client that has one says goodbye itself.
	Goodbye func(c mqtt.Client)
	// Handle, if set, runs on one worker goroutine of Run for each message
	// given to Enqueue, so that paho's router goroutine never waits for
	// the work a message causes. Queue is how many messages may wait for
	// it (default 16); beyond it Enqueue refuses them.
	Handle func(ctx context.Context, m mqtt.Message)
	Queue  int

	// OnUp is called after each connection is set up, OnLost when it is
	// lost (not when Run's context ends), OnFail after a failed attempt
	// with the wait before the next one. They run on Run's goroutine and
	// must not block. Each is optional.
	OnUp   func()
	OnLost func(err error)
	OnFail func(err error, retryIn time.Duration)
}

// Session keeps one MQTT connection up while Run runs, reconnecting with
// exponential backoff and jitter. Both of edged's connections, the fleet
// link and the MQTT source, are Sessions.
//
// Reconnection is done here rather than by paho's auto-reconnect, whose
// backoff sleeps cannot be interrupted and outlive Disconnect.
type Session struct {
	o     SessionOptions
	conn  atomic.Pointer[link] // nil between connections
	up    atomic.Bool          // a connection is set up (Setup done)
	queue chan mqtt.Message
}

// link is one connection and the order of the packets handed to it.
type link struct {
	c mqtt.Client
	// last is closed once the packet handed over last has been taken by
	// paho (or dropped by its write timeout); nil before the first.
	mu   sync.Mutex
	last chan struct{}
	// abandoned counts the hand-overs whose callers gave up and that
	// paho has not taken (or dropped) yet.
	abandoned int
}

// maxAbandoned bounds the packets a connection keeps for callers that
// gave up waiting (see HandOver), so that a broker that stops reading
// while callers go on publishing does not make them pile up.
const maxAbandoned = 64

// NewSession fills in the defaults; it does not connect.
func NewSession(o SessionOptions) (*Session, error) {
	for _, d := range []time.Duration{o.KeepAlive, o.ConnectTimeout, o.MinBackoff, o.MaxBackoff} {
		if d < 0 {
			return nil, errors.New("durations must be >= 0")
		}
	}
	setDefault(&o.KeepAlive, 30*time.Second)
	setDefault(&o.ConnectTimeout, 10*time.Second)
	setDefault(&o.MinBackoff, 500*time.Millisecond)
	setDefault(&o.MaxBackoff, time.Minute)
	if o.Queue < 0 {
		return nil, errors.New("queue must be >= 0")
	}
	setDefault(&o.Queue, 16)
	if o.MinBackoff > o.MaxBackoff {
		return nil, fmt.Errorf("min backoff %v > max backoff %v", o.MinBackoff, o.MaxBackoff)
	}
	return &Session{o: o, queue: make(chan mqtt.Message, o.Queue)}, nil
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Client returns the connection, or nil while there is none. It is set
// once the broker has accepted the connection, before Setup runs, so that
// handlers of messages that arrive during Setup can publish.
func (s *Session) Client() mqtt.Client {
	if l := s.conn.Load(); l != nil {
		return l.c
	}
	return nil
}

// Up reports whether a connection is up and set up: Setup has returned
// without error and the connection has not been lost since. Client is
// already set while Setup runs.
func (s *Session) Up() bool { return s.up.Load() }

// HandOver runs op, one paho call that sends a packet on c (Publish,
// Subscribe, Unsubscribe), and returns its token once paho has taken the
// packet, or an error once ctx ends or timeout passes first.
//
// paho takes one packet at a time: its Publish blocks while the
// connection writes the packets before, up to its write timeout (30s)
// when the broker stops reading. HandOver makes that wait the caller's:
// op runs on a goroutine of its own and, when the caller gives up, hands
// its packet over later or ends with paho's write timeout. The packets
// given to one connection are handed over in the order of the calls, so
// a packet given up on is never overtaken by a later one. At most
// maxAbandoned (64) packets given up on wait per connection; beyond,
// HandOver fails at once.
func (s *Session) HandOver(ctx context.Context, c mqtt.Client, timeout time.Duration, op func(mqtt.Client) mqtt.Token) (mqtt.Token, error) {
	var prev chan struct{}
	done := make(chan struct{})
	l := s.conn.Load()
	if l != nil && l.c != c {
		l = nil // a connection already closed: nothing to keep in order
	}
	// taken and gaveUp, guarded by l.mu, say whether paho took the
	// packet and whether the caller gave up first.
	var taken, gaveUp bool
	if l != nil {
		l.mu.Lock()
		if l.abandoned >= maxAbandoned {
			n := l.abandoned
			l.mu.Unlock()
			return nil, fmt.Errorf("the connection to the broker has not taken the last %d messages given up on; none is added until it does", n)
		}
		prev, l.last = l.last, done
		l.mu.Unlock()
	}
	tok := make(chan mqtt.Token, 1)
	go func() {
		defer close(done)
		if prev != nil {
			<-prev
		}
		tok <- op(c)
		if l != nil {
			l.mu.Lock()
			taken = true
			if gaveUp {
				l.abandoned--
			}
			l.mu.Unlock()
		}
	}()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	var err error
	select {
	case t := <-tok:
		return t, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-tm.C:
		err = fmt.Errorf("the connection to the broker took nothing within %v", timeout)
	}
	if l != nil {
		l.mu.Lock()
		if !taken {
			gaveUp = true
			l.abandoned++
		}
		l.mu.Unlock()
	}
	return nil, err
}

// Send hands op's packet over (see HandOver) and waits for its token:
// the broker's acknowledgement at QoS 1 and 2. ctx and timeout bound
// both.
func (s *Session) Send(ctx context.Context, c mqtt.Client, timeout time.Duration, op func(mqtt.Client) mqtt.Token) error {
	t0 := time.Now()
	tok, err := s.HandOver(ctx, c, timeout, op)
	if err != nil {
		return err
	}
	return wait(ctx, tok, timeout-time.Since(t0), timeout)
}

// Enqueue passes m to Handle without blocking; it reports false, and
// drops m, when the queue is full.
func (s *Session) Enqueue(m mqtt.Message) bool {
	select {
	case s.queue <- m:
		return true
	default:
		return false
	}
}

// QueueCap is the queue's capacity.
func (s *Session) QueueCap() int { return cap(s.queue) }

// Run connects and stays connected until ctx ends; it returns once ctx
// has ended, the last connection is closed and the worker has stopped.
func (s *Session) Run(ctx context.Context) {
	// The worker stops with ctx. It is waited for before the last
	// connection closes: a publish it has begun needs the connection
	// alive to be handed over (paho would otherwise hold it for its
	// write timeout).
	var worker sync.WaitGroup
	if s.o.Handle != nil {
		worker.Add(1)
		go func() {
			defer worker.Done()
			s.work(ctx)
		}()
	}
	defer worker.Wait()
	backoff := s.o.MinBackoff
	for {
		lost := make(chan error, 1)
		c, err := s.connect(ctx, lost)
		if err == nil {
			up := time.Now()
			s.up.Store(true)
			call(s.o.OnUp)
			select {
			case <-ctx.Done():
			case err = <-lost:
			}
			s.up.Store(false)
			s.conn.Store(nil)
			if ctx.Err() != nil {
				worker.Wait()
				if s.o.Goodbye != nil {
					s.o.Goodbye(c)
				}
				c.Disconnect(250)
				return
			}
			c.Disconnect(0)
			if s.o.OnLost != nil {
				s.o.OnLost(err)
			}
			if time.Since(up) > backoff {
				backoff = s.o.MinBackoff
			}
		} else {
			if ctx.Err() != nil {
				return
			}
			if s.o.OnFail != nil {
				s.o.OnFail(err, backoff)
			}
		}
		t := time.NewTimer(time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64())))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, s.o.MaxBackoff)
	}
}

func (s *Session) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-s.queue:
			s.o.Handle(ctx, m)
		}
	}
}

func call(f func()) {
	if f != nil {
		f()
	}
}

// connect makes one connection attempt and sets it up; lost hears of the
// connection's end.
func (s *Session) connect(ctx context.Context, lost chan<- error) (mqtt.Client, error) {
	o := mqtt.NewClientOptions()
	for _, b := range Brokers(s.o.Broker) {
		o.AddBroker(b)
	}
	o.SetClientID(s.o.ClientID).
		SetUsername(s.o.Username).
		SetPassword(s.o.Password).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(s.o.ConnectTimeout).
		SetKeepAlive(s.o.KeepAlive).
		SetPingTimeout(min(s.o.KeepAlive, 10*time.Second)).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	if w := s.o.Will; w != nil {
		o.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retained)
	}
	if s.o.TLS != nil {
		o.SetTLSConfig(s.o.TLS)
	}
	if s.o.MaxMessage > 0 {
		o.SetCustomOpenConnectionFn(mqttlimit.OpenConnection(s.o.MaxMessage, s.o.OnOversize))
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if err := Wait(ctx, tok, s.o.ConnectTimeout+time.Second); err != nil {
		// Let a dial in progress end (within the connect timeout) so that
		// none of paho's goroutines outlives Run.
		tok.WaitTimeout(s.o.ConnectTimeout + time.Second)
		c.Disconnect(0)
		return nil, fmt.Errorf("connect %s: %w", s.o.Broker, err)
	}
	s.conn.Store(&link{c: c})
	if s.o.Setup != nil {
		if err := s.o.Setup(ctx, c); err != nil {
			s.conn.Store(nil)
			c.Disconnect(0)
			return nil, err
		}
	}
	return c, nil
}
