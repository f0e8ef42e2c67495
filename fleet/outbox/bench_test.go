package outbox

import (
	"fmt"
	"log/slog"
	"testing"
)

// BenchmarkAppend measures Append of a typical event (about 120 bytes)
// with and without fsync; the outbox is bounded so that old events are
// dropped in steady state.
func BenchmarkAppend(b *testing.B) {
	payload := []byte(`{"v":1,"time":"2026-03-01T12:00:00Z","kind":"fallback","model":"kws","detail":{"from":"edgetpu","to":"cpu","err":"stall"}}`)
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", sync), func(b *testing.B) {
			o, err := Open(b.TempDir()+"/outbox.db", &Options{NoSync: !sync, MaxBytes: 1 << 20, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := o.Append(Event, "edged/v1/dev/pi-7/events", payload); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}
