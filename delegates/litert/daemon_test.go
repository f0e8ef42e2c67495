//go:build edged_dynamic && linux

package litert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/golden"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
)

// These tests run the daemon as users run it: edged built with
// -tags edged_dynamic, serving person_detect over HTTP with the real TFLite
// C library configured, or a missing, truncated or foreign one.

var (
	edgedOnce sync.Once
	edgedBin  string
	edgedErr  error
)

// dynamicEdged builds cmd/edged with the tag, once for the package.
func dynamicEdged(t *testing.T) string {
	t.Helper()
	gobin := testenv.GoTool(t)
	edgedOnce.Do(func() {
		root, err := testenv.RepoRoot()
		if err != nil {
			edgedErr = err
			return
		}
		dir, err := mkdirTemp()
		if err != nil {
			edgedErr = err
			return
		}
		edgedBin = filepath.Join(dir, "edged")
		cmd := exec.Command(gobin, "build", "-tags", "edged_dynamic", "-o", edgedBin, "./cmd/edged")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			edgedErr = fmt.Errorf("go build -tags edged_dynamic ./cmd/edged: %v\n%s", err, out)
		}
	})
	if edgedErr != nil {
		t.Fatal(edgedErr)
	}
	return edgedBin
}

type daemon struct {
	base   string
	log    *testenv.SyncBuffer
	client *http.Client
}

// startEdged runs the dynamic edged serving person_detect (litert
// arithmetic on the CPU, bit-exact with XNNPACK, so that every answer is
// the golden one whichever backend gives it) with prefer [xnnpack, cpu]
// and the TFLite library lib.
func startEdged(t *testing.T, lib string) *daemon {
	t.Helper()
	bin := dynamicEdged(t)
	root, err := golden.Root()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	listen := testenv.FreeAddr(t)
	cfg := filepath.Join(dir, "edged.yaml")
	doc := fmt.Sprintf(`version: 1
state_dir: %s
http: {listen: %q}
runtime: {arithmetic: litert, threads: 1}
delegates:
  prefer: [xnnpack, cpu]
  litert: {tflite: %q}
models:
  - name: pd
    path: %s
    instances: 2
    batch: {queue_capacity: 2000}
`, filepath.Join(dir, "state"), listen, lib, filepath.Join(root, "models", "person_detect.tflite"))
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &daemon{base: "http://" + listen, log: &testenv.SyncBuffer{}, client: &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{MaxConnsPerHost: 200, MaxIdleConnsPerHost: 200},
	}}
	cmd := exec.Command(bin, "-config", cfg)
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("edged exited with %v after SIGTERM\n%s", err, d.log.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("edged did not stop within 20s of SIGTERM")
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := d.client.Get(d.base + "/v2/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("edged exited before it was ready: %v\n%s", err, d.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("edged not ready within 60s (last: %v)\n%s", err, d.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// infer sends one int8 [1,96,96,1] image and returns the two scores.
func (d *daemon) infer(in []byte) ([]int, error) {
	vals := make([]string, len(in))
	for i, b := range in {
		vals[i] = strconv.Itoa(int(int8(b)))
	}
	body := fmt.Sprintf(`{"inputs":[{"name":"input","shape":[1,96,96,1],"datatype":"INT8","data":[%s]}]}`, strings.Join(vals, ","))
	resp, err := d.client.Post(d.base+"/v2/models/pd/infer", "application/json", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("infer: %s: %s", resp.Status, b)
	}
	var r struct {
		Outputs []struct {
			Data []int `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b, &r); err != nil || len(r.Outputs) != 1 {
		return nil, fmt.Errorf("infer answer %s: %v", b, err)
	}
	return r.Outputs[0].Data, nil
}

type delegateLine struct {
	Delegate string `json:"delegate"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Served   uint64 `json:"served"`
	Failures uint64 `json:"failures"`
	Check    *struct {
		State    string `json:"state"`
		Version  string `json:"version"`
		Reason   string `json:"reason"`
		Isolated bool   `json:"isolated"`
	} `json:"check"`
}

func (d *daemon) delegates(t *testing.T) map[string]delegateLine {
	t.Helper()
	resp, err := d.client.Get(d.base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Models []struct {
			Delegates []delegateLine `json:"delegates"`
		} `json:"models"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Models) != 1 {
		t.Fatalf("/v1/status: %v (%d models)", err, len(st.Models))
	}
	out := map[string]delegateLine{}
	for _, l := range st.Models[0].Delegates {
		out[l.Delegate] = l
	}
	return out
}

// personCases are person_detect's golden inputs and XNNPACK's outputs.
func personCases(t *testing.T) (ins [][]byte, want [][]int) {
	t.Helper()
	s, err := golden.LoadSuite(goldenDir(t, "person_detect"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Cases {
		in, err := s.ReadInputs(&s.Cases[i])
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.ReadOutputs(&s.Cases[i])
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in[0])
		want = append(want, []int{int(int8(out[0][0])), int(int8(out[0][1]))})
	}
	return ins, want
}

// TestDaemonXNNPACK: the daemon serves person_detect through the xnnpack
// backend over HTTP with the golden (XNNPACK) answers, then 1 000
// concurrent requests, every one answered with its golden output.
func TestDaemonXNNPACK(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs edged; -short")
	}
	lib := realLib(t)
	d := startEdged(t, lib)
	ins, want := personCases(t)
	got, err := d.infer(ins[0])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want[0]) {
		t.Errorf("first answer %v; want the golden %v", got, want[0])
	}
	x := d.delegates(t)["xnnpack"]
	if x.State != "healthy" || x.Served != 1 || x.Check == nil || !x.Check.Isolated || x.Check.Version != "2.21.0-dev" {
		t.Fatalf("xnnpack status %+v (check %+v); want healthy, the first request served, an isolated check of 2.21.0-dev", x, x.Check)
	}
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			k := i % len(ins)
			got, err := d.infer(ins[k])
			if err == nil && fmt.Sprint(got) != fmt.Sprint(want[k]) {
				err = fmt.Errorf("request %d (case %d): %v; want %v", i, k, got, want[k])
			}
			if err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 3 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d concurrent requests failed", failed, n)
	}
	lines := d.delegates(t)
	x, c := lines["xnnpack"], lines["cpu"]
	if x.State != "healthy" || x.Failures != 0 || x.Served+c.Served != n+1 || x.Served < 2 {
		t.Errorf("after %d requests: xnnpack %+v, cpu %+v; want xnnpack healthy without failures, serving some, all %d answered", n, x, c, n+1)
	}
	t.Logf("of %d concurrent requests xnnpack served %d, the cpu %d", n, x.Served-1, c.Served)
	if t.Failed() {
		for _, l := range strings.Split(d.log.String(), "\n") {
			if strings.Contains(l, "delegate") && !strings.Contains(l, "backend check") {
				t.Log(l)
			}
		}
	}
}

// TestDaemonBadLibrary: with the library missing, truncated or not TFLite
// the daemon starts, logs the check's outcome, says why in /v1/status and
// serves on the CPU.
func TestDaemonBadLibrary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs edged; -short")
	}
	lib := realLib(t)
	whole, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	truncated := filepath.Join(dir, "libtensorflowlite_c.so")
	if err := os.WriteFile(truncated, whole[:100000], 0o644); err != nil {
		t.Fatal(err)
	}
	ins, want := personCases(t)
	tests := []struct {
		name, lib, state, reason string
	}{
		{name: "missing", lib: filepath.Join(dir, "none", "libtensorflowlite_c.so"), state: "absent", reason: "cannot open shared object file"},
		{name: "truncated", lib: truncated, state: "failed", reason: "the check process crashed with SIGBUS while opening " + truncated},
		{name: "libm", lib: "libm.so.6", state: "failed", reason: "libm.so.6 is not the TFLite C library"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startEdged(t, tt.lib)
			got, err := d.infer(ins[1])
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want[1]) {
				t.Errorf("answer %v; want the golden %v", got, want[1])
			}
			lines := d.delegates(t)
			x := lines["xnnpack"]
			if x.State != tt.state || !strings.Contains(x.Reason, tt.reason) || x.Check == nil || !x.Check.Isolated {
				t.Errorf("xnnpack status %+v (check %+v); want %s with a reason saying %q, from an isolated check", x, x.Check, tt.state, tt.reason)
			}
			if c := lines["cpu"]; c.State != "healthy" {
				t.Errorf("cpu status %+v; want healthy", c)
			}
			log := d.log.String()
			if !strings.Contains(log, `msg="backend check" backend=xnnpack state=`+tt.state) || !strings.Contains(log, tt.reason) {
				t.Errorf("the log lacks the check's outcome (%s: %s):\n%s", tt.state, tt.reason, log)
			}
		})
	}
}

// TestRealPrepareCloseMemory: 1 000 prepare/invoke/close cycles on the
// xnnpack backend (after 100 to warm up) leave the process's resident
// memory flat: the median of the second half of the samples is within
// 10 % + 4 MiB of the first half's (the criterion of the daemon's soak
// test). A runner that is not released grows it by about 1 MiB a cycle
// (checked by leaving out Close).
func TestRealPrepareCloseMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1 000 cycles; -short")
	}
	lib := realLib(t)
	s, err := golden.LoadSuite(goldenDir(t, "person_detect"))
	if err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(s.ModelFile())
	if err != nil {
		t.Fatal(err)
	}
	ins, want := personCases(t)
	b := New(XNNPACK, Options{Paths: Paths{TFLite: lib}, Threads: 1})
	const warmup, cycles, every = 100, 1000, 50
	var rss []float64
	for i := range warmup + cycles {
		r, err := b.Prepare(context.Background(), model, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		k := i % len(ins)
		out := make([]tensor.Tensor, 1)
		if err := r.Invoke(context.Background(), []tensor.Tensor{{Type: tensor.Int8, Shape: []int{1, 96, 96, 1}, Data: ins[k]}}, out); err != nil {
			t.Fatal(err)
		}
		if got := out[0].Int8s(); int(got[0]) != want[k][0] || int(got[1]) != want[k][1] {
			t.Fatalf("cycle %d: %v; want %v", i, got, want[k])
		}
		r.Close()
		if i >= warmup && (i+1-warmup)%every == 0 {
			// Go's own garbage returned first, so that the figure is
			// what the library and the live heap hold.
			debug.FreeOSMemory()
			rss = append(rss, residentMiB(t))
		}
	}
	half := len(rss) / 2
	first, second := median(rss[:half]), median(rss[half:])
	t.Logf("RSS over %d cycles (MiB, every %d): %v", cycles, every, rss)
	if second > first*1.1+4 {
		t.Errorf("resident memory grew: median %.1f MiB in the first half, %.1f MiB in the second", first, second)
	}
}

func residentMiB(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	f := bytes.Fields(b)
	pages, err := strconv.Atoi(string(f[1]))
	if err != nil {
		t.Fatal(err)
	}
	return float64(pages) * float64(os.Getpagesize()) / (1 << 20)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
