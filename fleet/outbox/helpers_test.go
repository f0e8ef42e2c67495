package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fast are options for tests: no fsync, short backoff.
func fast() *Options {
	return &Options{NoSync: true, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
}

func open(t *testing.T, path string, o *Options) *Outbox {
	t.Helper()
	b, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func tempPath(t *testing.T) string { return filepath.Join(t.TempDir(), "outbox.db") }

func appendN(t *testing.T, b *Outbox, kind Kind, from, to int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := from; i < to; i++ {
		seq, err := b.Append(kind, "t/"+kind.String(), []byte(fmt.Sprintf(`{"n":%d}`, i)))
		if err != nil {
			t.Fatalf("Append %s %d: %v", kind, i, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

type sent struct {
	topic   string
	payload string
}

// recorder is a Publisher that records what it was given. fail, if set,
// is asked before each attempt (numbered from 1) whether it fails.
type recorder struct {
	mu       sync.Mutex
	fail     func(ctx context.Context, attempt int, topic string, payload []byte) error
	attempts int
	got      []sent
	bad      []string // misuse: wrong qos or retained
}

func (r *recorder) Publish(ctx context.Context, topic string, payload []byte, qos byte, retained bool) error {
	r.mu.Lock()
	r.attempts++
	n, fail := r.attempts, r.fail
	if qos != 1 || retained {
		r.bad = append(r.bad, fmt.Sprintf("%s qos %d retained %v", topic, qos, retained))
	}
	r.mu.Unlock()
	if fail != nil {
		if err := fail(ctx, n, topic, payload); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, sent{topic, string(payload)})
	return nil
}

func (r *recorder) sent() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent(nil), r.got...)
}

var errBrokerDown = errors.New("broker down")

// deliver runs Deliver until stop is called.
func deliver(t *testing.T, b *Outbox, pub Publisher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Deliver(ctx, pub) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Deliver = %v; want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Deliver did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// fileMessages counts the messages in an outbox file by reading it with
// bbolt directly.
func fileMessages(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bolt.Tx) error {
		for _, name := range []string{"msgs", "kinds"} {
			if bk := tx.Bucket([]byte(name)); bk != nil {
				n += bk.Stats().KeyN
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// want builds the expected sends: "{"seq":S,"n":N}" on t/KIND.
func want(kind Kind, seqs []uint64, from int) []sent {
	out := make([]sent, len(seqs))
	for i, s := range seqs {
		out[i] = sent{"t/" + kind.String(), fmt.Sprintf(`{"seq":%d,"n":%d}`, s, from+i)}
	}
	return out
}

func diff(got, want []sent) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d messages; want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("message %d = %s %s; want %s %s", i, got[i].topic, got[i].payload, want[i].topic, want[i].payload)
		}
	}
	return ""
}
