package loadtest

import (
	"context"
	"errors"
	"math"
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
