package kernels

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// benchCPU runs f b.N times on a locked thread and reports, besides the
// wall time, the thread's CPU time per operation (cpu-ns/op): on a loaded
// machine wall time includes the time other processes ran, CPU time does
// not. It returns the CPU time per operation.
func benchCPU(b *testing.B, f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		f()
	}
	per := (threadCPU() - start) / time.Duration(b.N)
	b.ReportMetric(float64(per.Nanoseconds()), "cpu-ns/op")
	return per
}

// threadCPU is the calling thread's user+system CPU time (Linux
// RUSAGE_THREAD), 0 where unavailable.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
