package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/internal/mqttconn"
	"github.com/edged-dev/edged/internal/recent"
)

// ErrNotConnected is returned (wrapped) by Publish, Subscribe and
// WriteStatus while the Client has no connection to the broker.
var ErrNotConnected = errors.New("not connected to the broker")

// Options configures a Client. Zero durations mean the defaults named.
type Options struct {
	// Broker is the broker URL: tcp://host:1883, or ssl:// (also tls://,
	// mqtts://) for TLS; ws:// and wss:// for websockets. Several URLs
	// separated by commas (a cluster's nodes) are tried in turn on every
	// connection attempt.
	Broker string
	// DeviceID makes this a device's client: it publishes the retained
	// birth on connect, sets the offline will and subscribes to its
	// commands. Empty for an operator's client (edgectl).
	DeviceID string
	// Groups whose commands the device also receives.
	Groups []string
	// ClientID must be unique per broker; default "edged-<DeviceID>", or
	// "edgectl-<pid>-<random>" without a DeviceID.
	ClientID string
	Username string
	Password string
	// CAFile is a PEM bundle trusted for the broker's certificate instead
	// of the system roots; CertFile and KeyFile a client certificate. TLS
	// files need a TLS broker URL.
	CAFile   string
	CertFile string
	KeyFile  string
	// ServerName is the name the broker's certificate must carry; default
	// the broker URL's host.
	ServerName string
	// InsecureSkipVerify turns off verification of the broker's
	// certificate. For tests only: anyone on the path can then read and
	// forge commands.
	InsecureSkipVerify bool
	// KeepAlive is the MQTT keepalive; default 30s. On a cellular link it
	// bounds how long a dead connection goes unnoticed (about 1.5x).
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt; default 10s.
	ConnectTimeout time.Duration
	// PublishTimeout bounds the wait for the broker's acknowledgement when
	// the caller's context has no earlier deadline; default 30s.
	PublishTimeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff (with ±20%
	// jitter) between connection attempts; defaults 500ms and 1m.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Birth returns the device's State for the birth message published at
	// each connection; the Client sets V, State (Online) and Time if zero.
	// Nil publishes a bare online State.
	Birth func() State
	// OnCommand receives the device's and its groups' commands, one at a
	// time on a goroutine of Run; it may block and may call Publish and
	// WriteStatus. Malformed commands do not reach it: the Client answers
	// them with a StatusRejected status.
	OnCommand CommandHandler
	// OnConnect, if set, is called after each connection is up (birth
	// published, subscriptions acknowledged), on Run's goroutine; it must
	// not block. Use it to wake an outbox.
	OnConnect func()
	// CommandQueue is how many received commands may wait for OnCommand;
	// beyond it they are dropped and counted (retained, they come again on
	// the next connection). Default 64.
	CommandQueue int
	// Log receives connection events; default slog.Default().
	Log *slog.Logger
}

// CommandHandler handles one command; from is the topic it came on
// (KindCommand or KindGroupCommand).
type CommandHandler func(ctx context.Context, from Topic, cmd Command)

// MessageHandler receives a message of a subscription made with
// Subscribe. It runs on the network goroutine: it must return quickly and
// must not wait for a Publish.
type MessageHandler func(topic string, payload []byte)

// Stats counts what a Client has seen.
type Stats struct {
	// Connected: the connection is up and set up, that is subscribed
	// (to the device's commands and Subscribe's filters) and, for a
	// device, its birth published. It is false while that is under way.
	Connected       bool
	Connects        uint64 // connections established (CONNACK received)
	ConnectFailures uint64 // attempts that failed, before or after CONNACK
	Lost            uint64 // connections lost
	Commands        uint64 // commands passed to OnCommand
	Rejected        uint64 // malformed commands answered with StatusRejected
	Dropped         uint64 // commands dropped because the queue was full
	LastError       string // of the last failed attempt or lost connection
	// Published and PublishedBytes count the messages Publish sent and
	// their payload bytes.
	Published, PublishedBytes uint64
}

// Client keeps one MQTT connection up while Run runs. Its methods are
// safe for concurrent use.
type Client struct {
	o       Options
	log     *slog.Logger
	offline []byte // the will

	sess    *mqttconn.Session
	running atomic.Bool

	mu   sync.Mutex
	subs map[string]subscription

	connects, failures, lost, commands, rejected, dropped atomic.Uint64
	published, publishedBytes                             atomic.Uint64
	// statuses are the last command statuses written, one per command.
	statuses *recent.Ring[CommandRecord]
	lastErr  atomic.Pointer[string]

	// unsent are the statuses whose publish has not been acknowledged,
	// by topic: each is sent again after a reconnection until the broker
	// acknowledges it or a later status of the same command replaces it.
	// smu guards them and orders each status's hand-over to paho, so
	// that an older status never overtakes a newer one of its command.
	smu    sync.Mutex
	unsent map[string]unsentStatus
	gen    uint64
	resend chan struct{}
}

// unsentStatus is a status waiting for the broker's acknowledgement.
type unsentStatus struct {
	payload []byte
	gen     uint64 // increases with every status written
}

// maxUnsent bounds the statuses kept for sending again; beyond it the
// oldest is forgotten (its command's retained delivery asks again).
const maxUnsent = 256

// commandQoS is the QoS of a device's command subscriptions. 0: the
// session is clean, so what a QoS 1 subscription would bring again after
// a reconnection the retained commands bring; and on a NATS cluster a
// QoS 1 subscription is a replicated JetStream consumer per device,
// whose live deliveries were seen to stall (a device online, its
// retained command on the broker, never delivered), where a QoS 0 one is
// a plain subscription. The operator's side sends a command again to a
// device that does not answer.
const commandQoS = 0

// resendEvery is how often unsent statuses are tried again while the
// connection is up (a publish may fail on a live connection: a timeout).
const resendEvery = 5 * time.Second

type subscription struct {
	qos byte
	h   MessageHandler
}

// New checks the options and reads the TLS files; it does not connect.
func New(o Options) (*Client, error) {
	if err := check(&o); err != nil {
		return nil, fmt.Errorf("setting up the MQTT connection: %w", err)
	}
	t, err := tlsConfig(&o)
	if err != nil {
		return nil, fmt.Errorf("setting up the MQTT connection: %w", err)
	}
	offline, err := Encode(&State{State: Offline})
	if err != nil {
		return nil, fmt.Errorf("setting up the MQTT connection: %w", err)
	}
	c := &Client{o: o, log: o.Log, offline: offline, subs: map[string]subscription{}, statuses: recent.New[CommandRecord](20),
		unsent: map[string]unsentStatus{}, resend: make(chan struct{}, 1)}
	so := mqttconn.SessionOptions{
		Broker: o.Broker, ClientID: o.ClientID, Username: o.Username, Password: o.Password, TLS: t,
		KeepAlive: o.KeepAlive, ConnectTimeout: o.ConnectTimeout, MinBackoff: o.MinBackoff, MaxBackoff: o.MaxBackoff,
		Setup: c.setup, Queue: o.CommandQueue, Handle: func(ctx context.Context, m mqtt.Message) { c.handle(ctx, m.Topic(), m.Payload()) },
		OnUp: c.up, OnLost: c.connLost, OnFail: c.connFailed,
		// Nothing of the protocol is larger than a blob chunk; a larger
		// message arrives empty, never read into memory.
		MaxMessage: MaxReceive,
		OnOversize: func(topic string, size int) {
			c.log.Warn("message from the broker above the size limit; dropped unread", "topic", topic, "bytes", size, "limit", MaxReceive)
		},
	}
	if o.DeviceID != "" {
		so.Will = &mqttconn.Will{Topic: StateTopic(o.DeviceID), Payload: offline, QoS: 1, Retained: true}
		so.Goodbye = c.goodbye
	}
	if c.sess, err = mqttconn.NewSession(so); err != nil {
		return nil, fmt.Errorf("setting up the MQTT connection: %w", err)
	}
	return c, nil
}

// check validates o and fills in defaults.
func check(o *Options) error {
	if o.Broker == "" {
		return errors.New("broker must be set")
	}
	if o.DeviceID != "" {
		if err := ValidID(o.DeviceID); err != nil {
			return fmt.Errorf("device id: %w", err)
		}
	} else if len(o.Groups) > 0 || o.OnCommand != nil || o.Birth != nil {
		return errors.New("groups, OnCommand and Birth need a device id")
	}
	for i, g := range o.Groups {
		if err := ValidID(g); err != nil {
			return fmt.Errorf("groups[%d]: %w", i, err)
		}
	}
	for _, d := range []time.Duration{o.KeepAlive, o.ConnectTimeout, o.PublishTimeout, o.MinBackoff, o.MaxBackoff} {
		if d < 0 {
			return errors.New("durations must be >= 0")
		}
	}
	if o.CommandQueue < 0 {
		return errors.New("command queue must be >= 0")
	}
	setDefault(&o.KeepAlive, 30*time.Second)
	setDefault(&o.ConnectTimeout, 10*time.Second)
	setDefault(&o.PublishTimeout, 30*time.Second)
	setDefault(&o.MinBackoff, 500*time.Millisecond)
	setDefault(&o.MaxBackoff, time.Minute)
	setDefault(&o.CommandQueue, 64)
	if o.MinBackoff > o.MaxBackoff {
		return fmt.Errorf("min backoff %v > max backoff %v", o.MinBackoff, o.MaxBackoff)
	}
	if o.ClientID == "" {
		if o.DeviceID != "" {
			o.ClientID = "edged-" + o.DeviceID
		} else {
			o.ClientID = fmt.Sprintf("edgectl-%d-%08x", os.Getpid(), rand.Uint32())
		}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	s := Stats{
		Connected: c.sess.Up(), Connects: c.connects.Load(), ConnectFailures: c.failures.Load(), Lost: c.lost.Load(),
		Commands: c.commands.Load(), Rejected: c.rejected.Load(), Dropped: c.dropped.Load(),
		Published: c.published.Load(), PublishedBytes: c.publishedBytes.Load(),
	}
	if e := c.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

func (c *Client) setErr(err error) {
	s := err.Error()
	c.lastErr.Store(&s)
}

// Run connects and stays connected until ctx ends, reconnecting with
// exponential backoff whenever the connection drops or cannot be made.
// It returns nil once ctx ends and every goroutine it started has
// stopped; a device client first publishes its offline State, since the
// broker sends the will only when a connection dies.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("MQTT connection: already running")
	}
	defer c.running.Store(false)
	var wg sync.WaitGroup
	if c.o.DeviceID != "" {
		wg.Add(1)
		go func() { defer wg.Done(); c.resendLoop(ctx) }()
	}
	c.sess.Run(ctx)
	wg.Wait()
	return nil
}

func (c *Client) up() {
	c.log.Info("fleet: connected", "broker", c.o.Broker, "client_id", c.o.ClientID)
	select {
	case c.resend <- struct{}{}:
	default:
	}
	if c.o.OnConnect != nil {
		c.o.OnConnect()
	}
}

func (c *Client) connLost(err error) {
	c.lost.Add(1)
	c.setErr(err)
	c.log.Warn("fleet: connection lost", "broker", c.o.Broker, "err", err)
}

func (c *Client) connFailed(err error, retryIn time.Duration) {
	c.failures.Add(1)
	c.setErr(err)
	c.log.Warn("fleet: cannot connect", "broker", c.o.Broker, "retry_in", retryIn, "err", err)
}

// goodbye publishes the device's offline State before a clean disconnect.
func (c *Client) goodbye(pc mqtt.Client) {
	// Best effort: the broker's will says the same if this one is lost.
	_ = c.sess.Send(context.Background(), pc, time.Second, func(pc mqtt.Client) mqtt.Token {
		return pc.Publish(StateTopic(c.o.DeviceID), 1, true, c.offline)
	})
}

// setup prepares a new connection: subscribe, publish the birth.
func (c *Client) setup(ctx context.Context, pc mqtt.Client) error {
	c.connects.Add(1)
	filters := map[string]byte{}
	if c.o.DeviceID != "" {
		for _, f := range append([]string{CommandFilter(c.o.DeviceID)}, groupFilters(c.o.Groups)...) {
			pc.AddRoute(f, c.receive)
			filters[f] = commandQoS
		}
	}
	c.mu.Lock()
	for f, s := range c.subs {
		pc.AddRoute(f, route(s.h))
		filters[f] = s.qos
	}
	c.mu.Unlock()
	if len(filters) > 0 {
		if err := c.sess.Send(ctx, pc, c.o.ConnectTimeout, func(pc mqtt.Client) mqtt.Token { return pc.SubscribeMultiple(filters, nil) }); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
	if c.o.DeviceID != "" {
		birth, err := c.birth()
		if err != nil {
			return err
		}
		if err := c.sess.Send(ctx, pc, c.o.PublishTimeout, func(pc mqtt.Client) mqtt.Token {
			return pc.Publish(StateTopic(c.o.DeviceID), 1, true, birth)
		}); err != nil {
			return fmt.Errorf("publish birth: %w", err)
		}
	}
	return nil
}

func groupFilters(groups []string) []string {
	f := make([]string, len(groups))
	for i, g := range groups {
		f[i] = GroupCommandFilter(g)
	}
	return f
}

func route(h MessageHandler) mqtt.MessageHandler {
	return func(_ mqtt.Client, m mqtt.Message) { h(m.Topic(), m.Payload()) }
}

func (c *Client) birth() ([]byte, error) {
	var s State
	if c.o.Birth != nil {
		s = c.o.Birth()
	}
	s.State = Online
	if s.Time.IsZero() {
		s.Time = time.Now().UTC()
	}
	b, err := Encode(&s)
	if err != nil {
		return nil, fmt.Errorf("birth: %w", err)
	}
	return b, nil
}

// receive runs on paho's router goroutine, so it never blocks: a full
// queue drops the command.
func (c *Client) receive(_ mqtt.Client, m mqtt.Message) {
	if len(m.Payload()) == 0 {
		return // the operator cleared the command
	}
	if !c.sess.Enqueue(m) {
		c.dropped.Add(1)
		c.log.Warn("fleet: command queue full; command dropped until the next connection", "topic", m.Topic(), "queue", c.sess.QueueCap())
	}
}

// handle checks one command and passes it on, or rejects it.
func (c *Client) handle(ctx context.Context, topic string, payload []byte) {
	t, err := ParseTopic(topic)
	if err != nil || (t.Kind != KindCommand && t.Kind != KindGroupCommand) {
		c.rejected.Add(1)
		c.log.Warn("fleet: command on a malformed topic ignored", "topic", topic, "err", err)
		return
	}
	var cmd Command
	err = Decode(payload, &cmd)
	if err == nil && (cmd.Op != t.Op || cmd.ID != t.CmdID) {
		err = fmt.Errorf("command op %q id %q on topic of op %q id %q", cmd.Op, cmd.ID, t.Op, t.CmdID)
	}
	if err != nil {
		c.rejected.Add(1)
		c.log.Warn("fleet: command rejected", "topic", topic, "err", err)
		if werr := c.WriteStatus(ctx, t.Op, CommandStatus{ID: t.CmdID, State: StatusRejected, Reason: err.Error()}); werr != nil {
			c.log.Warn("fleet: cannot write status", "topic", topic, "err", werr)
		}
		return
	}
	c.commands.Add(1)
	if c.o.OnCommand != nil {
		c.o.OnCommand(ctx, t, cmd)
	}
}

// WriteStatus publishes st, retained, on the device's status topic of the
// command (op, st.ID), whether the command came for the device or for a
// group. Time is set to now if zero; a reason is cut to fit.
//
// A status the broker has not acknowledged (the connection is down, the
// publish timed out) is kept and sent again after every reconnection,
// and every few seconds while connected, until the broker acknowledges
// it or a later status of the same command replaces it; the error says
// it was not sent now. The statuses kept live in memory: after a restart
// the command's retained delivery asks for its status again.
func (c *Client) WriteStatus(ctx context.Context, op string, st CommandStatus) error {
	if c.o.DeviceID == "" {
		return errors.New("writing a command status: not a device client")
	}
	if err := ValidID(op); err != nil {
		return fmt.Errorf("writing a command status: op: %w", err)
	}
	if st.Time.IsZero() {
		st.Time = time.Now().UTC()
	}
	if len(st.Reason) > maxText {
		st.Reason = strings.ToValidUTF8(st.Reason[:maxText-3], "") + "..."
	}
	b, err := Encode(&st)
	if err != nil {
		return fmt.Errorf("writing a command status: %w", err)
	}
	c.statuses.Update(CommandRecord{Op: op, CommandStatus: st}, func(r CommandRecord) bool { return r.Op == op && r.ID == st.ID })
	topic := StatusTopic(c.o.DeviceID, op, st.ID)
	c.smu.Lock()
	c.gen++
	u := unsentStatus{payload: b, gen: c.gen}
	c.unsent[topic] = u
	c.trimUnsent()
	c.smu.Unlock()
	if _, err := c.sendStatus(ctx, topic, u); err != nil {
		return fmt.Errorf("%w (kept; sent again once connected)", err)
	}
	return nil
}

// trimUnsent forgets the oldest unsent statuses beyond maxUnsent. The
// caller holds smu.
func (c *Client) trimUnsent() {
	for len(c.unsent) > maxUnsent {
		oldest, og := "", uint64(0)
		for t, u := range c.unsent {
			if oldest == "" || u.gen < og {
				oldest, og = t, u.gen
			}
		}
		delete(c.unsent, oldest)
		c.log.Warn("fleet: too many unsent command statuses; the oldest is no longer sent again", "topic", oldest)
	}
}

// sendStatus publishes u on topic unless a later status replaced it,
// and forgets it once the broker acknowledged it. sent is false when
// there was nothing to send.
func (c *Client) sendStatus(ctx context.Context, topic string, u unsentStatus) (sent bool, err error) {
	c.smu.Lock()
	if cur, ok := c.unsent[topic]; !ok || cur.gen != u.gen {
		c.smu.Unlock()
		return false, nil // replaced by a later status, or already acknowledged
	}
	p := c.sess.Client()
	if p == nil {
		c.smu.Unlock()
		return false, fmt.Errorf("publishing to %s: %w", topic, ErrNotConnected)
	}
	// Handed over under smu: the connection sends in the order of the
	// hand-overs.
	tok, err := c.sess.HandOver(ctx, p, c.o.PublishTimeout, func(p mqtt.Client) mqtt.Token { return p.Publish(topic, 1, true, u.payload) })
	c.smu.Unlock()
	if err == nil {
		err = mqttconn.Wait(ctx, tok, c.o.PublishTimeout)
	}
	if err != nil {
		return false, fmt.Errorf("publishing to %s: %w", topic, err)
	}
	c.published.Add(1)
	c.publishedBytes.Add(uint64(len(u.payload)))
	c.smu.Lock()
	if cur, ok := c.unsent[topic]; ok && cur.gen == u.gen {
		delete(c.unsent, topic)
	}
	c.smu.Unlock()
	return true, nil
}

// Unsent is how many command statuses wait to be sent again.
func (c *Client) Unsent() int {
	c.smu.Lock()
	defer c.smu.Unlock()
	return len(c.unsent)
}

// resendLoop sends the unsent statuses again after each connection and
// every resendEvery while some remain, oldest first.
func (c *Client) resendLoop(ctx context.Context) {
	t := time.NewTicker(resendEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.resend:
		case <-t.C:
		}
		if c.sess.Client() == nil {
			continue
		}
		c.smu.Lock()
		type item struct {
			topic string
			u     unsentStatus
		}
		items := make([]item, 0, len(c.unsent))
		for t, u := range c.unsent {
			items = append(items, item{t, u})
		}
		c.smu.Unlock()
		sort.Slice(items, func(i, j int) bool { return items[i].u.gen < items[j].u.gen })
		for _, it := range items {
			sent, err := c.sendStatus(ctx, it.topic, it.u)
			if err != nil {
				c.log.Debug("fleet: command status not sent again yet", "topic", it.topic, "err", err)
				break
			}
			if sent {
				c.log.Info("fleet: command status sent again", "topic", it.topic)
			}
		}
	}
}

// CommandRecord is the last status a device wrote for one command.
type CommandRecord struct {
	Op string `json:"op"`
	CommandStatus
}

// RecentCommands returns the last status written for each of the last
// commands (at most 20), newest first.
func (c *Client) RecentCommands() []CommandRecord { return c.statuses.Newest() }

// Publish sends payload on topic and, for QoS 1 and 2, waits until the
// broker has acknowledged it, ctx ends or PublishTimeout passes. An error
// means the message may or may not have arrived; a nil error at QoS 1
// means the broker has it.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte, qos byte, retained bool) error {
	if qos > 2 {
		return fmt.Errorf("publishing to %s: QoS %d; want 0, 1 or 2", topic, qos)
	}
	if topic == "" || strings.ContainsAny(topic, "+#\x00") || len(topic) > 65535 {
		return fmt.Errorf("publishing to %q: not a topic name", clip(topic))
	}
	p := c.sess.Client()
	if p == nil {
		return fmt.Errorf("publishing to %s: %w", topic, ErrNotConnected)
	}
	if err := c.sess.Send(ctx, p, c.o.PublishTimeout, func(p mqtt.Client) mqtt.Token { return p.Publish(topic, qos, retained, payload) }); err != nil {
		return fmt.Errorf("publishing to %s: %w", topic, err)
	}
	c.published.Add(1)
	c.publishedBytes.Add(uint64(len(payload)))
	return nil
}

// Subscribe subscribes to filter now, if connected, and after every
// reconnection until Unsubscribe. h runs on the network goroutine (see
// MessageHandler). Subscribing again to the same filter replaces h. The
// error is that of the current subscription; the filter stays recorded
// even when it fails for want of a connection.
func (c *Client) Subscribe(ctx context.Context, filter string, qos byte, h MessageHandler) error {
	if filter == "" || qos > 2 || h == nil {
		return fmt.Errorf("subscribing to %q: want a filter, qos 0..2 and a handler", filter)
	}
	c.mu.Lock()
	c.subs[filter] = subscription{qos: qos, h: h}
	c.mu.Unlock()
	p := c.sess.Client()
	if p == nil {
		return fmt.Errorf("subscribing to %s: %w", filter, ErrNotConnected)
	}
	p.AddRoute(filter, route(h))
	if err := c.sess.Send(ctx, p, c.o.ConnectTimeout, func(p mqtt.Client) mqtt.Token { return p.Subscribe(filter, qos, nil) }); err != nil {
		return fmt.Errorf("subscribing to %s: %w", filter, err)
	}
	return nil
}

// Unsubscribe ends subscriptions made with Subscribe.
func (c *Client) Unsubscribe(ctx context.Context, filters ...string) error {
	c.mu.Lock()
	for _, f := range filters {
		delete(c.subs, f)
	}
	c.mu.Unlock()
	p := c.sess.Client()
	if p == nil || len(filters) == 0 {
		return nil
	}
	if err := c.sess.Send(ctx, p, c.o.ConnectTimeout, func(p mqtt.Client) mqtt.Token { return p.Unsubscribe(filters...) }); err != nil {
		return fmt.Errorf("unsubscribing: %w", err)
	}
	return nil
}
