package transfer

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/fleettest"
	"github.com/edged-dev/edged/internal/mosquittotest"
)

// startBroker runs a mosquitto whose retained messages (the chunks) are
// saved on Stop and survive Restart; nothing limits its queues.
func startBroker(t testing.TB) *mosquittotest.Broker {
	t.Helper()
	return mosquittotest.Start(t, &mosquittotest.Options{Persistent: true,
		Conf: []string{"max_inflight_messages 0", "max_queued_messages 0"}})
}

// runClient runs a fleet.Client until the test ends and waits for its
// first connection.
func runClient(t testing.TB, url string) *fleet.Client {
	t.Helper()
	c, _ := fleettest.Connect(t, fleet.Options{Broker: url, MaxBackoff: 200 * time.Millisecond})
	return c
}

// countingSub counts the chunk subscriptions a Receiver makes.
type countingSub struct {
	Subscriber
	mu     sync.Mutex
	chunks map[int]int // index -> subscriptions
}

func (c *countingSub) Subscribe(ctx context.Context, filter string, qos byte, h fleet.MessageHandler) error {
	if t, err := fleet.ParseTopic(filter); err == nil && t.Kind == fleet.KindBlobChunk {
		c.mu.Lock()
		if c.chunks == nil {
			c.chunks = map[int]int{}
		}
		c.chunks[t.Index]++
		c.mu.Unlock()
	}
	return c.Subscriber.Subscribe(ctx, filter, qos, h)
}

func randomBlob(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// counter is a TCP proxy that counts the bytes it forwards.
type counter struct {
	ln       net.Listener
	upstream string
	bytes    atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func startCounter(t testing.TB, upstream string) *counter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{ln: ln, upstream: upstream}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, down, up)
			c.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				defer c.wg.Done()
				io.Copy(countWriter{dst, &c.bytes}, src)
				dst.Close()
				src.Close()
			}
			c.wg.Add(2)
			go pipe(up, down)
			go pipe(down, up)
		}
	}()
	t.Cleanup(c.close)
	return c
}

// close waits for every connection to end (count final only then).
func (c *counter) close() {
	c.ln.Close()
	c.mu.Lock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (w countWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func (c *counter) url() string { return "tcp://" + c.ln.Addr().String() }

func readModel(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/models/mobilenet_v2_1.0_224_quant.tflite")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
