package transfer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
)

// BenchmarkDeliver measures the delivery of the 3.6 MB mobilenet_v2
// model on loopback through mosquitto to 1 and to 20 receivers, each with
// its own client, as bytes on the wire (both directions, all receivers,
// MQTT framing included, counted by a TCP proxy) and time until the last
// receiver has verified the blob. The publisher's upload is reported
// separately (pub-MB).
//
//	go test ./ota/transfer -run '^$' -bench Deliver -benchtime 3x
func BenchmarkDeliver(b *testing.B) {
	blob := readModel(b)
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("receivers=%d", n), func(b *testing.B) {
			br := startBroker(b)
			pubWire := startCounter(b, br.Addr())
			meta, err := Publish(context.Background(), runClient(b, pubWire.url()), bytes.NewReader(blob), int64(len(blob)), nil)
			if err != nil {
				b.Fatal(err)
			}
			wire := startCounter(b, br.Addr())
			subs := make([]Subscriber, n)
			for i := range subs {
				subs[i] = runClient(b, wire.url())
			}
			pubBytes := pubWire.bytes.Load()
			b.SetBytes(int64(len(blob)) * int64(n))
			var total int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := wire.bytes.Load()
				var wg sync.WaitGroup
				errs := make([]error, n)
				for j := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := &Receiver{Sub: subs[j], Dir: filepath.Join(b.TempDir(), fmt.Sprint(j)), Log: quietLog()}
						ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
						defer cancel()
						_, errs[j] = r.Fetch(ctx, meta)
					}()
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				total += wire.bytes.Load() - start
			}
			b.StopTimer()
			b.ReportMetric(float64(pubBytes)/1e6, "pub-MB")
			b.ReportMetric(float64(total)/float64(b.N)/1e6, "wire-MB/op")
			b.ReportMetric(float64(total)/float64(b.N)/float64(int64(len(blob))*int64(n)), "wire/payload")
		})
	}
}

// TestResumeAt50 cancels a delivery of the mobilenet_v2 model once half
// of its chunks are held, resumes it with a new client, and logs the
// bytes on the wire of both runs against one uninterrupted delivery.
//
//	go test ./ota/transfer -run ResumeAt50 -v
func TestResumeAt50(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	testenv.CheckLeaks(t)
	br := startBroker(t)
	blob := readModel(t)
	meta, err := Publish(context.Background(), runClient(t, br.URL()), bytes.NewReader(blob), int64(len(blob)), nil)
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(dir string, window, stopAt int) (wireBytes int64, chunks int, err error) {
		c := startCounter(t, br.Addr())
		sub := runClient(t, c.url())
		before := c.bytes.Load()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r := &Receiver{Sub: sub, Dir: dir, Window: window, Log: quietLog(), Progress: func(p Progress) {
			chunks = p.Chunks
			if stopAt > 0 && p.Chunks >= stopAt {
				cancel()
			}
		}}
		_, err = r.Fetch(ctx, meta)
		// Let chunks already sent to the cancelled receiver land.
		time.Sleep(200 * time.Millisecond)
		return c.bytes.Load() - before, chunks, err
	}
	for _, window := range []int{DefaultWindow, 4} {
		full, _, err := fetch(t.TempDir(), window, 0)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		first, held, err := fetch(dir, window, meta.Count/2)
		if err == nil {
			t.Fatal("the first half did not stop")
		}
		second, _, err := fetch(dir, window, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, meta.SHA256)); !bytes.Equal(got, blob) {
			t.Fatal("resumed blob differs")
		}
		resent := first + second - full
		t.Logf("window %d: blob %d bytes in %d chunks of %d; one delivery %d bytes on the wire", window, meta.Size, meta.Count, meta.ChunkSize, full)
		t.Logf("window %d: cancelled at %d chunks held: %d + %d bytes on the wire; %d bytes (%.1f%%) more than one delivery",
			window, held, first, second, resent, 100*float64(resent)/float64(full))
	}
}
