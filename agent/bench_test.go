package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// BenchmarkHTTPInfer measures the local API's overhead over a bare Invoke
// for person_detect: compare ns/op of the sub-benchmarks.
//
//	go test -run '^$' -bench HTTPInfer -benchtime 200x ./agent/
func BenchmarkHTTPInfer(b *testing.B) {
	model, _ := filepath.Abs("../testdata/models/person_detect.tflite")
	b.Run("bare_invoke", func(b *testing.B) {
		m, err := tflite.LoadFile(model)
		if err != nil {
			b.Fatal(err)
		}
		it, err := tflite.NewInterpreter(m, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := it.Invoke(); err != nil {
				b.Fatal(err)
			}
		}
	})
	_, base, stop := newBenchAgent(b, fmt.Sprintf("  - name: person\n    path: %s\n", model))
	defer stop()
	data := make([]int, 9216)
	jsonBody, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "input", "shape": []int{1, 96, 96, 1}, "datatype": "INT8", "data": data}}})
	hdr := []byte(`{"inputs":[{"name":"input","shape":[1,96,96,1],"datatype":"INT8","parameters":{"binary_data_size":9216}}],"outputs":[{"name":"MobilenetV1/Predictions/Reshape_1","parameters":{"binary_data":true}}]}`)
	binBody := append(append([]byte{}, hdr...), make([]byte, 9216)...)
	client := &http.Client{}
	run := func(b *testing.B, body []byte, headers map[string]string) {
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest("POST", base+"/v2/models/person/infer", bytes.NewReader(body))
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	b.Run("http_json", func(b *testing.B) { run(b, jsonBody, nil) })
	b.Run("http_binary", func(b *testing.B) {
		run(b, binBody, map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(hdr))})
	})
}

// BenchmarkBatching measures requests per second at concurrency 8 on a
// fully-connected int8 model (256-1024-1024-10, written by
// tflitetest.Int8MLP) with batching off and with max_batch 8:
//
//	go test -run '^$' -bench Batching -benchtime 3000x ./agent/
func BenchmarkBatching(b *testing.B) {
	data, err := tflitetest.Int8MLP(1, 256, 1024, 1024, 10)
	if err != nil {
		b.Fatal(err)
	}
	model := filepath.Join(b.TempDir(), "mlp.tflite")
	if err := os.WriteFile(model, data, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, mb := range []int{1, 8} {
		b.Run(fmt.Sprintf("max_batch_%d", mb), func(b *testing.B) {
			a, _, stop := newBenchAgent(b, fmt.Sprintf("  - name: fc\n    path: %s\n    batch:\n      max_batch: %d\n      max_delay: 1ms\n      queue_capacity: 256\n", model, mb))
			defer stop()
			in := []infer.Tensor{{DType: tensor.Int8, Shape: []int{1, 256}, Data: make([]byte, 256)}}
			var wg sync.WaitGroup
			work := make(chan struct{}, 64)
			b.ResetTimer()
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range work {
						if _, err := a.Infer(context.Background(), "fc", "", in); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			for i := 0; i < b.N; i++ {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

func newBenchAgent(b *testing.B, models string) (*Agent, string, func()) {
	return newTestAgentTB(b, b.TempDir(), models)
}
