package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
)

func TestEnvelope(t *testing.T) {
	tests := []struct {
		payload string
		want    string
	}{
		{`{}`, `{"seq":7}`},
		{` { } `, `{"seq":7} `},
		{`{"v":1}`, `{"seq":7,"v":1}`},
		{"\n{ \"v\":1,\"kind\":\"x\"}", `{"seq":7,"v":1,"kind":"x"}`},
		{`{"a":{"seq":1}}`, `{"seq":7,"a":{"seq":1}}`},
	}
	for _, tt := range tests {
		if err := checkPayload([]byte(tt.payload)); err != nil {
			t.Errorf("checkPayload(%q) = %v", tt.payload, err)
		}
		if got := string(envelope(7, []byte(tt.payload))); got != tt.want {
			t.Errorf("envelope(7, %q) = %q; want %q", tt.payload, got, tt.want)
		}
	}
}

func TestAppendErrors(t *testing.T) {
	b := open(t, tempPath(t), &Options{NoSync: true, MaxMessage: 64, MaxBytes: 1000, Log: slog.New(slog.DiscardHandler)})
	tests := []struct {
		name    string
		kind    Kind
		topic   string
		payload string
		wantErr string
	}{
		{"kind 0", 0, "t", `{}`, "kind 0; want Telemetry, Drift or Event"},
		{"kind 4", 4, "t", `{}`, "kind 4"},
		{"no topic", Event, "", `{}`, "want a topic name"},
		{"wildcard", Event, "a/+", `{}`, "without wildcards"},
		{"not json", Event, "t", `hello`, "want a JSON object"},
		{"array", Event, "t", `[1]`, "want a JSON object"},
		{"null", Event, "t", `null`, "found null"},
		{"has seq", Event, "t", `{"seq":3}`, `has a top-level "seq"`},
		{"too large", Event, "t", `{"a":"` + strings.Repeat("x", 64) + `"}`, "message too large: 72 bytes; want at most 64"},
		{"trailing", Event, "t", `{} {}`, "want a JSON object"},
	}
	for _, tt := range tests {
		seq, err := b.Append(tt.kind, tt.topic, []byte(tt.payload))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Append(%s) = %d, %v; want an error containing %q", tt.name, seq, err, tt.wantErr)
		}
	}
	if n := b.Pending(); n != 0 {
		t.Errorf("Pending = %d after refused appends; want 0", n)
	}
}

// TestOrderAcrossRestart: messages of every kind, some appended before a
// restart and some after, go out in the order appended, with increasing
// sequence numbers that survive the restart.
func TestOrderAcrossRestart(t *testing.T) {
	testenv.CheckLeaks(t)
	path := tempPath(t)
	o := fast()
	o.NoSync = false
	b := open(t, path, o)
	var wantSent []sent
	var last uint64
	for i, kind := range []Kind{Event, Telemetry, Drift, Event, Drift} {
		seqs := appendN(t, b, kind, 10*i, 10*i+10)
		wantSent = append(wantSent, want(kind, seqs, 10*i)...)
		if seqs[0] <= last {
			t.Fatalf("seq %d after %d; want increasing", seqs[0], last)
		}
		last = seqs[len(seqs)-1]
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open(t, path, o)
	if n := b.Pending(); n != 50 {
		t.Fatalf("Pending after reopen = %d; want 50", n)
	}
	seqs := appendN(t, b, Event, 50, 60)
	if seqs[0] != last+1 {
		t.Errorf("first seq after reopen = %d; want %d", seqs[0], last+1)
	}
	wantSent = append(wantSent, want(Event, seqs, 50)...)

	pub := &recorder{}
	stop := deliver(t, b, pub)
	testenv.WaitFor(t, "delivery", 10*time.Second, func() bool { return b.Pending() == 0 })
	stop()
	if d := diff(pub.sent(), wantSent); d != "" {
		t.Error(d)
	}
	if len(pub.bad) > 0 {
		t.Errorf("misused publisher: %v", pub.bad)
	}
	if st := b.Stats(); st.Delivered != 60 || st.Bytes != 0 || st.Appended != 10 {
		t.Errorf("stats %+v; want 60 delivered, 0 bytes, 10 appended since reopen", st)
	}
}

// TestOutage: 10 000 events appended while the broker is down, then it
// comes back: each is delivered once, in order, and the file is empty.
func TestOutage(t *testing.T) {
	testenv.CheckLeaks(t)
	path := tempPath(t)
	b := open(t, path, fast())
	var mu sync.Mutex
	down := true
	pub := &recorder{fail: func(context.Context, int, string, []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return errBrokerDown
		}
		return nil
	}}
	stop := deliver(t, b, pub)
	const n = 10_000
	seqs := appendN(t, b, Event, 0, n)
	testenv.WaitFor(t, "failed attempts", 5*time.Second, func() bool { return b.Stats().PublishErrors >= 3 })
	if got := len(pub.sent()); got != 0 || b.Pending() != n {
		t.Fatalf("while down: %d sent, %d pending; want 0 and %d", got, b.Pending(), n)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	b.Kick()
	testenv.WaitFor(t, "delivery", 15*time.Second, func() bool { return b.Pending() == 0 })
	stop()
	if d := diff(pub.sent(), want(Event, seqs, 0)); d != "" {
		t.Error(d)
	}
	if st := b.Stats(); st.Delivered != n || st.Dropped[Event] != 0 {
		t.Errorf("stats %+v; want %d delivered, none dropped", st, n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if m := fileMessages(t, path); m != 0 {
		t.Errorf("file holds %d records after delivery; want 0", m)
	}
}

// TestFlakyPublisher: failures at random keep the order and lose nothing.
func TestFlakyPublisher(t *testing.T) {
	testenv.CheckLeaks(t)
	b := open(t, tempPath(t), fast())
	rng := rand.New(rand.NewPCG(3, 4))
	var mu sync.Mutex
	pub := &recorder{fail: func(context.Context, int, string, []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(3) == 0 {
			return errBrokerDown
		}
		return nil
	}}
	stop := deliver(t, b, pub)
	var wantSent []sent
	for i := range 10 {
		wantSent = append(wantSent, want(Drift, appendN(t, b, Drift, 50*i, 50*i+50), 50*i)...)
	}
	testenv.WaitFor(t, "delivery", 15*time.Second, func() bool { return b.Pending() == 0 })
	stop()
	if d := diff(pub.sent(), wantSent); d != "" {
		t.Error(d)
	}
	if st := b.Stats(); st.PublishErrors == 0 {
		t.Errorf("stats %+v; want some publish errors", st)
	}
}

// TestKillMidDelivery: the broker acknowledged a message but the process
// died before removing it. The file as it was then is opened again: the
// message is sent again with the same seq, and nothing is lost.
func TestKillMidDelivery(t *testing.T) {
	testenv.CheckLeaks(t)
	path := tempPath(t)
	o := fast()
	o.NoSync = false
	b := open(t, path, o)
	seqs := appendN(t, b, Event, 0, 5)
	acked := make(chan struct{})
	pub := &recorder{fail: func(ctx context.Context, attempt int, _ string, _ []byte) error {
		if attempt <= 3 {
			return nil
		}
		// The broker has messages 1-3; the process freezes before it
		// removes them, so its file is now what a kill would leave.
		close(acked)
		<-ctx.Done()
		return ctx.Err()
	}}
	stop := deliver(t, b, pub)
	<-acked
	image, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	b.Close()
	first := pub.sent()
	if d := diff(first, want(Event, seqs[:3], 0)); d != "" {
		t.Fatalf("before the kill: %s", d)
	}

	restarted := tempPath(t)
	if err := os.WriteFile(restarted, image, 0o600); err != nil {
		t.Fatal(err)
	}
	b2 := open(t, restarted, fast())
	pub2 := &recorder{}
	stop2 := deliver(t, b2, pub2)
	testenv.WaitFor(t, "delivery after restart", 10*time.Second, func() bool { return b2.Pending() == 0 })
	stop2()
	// At least once: 1-3 again (same seq, same bytes), then 4 and 5.
	if d := diff(pub2.sent(), want(Event, seqs, 0)); d != "" {
		t.Error(d)
	}
	if next, err := b2.Append(Event, "t/event", []byte(`{}`)); err != nil || next != seqs[4]+1 {
		t.Errorf("Append after restart = %d, %v; want seq %d", next, err, seqs[4]+1)
	}
}

func TestDeliverTwice(t *testing.T) {
	testenv.CheckLeaks(t)
	b := open(t, tempPath(t), fast())
	stop := deliver(t, b, &recorder{})
	defer stop()
	testenv.WaitFor(t, "Deliver running", time.Second, func() bool { return b.delivering.Load() })
	if err := b.Deliver(context.Background(), &recorder{}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Deliver = %v; want already running", err)
	}
}

func ExampleOutbox() {
	dir, _ := os.MkdirTemp("", "outbox")
	defer os.RemoveAll(dir)
	b, err := Open(dir+"/outbox.db", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	seq, _ := b.Append(Event, "edged/v1/dev/pi-7/events", []byte(`{"v":1,"kind":"fallback"}`))
	fmt.Println(seq > 0, b.Pending())
	// Output: true 1
}

// TestSeqSeed: a new file numbers its messages from the time in
// microseconds, so that they lie above those of a file it replaces.
func TestSeqSeed(t *testing.T) {
	tests := []struct {
		now  time.Time
		want uint64
	}{
		{time.Unix(1_000_000, 0), 1_000_000_000_000},
		{time.Unix(1_000_000, 5000), 1_000_000_000_005},
		{time.Unix(0, 0), 1},
		{time.Unix(-5, 0), 1}, // a clock before 1970
	}
	for _, tt := range tests {
		b := open(t, tempPath(t), &Options{NoSync: true, Now: func() time.Time { return tt.now }})
		seq, err := b.Append(Event, "t", []byte(`{}`))
		if err != nil || seq != tt.want {
			t.Errorf("first seq at %v = %d, %v; want %d", tt.now, seq, err, tt.want)
		}
	}
}
