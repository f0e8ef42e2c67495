package batch

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSubmit measures requests per second from 8 concurrent callers
// against an invoker that costs a fixed 200µs per invocation plus 20µs
// per request, the shape of a small model on a CPU: batching amortises
// the fixed part.
func BenchmarkSubmit(b *testing.B) {
	const callers = 8
	for _, maxBatch := range []int{1, 8} {
		b.Run(fmt.Sprintf("maxbatch=%d", maxBatch), func(b *testing.B) {
			inv := &fakeInvoker{perCall: 200 * time.Microsecond, perItem: 20 * time.Microsecond}
			bt := New(inv, Options{MaxBatch: maxBatch, MaxDelay: time.Millisecond, QueueCapacity: 64})
			defer bt.Close()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := bt.Submit(context.Background(), input(1)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			sizes := inv.batchSizes()
			b.ReportMetric(float64(b.N)/float64(len(sizes)), "req/batch")
		})
	}
}
