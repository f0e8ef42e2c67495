package brokertest_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/brokertest"
	"github.com/edged-dev/edged/ota/transfer"
)

var slowLink = flag.Bool("brokertest.slowlink", false, "measure chunk sizes and windows over a 1 Mbit/s link")

// TestSlowLink measures (it asserts only that each fetch is whole) a
// 1 MiB blob fetched through a proxy limited to 1 Mbit/s each way, for
// chunks of 64 and 16 KiB and windows of 1, 4 and 16 chunks: the time,
// the bytes that crossed the link, and what a cut at half way costs.
//
//	go test -run TestSlowLink -v ./internal/brokertest/ -args -brokertest.slowlink
func TestSlowLink(t *testing.T) {
	if !*slowLink {
		t.Skip("a measurement: -args -brokertest.slowlink")
	}
	b := brokertest.StartMosquitto(t)
	ctx := context.Background()
	pub := client(t, b.URL())
	const size = 1 << 20
	for _, chunk := range []int{64 << 10, 16 << 10} {
		data := randomBlob(size, uint64(chunk))
		meta, err := transfer.Publish(ctx, pub, bytes.NewReader(data), size, &transfer.PublishOptions{ChunkSize: chunk})
		if err != nil {
			t.Fatal(err)
		}
		for _, window := range []int{1, 4, 16} {
			for _, cut := range []bool{false, true} {
				px := brokertest.NewProxy(t, strings.TrimPrefix(b.URL(), "tcp://"))
				px.Rate = 125_000 // 1 Mbit/s
				dev := client(t, px.URL())
				b0 := px.Bytes()
				var once sync.Once
				r := &transfer.Receiver{Sub: dev, Dir: t.TempDir(), Window: window, Log: quiet(), Stall: 5 * time.Second,
					Progress: func(p transfer.Progress) {
						if cut && p.Bytes >= size/2 {
							once.Do(func() { go px.Cut() })
						}
					}}
				t0 := time.Now()
				path, err := r.Fetch(ctx, meta)
				if err != nil {
					t.Fatalf("chunk %d window %d: %v", chunk, window, err)
				}
				d := time.Since(t0)
				moved := px.Bytes() - b0
				t.Logf("chunk %2d KiB, window %2d, cut at 50%% %-5v: %6.2f s, %7d bytes on the link (%.3f× the blob), goodput %.0f kbit/s, connections lost %d",
					chunk>>10, window, cut, d.Seconds(), moved, float64(moved)/size, float64(size)*8/d.Seconds()/1000, dev.Stats().Lost)
				if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("chunk %d window %d: fetched blob differs (%v)", chunk, window, err)
				}
				px.Close()
			}
		}
	}
}
