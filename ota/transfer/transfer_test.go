package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/testenv"
)

// memBroker keeps retained messages and delivers them to exact-topic
// subscriptions, synchronously: enough to test the Receiver's logic
// without a network.
type memBroker struct {
	mu       sync.Mutex
	retained map[string][]byte
	subs     map[string]fleet.MessageHandler
}

func newMemBroker() *memBroker {
	return &memBroker{retained: map[string][]byte{}, subs: map[string]fleet.MessageHandler{}}
}

func (m *memBroker) Publish(_ context.Context, topic string, payload []byte, _ byte, retained bool) error {
	m.mu.Lock()
	if retained {
		if len(payload) == 0 {
			delete(m.retained, topic)
		} else {
			m.retained[topic] = payload
		}
	}
	h := m.subs[topic]
	m.mu.Unlock()
	if h != nil {
		h(topic, payload)
	}
	return nil
}

func (m *memBroker) Subscribe(_ context.Context, filter string, _ byte, h fleet.MessageHandler) error {
	m.mu.Lock()
	m.subs[filter] = h
	p, ok := m.retained[filter]
	m.mu.Unlock()
	if ok {
		h(filter, p)
	}
	return nil
}

func (m *memBroker) Unsubscribe(_ context.Context, filters ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range filters {
		delete(m.subs, f)
	}
	return nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestMeta(t *testing.T) {
	tests := []struct {
		name      string
		size      int64
		chunk     int
		wantCount int
	}{
		{name: "empty", size: 0, chunk: 4, wantCount: 0},
		{name: "one byte", size: 1, chunk: 4, wantCount: 1},
		{name: "exact", size: 8, chunk: 4, wantCount: 2},
		{name: "remainder", size: 9, chunk: 4, wantCount: 3},
		// The 3,610,798-byte mobilenet_v2 model in 64 KiB chunks:
		// 55 * 65536 = 3,604,480, and 6,318 bytes more make a 56th.
		{name: "mobilenet", size: 3610798, chunk: 65536, wantCount: 56},
	}
	for _, tc := range tests {
		if got := Meta(strings.Repeat("0", 64), tc.size, tc.chunk).Count; got != tc.wantCount {
			t.Errorf("Meta(%s).Count = %d; want %d", tc.name, got, tc.wantCount)
		}
	}
}

func TestFetchMem(t *testing.T) {
	testenv.CheckLeaks(t)
	blob := randomBlob(10_000, 1)
	tests := []struct {
		name    string
		tamper  func(b *memBroker, meta fleet.BlobMeta)
		wantErr error
		wantIn  string
	}{
		{name: "ok"},
		{
			name: "short chunk",
			tamper: func(b *memBroker, meta fleet.BlobMeta) {
				b.Publish(context.Background(), fleet.BlobChunkTopic(meta.SHA256, 1), []byte("short"), 1, true)
			},
			wantErr: ErrCorruptChunk, wantIn: "5 bytes; chunk 1 of a 10000-byte blob in chunks of 1024 must have 1024",
		},
		{
			name: "last chunk too long",
			tamper: func(b *memBroker, meta fleet.BlobMeta) {
				// 10000 - 9*1024 = 784 bytes are due; 1024 arrive.
				b.Publish(context.Background(), fleet.BlobChunkTopic(meta.SHA256, 9), make([]byte, 1024), 1, true)
			},
			wantErr: ErrCorruptChunk, wantIn: "must have 784",
		},
		{
			name: "flipped byte",
			tamper: func(b *memBroker, meta fleet.BlobMeta) {
				c := append([]byte(nil), blob[2048:3072]...)
				c[7] ^= 1
				b.Publish(context.Background(), fleet.BlobChunkTopic(meta.SHA256, 2), c, 1, true)
			},
			wantErr: ErrDigestMismatch, wantIn: "part file discarded",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newMemBroker()
			meta, err := Publish(context.Background(), b, bytes.NewReader(blob), int64(len(blob)), &PublishOptions{ChunkSize: 1024})
			if err != nil {
				t.Fatal(err)
			}
			if meta.Count != 10 || meta.SHA256 != sha(blob) {
				t.Fatalf("Publish meta = %+v; want 10 chunks of sha256 %s", meta, sha(blob))
			}
			if tc.tamper != nil {
				tc.tamper(b, meta)
			}
			got, err := FetchMeta(context.Background(), b, meta.SHA256, int64(len(blob)))
			if err != nil || got != meta {
				t.Fatalf("FetchMeta = %+v, %v; want %+v", got, err, meta)
			}
			r := &Receiver{Sub: b, Dir: t.TempDir(), Window: 3, Log: quietLog()}
			path, err := r.Fetch(context.Background(), meta)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantIn) {
					t.Fatalf("Fetch = %v; want %v containing %q", err, tc.wantErr, tc.wantIn)
				}
				if errors.Is(err, ErrDigestMismatch) {
					for _, p := range []string{r.PartPath(meta.SHA256), r.BitmapPath(meta.SHA256)} {
						if _, err := os.Stat(p); err == nil {
							t.Errorf("%s left after a digest mismatch", p)
						}
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(data, blob) {
				t.Fatalf("Fetch wrote %d bytes (%v); want the %d-byte blob", len(data), err, len(blob))
			}
			if len(b.subs) != 0 {
				t.Errorf("subscriptions left: %v", b.subs)
			}
			// Clear leaves nothing retained.
			if err := Clear(context.Background(), b, meta); err != nil {
				t.Fatal(err)
			}
			if len(b.retained) != 0 {
				t.Errorf("Clear left %d retained messages", len(b.retained))
			}
			// A second Fetch finds the file.
			if p2, err := r.Fetch(context.Background(), meta); err != nil || p2 != path {
				t.Errorf("Fetch again = %q, %v; want %q", p2, err, path)
			}
		})
	}
}

// badTopicSub delivers a message on a topic it was not asked for.
type badTopicSub struct{ topic string }

func (s badTopicSub) Subscribe(_ context.Context, _ string, _ byte, h fleet.MessageHandler) error {
	h(s.topic, []byte("x"))
	return nil
}
func (badTopicSub) Unsubscribe(context.Context, ...string) error { return nil }

func TestFetchBadIndex(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	meta := Meta(sum, 10, 4)
	tests := []struct{ name, topic, wantIn string }{
		{name: "index past the end", topic: fleet.BlobChunkTopic(sum, 3), wantIn: "index 3; the blob has chunks 0..2"},
		{name: "not a number", topic: fleet.BlobMetaTopic(sum) + "x", wantIn: "chunk index"},
		{name: "other blob", topic: fleet.BlobChunkTopic(strings.Repeat("cd", 32), 0), wantIn: "not a chunk of this blob"},
	}
	for _, tc := range tests {
		r := &Receiver{Sub: badTopicSub{tc.topic}, Dir: t.TempDir(), Log: quietLog()}
		_, err := r.Fetch(context.Background(), meta)
		if !errors.Is(err, ErrCorruptChunk) || !strings.Contains(err.Error(), tc.wantIn) {
			t.Errorf("Fetch(%s) = %v; want ErrCorruptChunk containing %q", tc.name, err, tc.wantIn)
		}
	}
}

func TestFetchBadMeta(t *testing.T) {
	meta := Meta(strings.Repeat("ab", 32), 10, 4)
	meta.Count = 2
	r := &Receiver{Sub: newMemBroker(), Dir: t.TempDir()}
	if _, err := r.Fetch(context.Background(), meta); err == nil || !strings.Contains(err.Error(), "count 2") {
		t.Errorf("Fetch(count 2 for 10 bytes in 4) = %v; want an error naming the count", err)
	}
}

// TestStaleBitmap: a bitmap for another chunk size restarts the blob
// rather than trusting the wrong offsets.
func TestStaleBitmap(t *testing.T) {
	blob := randomBlob(5000, 2)
	b := newMemBroker()
	meta, err := Publish(context.Background(), b, bytes.NewReader(blob), int64(len(blob)), &PublishOptions{ChunkSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &Receiver{Sub: b, Dir: dir, Log: quietLog()}
	old := newBitmap(5000, 500, 10)
	for i := range 10 {
		old.set(i)
	}
	if err := os.WriteFile(r.BitmapPath(meta.SHA256), old.marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.PartPath(meta.SHA256), make([]byte, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	path, err := r.Fetch(context.Background(), meta)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, blob) {
		t.Error("blob fetched over a stale bitmap differs")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 1 {
		t.Errorf("files left in dir: %v; want only the blob", m)
	}
}

func TestMosquittoFetch(t *testing.T) {
	testenv.CheckLeaks(t)
	br := startBroker(t)
	blob := randomBlob(1<<20+123, 3)
	pub := runClient(t, br.URL())
	meta, err := Publish(context.Background(), pub, bytes.NewReader(blob), int64(len(blob)), nil)
	if err != nil {
		t.Fatal(err)
	}
	// 1048699 bytes in 64 KiB chunks: 16 full chunks and one of 123.
	if meta.Count != 17 {
		t.Fatalf("Publish count = %d; want 17", meta.Count)
	}
	dev := runClient(t, br.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := FetchMeta(ctx, dev, meta.SHA256, meta.Size)
	if err != nil || m != meta {
		t.Fatalf("FetchMeta = %+v, %v; want %+v", m, err, meta)
	}
	var last Progress
	r := &Receiver{Sub: dev, Dir: t.TempDir(), Window: 4, Log: quietLog(), Progress: func(p Progress) { last = p }}
	path, err := r.Fetch(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, blob) {
		t.Fatal("fetched blob differs")
	}
	if last.Bytes != meta.Size || last.Chunks != 17 {
		t.Errorf("last progress %+v; want %d bytes in 17 chunks", last, meta.Size)
	}

	// gc: after Clear a new subscriber finds no meta.
	if err := Clear(ctx, pub, meta); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel2()
	if _, err := FetchMeta(short, runClient(t, br.URL()), meta.SHA256, meta.Size); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("FetchMeta after Clear = %v; want a timeout", err)
	}
}

// TestMosquittoResume cancels a Fetch halfway and proves the second one
// requests only the chunks the first did not record.
func TestMosquittoResume(t *testing.T) {
	testenv.CheckLeaks(t)
	br := startBroker(t)
	blob := randomBlob(40*4096, 4)
	pub := runClient(t, br.URL())
	meta, err := Publish(context.Background(), pub, bytes.NewReader(blob), int64(len(blob)), &PublishOptions{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dev := runClient(t, br.URL())

	ctx, cancel := context.WithCancel(context.Background())
	first := &countingSub{Subscriber: dev}
	r := &Receiver{Sub: first, Dir: dir, Window: 4, SyncEvery: 3, Log: quietLog(), Progress: func(p Progress) {
		if p.Chunks >= 20 {
			cancel()
		}
	}}
	if _, err := r.Fetch(ctx, meta); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch cancelled = %v; want context.Canceled", err)
	}
	data, err := os.ReadFile(r.BitmapPath(meta.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	held, err := parseBitmap(data, meta.Size, meta.ChunkSize, meta.Count)
	if err != nil {
		t.Fatal(err)
	}
	if held.have < 20 {
		t.Fatalf("bitmap after cancel holds %d chunks; want >= 20", held.have)
	}

	second := &countingSub{Subscriber: runClient(t, br.URL())}
	r2 := &Receiver{Sub: second, Dir: dir, Window: 4, Log: quietLog()}
	path, err := r2.Fetch(context.Background(), meta)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, blob) {
		t.Fatal("resumed blob differs")
	}
	for i := range meta.Count {
		n := second.chunks[i]
		switch {
		case held.has(i) && n != 0:
			t.Errorf("chunk %d was held but subscribed %d times after resuming", i, n)
		case !held.has(i) && n != 1:
			t.Errorf("chunk %d was missing and subscribed %d times; want 1", i, n)
		}
	}
	t.Logf("first run held %d of %d chunks; second run subscribed to %d", held.have, meta.Count, len(second.chunks))
}

// TestMosquittoBrokerRestart stops the broker mid-transfer; the Fetch
// completes once it is back (retained chunks persisted by mosquitto).
func TestMosquittoBrokerRestart(t *testing.T) {
	testenv.CheckLeaks(t)
	br := startBroker(t)
	blob := randomBlob(30*4096, 5)
	pub := runClient(t, br.URL())
	meta, err := Publish(context.Background(), pub, bytes.NewReader(blob), int64(len(blob)), &PublishOptions{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	dev := runClient(t, br.URL())
	restarted := make(chan struct{})
	var once sync.Once
	r := &Receiver{Sub: dev, Dir: t.TempDir(), Window: 2, Stall: 500 * time.Millisecond, Log: quietLog(),
		Progress: func(p Progress) {
			if p.Chunks == 10 {
				once.Do(func() {
					br.Stop()
					go func() {
						time.Sleep(300 * time.Millisecond)
						br.Start()
						close(restarted)
					}()
				})
			}
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path, err := r.Fetch(ctx, meta)
	if err != nil {
		t.Fatal(err)
	}
	<-restarted
	if got, _ := os.ReadFile(path); !bytes.Equal(got, blob) {
		t.Fatal("blob fetched across a broker restart differs")
	}
	if st := dev.Stats(); st.Lost == 0 {
		t.Errorf("device client stats %+v; want a lost connection", st)
	}
}

// TestMosquittoCorruptChunk: a wrong-length chunk on the broker stops
// the Fetch with an error naming it.
func TestMosquittoCorruptChunk(t *testing.T) {
	testenv.CheckLeaks(t)
	br := startBroker(t)
	blob := randomBlob(8*4096, 6)
	pub := runClient(t, br.URL())
	meta, err := Publish(context.Background(), pub, bytes.NewReader(blob), int64(len(blob)), &PublishOptions{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(context.Background(), fleet.BlobChunkTopic(meta.SHA256, 5), blob[:100], 1, true); err != nil {
		t.Fatal(err)
	}
	r := &Receiver{Sub: runClient(t, br.URL()), Dir: t.TempDir(), Log: quietLog()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = r.Fetch(ctx, meta)
	if !errors.Is(err, ErrCorruptChunk) || !strings.Contains(err.Error(), "/5: 100 bytes") {
		t.Fatalf("Fetch = %v; want ErrCorruptChunk naming chunk 5 and 100 bytes", err)
	}
}
