package brokertest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/agent"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/link"
	"github.com/edged-dev/edged/cmd/edgectl/cli"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/brokertest"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/ota/transfer"
)

// kinds are the brokers of the matrix: EDGED_BROKERS (comma-separated)
// or, by default, mosquitto and the NATS cluster; make test-brokers adds
// RabbitMQ, whose start takes a minute on the test machines.
func kinds() []string {
	if s := os.Getenv("EDGED_BROKERS"); s != "" {
		return strings.Split(s, ",")
	}
	return []string{"mosquitto", "nats"}
}

// TestMatrix runs the fleet protocol's paths against each broker: birth
// and last will, telemetry, commands (retained for a device that connects
// later), the outbox across a broker restart, a chunked transfer resumed
// after a broker restart, and a 3-device rollout with real agents and
// edgectl.
func TestMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real brokers and agents")
	}
	for _, kind := range kinds() {
		t.Run(kind, func(t *testing.T) {
			t0 := time.Now()
			b := brokertest.Start(t, kind)
			t.Logf("%s serves MQTT after %v", kind, time.Since(t0).Round(time.Millisecond))
			t.Run("birth-will", func(t *testing.T) { birthWill(t, b) })
			t.Run("telemetry", func(t *testing.T) { telemetry(t, b) })
			t.Run("commands", func(t *testing.T) { commands(t, b) })
			t.Run("status-after-drop", func(t *testing.T) { statusAfterDrop(t, b) })
			t.Run("transfer-resume", func(t *testing.T) { transferResume(t, b, b.Stop, b.Start) })
			t.Run("rollout", func(t *testing.T) { rolloutThree(t, b, b.URL(), nil) })
			t.Run("outbox-restart", func(t *testing.T) { outboxRestart(t, b, b.Stop, b.Start) })
			t.Logf("%s matrix: %v", kind, time.Since(t0).Round(time.Millisecond))
		})
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// watcher is a raw MQTT client (not edged's) that records what arrives.
type watcher struct {
	c    mqtt.Client
	mu   sync.Mutex
	msgs []string // "topic payload"
}

// watch connects to url (every node of a cluster) and subscribes to
// filters at QoS 1. With a session name the session is persistent: what
// arrives while it is disconnected (a broker restart) is kept for it.
func watch(t *testing.T, url, session string, filters ...string) *watcher {
	t.Helper()
	w := &watcher{}
	o := mqtt.NewClientOptions().SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).
		SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).SetOrderMatters(true)
	for _, u := range strings.Split(url, ",") {
		o.AddBroker(u)
	}
	if session != "" {
		o.SetClientID(session).SetCleanSession(false)
	} else {
		o.SetClientID(fmt.Sprintf("watch-%d", time.Now().UnixNano()))
	}
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		w.mu.Lock()
		w.msgs = append(w.msgs, m.Topic()+" "+string(m.Payload()))
		w.mu.Unlock()
	})
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	o.SetOnConnectHandler(func(c mqtt.Client) {
		// Again after every reconnect (a clean session forgets them).
		c.SubscribeMultiple(subs, nil).WaitTimeout(10 * time.Second)
	})
	w.c = mqtt.NewClient(o)
	if tok := w.c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	if tok := w.c.SubscribeMultiple(subs, nil); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher subscribe %v: %v", filters, tok.Error())
	}
	t.Cleanup(func() { w.c.Disconnect(100) })
	return w
}

// seen is what arrived on topic, in order.
func (w *watcher) seen(topic string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, m := range w.msgs {
		if tp, p, _ := strings.Cut(m, " "); tp == topic {
			out = append(out, p)
		}
	}
	return out
}

func (w *watcher) last(topic string) string {
	s := w.seen(topic)
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

func (w *watcher) publish(t *testing.T, topic string, payload []byte, retained bool) {
	t.Helper()
	if tok := w.c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// device runs an agent-side link (fleet client, outbox, command
// dispatch) for id until the test ends or stop is called.
func device(t *testing.T, url, id string) (l *link.Link, stop func()) {
	t.Helper()
	l, err := link.New(link.Options{
		Fleet:      fleet.Options{Broker: url, DeviceID: id, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond},
		Birth:      func() fleet.State { return fleet.State{Version: "matrix"} },
		OutboxPath: filepath.Join(t.TempDir(), "outbox.db"),
		Log:        quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done; l.Close() }) }
	t.Cleanup(stop)
	testenv.WaitFor(t, id+" connected", 60*time.Second, func() bool { return l.Client().Stats().Connected })
	return l, stop
}

func stateOf(p string) string {
	var s fleet.State
	if fleet.Decode([]byte(p), &s) != nil {
		return "undecodable: " + p
	}
	return s.State
}

// birthWill: the retained birth says online; a link cut without a
// DISCONNECT makes the broker publish the will (offline); the device
// reconnects and is online again.
func birthWill(t *testing.T, b brokertest.Broker) {
	id := "bw-" + b.Kind()
	first := strings.Split(b.URL(), ",")[0]
	px := brokertest.NewProxy(t, strings.TrimPrefix(first, "tcp://"))
	w := watch(t, b.URL(), "", fleet.StateTopic(id))
	_, stop := device(t, px.URL(), id)
	topic := fleet.StateTopic(id)
	testenv.WaitFor(t, "birth online", 30*time.Second, func() bool { return stateOf(w.last(topic)) == fleet.Online })
	px.Cut()
	testenv.WaitFor(t, "will offline after the cut", 60*time.Second, func() bool { return stateOf(w.last(topic)) == fleet.Offline })
	testenv.WaitFor(t, "online again after reconnecting", 60*time.Second, func() bool { return stateOf(w.last(topic)) == fleet.Online })
	stop()
	// A clean stop says offline itself; a client connecting now reads it
	// retained.
	testenv.WaitFor(t, "offline after stop", 30*time.Second, func() bool { return stateOf(w.last(topic)) == fleet.Offline })
	late := watch(t, b.URL(), "", topic)
	testenv.WaitFor(t, "retained offline for a late subscriber", 30*time.Second, func() bool { return stateOf(late.last(topic)) == fleet.Offline })
}

// telemetry: QoS 0 snapshots reach a subscriber to every device's
// telemetry.
func telemetry(t *testing.T, b brokertest.Broker) {
	id := "tm-" + b.Kind()
	w := watch(t, b.URL(), "", fleet.Prefix+"/dev/+/telemetry")
	l, _ := device(t, b.URL(), id)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		p := fmt.Sprintf(`{"v":1,"n":%d}`, i)
		if err := l.Publish(ctx, fleet.TelemetryTopic(id), []byte(p), 0, false); err != nil {
			t.Fatal(err)
		}
	}
	// QoS 0 may drop on a busy broker, never reorder or invent.
	testenv.WaitFor(t, "telemetry", 20*time.Second, func() bool { return len(w.seen(fleet.TelemetryTopic(id))) > 0 })
	got := w.seen(fleet.TelemetryTopic(id))
	last := -1
	for _, p := range got {
		var n int
		if _, err := fmt.Sscanf(p, `{"v":1,"n":%d}`, &n); err != nil || n <= last || n >= 20 {
			t.Fatalf("telemetry %q after n=%d: want increasing n in 0..19", p, last)
		}
		last = n
	}
	t.Logf("%d of 20 QoS 0 snapshots arrived", len(got))
}

// commands: a ping retained before the device connects is answered when
// it does (brokers that give wildcard subscriptions retained messages);
// a ping published while it is connected is answered on every broker;
// the answer is retained for a later reader.
func commands(t *testing.T, b brokertest.Broker) {
	id := "cmd-" + b.Kind()
	op := watch(t, b.URL(), "", fleet.Prefix+"/dev/"+id+"/cmd/+/+/status")
	ping := func(cid string) []byte {
		p, err := fleet.Encode(&fleet.Command{Op: fleet.OpPing, ID: cid, Issued: time.Now().UTC()})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	done := func(cid string) func() bool {
		return func() bool {
			var st fleet.CommandStatus
			return fleet.Decode([]byte(op.last(fleet.StatusTopic(id, fleet.OpPing, cid))), &st) == nil && st.State == fleet.StatusDone
		}
	}
	op.publish(t, fleet.CommandTopic(id, fleet.OpPing, "before"), ping("before"), true)
	device(t, b.URL(), id)
	if b.Caps().RetainedWildcard {
		testenv.WaitFor(t, "the retained ping answered", 30*time.Second, done("before"))
	} else {
		// The device subscribes to cmd/+/+: this broker sends it no
		// retained command. Documented in docs/SCALING.md.
		time.Sleep(3 * time.Second)
		if done("before")() {
			t.Errorf("%s answered a command retained before it connected; the broker now gives wildcard subscriptions retained messages: update Caps and docs/SCALING.md", id)
		}
	}
	op.publish(t, fleet.CommandTopic(id, fleet.OpPing, "live"), ping("live"), true)
	testenv.WaitFor(t, "the live ping answered", 30*time.Second, done("live"))
	// The status is retained: an exact subscription made now reads it.
	late := watch(t, b.URL(), "", fleet.StatusTopic(id, fleet.OpPing, "live"))
	testenv.WaitFor(t, "the retained status for a late reader", 30*time.Second, func() bool {
		return strings.Contains(late.last(fleet.StatusTopic(id, fleet.OpPing, "live")), `"done"`)
	})
}

// statusAfterDrop: a command's final status written while the device's
// link is down reaches the operator once the link is back, without the
// command being delivered again. The command is published live, not
// retained: RabbitMQ gives a device's wildcard subscription no retained
// command after a reconnection, and a NATS cluster sometimes does not
// either, so the status cannot rely on the command coming again.
func statusAfterDrop(t *testing.T, b brokertest.Broker) {
	id := "drop-" + b.Kind()
	op := watch(t, b.URL(), "", fleet.Prefix+"/dev/"+id+"/cmd/+/+/status", fleet.StateTopic(id))
	p := brokertest.NewProxy(t, strings.TrimPrefix(strings.Split(b.URL(), ",")[0], "tcp://"))
	l, _ := device(t, p.URL(), id)
	// The birth follows the command subscription: a live command
	// published before it would reach nobody.
	testenv.WaitFor(t, id+"'s birth", 30*time.Second, func() bool { return stateOf(op.last(fleet.StateTopic(id))) == fleet.Online })
	var calls atomic.Int32
	finishing, proceed := make(chan struct{}), make(chan struct{})
	written := make(chan error, 1)
	l.Handle(fleet.OpDeploy, func(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
		if calls.Add(1) > 1 {
			return
		}
		l.Client().WriteStatus(ctx, cmd.Op, fleet.CommandStatus{ID: cmd.ID, State: "downloading"})
		close(finishing)
		select {
		case <-proceed:
		case <-ctx.Done():
			return
		}
		// Finished: two statuses are written while the link is down; the
		// later replaces the earlier, which is never sent.
		l.Client().WriteStatus(ctx, cmd.Op, fleet.CommandStatus{ID: cmd.ID, State: "verified"})
		written <- l.Client().WriteStatus(ctx, cmd.Op, fleet.CommandStatus{ID: cmd.ID, State: "active", Reason: "model m version 2 serving"})
	})
	cmd, err := fleet.Encode(&fleet.Command{Op: fleet.OpDeploy, ID: "d1", Issued: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	op.publish(t, fleet.CommandTopic(id, fleet.OpDeploy, "d1"), cmd, false)
	select {
	case <-finishing:
	case <-time.After(30 * time.Second):
		t.Fatal("the device did not start the command within 30s")
	}
	p.Down()
	testenv.WaitFor(t, id+" disconnected", 30*time.Second, func() bool { return !l.Client().Stats().Connected })
	close(proceed)
	if err := <-written; err == nil {
		t.Fatal("the final status was acknowledged while the link was down")
	}
	if n := l.Client().Unsent(); n != 1 {
		t.Errorf("unsent statuses while the link is down: %d; want 1", n)
	}
	time.Sleep(500 * time.Millisecond) // a few reconnection attempts fail
	p.Up()
	topic := fleet.StatusTopic(id, fleet.OpDeploy, "d1")
	state := func() string {
		var st fleet.CommandStatus
		if fleet.Decode([]byte(op.last(topic)), &st) != nil {
			return ""
		}
		return st.State
	}
	testenv.WaitFor(t, "the final status after the reconnection", 60*time.Second, func() bool { return state() == "active" })
	for _, m := range op.seen(topic) {
		if strings.Contains(m, `"verified"`) {
			t.Errorf("the status replaced while the link was down was sent: %s", m)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the command was handled %d times; want 1 (delivered live, once)", n)
	}
	// The retained status is the final one for a reader that comes later.
	late := watch(t, b.URL(), "", topic)
	testenv.WaitFor(t, "the retained final status for a late reader", 30*time.Second, func() bool {
		return strings.Contains(late.last(topic), `"active"`)
	})
	if n := l.Client().Unsent(); n != 0 {
		t.Errorf("unsent statuses after the reconnection: %d; want 0", n)
	}
}

// outboxRestart: events queued before, during and after a broker restart
// (down, then up) all arrive, in order, each once at least; a persistent
// session keeps those sent while the watcher was disconnected too.
func outboxRestart(t *testing.T, b brokertest.Broker, down, up func()) {
	id := "ob-" + b.Kind()
	w := watch(t, b.URL(), "obwatch-"+b.Kind(), fleet.EventsTopic(id))
	l, _ := device(t, b.URL(), id)
	event := func(i int) {
		if _, err := l.Event(fleet.Event{Kind: "matrix", Detail: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func() []uint64 {
		var s []uint64
		for _, p := range w.seen(fleet.EventsTopic(id)) {
			var ev fleet.Event
			if fleet.Decode([]byte(p), &ev) == nil {
				s = append(s, ev.Seq)
			}
		}
		return s
	}
	for i := range 5 {
		event(i)
	}
	testenv.WaitFor(t, "events 1-5 delivered", 30*time.Second, func() bool { return l.Outbox().Stats().Pending == 0 && len(seqs()) >= 5 })
	down()
	for i := 5; i < 10; i++ {
		event(i)
	}
	up()
	for i := 10; i < 15; i++ {
		event(i)
	}
	testenv.WaitFor(t, "15 events", 120*time.Second, func() bool {
		n := map[uint64]bool{}
		for _, q := range seqs() {
			n[q] = true
		}
		return len(n) >= 15
	})
	// QoS 1 may deliver a message again (the watcher's unacknowledged
	// ones after the restart): keep each first arrival.
	var got []uint64
	for _, q := range seqs() {
		if !slices.Contains(got, q) {
			got = append(got, q)
		}
	}
	// The outbox numbers from an arbitrary base, one up per message.
	want := make([]uint64, 15)
	for i := range want {
		want[i] = got[0] + uint64(i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("event sequence numbers %v; want 15 consecutive ones in order", got)
	}
}

func randomBlob(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// client runs a fleet.Client (no device id) until the test ends.
func client(t *testing.T, url string) *fleet.Client {
	t.Helper()
	c, err := fleet.New(fleet.Options{Broker: url, Log: quiet(), MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.WaitFor(t, "client connected", 60*time.Second, func() bool { return c.Stats().Connected })
	return c
}

// transferResume publishes a 1 MiB blob in 16 retained chunks, stops the
// fetch halfway, runs down and up (a broker restart, or a cluster node
// lost), and fetches again: the blob is whole and the second fetch
// received only what the first did not hold, give or take a window.
func transferResume(t *testing.T, b brokertest.Broker, down, up func()) {
	ctx := context.Background()
	pub := client(t, strings.Split(b.URL(), ",")[0])
	data := randomBlob(1<<20, uint64(len(b.Kind())))
	sum := sha256.Sum256(data)
	meta, err := transfer.Publish(ctx, pub, bytes.NewReader(data), int64(len(data)), &transfer.PublishOptions{ChunkSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if meta.SHA256 != hex.EncodeToString(sum[:]) || meta.Count != 16 {
		t.Fatalf("meta %+v; want sha256 %x and 16 chunks", meta, sum)
	}
	dir := t.TempDir()
	// The device lists the nodes from the last: after a node is lost it
	// reconnects to another.
	urls := strings.Split(b.URL(), ",")
	slices.Reverse(urls)
	dev := client(t, strings.Join(urls, ","))
	fctx, cancel := context.WithCancel(ctx)
	var held atomic.Int64
	r := &transfer.Receiver{Sub: dev, Dir: dir, Window: 2, SyncEvery: 1, Stall: 2 * time.Second, Log: quiet(),
		Progress: func(p transfer.Progress) {
			held.Store(int64(p.Chunks))
			if p.Chunks >= 8 {
				cancel()
			}
		}}
	if _, err := r.Fetch(fctx, meta); err == nil {
		t.Fatal("the first fetch finished; want it cancelled halfway")
	}
	first := held.Load()
	down()
	up()
	var second atomic.Int64
	r.Progress = func(p transfer.Progress) { second.Add(1) }
	path, err := r.Fetch(ctx, meta)
	if err != nil {
		t.Fatalf("resumed fetch: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched blob differs from the published one (%v)", err)
	}
	// Progress is called once at the start and once per new chunk.
	if n := second.Load() - 1; n > 16-first || n < 1 {
		t.Errorf("resumed fetch received %d chunks after the first held %d of 16; want %d", n, first, 16-first)
	}
}

// rolloutThree rolls version 2 of hello_world_int8 out to three real
// agents with edgectl (keys init, bundle, rollout start, waves 1 and
// 100%). during, if set, runs once the first device is active.
func rolloutThree(t *testing.T, b brokertest.Broker, opURL string, during func()) {
	ctx := context.Background()
	dir := t.TempDir()
	edgectl := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := cli.Run(ctx, args, &out, &errb); err != nil {
			t.Fatalf("edgectl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	keys := filepath.Join(dir, "keys")
	edgectl("keys", "init", keys)
	signing, _ := filepath.Glob(filepath.Join(keys, "model-*.key"))
	if len(signing) != 1 {
		t.Fatalf("signing keys %q; want one", signing)
	}
	model, err := filepath.Abs("../../testdata/models/hello_world_int8.tflite")
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "v2")
	edgectl("bundle", "--name", "hello", "--version", "2", "--model", model, "--key", signing[0], "--out", bundle)

	urls := strings.Split(b.URL(), ",")
	ids := []string{"ra-" + b.Kind(), "rb-" + b.Kind(), "rc-" + b.Kind()}
	agents := make([]*agent.Agent, len(ids))
	for i, id := range ids {
		// Each agent starts its list at another node of a cluster.
		order := append(slices.Clone(urls[i%len(urls):]), urls[:i%len(urls)]...)
		agents[i] = startAgent(t, id, strings.Join(order, ","), model, filepath.Join(keys, "root.pub"))
	}
	version := func(a *agent.Agent) string {
		for _, m := range a.Status().Models {
			if m.Name == "hello" {
				return m.Version
			}
		}
		return ""
	}
	for i, a := range agents {
		testenv.WaitFor(t, ids[i]+" serving version 1", 60*time.Second, func() bool { return version(a) == "1" })
	}
	if during != nil {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for version(agents[0]) != "2" {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
			during()
		}()
	}
	t0 := time.Now()
	out := edgectl("rollout", "start", "--broker", opURL, "--keys", keys, "--bundle", bundle, "--state", filepath.Join(dir, "rollout.json"),
		"--devices", strings.Join(ids, ","), "--waves", "1,100%", "--device-timeout", "90s")
	t.Logf("rollout to 3 devices: %v", time.Since(t0).Round(time.Millisecond))
	for i, a := range agents {
		if v := version(a); v != "2" {
			t.Errorf("%s serves version %q after the rollout; want 2\n%s", ids[i], v, out)
		}
	}
}

func startAgent(t *testing.T, id, broker, model, rootKey string) *agent.Agent {
	t.Helper()
	yaml := fmt.Sprintf(`version: 1
state_dir: %s
device: {id: %s}
http: {listen: "127.0.0.1:0"}
models:
  - {name: hello, version: "1", path: %s}
fleet: {broker: %q, min_backoff: 50ms, max_backoff: 500ms}
telemetry: {interval: 1h}
ota: {root_key: %s}
`, t.TempDir(), id, model, broker, rootKey)
	cfg, err := config.Parse([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logBuf testenv.SyncBuffer
	a, err := agent.New(cfg, slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("agent %s did not stop within 30s", id)
		}
		if t.Failed() {
			t.Logf("agent %s log:\n%s", id, logBuf.String())
		}
	})
	return a
}

// TestNATSNodeLoss loses one node of the 3-node NATS cluster in the
// middle of a transfer, of a rollout and of the outbox's delivery: the
// clients move to another node, the retained chunks and commands are
// there (replicated), the transfer resumes, the rollout completes and no
// acknowledged event is lost.
func TestNATSNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a NATS cluster and agents")
	}
	if !slices.Contains(kinds(), "nats") {
		t.Skip("EDGED_BROKERS does not name nats")
	}
	c := brokertest.StartNATS(t, 3)
	t.Run("transfer", func(t *testing.T) {
		// The receiver lists node 3 first: killing it mid-transfer moves
		// it to node 2, which holds replicas of the chunks node 1 took.
		transferNodeLoss(t, c, func() { c.KillNode(2) })
		c.StartNode(t, 2)
	})
	t.Run("rollout", func(t *testing.T) {
		// Agent rb lists node 2 first, edgectl uses node 1 alone: node 2
		// dies as the first wave ends, while rb is deploying or about to.
		rolloutThree(t, c, c.NodeURL(0), func() { c.KillNode(1) })
		c.StartNode(t, 1)
	})
	t.Run("outbox", func(t *testing.T) {
		// The device lists node 1 first and the watcher's persistent
		// session lives in JetStream: both move on when node 1 dies.
		outboxRestart(t, c, func() { c.KillNode(0) }, func() {})
		c.StartNode(t, 0)
	})
}

// transferNodeLoss fetches a 1 MiB blob of 16 retained chunks and calls
// kill once half has arrived, without stopping the fetch: it must finish
// whole through another node.
func transferNodeLoss(t *testing.T, b brokertest.Broker, kill func()) {
	ctx := context.Background()
	pub := client(t, strings.Split(b.URL(), ",")[0])
	data := randomBlob(1<<20, 99)
	meta, err := transfer.Publish(ctx, pub, bytes.NewReader(data), int64(len(data)), &transfer.PublishOptions{ChunkSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	urls := strings.Split(b.URL(), ",")
	slices.Reverse(urls)
	dev := client(t, strings.Join(urls, ","))
	var once sync.Once
	r := &transfer.Receiver{Sub: dev, Dir: t.TempDir(), Window: 2, SyncEvery: 1, Stall: 2 * time.Second, Log: quiet(),
		Progress: func(p transfer.Progress) {
			if p.Chunks >= 8 {
				once.Do(func() { go kill() })
			}
		}}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	path, err := r.Fetch(fctx, meta)
	if err != nil {
		t.Fatalf("fetch across the node loss: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched blob differs from the published one (%v)", err)
	}
	if dev.Stats().Lost == 0 {
		t.Errorf("the receiver never lost its connection: the killed node was not the one it used")
	}
}
