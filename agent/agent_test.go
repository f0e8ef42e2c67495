package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

const testConfig = `
version: 1
state_dir: %s
http:
  listen: 127.0.0.1:0
  max_request_bytes: 4096
models:
  - name: hello
    version: "7"
    path: %s
`

// startAgent runs an agent serving hello_world_int8 and returns its base URL.
func startAgent(t *testing.T) (*Agent, string) {
	t.Helper()
	model, err := filepath.Abs("../testdata/models/hello_world_int8.tflite")
	if err != nil {
		t.Fatal(err)
	}
	a, url, stop := runConfig(t, fmt.Appendf(nil, testConfig, t.TempDir(), model))
	t.Cleanup(stop)
	return a, url
}

// runConfig runs an agent on a configuration document (relative paths
// from a new directory) and returns it, its base URL, and stop, which
// ends Run and fails the test if it returns an error or takes more than
// 10 s.
func runConfig(t testing.TB, doc []byte) (a *Agent, url string, stop func()) {
	t.Helper()
	cfg, err := config.Parse(doc, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a, err = New(cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v after cancel; want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return 10s after cancel")
			}
		})
	}
	addr, err := a.Addr(ctx)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	return a, "http://" + addr.String(), stop
}

// refOutput is the official runtime's output for an input of
// hello_world_int8 (testdata/golden), which the default arithmetic
// reproduces.
func refOutput(t *testing.T, q int) int8 {
	b, err := os.ReadFile(fmt.Sprintf("../testdata/golden/hello_world_int8/q_%d/output_0.bin", q))
	if err != nil {
		t.Fatal(err)
	}
	return int8(b[0])
}

func do(t *testing.T, method, url, body string, hdr map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

type v2Response struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	Outputs      []struct {
		Name     string    `json:"name"`
		Datatype string    `json:"datatype"`
		Shape    []int     `json:"shape"`
		Data     []float64 `json:"data"`
	} `json:"outputs"`
}

func TestLocalAPI(t *testing.T) {
	_, base := startAgent(t)
	want := refOutput(t, -96)
	// hello_world_int8's input: scale 0.024480115, zero point -128, so the
	// real value 32*scale quantizes to exactly -96; the output's scale
	// 0.008290957 and zero point 5 dequantize it.
	const inScale, outScale, outZP = 0.024480115622282028, 0.008290957, 5
	floatIn := strconv.FormatFloat(32*inScale, 'g', -1, 64)

	for _, tc := range []struct{ method, path string }{
		{"GET", "/v2/health/live"}, {"GET", "/v2/health/ready"}, {"GET", "/v2"},
		{"GET", "/v2/models/hello"}, {"GET", "/v2/models/hello/versions/7"}, {"GET", "/v2/models/hello/ready"},
		{"GET", "/v1/status"}, {"GET", "/metrics"}, {"GET", "/"}, {"GET", "/debug/pprof/"},
	} {
		if code, body, _ := do(t, tc.method, base+tc.path, "", nil); code != http.StatusOK {
			t.Errorf("%s %s = %d %s; want 200", tc.method, tc.path, code, body)
		}
	}

	code, body, _ := do(t, "GET", base+"/v2/models/hello", "", nil)
	var md struct {
		Name     string   `json:"name"`
		Versions []string `json:"versions"`
		Inputs   []struct {
			Datatype  string `json:"datatype"`
			Shape     []int  `json:"shape"`
			ZeroPoint int    `json:"zero_point"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(body, &md); err != nil || code != 200 {
		t.Fatalf("metadata: %d %s %v", code, body, err)
	}
	if md.Name != "hello" || md.Versions[0] != "7" || md.Inputs[0].Datatype != "INT8" || fmt.Sprint(md.Inputs[0].Shape) != "[1 1]" || md.Inputs[0].ZeroPoint != -128 {
		t.Errorf("metadata = %+v", md)
	}

	infer := func(body string, hdr map[string]string) (int, []byte, http.Header) {
		return do(t, "POST", base+"/v2/models/hello/infer", body, hdr)
	}
	cases := []struct {
		name    string
		body    string
		wantOut float64
		wantDT  string
	}{
		{"int8", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[-96]}]}`, float64(want), "INT8"},
		{"nested", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[[-96]]}]}`, float64(want), "INT8"},
		{"fp32 quantized", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"FP32","data":[` + floatIn + `]}]}`, float64(want), "INT8"},
		{"dequantized", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[-96]}],"outputs":[{"name":"StatefulPartitionedCall:0","parameters":{"dequantize":true}}]}`, float64(float32(outScale) * float32(float64(want)-outZP)), "FP32"},
		{"versioned", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[-96]}]}`, float64(want), "INT8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v2/models/hello/infer"
			if tc.name == "versioned" {
				path = "/v2/models/hello/versions/7/infer"
			}
			code, body, _ := do(t, "POST", base+path, tc.body, nil)
			var r v2Response
			if err := json.Unmarshal(body, &r); err != nil || code != 200 {
				t.Fatalf("infer: %d %s %v", code, body, err)
			}
			if r.ModelName != "hello" || r.ModelVersion != "7" || len(r.Outputs) != 1 {
				t.Fatalf("response = %s", body)
			}
			o := r.Outputs[0]
			if o.Datatype != tc.wantDT || len(o.Data) != 1 || math.Abs(o.Data[0]-tc.wantOut) > 1e-6 {
				t.Errorf("output = %s %v; want %s [%g]", o.Datatype, o.Data, tc.wantDT, tc.wantOut)
			}
		})
	}

	// A batch of 4 over the model's [1,1] input: four invocations, the
	// outputs stacked as [4,1], each the official runtime's (golden).
	t.Run("batch split", func(t *testing.T) {
		code, body, _ := infer(`{"inputs":[{"name":"serving_default_dense_input:0","shape":[4,1],"datatype":"INT8","data":[[-96],[0],[-34],[-63]]}]}`, nil)
		var r v2Response
		if err := json.Unmarshal(body, &r); err != nil || code != 200 || len(r.Outputs) != 1 {
			t.Fatalf("infer: %d %s %v", code, body, err)
		}
		want := fmt.Sprint([]int8{refOutput(t, -96), refOutput(t, 0), refOutput(t, -34), refOutput(t, -63)})
		if got := fmt.Sprint(r.Outputs[0].Data); got != want || fmt.Sprint(r.Outputs[0].Shape) != "[4 1]" {
			t.Errorf("batch output %v %s; want [4 1] %s", r.Outputs[0].Shape, got, want)
		}
	})

	t.Run("binary", func(t *testing.T) {
		hdr := `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","parameters":{"binary_data_size":1}}],"outputs":[{"name":"StatefulPartitionedCall:0","parameters":{"binary_data":true}}]}`
		body := hdr + string([]byte{byte(0xa0)}) // -96
		code, resp, h := infer(body, map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(hdr)), "Content-Type": "application/octet-stream"})
		if code != 200 {
			t.Fatalf("binary infer: %d %s", code, resp)
		}
		n, err := strconv.Atoi(h.Get("Inference-Header-Content-Length"))
		if err != nil || n > len(resp) {
			t.Fatalf("response header length %q for %d bytes", h.Get("Inference-Header-Content-Length"), len(resp))
		}
		if raw := resp[n:]; len(raw) != 1 || int8(raw[0]) != want {
			t.Errorf("binary output = %v; want [%d]", raw, want)
		}
	})

	const binTooBig = `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","parameters":{"binary_data_size":5}}]}`
	errorCases := []struct {
		name, path, body string
		hdr              map[string]string
		want             int
	}{
		{"unknown model", "/v2/models/nope/infer", `{"inputs":[]}`, nil, 404},
		{"unknown version", "/v2/models/hello/versions/8/infer", `{"inputs":[]}`, nil, 404},
		{"malformed json", "/v2/models/hello/infer", `{"inputs":[`, nil, 400},
		{"wrong shape", "/v2/models/hello/infer", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,2],"datatype":"INT8","data":[1,2]}]}`, nil, 400},
		{"too few values", "/v2/models/hello/infer", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[]}]}`, nil, 400},
		{"out of range", "/v2/models/hello/infer", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[300]}]}`, nil, 400},
		{"not an integer", "/v2/models/hello/infer", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[1.5]}]}`, nil, 400},
		{"wrong datatype", "/v2/models/hello/infer", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT32","data":[1]}]}`, nil, 400},
		{"unknown datatype", "/v2/models/hello/infer", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"COMPLEX","data":[1]}]}`, nil, 400},
		{"no inputs", "/v2/models/hello/infer", `{"inputs":[]}`, nil, 400},
		{"unknown output", "/v2/models/hello/infer", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[1]}],"outputs":[{"name":"zzz"}]}`, nil, 400},
		{"bad header length", "/v2/models/hello/infer", `{}`, map[string]string{"Inference-Header-Content-Length": "99"}, 400},
		{"binary size too big", "/v2/models/hello/infer", binTooBig + "\x01", map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(binTooBig))}, 400},
		{"too large", "/v2/models/hello/infer", `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[1` + strings.Repeat(",1", 3000) + `]}]}`, nil, 413},
		{"get infer", "/v2/models/hello/nothing", ``, nil, 404},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := do(t, "POST", base+tc.path, tc.body, tc.hdr)
			var e struct{ Error string }
			if code != tc.want || json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Errorf("POST %s %s = %d %s; want %d with {\"error\": ...}", tc.path, tc.name, code, body, tc.want)
			}
			// The daemon keeps serving after every bad request.
			if code, _, _ := do(t, "GET", base+"/v2/health/ready", "", nil); code != 200 {
				t.Errorf("ready after %s = %d", tc.name, code)
			}
		})
	}

	_, metrics, _ := do(t, "GET", base+"/metrics", "", nil)
	for _, want := range []string{`edged_inferences_total{model="hello",outcome="ok",version="7"}`, `edged_http_requests_total{code="400",route="infer"}`, `edged_http_requests_total{code="413",route="infer"}`, "edged_inference_duration_seconds_bucket"} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	_, page, _ := do(t, "GET", base+"/", "", nil)
	if !bytes.Contains(page, []byte("hello")) || !bytes.Contains(page, []byte("ready")) {
		t.Errorf("status page lacks the model or readiness:\n%s", page)
	}
}

// TestSwapUnderLoad reloads the model repeatedly while requests run: none
// may fail, and each gets the right answer.
func TestSwapUnderLoad(t *testing.T) {
	a, _ := startAgent(t)
	want := refOutput(t, -96)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, err := a.Infer(ctx, "hello", "", []infer.Tensor{{DType: tensor.Int8, Shape: []int{1, 1}, Data: []byte{0xa0}}})
				if err != nil {
					errs <- err
					return
				}
				if int8(out[0].Data[0]) != want {
					errs <- fmt.Errorf("output %d; want %d", int8(out[0].Data[0]), want)
					return
				}
			}
		}()
	}
	for i := 0; i < 30; i++ {
		if err := a.LoadModel(a.cfg.Models[0]); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestBadModelLeavesOthersServing: a configured model whose file does not
// load (here truncated) is not served, the daemon is not ready and says
// which model is missing and why, and the other models serve.
func TestBadModelLeavesOthersServing(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(modelPath(t, "hello_world_int8.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.tflite")
	os.WriteFile(bad, good[:len(good)/2], 0o644)
	doc := fmt.Sprintf(testConfig, dir, bad) + fmt.Sprintf("  - name: other\n    path: %s\n", modelPath(t, "hello_world_int8.tflite"))
	cfg, err := config.Parse([]byte(doc), dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New with one bad model of two: %v", err)
	}
	defer a.Close()
	if a.Ready() {
		t.Error("Ready with a configured model missing")
	}
	if m := a.Missing(); len(m) != 1 || m[0].Model != "hello" || m[0].Reason == "" {
		t.Errorf("Missing = %+v; want hello with a reason", m)
	}
	if _, err := a.Model("other", ""); err != nil {
		t.Errorf("the other model: %v; want it served", err)
	}
}
