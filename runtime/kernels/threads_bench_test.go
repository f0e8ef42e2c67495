package kernels

import (
	"fmt"
	"sync"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// BenchmarkConvThreads: one MobileNetV2 1×1 expansion (56×56×24 → 144)
// at 1 and 2 threads, to see what splitting a convolution gains.
func BenchmarkConvThreads(b *testing.B) {
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", th), func(b *testing.B) {
			p := ConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
			in := convT("in", tensor.UInt8, []int{1, 56, 56, 24}, convQ(0.05, 128), make([]uint8, 56*56*24))
			f := convT("w", tensor.UInt8, []int{144, 1, 1, 24}, convQ(0.01, 120), make([]uint8, 144*24))
			out := convT("out", tensor.UInt8, []int{1, 56, 56, 144}, convQ(0.1, 2), nil)
			k, err := Conv2D(&Config{Threads: th}, p, in, f, nil, out)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(56*56*24*144), "MACs/op")
			for b.Loop() {
				_ = k.Eval()
			}
		})
	}
}

// spinTask is pure arithmetic split in parts: what the pool gains with no
// memory traffic at all.
type spinTask struct{ out []uint64 }

func (t spinTask) runPart(part, nparts int) {
	var s uint64
	for i := range 200000 / nparts {
		s += uint64(i) * uint64(i) >> 3
	}
	t.out[part*8] = s
}

// BenchmarkPoolSpin measures the worker pool's hand-off: at 2 threads it
// should take about half the time of 1.
func BenchmarkPoolSpin(b *testing.B) {
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", th), func(b *testing.B) {
			parallelReserve(th)
			var wg sync.WaitGroup
			t := spinTask{out: make([]uint64, 64)}
			for b.Loop() {
				parallelRun(t, th, &wg)
			}
		})
	}
}
