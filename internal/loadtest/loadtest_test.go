package loadtest

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func ms(n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, v := range n {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	// Nearest rank: the ceil(p/100*n)-th smallest value.
	tests := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{name: "empty", ds: nil, p: 50, want: 0},
		{name: "one", ds: ms(7), p: 99, want: 7 * time.Millisecond},
		{name: "p50 of 1..10", ds: ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), p: 50, want: 5 * time.Millisecond},
		{name: "p99 of 1..10", ds: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 99, want: 10 * time.Millisecond},
		{name: "p90 of 1..10", ds: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 90, want: 9 * time.Millisecond},
		{name: "p0", ds: ms(3, 1, 2), p: 0, want: time.Millisecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.ds, tt.p); got != tt.want {
			t.Errorf("Percentile(%s, %v) = %v; want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{name: "linux", in: "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t   1234 kB\nThreads:\t3\n", want: 1234 * 1024},
		{name: "missing", in: "Name:\tx\n", wantErr: true},
		{name: "bad unit", in: "VmRSS:\t12 MB\n", wantErr: true},
		{name: "bad number", in: "VmRSS:\tx kB\n", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseVmRSS([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseVmRSS(%s) = %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	if v, err := RSS(); err != nil || v <= 0 {
		t.Errorf("RSS() = %d, %v; want > 0", v, err)
	}
}

func TestProcRSS(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep command: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if v, err := ProcRSS(cmd.Process.Pid); err != nil || v <= 0 {
		t.Errorf("ProcRSS(child) = %d, %v; want > 0", v, err)
	}
	// VmRSS is RssAnon + RssFile + RssShmem (proc(5)); this test binary
	// runs from its mapped executable, so File > 0.
	if m, err := ProcMem(os.Getpid()); err != nil || m.Anon <= 0 || m.File <= 0 || m.Anon+m.File > m.RSS {
		t.Errorf("ProcMem(self) = %+v, %v; want Anon, File > 0 and Anon+File <= RSS", m, err)
	}
	if _, err := ProcRSS(-1); err == nil {
		t.Error("ProcRSS(-1) succeeded; want an error")
	}
}

// heapPage is the tail of a /debug/pprof/heap?debug=1 page as Go writes it.
const heapPage = `heap profile: 3: 1024 [40: 81920] @ heap/1048576
1: 512 [1: 512] @ 0x4a 0x4b
#	0x4a	main.f+0x1	/x.go:1

# runtime.MemStats
# Alloc = 1234567
# TotalAlloc = 99999999
# Sys = 20000000
# HeapAlloc = 1234567
# HeapSys = 8000000
# Stack = 294912 / 327680
# NumGC = 42
`

func TestMemStat(t *testing.T) {
	for _, tt := range []struct {
		name string
		want int64
	}{{"HeapAlloc", 1234567}, {"Alloc", 1234567}, {"TotalAlloc", 99999999}, {"Stack", 294912}, {"NumGC", 42}} {
		if got, err := MemStat([]byte(heapPage), tt.name); err != nil || got != tt.want {
			t.Errorf("MemStat(%s) = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
	if _, err := MemStat([]byte(heapPage), "Frees"); err == nil {
		t.Error("MemStat(Frees) on a page without it succeeded; want an error")
	}
	if _, err := MemStat([]byte("# HeapAlloc = lots\n"), "HeapAlloc"); err == nil {
		t.Error("MemStat of a non-number succeeded; want an error")
	}
	// The runtime's own page parses and its live heap is within Sys.
	var b bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	heap, err := MemStat(b.Bytes(), "HeapAlloc")
	sys, err2 := MemStat(b.Bytes(), "Sys")
	if _, err := MemStat(b.Bytes(), "Stack"); err != nil {
		t.Errorf("this process's heap page: %v", err)
	}
	if err != nil || err2 != nil || heap <= 0 || heap > sys {
		t.Errorf("this process's heap page: HeapAlloc %d (%v), Sys %d (%v); want 0 < HeapAlloc <= Sys", heap, err, sys, err2)
	}
}

func TestGoroutineTotal(t *testing.T) {
	if n, err := GoroutineTotal([]byte("goroutine profile: total 17\n5 @ 0x1\n")); err != nil || n != 17 {
		t.Errorf("GoroutineTotal = %d, %v; want 17", n, err)
	}
	for _, bad := range []string{"", "goroutine 1 [running]:\n", "goroutine profile: total x\n"} {
		if _, err := GoroutineTotal([]byte(bad)); err == nil {
			t.Errorf("GoroutineTotal(%q) succeeded; want an error", bad)
		}
	}
}

func TestHalves(t *testing.T) {
	tests := []struct {
		name          string
		vs            []float64
		first, second float64
	}{
		// First half {5,1,3} -> 3; second half {9,7,8} -> 8.
		{name: "rising", vs: []float64{5, 1, 3, 9, 7, 8}, first: 3, second: 8},
		// Odd count: the middle 100 is in neither half; {1,2} -> 1.5, {4,3} -> 3.5.
		{name: "odd", vs: []float64{1, 2, 100, 4, 3}, first: 1.5, second: 3.5},
		// A saw-tooth has equal medians.
		{name: "saw", vs: []float64{10, 20, 10, 20, 10, 20, 10, 20}, first: 15, second: 15},
		{name: "one", vs: []float64{7}, first: 0, second: 0},
	}
	for _, tt := range tests {
		if f, s := Halves(tt.vs); f != tt.first || s != tt.second {
			t.Errorf("Halves(%s) = %v, %v; want %v, %v", tt.name, f, s, tt.first, tt.second)
		}
	}
}

func TestSlope(t *testing.T) {
	tests := []struct {
		name string
		ts   []time.Duration
		vs   []float64
		want float64
	}{
		{name: "flat", ts: []time.Duration{0, time.Second, 2 * time.Second}, vs: []float64{5, 5, 5}, want: 0},
		{name: "2 per s", ts: []time.Duration{0, time.Second, 2 * time.Second}, vs: []float64{1, 3, 5}, want: 2},
		// Points (0,0) (1,1) (2,0): mean t 1, mean v 1/3; cov 0 -> slope 0.
		{name: "tent", ts: []time.Duration{0, time.Second, 2 * time.Second}, vs: []float64{0, 1, 0}, want: 0},
		{name: "one point", ts: []time.Duration{0}, vs: []float64{1}, want: 0},
	}
	for _, tt := range tests {
		if got := Slope(tt.ts, tt.vs); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Slope(%s) = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestRunOpenLoop: the scheduler keeps its timetable while requests are
// slow (open loop), counts codes and errors, and skips beyond MaxInFlight.
func TestRunOpenLoop(t *testing.T) {
	defer goleak.VerifyNone(t)
	var calls atomic.Int64
	do := func(ctx context.Context) (int, error) {
		n := calls.Add(1)
		time.Sleep(50 * time.Millisecond)
		switch n % 4 {
		case 0:
			return 429, nil
		case 1:
			return 0, errors.New("refused")
		default:
			return 200, nil
		}
	}
	// 100/s for 0.5s: 50 requests; each takes 50ms, so about 5 overlap: a
	// closed loop with one worker would send only about 10.
	r := Run(context.Background(), 100, 500*time.Millisecond, do, nil)
	if r.Sent != 50 || r.Skipped != 0 {
		t.Fatalf("Run(100/s, 0.5s) sent %d skipped %d; want 50, 0", r.Sent, r.Skipped)
	}
	// n%4: 1 -> error (13 of 1..50), 0 -> 429 (12), 2 and 3 -> 200 (25).
	if r.Codes[0] != 13 || r.Codes[429] != 12 || r.Codes[200] != 25 {
		t.Errorf("Run codes = %v; want 0:13 200:25 429:12", r.Codes)
	}
	if len(r.OK) != 25 || len(r.Rejected) != 12 {
		t.Errorf("Run latencies: %d ok, %d rejected; want 25, 12", len(r.OK), len(r.Rejected))
	}
	if r.Errors() != 25 {
		t.Errorf("Errors() = %d; want 25", r.Errors())
	}
	// With at most 1 in flight and 50ms per request, 100/s cannot be kept:
	// most scheduled requests are skipped, none queue up.
	r = Run(context.Background(), 100, 500*time.Millisecond, do, &Options{MaxInFlight: 1})
	if r.Sent+r.Skipped != 50 || r.Skipped < 30 {
		t.Errorf("Run(MaxInFlight 1) sent %d skipped %d; want 50 in all, most skipped", r.Sent, r.Skipped)
	}
}
