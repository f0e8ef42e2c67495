package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

func newTestAgent(t *testing.T, stateDir, modelsYAML string) (*Agent, string, func()) {
	return newTestAgentTB(t, stateDir, modelsYAML)
}

func newTestAgentTB(t testing.TB, stateDir, modelsYAML string) (*Agent, string, func()) {
	t.Helper()
	return runConfig(t, fmt.Appendf(nil, "version: 1\nstate_dir: %s\nhttp:\n  listen: 127.0.0.1:0\nmodels:\n%s", stateDir, modelsYAML))
}

func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(string(b))
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestBatching: concurrent requests to a model with a batch dimension run
// as batches, and each caller gets the answer the official runtime gives for its
// own input.
func TestBatching(t *testing.T) {
	model, _ := filepath.Abs("../testdata/models/hello_world_int8.tflite")
	a, base, stop := newTestAgent(t, t.TempDir(), fmt.Sprintf(`  - name: hello
    path: %s
    batch:
      max_batch: 8
      max_delay: 300ms
`, model))
	defer stop()
	qs := []int{-96, -63, -34, 0}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for r := 0; r < 16; r++ {
		q := qs[r%len(qs)]
		want := refOutput(t, q)
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := a.Infer(context.Background(), "hello", "", []infer.Tensor{{DType: tensor.Int8, Shape: []int{1, 1}, Data: []byte{byte(int8(q))}}})
			if err != nil {
				errs <- err
				return
			}
			if got := int8(out[0].Data[0]); got != want || fmt.Sprint(out[0].Shape) != "[1 1]" {
				errs <- fmt.Errorf("input %d: output %d %v; want %d [1 1]", q, got, out[0].Shape, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sum := metricValue(t, base, `edged_batch_size_sum{instance="0",model="hello"}`)
	count := metricValue(t, base, `edged_batch_size_count{instance="0",model="hello"}`)
	if sum != 16 || count >= 16 || count == 0 {
		t.Errorf("batch sizes: %g requests in %g batches; want 16 requests in fewer than 16 batches", sum, count)
	}
	if !a.models["hello"].batchable() {
		t.Error("hello_world_int8 should be batchable")
	}
}

// TestBatchingFixedGraph: a model whose graph fixes the batch (person_detect
// reshapes to [1, 2]) still serves batched requests, one after another.
func TestBatchingFixedGraph(t *testing.T) {
	model, _ := filepath.Abs("../testdata/models/person_detect.tflite")
	a, _, stop := newTestAgent(t, t.TempDir(), fmt.Sprintf(`  - name: person
    path: %s
    batch:
      max_batch: 4
      max_delay: 50ms
`, model))
	defer stop()
	if a.models["person"].batchable() {
		t.Fatal("person_detect reported batchable")
	}
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Infer(context.Background(), "person", "", []infer.Tensor{{DType: tensor.Int8, Shape: []int{1, 96, 96, 1}, Data: make([]byte, 9216)}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// TestCache: a repeated input is answered from the cache with the same
// bytes; two float readings that quantize alike hit the same entry; the
// cache survives a restart.
func TestCache(t *testing.T) {
	model, _ := filepath.Abs("../testdata/models/hello_world_int8.tflite")
	state := t.TempDir()
	models := fmt.Sprintf(`  - name: hello
    path: %s
    cache:
      enabled: true
      max_entries: 100
`, model)
	_, base, stop := newTestAgent(t, state, models)
	post := func(base, body string) string {
		resp, err := http.Post(base+"/v2/models/hello/infer", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("infer: %d %s", resp.StatusCode, b)
		}
		return string(b)
	}
	// Input scale 0.024480115, zero point -128: 0.7834 and 0.7900 both
	// quantize to -96 (32.00 and 32.27 steps above the zero point).
	first := post(base, `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"FP32","data":[0.7834]}]}`)
	second := post(base, `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"FP32","data":[0.7900]}]}`)
	if first != second {
		t.Errorf("cached answer differs: %s vs %s", first, second)
	}
	if !strings.Contains(first, fmt.Sprintf("[%d]", refOutput(t, -96))) {
		t.Errorf("answer %s; want the reference output %d", first, refOutput(t, -96))
	}
	hits := metricValue(t, base, `edged_inferences_total{model="hello",outcome="cache_hit",version="1"}`)
	misses := metricValue(t, base, `edged_inferences_total{model="hello",outcome="ok",version="1"}`)
	if hits != 1 || misses != 1 {
		t.Errorf("cache hits %g, misses %g; want 1 and 1", hits, misses)
	}
	stop()
	time.Sleep(10 * time.Millisecond)

	_, base2, stop2 := newTestAgent(t, state, models)
	defer stop2()
	third := post(base2, `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[-96]}]}`)
	if third != first {
		t.Errorf("after restart: %s; want %s", third, first)
	}
	if hits := metricValue(t, base2, `edged_inferences_total{model="hello",outcome="cache_hit",version="1"}`); hits != 1 {
		t.Errorf("after restart: %g cache hits; want 1 (the entry survives)", hits)
	}
}
