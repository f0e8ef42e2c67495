// Package loadtest drives an edged endpoint at a fixed request rate and
// summarises what came back: status codes, latency percentiles, resident
// memory. The scheduler is open-loop: requests start on a fixed timetable
// whether or not earlier ones have answered, and latency is measured from
// the scheduled start, so a server that falls behind shows it in the
// percentiles instead of silently slowing the client down (coordinated
// omission).
package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Do sends one request and returns its HTTP status (0 with an error when
// no answer came).
type Do func(ctx context.Context) (status int, err error)

// Result summarises one run at a fixed rate.
type Result struct {
	Rate     float64 // requests per second asked for
	Duration time.Duration
	Sent     int         // requests started
	Skipped  int         // not started: MaxInFlight reached (the client gave up keeping the timetable)
	Codes    map[int]int // by HTTP status; 0: transport error
	OK       []time.Duration
	Rejected []time.Duration // 429 and 503 answers, from when each was due
	// RejectedSent is the 429 and 503 latency from when the request was
	// actually sent: the server's share, without the client's lag.
	RejectedSent []time.Duration
	// TransportErrors counts the transport errors (status 0) by text.
	TransportErrors map[string]int
}

// Errors counts requests that did not answer 200, including skipped ones.
func (r Result) Errors() int { return r.Sent + r.Skipped - r.Codes[200] }

// ErrorRate is Errors over everything scheduled.
func (r Result) ErrorRate() float64 {
	n := r.Sent + r.Skipped
	if n == 0 {
		return 0
	}
	return float64(r.Errors()) / float64(n)
}

// Throughput is 200 answers per second of the run.
func (r Result) Throughput() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Codes[200]) / r.Duration.Seconds()
}

func (r Result) String() string {
	return fmt.Sprintf("rate %.0f/s: sent %d skipped %d codes %v ok/s %.1f p50 %v p99 %v reject-p99 %v",
		r.Rate, r.Sent, r.Skipped, r.Codes, r.Throughput(),
		Percentile(r.OK, 50).Round(10*time.Microsecond), Percentile(r.OK, 99).Round(10*time.Microsecond),
		Percentile(r.Rejected, 99).Round(10*time.Microsecond)) + transportErrors(r.TransportErrors)
}

// transportErrors lists the first few transport error texts.
func transportErrors(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	b.WriteString(" transport errors:")
	for i, k := range keys {
		if i == 3 {
			fmt.Fprintf(&b, " (and %d more kinds)", len(keys)-3)
			break
		}
		fmt.Fprintf(&b, " %d× %q", m[k], k)
	}
	return b.String()
}

// Percentile is the nearest-rank p-th percentile of ds (0 when empty).
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

// Options bound a run.
type Options struct {
	// MaxInFlight caps requests outstanding at once; beyond it scheduled
	// requests are skipped and counted. Default 512.
	MaxInFlight int
	// Timeout of one request. Default 10s.
	Timeout time.Duration
	// OnTick, when set, is called about every 100ms during the run (the
	// caller samples memory with it).
	OnTick func()
}

// Run sends requests at rate per second for dur and waits for the last
// answer. It stops early when ctx ends.
func Run(ctx context.Context, rate float64, dur time.Duration, do Do, o *Options) Result {
	var opt Options
	if o != nil {
		opt = *o
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 512
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	res := Result{Rate: rate, Codes: map[int]int{}}
	if rate <= 0 || dur <= 0 {
		return res
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		slot = make(chan struct{}, opt.MaxInFlight)
	)
	interval := time.Duration(float64(time.Second) / rate)
	n := int(rate * dur.Seconds())
	start := time.Now()
	lastTick := start
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			if ctx.Err() != nil {
				break
			}
		}
		if opt.OnTick != nil && time.Since(lastTick) >= 100*time.Millisecond {
			opt.OnTick()
			lastTick = time.Now()
		}
		select {
		case slot <- struct{}{}:
		default:
			res.Skipped++
			continue
		}
		res.Sent++
		wg.Add(1)
		go func(due time.Time) {
			defer wg.Done()
			defer func() { <-slot }()
			rctx, cancel := context.WithTimeout(ctx, opt.Timeout)
			sent := time.Now()
			code, err := do(rctx)
			cancel()
			lat, svc := time.Since(due), time.Since(sent)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				code = 0
				if res.TransportErrors == nil {
					res.TransportErrors = map[string]int{}
				}
				res.TransportErrors[err.Error()]++
			}
			res.Codes[code]++
			switch code {
			case 200:
				res.OK = append(res.OK, lat)
			case 429, 503:
				res.Rejected = append(res.Rejected, lat)
				res.RejectedSent = append(res.RejectedSent, svc)
			}
		}(due)
	}
	wg.Wait()
	res.Duration = time.Since(start)
	if opt.OnTick != nil {
		opt.OnTick()
	}
	return res
}

// Criteria decide when a rate is no longer sustained.
type Criteria struct {
	// MaxErrorRate is the share of non-200 answers tolerated (default 0.01).
	MaxErrorRate float64
	// MaxP99 is the p99 latency tolerated (default 250ms).
	MaxP99 time.Duration
}

func (c Criteria) ok(r Result) bool {
	if c.MaxErrorRate == 0 {
		c.MaxErrorRate = 0.01
	}
	if c.MaxP99 == 0 {
		c.MaxP99 = 250 * time.Millisecond
	}
	return r.ErrorRate() <= c.MaxErrorRate && Percentile(r.OK, 99) <= c.MaxP99 && r.Throughput() >= 0.9*r.Rate
}

// Search steps the rate up from start by factor (>1) per step of dur until
// a step fails c or the rate passes limit, then bisects twice between the
// last rate that held and the first that failed. A failing step is run
// once more before it counts, so that one stall of a shared machine does
// not end the search. It returns the highest rate that held (0 when even
// start failed) with every step's result.
func Search(ctx context.Context, start, factor, limit float64, dur time.Duration, c Criteria, do Do, o *Options) (float64, []Result) {
	var steps []Result
	holds := func(rate float64) bool {
		for try := 0; try < 2 && ctx.Err() == nil; try++ {
			r := Run(ctx, rate, dur, do, o)
			steps = append(steps, r)
			// Let the queue drain so one step does not bleed into the next.
			time.Sleep(300 * time.Millisecond)
			if c.ok(r) {
				return true
			}
		}
		return false
	}
	good, bad := 0.0, 0.0
	for rate := start; rate <= limit && ctx.Err() == nil; rate *= factor {
		if !holds(rate) {
			bad = rate
			break
		}
		good = rate
	}
	if good == 0 || bad == 0 {
		return good, steps
	}
	for range 2 {
		mid := (good + bad) / 2
		if holds(mid) {
			good = mid
		} else {
			bad = mid
		}
	}
	return good, steps
}

// ProcRSS is the resident memory of process pid in bytes, from
// /proc/PID/status; pid 0 is this process.
func ProcRSS(pid int) (int64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading the resident memory: %w", err)
	}
	return parseVmRSS(b)
}

// RSS is this process's resident memory in bytes.
func RSS() (int64, error) { return ProcRSS(0) }

// MemStat reads the runtime.MemStats field name ("HeapAlloc", "Sys", ...)
// from the "# name = N" lines at the end of a Go heap profile in text form
// (/debug/pprof/heap?debug=1). Lines written "in-use / sys" ("Stack",
// "MSpan", "MCache") give the in-use figure.
func MemStat(page []byte, name string) (int64, error) {
	prefix := "# " + name + " = "
	for line := range strings.Lines(string(page)) {
		rest, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), prefix)
		if !ok {
			continue
		}
		inuse, _, _ := strings.Cut(rest, " / ")
		n, err := strconv.ParseInt(inuse, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading the heap profile: %s line %q: %w", name, line, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("reading the heap profile: no %q line in the heap profile", prefix)
}

// GoroutineTotal reads "goroutine profile: total N" from the first line of
// /debug/pprof/goroutine?debug=1.
func GoroutineTotal(page []byte) (int, error) {
	first, _, _ := strings.Cut(string(page), "\n")
	rest, ok := strings.CutPrefix(first, "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("reading the goroutine profile: first line %q; want \"goroutine profile: total N\"", first)
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return 0, fmt.Errorf("reading the goroutine profile: %w", err)
	}
	return n, nil
}

// Halves returns the medians of the first and the second half of vs (the
// middle sample of an odd count goes to neither). Growth shows as a second
// median above the first; the saw-tooth of a garbage-collected heap moves
// neither much.
func Halves(vs []float64) (first, second float64) {
	h := len(vs) / 2
	if h == 0 {
		return 0, 0
	}
	return median(vs[:h]), median(vs[len(vs)-h:])
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// parseVmRSS finds "VmRSS:   1234 kB" in a /proc/<pid>/status file.
func parseVmRSS(b []byte) (int64, error) { return statusKB(b, "VmRSS") }

// statusKB finds "key:   1234 kB" in a /proc/<pid>/status file and returns
// it in bytes.
func statusKB(b []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("loadtest: %s line %q; want \"%s: <n> kB\"", key, line, key)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("loadtest: %s line %q: %w", key, line, err)
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("loadtest: no %s line in the status file", key)
}

// Mem is a process's resident memory split as the kernel counts it.
type Mem struct {
	RSS  int64 // VmRSS
	Anon int64 // RssAnon: heap, stacks, runtime structures
	File int64 // RssFile: mapped files (the executable's pages, bbolt files)
}

// ProcMem reads process pid's resident memory from /proc/PID/status.
func ProcMem(pid int) (Mem, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Mem{}, fmt.Errorf("reading the process memory: %w", err)
	}
	var m Mem
	for _, f := range []struct {
		key string
		dst *int64
	}{{"VmRSS", &m.RSS}, {"RssAnon", &m.Anon}, {"RssFile", &m.File}} {
		if *f.dst, err = statusKB(b, f.key); err != nil {
			return Mem{}, fmt.Errorf("reading the memory of process %d: %w", pid, err)
		}
	}
	return m, nil
}

// Slope fits v = a + b·t by least squares and returns b (units per second).
func Slope(ts []time.Duration, vs []float64) float64 {
	n := float64(len(ts))
	if len(ts) < 2 || len(ts) != len(vs) {
		return 0
	}
	var st, sv, stt, stv float64
	for i := range ts {
		t := ts[i].Seconds()
		st += t
		sv += vs[i]
		stt += t * t
		stv += t * vs[i]
	}
	den := n*stt - st*st
	if den == 0 {
		return 0
	}
	return (n*stv - st*sv) / den
}
