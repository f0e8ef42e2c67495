package kernels

import (
	"runtime"
	"testing"
	"time"
)

// One core's float32 fused multiply-add peak, and the share of it the
// float convolutions reach on the shapes of real models
// (BenchmarkFloatConvShapes):
//
//	go test -run '^$' -bench 'FMAPeak|FloatConvShapes' ./runtime/kernels/
//
// Rates are per CPU second of the benchmark's thread (cpu-ns/op), so that
// other processes on a shared machine do not lower them.

type fmaPeakKernel struct {
	name  string
	flops int // per iteration
	run   func(n int)
}

// fmaPeakIters is the iterations of one benchmark operation.
const fmaPeakIters = 1 << 16

func BenchmarkFMAPeak(b *testing.B) {
	ks := fmaPeakKernels()
	if len(ks) == 0 {
		b.Skip("no vector FMA kernel on this CPU")
	}
	for _, k := range ks {
		b.Run(k.name, func(b *testing.B) {
			per := benchCPU(b, func() { k.run(fmaPeakIters) })
			b.ReportMetric(float64(k.flops*fmaPeakIters)/float64(per.Nanoseconds()), "GFLOP/s")
		})
	}
}

// fmaPeak measures the best FMA peak of this CPU in FLOP per CPU
// nanosecond (GFLOP/s): the fastest of a few 20 ms runs of every kernel.
func fmaPeak() float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := 0.0
	for _, k := range fmaPeakKernels() {
		for range 5 {
			n := 0
			start := threadCPU()
			for threadCPU()-start < 20*time.Millisecond {
				k.run(fmaPeakIters)
				n++
			}
			if d := threadCPU() - start; d > 0 {
				best = max(best, float64(n*k.flops*fmaPeakIters)/float64(d.Nanoseconds()))
			}
		}
	}
	return best
}

func TestFMAPeakKernelsRun(t *testing.T) {
	// The peak loops touch only registers: each must return for any
	// count (here a small one) without faulting.
	for _, k := range fmaPeakKernels() {
		k.run(3)
	}
}
