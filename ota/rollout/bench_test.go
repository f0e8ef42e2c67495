package rollout

import (
	"testing"
	"time"
)

// BenchmarkRollout1000 is a whole 4-wave rollout of 1000 devices: 1000
// reports and the decisions they trigger (each event looks at every
// device, so the cost grows with the square of the fleet).
func BenchmarkRollout1000(b *testing.B) {
	ids := devices(1000)
	b.ReportAllocs()
	for b.Loop() {
		clk := &fakeClock{t: t0}
		r, err := New(DefaultPlan(), ids, clk)
		if err != nil {
			b.Fatal(err)
		}
		queue := r.Tick().Devices
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			clk.t = clk.t.Add(time.Millisecond)
			d, err := r.Report(id, Active, "")
			if err != nil {
				b.Fatal(err)
			}
			if d.Action == StartWave {
				queue = append(queue, d.Devices...)
			}
		}
		if r.Phase() != Done {
			b.Fatalf("phase %s; want done", r.Phase())
		}
	}
}
