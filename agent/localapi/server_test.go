package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/boards"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/runtime/tensor"
)

// fakeBackend answers every Infer with err, after delay, or panics.
type fakeBackend struct {
	err   error
	delay time.Duration
	panic bool
	// req is the last request served.
	req *infer.Request
	// status and plots are what Status and DriftPlots return.
	status status.Device
	plots  []status.DriftPlot
}

var fakeModel = infer.ModelInfo{Name: "m", Version: "1", Ready: true,
	Inputs:  []infer.TensorSpec{{Name: "in", DType: tensor.UInt8, Shape: []int{2}, Quantized: true, Scale: 0.5, ZeroPoint: 10}},
	Outputs: []infer.TensorSpec{{Name: "out", DType: tensor.UInt8, Shape: []int{3}, Quantized: true, Scale: 0.25, ZeroPoint: 4}},
	Labels:  []string{"cat", "dog", "owl"},
}

func (f *fakeBackend) Handle(ctx context.Context, req *infer.Request) (*infer.Response, error) {
	f.req = req
	if f.panic {
		panic("boom")
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	// Echo: out = [in0, in1, in0+in1].
	d := req.Inputs[0].Data
	return &infer.Response{Outputs: []infer.Tensor{{Name: "out", DType: tensor.UInt8, Shape: []int{3}, Data: []byte{d[0], d[1], d[0] + d[1]}}}}, nil
}

func (f *fakeBackend) Model(name, version string) (infer.ModelInfo, error) {
	if name != "m" || (version != "" && version != "1") {
		return infer.ModelInfo{}, fmt.Errorf("%w: %q", infer.ErrModelNotFound, name)
	}
	return fakeModel, nil
}
func (f *fakeBackend) Models() []infer.ModelInfo { return []infer.ModelInfo{fakeModel} }
func (f *fakeBackend) Ready() bool               { return true }
func (f *fakeBackend) Status() status.Device     { return f.status }
func (f *fakeBackend) Drift() []status.Drift     { return nil }
func (f *fakeBackend) DriftPlots(int) []status.DriftPlot {
	return f.plots
}
func (f *fakeBackend) Admit(name, version string) error { return nil }
func (f *fakeBackend) Feedback(context.Context, canary.RequestFeedback) error {
	return canary.ErrNoCanary
}

const body = `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[12,20]}]}`

func post(h http.Handler, path, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestErrorStatus(t *testing.T) {
	tests := []struct {
		name string
		b    *fakeBackend
		want int
	}{
		{"ok", &fakeBackend{}, 200},
		{"overloaded", &fakeBackend{err: fmt.Errorf("%w: queue full", infer.ErrOverloaded)}, 429},
		{"not ready", &fakeBackend{err: infer.ErrNotReady}, 503},
		{"deadline", &fakeBackend{delay: time.Second}, 504},
		{"internal", &fakeBackend{err: errors.New("kernel failed")}, 500},
		{"panic", &fakeBackend{panic: true}, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.b, Options{RequestTimeout: 20 * time.Millisecond})
			w := post(s, "/v2/models/m/infer", body)
			if w.Code != tc.want {
				t.Fatalf("status %d %s; want %d", w.Code, w.Body, tc.want)
			}
			if tc.want != 200 && !strings.Contains(w.Body.String(), `"error"`) {
				t.Errorf("body %s has no error field", w.Body)
			}
		})
	}
}

func TestToken(t *testing.T) {
	s := New(&fakeBackend{}, Options{Token: "s3cret"})
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"s3cret", 401}, {"Bearer s3cret", 200}} {
		for _, path := range []string{"/v2/health/live", "/metrics-not-there", "/v1/status"} {
			r := httptest.NewRequest("GET", path, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			want := tc.want
			if want == 200 && path == "/metrics-not-there" {
				want = 404
			}
			if w.Code != want {
				t.Errorf("GET %s with %q = %d; want %d", path, tc.auth, w.Code, want)
			}
		}
	}
}

// TestQuantizeAndClassify: FP32 inputs are quantized with the input's
// parameters (q = round(v/0.5) + 10) and outputs come back dequantized
// ((q-4)*0.25) or as Triton classification strings of the raw values.
func TestQuantizeAndClassify(t *testing.T) {
	s := New(&fakeBackend{}, Options{})
	w := post(s, "/v2/models/m/infer", `{"inputs":[{"name":"in","shape":[2],"datatype":"FP32","data":[1.0, 4.9]}],
		"outputs":[{"name":"out","parameters":{"dequantize":true}}]}`)
	var r struct {
		Outputs []struct {
			Datatype string
			Data     []float64
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// in = [round(2)+10, round(9.8)+10] = [12, 20]; out = [12, 20, 32]
	// dequantized: [(12-4)/4, (20-4)/4, (32-4)/4] = [2, 4, 7].
	if got := fmt.Sprint(r.Outputs[0].Datatype, " ", r.Outputs[0].Data); got != "FP32 [2 4 7]" {
		t.Errorf("dequantized output = %s; want FP32 [2 4 7]", got)
	}
	w = post(s, "/v2/models/m/infer", `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[12,20]}],
		"outputs":[{"name":"out","parameters":{"classification":2}}]}`)
	var c struct {
		Outputs []struct {
			Datatype string
			Data     []string
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// The model's own output values (out = [12, 20, 32]), as Triton's
	// classification extension reports them: "value:index:label".
	if got := fmt.Sprint(c.Outputs[0].Data); got != "[32:2:owl 20:1:dog]" {
		t.Errorf("classification = %s; want [32:2:owl 20:1:dog]", got)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add("", []byte(body))
	f.Add("10", []byte(`{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","parameters":{"binary_data_size":2}}]}ab`))
	f.Add("", []byte(`{"inputs":[{"name":"in","shape":[2],"datatype":"FP32","data":[[1e308],[-1e308]]}]}`))
	f.Add("", []byte(`{"inputs":[{"name":"in","shape":[3,2],"datatype":"UINT8","data":[[1,2],[3,4],[5,6]]}]}`))
	f.Fuzz(func(t *testing.T, hdr string, b []byte) {
		_, in, err := decodeRequest(hdr, b, fakeModel)
		if err == nil && (len(in.items) != 1 || len(in.items[0]) != 1 || len(in.items[0][0].Data) != 2) {
			t.Fatalf("accepted request gave inputs %v", in)
		}
		// A model of batch 1: every item of an accepted batch is what the
		// model takes.
		_, in, err = decodeRequest(hdr, b, batchModel)
		if err == nil {
			for _, item := range in.items {
				if err := batchModel.CheckInputs(item); err != nil || len(in.items) != in.size {
					t.Fatalf("accepted request gave item %v of %d: %v", item, in.size, err)
				}
			}
		}
		if err != nil && !errors.Is(err, infer.ErrBadInput) {
			t.Fatalf("error %v does not wrap ErrBadInput", err)
		}
	})
}

// TestFlatten compares the scanner with encoding/json's reading of the
// same documents (a second, independent implementation).
func TestFlatten(t *testing.T) {
	good := []struct {
		doc   string
		shape []int
	}{{`[1,2,3]`, []int{3}}, {` [ [1, -2], [3.5e2, 0] ] `, []int{2, 2}}, {`[[[-0.25]]]`, []int{1, 1, 1}}, {`[true,false,1e-3]`, []int{3}},
		{`[123456789012345678901234567890]`, []int{1}}, {`[-0, 0.0, 1E+2]`, []int{3}}, {`[1,2,3,4]`, []int{2, 2}}}
	for _, g := range good {
		doc := g.doc
		got, err := flatten(json.RawMessage(doc), 1<<20, g.shape)
		if err != nil {
			t.Errorf("flatten(%s): %v", doc, err)
			continue
		}
		var want []float64
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case []any:
				for _, e := range x {
					walk(e)
				}
			case float64:
				want = append(want, x)
			case bool:
				if x {
					want = append(want, 1)
				} else {
					want = append(want, 0)
				}
			}
		}
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		walk(v)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("flatten(%s) = %v; encoding/json reads %v", doc, got, want)
		}
	}
	bad := []string{``, `1`, `[1,]`, `[,1]`, `[1 2]`, `[1,2`, `[1]]`, `[[1][2]]`, `[Inf]`, `[0x10]`, `[+1]`, `[.5]`, `[1.]`, `[01]`, `["1"]`, `[{"a":1}]`, `[null]`, `[1_000]`, strings.Repeat("[", 17) + strings.Repeat("]", 17)}
	for _, doc := range bad {
		if got, err := flatten(json.RawMessage(doc), 1<<20, []int{1 << 20}); err == nil {
			t.Errorf("flatten(%q) = %v; want an error", doc, got)
		}
	}
}

// admittingBackend refuses every request before its body is read.
type admittingBackend struct{ fakeBackend }

func (admittingBackend) Admit(model, version string) error {
	return fmt.Errorf("model %q: %w: every instance's queue is full", model, infer.ErrOverloaded)
}

// unreadBody fails the test if the handler reads it.
type unreadBody struct{ t *testing.T }

func (b unreadBody) Read([]byte) (int, error) {
	b.t.Error("request body read although the backend refused admission")
	return 0, io.EOF
}

// Under overload the endpoint answers 429 from the model's queue state
// alone: the body, possibly megabytes of JSON, is not read or decoded.
func TestOverloadRefusedBeforeBody(t *testing.T) {
	s := New(&admittingBackend{}, Options{RequestTimeout: time.Second, MaxRequestBytes: 1 << 20})
	r := httptest.NewRequest("POST", "/v2/models/m/infer", unreadBody{t})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusTooManyRequests {
		t.Errorf("POST /v2/models/m/infer under overload = %d; want 429 (%s)", w.Code, w.Body)
	}
	// An unknown model is still 404, not 429.
	r = httptest.NewRequest("POST", "/v2/models/nope/infer", unreadBody{t})
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound {
		t.Errorf("POST /v2/models/nope/infer = %d; want 404", w.Code)
	}
}

// The status page shows names and lines from outside (models, delegates,
// canary reasons, drift features): they must reach the browser as text.
func TestStatusPageEscapes(t *testing.T) {
	evil := `<img src=x onerror="alert(1)">`
	s := New(&fakeBackend{
		status: status.Device{DeviceID: evil, Board: boards.Board{Name: evil},
			Sources: []status.Source{{Name: evil, Type: "mqtt", Model: "m", In: 3, Out: 2, Errors: 1,
				Result: &status.Result{Top: []status.Score{{Label: evil, Score: 0.75}}}},
				{Name: evil, Type: "synthetic", Model: "m", Frame: &status.Frame{Path: "/v1/sources/" + url.PathEscape(evil) + "/frame", Width: 96, Height: 111, Time: time.UnixMilli(1796620000123)}}},
			Commands: []status.Command{{Op: "deploy", CommandStatus: fleet.CommandStatus{ID: "c1", State: "failed", Reason: evil}}},
			Events:   []status.Event{{Kind: "error", Model: evil, Detail: json.RawMessage(`{"reason":"` + strings.ReplaceAll(evil, `"`, `\"`) + `"}`)}},
			Link:     &status.Link{Broker: evil, LastError: evil},
			OTA:      &fleet.OTATelemetry{Downloads: []fleet.DownloadTelemetry{{Model: evil, Version: "3", Bytes: 1572864, Size: 4194304}}, Rollbacks: 2},
			Missing:  []status.Missing{{Model: evil, Reason: evil}},
			Models: []status.Model{{Name: "m", Version: "1", Reason: evil,
				Delegates: []status.Delegate{{Delegate: "edgetpu", State: "failed", Reason: evil}, {Delegate: "cpu", Fallback: true}},
				Canary:    &status.Canary{Candidate: "2", Phase: "shadow", Last: &canary.Decision{Reason: evil}}}}},
		plots: []status.DriftPlot{{Model: "m", Feature: evil, State: "drift", PSI: 0.5, KSP: 0.001, Ref: []float64{0.5, 0.5}, Live: []float64{0.1, 0.9}}},
	}, Options{})
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	page := w.Body.String()
	if strings.Contains(page, "<img src") {
		t.Errorf("status page carries raw markup from a name:\n%s", page)
	}
	for _, want := range []string{
		`&lt;img src=x onerror=&#34;alert(1)&#34;&gt;`, // html.EscapeString's spelling
		`<b class="pill ok">ready</b>`,
		`<a href="/v2/models/m">m</a> version 1`,
		`&lt;img src=x onerror=&#34;alert(1)&#34;&gt; 0.75`, // a source's last result
		// A thumbnail: the path escaped in the URL, the name in alt.
		`<img class="frame" data-f="s1.frame" src="/v1/sources/%3Cimg%20src=x%20onerror=%22alert%281%29%22%3E/frame?t=1796620000123" width="96" height="111" alt="last picture read by &lt;img src=x onerror=&#34;alert(1)&#34;&gt;">`,
		// A download: 1.5 of 4 MiB, 37.5% (rounded to even).
		`Downloading <b>&lt;img src=x onerror=&#34;alert(1)&#34;&gt;</b> version 3: 1.5 of 4.0 MiB (38%)`,
		`2 rollback(s) since the agent started.`,
		`<section id="sources">`, `<section id="ota">`, `<section id="events">`, `<section id="system">`,
		`scale 0.5, zero point 10`,
		`<span class="bad">drift</span>`,
		`PSI 0.500 · KS p 0.001`,
		`<svg `,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q:\n%s", want, page)
		}
	}
}

// batchModel is fakeModel with a batch dimension of 1: in [1,2], out [1,3].
var batchModel = infer.ModelInfo{Name: "b", Version: "1", Ready: true, MaxBatch: 1,
	Inputs:  []infer.TensorSpec{{Name: "in", DType: tensor.UInt8, Shape: []int{1, 2}}},
	Outputs: []infer.TensorSpec{{Name: "out", DType: tensor.UInt8, Shape: []int{1, 3}}},
	Labels:  []string{"cat", "dog", "owl"},
}

// The page's charts and figures, worked by hand.
func TestPageFigures(t *testing.T) {
	for sec, want := range map[float64]string{0: "0s", 59.9: "59s", 65: "1m 05s", 3725: "1h 02m", 93784: "1d 2h"} {
		if got := duration(sec); got != want {
			t.Errorf("duration(%g) = %q; want %q", sec, got, want)
		}
	}
	// 0, 2, 4 on a 240×48 chart whose lines run from y 46 (0) to 14
	// (the top, 4): x at 0, 120 and 240, y 46, 30 and 14.
	svg := sparkline([][]float64{{0, 2, 4}}, []string{"#000"}, "/s")
	if !strings.Contains(svg, `<polyline points="0.0,46.0 120.0,30.0 240.0,14.0"`) || !strings.Contains(svg, ">4/s</text>") {
		t.Errorf("sparkline(0, 2, 4) = %s; want points 0,46 120,30 240,14 and the last value 4/s", svg)
	}
	if svg := sparkline([][]float64{{3}}, []string{"#000"}, ""); !strings.Contains(svg, "collecting samples") {
		t.Errorf("sparkline of one sample = %s; want a placeholder", svg)
	}
	bars := batchChart([]status.BatchSize{{Size: 1, Batches: 6}, {Size: 2, Batches: 3}})
	// The larger count fills the 36 px; half of it is 18 px high.
	if !strings.Contains(bars, `height="36.0"`) || !strings.Contains(bars, `y="18.0"`) || !strings.Contains(bars, "≤2: 3 batches") {
		t.Errorf("batchChart(6 of 1, 3 of 2) = %s; want bars of 36 and 18 px", bars)
	}
}
