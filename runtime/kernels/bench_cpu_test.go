package kernels

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// threadCPU is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID,
// counted in nanoseconds by the scheduler, where RUSAGE_THREAD counts
// clock ticks), 0 where unavailable.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
