package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
)

// daemon is the real edged, built from this tree and run as its own
// process, so that what is measured of it (resident memory, goroutines,
// open files) is the daemon's alone and not the load generator's, whose
// latency slices grow by 8 bytes a request.
type daemon struct {
	cmd    *exec.Cmd
	base   string
	log    *testenv.SyncBuffer
	exited chan error
	client *http.Client
}

// startDaemon builds edged and runs it serving person_detect ("pd") on a
// free loopback port until the test ends.
func startDaemon(t *testing.T) *daemon {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := testenv.Build(t, dir, "./cmd/edged")
	listen := testenv.FreeAddr(t)
	cfg := filepath.Join(dir, "edged.yaml")
	doc := fmt.Sprintf(`version: 1
state_dir: %s
log: {level: warn}
http: {listen: %q}
models:
  - name: pd
    path: %s
`, filepath.Join(dir, "state"), listen, filepath.Join(root, "testdata", "models", "person_detect.tflite"))
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &daemon{
		cmd: exec.Command(bin, "-config", cfg), base: "http://" + listen, log: &testenv.SyncBuffer{},
		exited: make(chan error, 1), client: &http.Client{Timeout: 30 * time.Second},
	}
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-d.exited:
			if err != nil {
				t.Errorf("edged exited with %v after SIGTERM\n%s", err, d.log.String())
			}
		case <-time.After(20 * time.Second):
			d.cmd.Process.Kill()
			<-d.exited
			t.Errorf("edged did not stop within 20s of SIGTERM")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := d.client.Get(d.base + "/v2/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		select {
		case err := <-d.exited:
			t.Fatalf("edged exited before it was ready: %v\n%s", err, d.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("edged not ready within 30s (last: %v)\n%s", err, d.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) get(path string) ([]byte, error) {
	resp, err := d.client.Get(d.base + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b, nil
}

// usage is one sample of the daemon's resources.
type usage struct {
	at         time.Duration
	rss        float64 // MiB
	anon, file float64 // MiB: RssAnon and RssFile
	fds        int
	goroutines int
	liveHeap   float64 // MiB allocated right after a forced collection; <0 when not taken
	// From the same page (MiB): spans in use, free spans still held from
	// the OS (HeapIdle - HeapReleased), goroutine stacks, all the runtime
	// got from the OS.
	heapInuse, heapHeld, stacks, sys float64
	// The runtime's other structures (MiB): span descriptors, collector
	// metadata, profiling buckets, the rest.
	mspan, gcsys, buckets, other float64
}

// sample reads the daemon's resident memory and open files from /proc,
// its goroutines from pprof and, when heap is set, its live heap: the heap
// profile with gc=1 collects first, so HeapAlloc is then what is still
// reachable — the figure a leak moves, free of the collector's saw-tooth.
func (d *daemon) sample(heap bool) (usage, error) {
	pid := d.cmd.Process.Pid
	u := usage{liveHeap: -1}
	m, err := ProcMem(pid)
	if err != nil {
		return u, err
	}
	u.rss, u.anon, u.file = mib(m.RSS), mib(m.Anon), mib(m.File)
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return u, err
	}
	u.fds = len(ents)
	page, err := d.get("/debug/pprof/goroutine?debug=1")
	if err != nil {
		return u, err
	}
	if u.goroutines, err = GoroutineTotal(page); err != nil {
		return u, err
	}
	if heap {
		page, err := d.get("/debug/pprof/heap?gc=1&debug=1")
		if err != nil {
			return u, err
		}
		stats := map[string]float64{}
		for _, name := range []string{"HeapAlloc", "HeapInuse", "HeapIdle", "HeapReleased", "Stack", "Sys", "MSpan", "GCSys", "BuckHashSys", "OtherSys"} {
			v, err := MemStat(page, name)
			if err != nil {
				return u, err
			}
			stats[name] = mib(v)
		}
		u.liveHeap, u.heapInuse, u.stacks, u.sys = stats["HeapAlloc"], stats["HeapInuse"], stats["Stack"], stats["Sys"]
		u.heapHeld = stats["HeapIdle"] - stats["HeapReleased"]
		u.mspan, u.gcsys, u.buckets, u.other = stats["MSpan"], stats["GCSys"], stats["BuckHashSys"], stats["OtherSys"]
	}
	return u, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// saveHeap writes the daemon's heap profile (after a collection) to path,
// for `go tool pprof -diff_base`.
func (d *daemon) saveHeap(path string) error {
	b, err := d.get("/debug/pprof/heap?gc=1")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// monitor samples d every 10s (the live heap every minute) until ctx ends,
// saving heap profiles after warmup and at the end when profiles is set.
func (d *daemon) monitor(ctx context.Context, t *testing.T, warmup time.Duration, profiles string) []usage {
	var (
		out   []usage
		start = time.Now()
		saved bool
	)
	take := func(heap bool) {
		u, err := d.sample(heap)
		if err != nil {
			t.Errorf("sampling edged: %v", err)
			return
		}
		u.at = time.Since(start)
		out = append(out, u)
		if profiles != "" && !saved && u.at >= warmup {
			saved = true
			if err := d.saveHeap(filepath.Join(profiles, "heap-start.pb.gz")); err != nil {
				t.Errorf("saving the heap profile: %v", err)
			}
		}
	}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			take(true)
			if profiles != "" {
				if err := d.saveHeap(filepath.Join(profiles, "heap-end.pb.gz")); err != nil {
					t.Errorf("saving the heap profile: %v", err)
				}
			}
			return out
		case <-tick.C:
			take(n%6 == 5)
		}
	}
}
