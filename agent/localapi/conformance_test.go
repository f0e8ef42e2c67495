package localapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/infer/infertest"
	"github.com/edged-dev/edged/agent/inferstats"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/runtime/tensor"
)

// The conformance suite: every endpoint, field and error of the Open
// Inference Protocol's REST specification (testdata/oip, the
// specification's own schemas check every JSON body), with Triton's binary
// tensor data and classification extensions. Where the specification is
// silent, Triton's behaviour decides; each such case says so.

// specModel is the model of Triton's binary-data example.
var specModel = infertest.TritonExample

// bigModel echoes 1024 FP32 values: a 4 KiB binary response.
var bigModel = infer.ModelInfo{Name: "big", Version: "1", Ready: true,
	Inputs:  []infer.TensorSpec{{Name: "x", DType: tensor.Float32, Shape: []int{1024}}},
	Outputs: []infer.TensorSpec{{Name: "y", DType: tensor.Float32, Shape: []int{1024}}},
}

// specBackend serves specModel, bigModel and batchModel besides
// fakeBackend's "m". It counts batchModel's requests.
type specBackend struct {
	fakeBackend
	batchCalls atomic.Int64
}

func (b *specBackend) Model(name, version string) (infer.ModelInfo, error) {
	for _, m := range []infer.ModelInfo{specModel, bigModel, batchModel} {
		if name == m.Name {
			if version != "" && version != m.Version {
				return infer.ModelInfo{}, fmt.Errorf("%w: %q version %q", infer.ErrModelNotFound, name, version)
			}
			return m, nil
		}
	}
	return b.fakeBackend.Model(name, version)
}

func (b *specBackend) Models() []infer.ModelInfo {
	return []infer.ModelInfo{fakeModel, specModel, bigModel, batchModel}
}

// Handle: mymodel's answer is infertest's; big echoes its input.
func (b *specBackend) Handle(ctx context.Context, req *infer.Request) (*infer.Response, error) {
	switch req.Model {
	case "mymodel":
		return infertest.TritonExampleAnswer(req), nil
	case "b":
		// out = [in0, in1, in0+in1]; every request waited 2 ms for its
		// batch, and one whose in0 is 99 is a cache hit.
		b.batchCalls.Add(1)
		d := req.Inputs[0].Data
		if len(d) != 2 || fmt.Sprint(req.Inputs[0].Shape) != "[1 2]" {
			return nil, fmt.Errorf("b takes [1 2]; got %v %v", req.Inputs[0].Shape, d)
		}
		return &infer.Response{Outputs: []infer.Tensor{{Name: "out", DType: tensor.UInt8, Shape: []int{1, 3}, Data: []byte{d[0], d[1], d[0] + d[1]}}},
			Queue: 2 * time.Millisecond, CacheHit: d[0] == 99}, nil
	case "big":
		return &infer.Response{Outputs: []infer.Tensor{{Name: "y", DType: tensor.Float32, Shape: []int{1024}, Data: req.Inputs[0].Data}}}, nil
	}
	return b.fakeBackend.Handle(ctx, req)
}

// oipSchemas are the specification's component schemas.
type oipSchemas map[string]any

func loadSchemas(t *testing.T) oipSchemas {
	t.Helper()
	b, err := os.ReadFile("testdata/oip/open_inference_rest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]any `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Components.Schemas) == 0 {
		t.Fatal("specification has no schemas")
	}
	return doc.Components.Schemas
}

// validate checks a JSON document against the named schema: type,
// required, properties, items, anyOf, additionalProperties and $ref (all
// the specification uses).
func (s oipSchemas) validate(name string, doc []byte) error {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	return s.check(map[string]any{"$ref": "#/components/schemas/" + name}, v, "$")
}

func (s oipSchemas) check(sch map[string]any, v any, path string) error {
	if ref, ok := sch["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		sub, ok := s[name].(map[string]any)
		if !ok {
			return fmt.Errorf("schema %q not in the specification", name)
		}
		return s.check(sub, v, path)
	}
	if alts, ok := sch["anyOf"].([]any); ok {
		var errs []string
		for _, alt := range alts {
			err := s.check(alt.(map[string]any), v, path)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fmt.Errorf("%s: matches none of anyOf: %s", path, strings.Join(errs, "; "))
	}
	switch sch["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %v is not an object", path, v)
		}
		req, _ := sch["required"].([]any)
		for _, r := range req {
			name := r.(string)
			// The binary extension: an output sent as binary data has
			// parameters.binary_data_size and no "data".
			if name == "data" && sch["title"] == "response_output" {
				if p, ok := obj["parameters"].(map[string]any); ok && p["binary_data_size"] != nil {
					continue
				}
			}
			if _, ok := obj[name]; !ok {
				return fmt.Errorf("%s: required field %q missing", path, name)
			}
		}
		props, _ := sch["properties"].(map[string]any)
		for k, fv := range obj {
			if p, ok := props[k].(map[string]any); ok {
				if err := s.check(p, fv, path+"."+k); err != nil {
					return err
				}
			} else if ap, ok := sch["additionalProperties"].(map[string]any); ok {
				if err := s.check(ap, fv, path+"."+k); err != nil {
					return err
				}
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %v is not an array", path, v)
		}
		if items, ok := sch["items"].(map[string]any); ok {
			for i, e := range arr {
				if err := s.check(items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %v is not a string", path, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %v is not a number", path, v)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			return fmt.Errorf("%s: %v is not an integer", path, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %v is not a boolean", path, v)
		}
	}
	return nil
}

// TestSchemaValidator: the validator refuses what the schemas forbid
// (else the suite below could not fail).
func TestSchemaValidator(t *testing.T) {
	s := loadSchemas(t)
	bad := map[string]string{
		"metadata_server_response":      `{"name":"edged","extensions":[]}`,
		"inference_response":            `{"model_name":"m","outputs":[{"name":"o","shape":[1.5],"datatype":"FP32","data":[1]}]}`,
		"metadata_model_response":       `{"name":"m","platform":"tflite","inputs":[{"name":"x","datatype":"FP32"}]}`,
		"metadata_model_error_response": `{"message":"x"}`,
	}
	for name, doc := range bad {
		if err := s.validate(name, []byte(doc)); err == nil {
			t.Errorf("%s accepts %s", name, doc)
		}
	}
	good := `{"model_name":"m","outputs":[{"name":"o","shape":[2],"datatype":"FP32","data":[[1],[2.5]]}]}`
	if err := s.validate("inference_response", []byte(good)); err != nil {
		t.Errorf("inference_response refuses %s: %v", good, err)
	}
}

// confCase is one request and what the protocol says of its answer.
type confCase struct {
	name, method, path, body string
	hdr                      []string
	code                     int
	schema                   string // the response body's schema; "" for none
	check                    func(t *testing.T, w *httptest.ResponseRecorder)
}

// jsonField decodes a JSON response into v.
func jsonField(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("response %q: %v", w.Body, err)
	}
}

type confOutput struct {
	Name       string
	Shape      []int
	Datatype   string
	Parameters map[string]any
	Data       json.RawMessage
}

type confResponse struct {
	ModelName    string  `json:"model_name"`
	ModelVersion string  `json:"model_version"`
	ID           *string `json:"id"`
	Outputs      []confOutput
	Error        string
}

func wantOutput(t *testing.T, w *httptest.ResponseRecorder, want string) {
	t.Helper()
	var r confResponse
	jsonField(t, w, &r)
	if len(r.Outputs) != 1 {
		t.Fatalf("outputs %s; want one", w.Body)
	}
	o := r.Outputs[0]
	if got := fmt.Sprintf("%s %s %v %s", o.Name, o.Datatype, o.Shape, o.Data); got != want {
		t.Errorf("output %s; want %s", got, want)
	}
}

func wantError(sub string) func(t *testing.T, w *httptest.ResponseRecorder) {
	return func(t *testing.T, w *httptest.ResponseRecorder) {
		var r confResponse
		jsonField(t, w, &r)
		if !strings.Contains(r.Error, sub) {
			t.Errorf("error %q; want it to mention %q", r.Error, sub)
		}
	}
}

// tritonBinaryRequest is the request of Triton's binary-data example:
// input0 UINT32 [2,2] = 1,2,3,4 and input1 BOOL [3] = true,false,true as
// 19 binary bytes, output0 asked as binary.
func tritonBinaryRequest() (body []byte, jsonLen int) {
	js := `{"model_name":"mymodel","inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","parameters":{"binary_data_size":16}},` +
		`{"name":"input1","shape":[3],"datatype":"BOOL","parameters":{"binary_data_size":3}}],` +
		`"outputs":[{"name":"output0","parameters":{"binary_data":true}}]}`
	b := []byte(js)
	for _, v := range []uint32{1, 2, 3, 4} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return append(b, 1, 0, 1), len(js)
}

// output0 of mymodel for input0 = 1,2,3,4 and input1 = true,false,true.
const specOutput = "[1.5,3,4.5,6,2,-0.25]"

func TestConformance(t *testing.T) {
	schemas := loadSchemas(t)
	jsonReq := `{"id":"42","inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,4]},{"name":"input1","shape":[3],"datatype":"BOOL","data":[true,false,true]}],"outputs":[{"name":"output0"}]}`
	withInputs := func(in0, extra string) string {
		return `{"inputs":[` + in0 + `,{"name":"input1","shape":[3],"datatype":"BOOL","data":[true,false,true]}]` + extra + `}`
	}
	in0 := `{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,4]}`
	binBody, binLen := tritonBinaryRequest()
	cases := []confCase{
		// Health.
		{name: "live", method: "GET", path: "/v2/health/live", code: 200},
		{name: "ready", method: "GET", path: "/v2/health/ready", code: 200},
		// Server metadata, at both spellings.
		{name: "server metadata /v2/", method: "GET", path: "/v2/", code: 200, schema: "metadata_server_response", check: checkServerMetadata},
		{name: "server metadata /v2", method: "GET", path: "/v2", code: 200, schema: "metadata_server_response", check: checkServerMetadata},
		// Model metadata and readiness, with and without a version.
		{name: "model metadata", method: "GET", path: "/v2/models/mymodel", code: 200, schema: "metadata_model_response", check: checkModelMetadata},
		{name: "model metadata versioned", method: "GET", path: "/v2/models/mymodel/versions/3", code: 200, schema: "metadata_model_response", check: checkModelMetadata},
		{name: "model metadata unknown version", method: "GET", path: "/v2/models/mymodel/versions/4", code: 404, schema: "metadata_model_error_response"},
		{name: "model metadata unknown model", method: "GET", path: "/v2/models/nope", code: 404, schema: "metadata_model_error_response"},
		{name: "model ready", method: "GET", path: "/v2/models/mymodel/ready", code: 200},
		{name: "model ready versioned", method: "GET", path: "/v2/models/mymodel/versions/3/ready", code: 200},
		{name: "model ready unknown version", method: "GET", path: "/v2/models/mymodel/versions/4/ready", code: 404},
		// Inference in JSON, with and without a version.
		{name: "infer json", method: "POST", path: "/v2/models/mymodel/infer", body: jsonReq, code: 200, schema: "inference_response", check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var r confResponse
			jsonField(t, w, &r)
			if r.ModelName != "mymodel" || r.ModelVersion != "3" || r.ID == nil || *r.ID != "42" {
				t.Errorf("model_name %q, model_version %q, id %v; want mymodel, 3, 42", r.ModelName, r.ModelVersion, r.ID)
			}
			wantOutput(t, w, "output0 FP32 [3 2] "+specOutput)
		}},
		{name: "infer json versioned", method: "POST", path: "/v2/models/mymodel/versions/3/infer", body: jsonReq, code: 200, schema: "inference_response", check: func(t *testing.T, w *httptest.ResponseRecorder) {
			wantOutput(t, w, "output0 FP32 [3 2] "+specOutput)
		}},
		{name: "infer unknown version", method: "POST", path: "/v2/models/mymodel/versions/4/infer", body: jsonReq, code: 404, schema: "inference_error_response"},
		{name: "infer unknown model", method: "POST", path: "/v2/models/nope/infer", body: jsonReq, code: 404, schema: "inference_error_response"},
		// Nested data as the shape is row-major like flat data.
		{name: "nested data", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(`{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[[1,2],[3,4]]}`, ""), code: 200, schema: "inference_response", check: func(t *testing.T, w *httptest.ResponseRecorder) {
			wantOutput(t, w, "output0 FP32 [3 2] "+specOutput)
		}},
		// No outputs named: all of them.
		{name: "all outputs", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(in0, ""), code: 200, schema: "inference_response", check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var r confResponse
			jsonField(t, w, &r)
			if r.ID != nil {
				t.Errorf("id %q in the response to a request without one", *r.ID)
			}
			wantOutput(t, w, "output0 FP32 [3 2] "+specOutput)
		}},
		// id is echoed whenever the request has one, "" included.
		{name: "empty id", method: "POST", path: "/v2/models/mymodel/infer", body: strings.Replace(jsonReq, `"id":"42"`, `"id":""`, 1), code: 200, schema: "inference_response", check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var r confResponse
			jsonField(t, w, &r)
			if r.ID == nil || *r.ID != "" {
				t.Errorf("id %v; want \"\" echoed", r.ID)
			}
		}},
		// Errors: each a 400 with {"error"}.
		{name: "lowercase datatype", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "UINT32", "uint32", 1), ""), code: 400, schema: "inference_error_response", check: wantError(`"uint32"`)},
		{name: "BYTES", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "UINT32", "BYTES", 1), ""), code: 400, schema: "inference_error_response", check: wantError("BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64")},
		{name: "wrong datatype", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "UINT32", "INT32", 1), ""), code: 400, schema: "inference_error_response", check: wantError("UINT32")},
		{name: "unknown input", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "input0", "x", 1), ""), code: 400, schema: "inference_error_response", check: wantError(`no input "x"`)},
		{name: "unknown input, one-input model", method: "POST", path: "/v2/models/m/infer", body: `{"inputs":[{"name":"x","shape":[2],"datatype":"UINT8","data":[1,2]}]}`, code: 400, schema: "inference_error_response", check: wantError(`no input "x"`)},
		{name: "input twice", method: "POST", path: "/v2/models/mymodel/infer", body: `{"inputs":[` + in0 + `,` + in0 + `]}`, code: 400, schema: "inference_error_response", check: wantError("twice")},
		{name: "missing input", method: "POST", path: "/v2/models/mymodel/infer", body: `{"inputs":[` + in0 + `]}`, code: 400, schema: "inference_error_response", check: wantError("2 inputs")},
		{name: "no inputs field", method: "POST", path: "/v2/models/mymodel/infer", body: `{}`, code: 400, schema: "inference_error_response"},
		{name: "wrong shape", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "[2,2]", "[4]", 1), ""), code: 400, schema: "inference_error_response", check: wantError("shape")},
		{name: "ragged data", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "[1,2,3,4]", "[[1,2,3],[4]]", 1), ""), code: 400, schema: "inference_error_response", check: wantError("ragged")},
		{name: "ragged mixed", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "[1,2,3,4]", "[[1,2],3,4]", 1), ""), code: 400, schema: "inference_error_response", check: wantError("ragged")},
		{name: "nested unlike the shape", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "[1,2,3,4]", "[[1],[2],[3],[4]]", 1), ""), code: 400, schema: "inference_error_response"},
		{name: "too few values", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "[1,2,3,4]", "[1,2,3]", 1), ""), code: 400, schema: "inference_error_response"},
		{name: "too many values", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "[1,2,3,4]", "[1,2,3,4,5]", 1), ""), code: 400, schema: "inference_error_response"},
		{name: "no data", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(`{"name":"input0","shape":[2,2],"datatype":"UINT32"}`, ""), code: 400, schema: "inference_error_response"},
		{name: "value out of range", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, "[1,2,3,4]", "[1,2,3,-4]", 1), ""), code: 400, schema: "inference_error_response"},
		{name: "malformed JSON", method: "POST", path: "/v2/models/mymodel/infer", body: `{"inputs":[`, code: 400, schema: "inference_error_response"},
		{name: "unknown output", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(in0, `,"outputs":[{"name":"nope"}]`), code: 400, schema: "inference_error_response", check: wantError(`"nope"`)},
		// Parameters: values are booleans, numbers or strings.
		{name: "object request parameter", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(in0, `,"parameters":{"a":{"b":1}}`), code: 400, schema: "inference_error_response", check: wantError(`"a"`)},
		{name: "array input parameter", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(strings.Replace(in0, `"data"`, `"parameters":{"p":[1]},"data"`, 1), ""), code: 400, schema: "inference_error_response", check: wantError(`"p"`)},
		{name: "null output parameter", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(in0, `,"outputs":[{"name":"output0","parameters":{"q":null}}]`), code: 400, schema: "inference_error_response", check: wantError(`"q"`)},
		{name: "scalar parameters", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(in0, `,"parameters":{"s":"x","n":1,"b":false}`), code: 200, schema: "inference_response"},
		// Methods: a known path with another method is 405 with Allow.
		{name: "POST live", method: "POST", path: "/v2/health/live", code: 405, check: wantAllow("GET")},
		{name: "GET infer", method: "GET", path: "/v2/models/mymodel/infer", code: 405, check: wantAllow("POST")},
		{name: "DELETE model", method: "DELETE", path: "/v2/models/mymodel", code: 405, check: wantAllow("GET")},
		{name: "unknown path", method: "GET", path: "/v2/nothing/here", code: 404},
		// The binary tensor data extension: Triton's example.
		{name: "binary example", method: "POST", path: "/v2/models/mymodel/infer", body: string(binBody), hdr: []string{HeaderContentLength, strconv.Itoa(binLen), "Content-Type", "application/octet-stream"}, code: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			checkBinaryExample(t, schemas, w.Header(), w.Body.Bytes())
		}},
		// binary_data: false on an output overrides binary_data_output.
		{name: "binary_data false overrides", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(in0, `,"parameters":{"binary_data_output":true},"outputs":[{"name":"output0","parameters":{"binary_data":false}}]`), code: 200, schema: "inference_response", check: func(t *testing.T, w *httptest.ResponseRecorder) {
			if w.Header().Get(HeaderContentLength) != "" {
				t.Errorf("%s set on a JSON response", HeaderContentLength)
			}
			wantOutput(t, w, "output0 FP32 [3 2] "+specOutput)
		}},
		{name: "binary_data_output", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(in0, `,"parameters":{"binary_data_output":true}`), code: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			checkBinaryExample(t, schemas, w.Header(), w.Body.Bytes())
		}},
		{name: "binary_data not boolean", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(in0, `,"outputs":[{"name":"output0","parameters":{"binary_data":"yes"}}]`), code: 400, schema: "inference_error_response"},
		{name: "binary size beyond body", method: "POST", path: "/v2/models/mymodel/infer", body: string(binBody[:len(binBody)-1]), hdr: []string{HeaderContentLength, strconv.Itoa(binLen)}, code: 400, schema: "inference_error_response"},
		{name: "binary bytes left over", method: "POST", path: "/v2/models/mymodel/infer", body: string(binBody) + "x", hdr: []string{HeaderContentLength, strconv.Itoa(binLen)}, code: 400, schema: "inference_error_response"},
		{name: "header length beyond body", method: "POST", path: "/v2/models/mymodel/infer", body: jsonReq, hdr: []string{HeaderContentLength, strconv.Itoa(len(jsonReq) + 1)}, code: 400, schema: "inference_error_response"},
		// A raw binary request: Inference-Header-Content-Length: 0 and the
		// body is the one input's bytes (Triton's rule: one-input models).
		{name: "raw binary request", method: "POST", path: "/v2/models/m/infer", body: "\x0c\x14", hdr: []string{HeaderContentLength, "0", "Content-Type", "application/octet-stream"}, code: 200, schema: "inference_response", check: func(t *testing.T, w *httptest.ResponseRecorder) {
			wantOutput(t, w, "out UINT8 [3] [12,20,32]")
		}},
		{name: "raw binary wrong size", method: "POST", path: "/v2/models/m/infer", body: "\x0c", hdr: []string{HeaderContentLength, "0"}, code: 400, schema: "inference_error_response"},
		{name: "raw binary two inputs", method: "POST", path: "/v2/models/mymodel/infer", body: string(binBody[binLen:]), hdr: []string{HeaderContentLength, "0"}, code: 400, schema: "inference_error_response", check: wantError("one input")},
		// Classification: the model's own values, "value:index[:label]".
		{name: "classification", method: "POST", path: "/v2/models/m/infer", body: `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[12,20]}],"outputs":[{"name":"out","parameters":{"classification":2}}]}`, code: 200, schema: "inference_response", check: func(t *testing.T, w *httptest.ResponseRecorder) {
			wantOutput(t, w, `out BYTES [2] ["32:2:owl","20:1:dog"]`)
		}},
		{name: "classification float", method: "POST", path: "/v2/models/mymodel/infer", body: withInputs(in0, `,"outputs":[{"name":"output0","parameters":{"classification":3}}]`), code: 200, schema: "inference_response", check: func(t *testing.T, w *httptest.ResponseRecorder) {
			wantOutput(t, w, `output0 BYTES [3] ["6:3","4.5:2","3:1"]`)
		}},
		{name: "classification more than outputs", method: "POST", path: "/v2/models/m/infer", body: `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[12,20]}],"outputs":[{"name":"out","parameters":{"classification":5}}]}`, code: 200, schema: "inference_response", check: func(t *testing.T, w *httptest.ResponseRecorder) {
			wantOutput(t, w, `out BYTES [3] ["32:2:owl","20:1:dog","12:0:cat"]`)
		}},
		{name: "classification binary", method: "POST", path: "/v2/models/m/infer", body: `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[12,20]}],"parameters":{"binary_data_output":true},"outputs":[{"name":"out","parameters":{"classification":1}}]}`, code: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			n, _ := strconv.Atoi(w.Header().Get(HeaderContentLength))
			if n <= 0 || n > w.Body.Len() {
				t.Fatalf("%s %q; body %d bytes", HeaderContentLength, w.Header().Get(HeaderContentLength), w.Body.Len())
			}
			if err := schemas.validate("inference_response", w.Body.Bytes()[:n]); err != nil {
				t.Error(err)
			}
			// BYTES in the binary extension: a 4-byte little-endian length,
			// then the bytes: "32:2:owl" is 8 bytes.
			if got, want := w.Body.Bytes()[n:], "\x08\x00\x00\x0032:2:owl"; string(got) != want {
				t.Errorf("binary part %q; want %q", got, want)
			}
		}},
		// Triton refuses a classification count that is not a whole
		// number of at least 1.
		{name: "classification string", method: "POST", path: "/v2/models/m/infer", body: `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[12,20]}],"outputs":[{"name":"out","parameters":{"classification":"2"}}]}`, code: 400, schema: "inference_error_response", check: wantError("classification")},
		{name: "classification negative", method: "POST", path: "/v2/models/m/infer", body: `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[12,20]}],"outputs":[{"name":"out","parameters":{"classification":-1}}]}`, code: 400, schema: "inference_error_response", check: wantError("classification")},
		{name: "classification fraction", method: "POST", path: "/v2/models/m/infer", body: `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[12,20]}],"outputs":[{"name":"out","parameters":{"classification":1.5}}]}`, code: 400, schema: "inference_error_response", check: wantError("classification")},
		{name: "classification zero", method: "POST", path: "/v2/models/m/infer", body: `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[12,20]}],"outputs":[{"name":"out","parameters":{"classification":0}}]}`, code: 400, schema: "inference_error_response", check: wantError("classification")},
	}
	s := New(&specBackend{}, Options{Version: "1.2.3"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				r.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Fatalf("%s %s: status %d %s; want %d", tc.method, tc.path, w.Code, w.Body, tc.code)
			}
			if tc.code >= 400 {
				// Every error is JSON {"error": "..."}.
				var e struct{ Error string }
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
					t.Errorf("error body %q is not {\"error\": ...}", w.Body)
				}
			}
			if tc.schema != "" {
				if err := schemas.validate(tc.schema, w.Body.Bytes()); err != nil {
					t.Errorf("response %s does not conform to %s: %v", w.Body, tc.schema, err)
				}
			}
			if tc.check != nil {
				tc.check(t, w)
			}
		})
	}
}

func checkServerMetadata(t *testing.T, w *httptest.ResponseRecorder) {
	var md struct {
		Name, Version string
		Extensions    []string
	}
	jsonField(t, w, &md)
	if md.Name != "edged" || md.Version != "1.2.3" || !slices.Contains(md.Extensions, "binary_tensor_data") || !slices.Contains(md.Extensions, "classification") {
		t.Errorf("server metadata %+v; want edged 1.2.3 with binary_tensor_data and classification", md)
	}
}

func checkModelMetadata(t *testing.T, w *httptest.ResponseRecorder) {
	var md struct {
		Name     string
		Versions []string
		Platform string
		Inputs   []struct {
			Name, Datatype string
			Shape          []int
		}
		Outputs []struct {
			Name, Datatype string
			Shape          []int
		}
	}
	jsonField(t, w, &md)
	got := fmt.Sprint(md.Name, md.Versions, md.Platform, md.Inputs, md.Outputs)
	if want := "mymodel[3]tflite[{input0 UINT32 [2 2]} {input1 BOOL [3]}] [{output0 FP32 [3 2]}]"; got != want {
		t.Errorf("model metadata %s; want %s", got, want)
	}
}

func wantAllow(method string) func(t *testing.T, w *httptest.ResponseRecorder) {
	return func(t *testing.T, w *httptest.ResponseRecorder) {
		if !strings.Contains(w.Header().Get("Allow"), method) {
			t.Errorf("Allow %q; want %s in it", w.Header().Get("Allow"), method)
		}
	}
}

// checkBinaryExample checks the response of Triton's binary example:
// the JSON part's length in Inference-Header-Content-Length, then output0's
// 24 bytes.
func checkBinaryExample(t *testing.T, schemas oipSchemas, h http.Header, body []byte) {
	t.Helper()
	n, err := strconv.Atoi(h.Get(HeaderContentLength))
	if err != nil || n+24 != len(body) {
		t.Fatalf("%s %q with a %d-byte body; want the JSON length and 24 binary bytes after it", HeaderContentLength, h.Get(HeaderContentLength), len(body))
	}
	if err := schemas.validate("inference_response", body[:n]); err != nil {
		t.Errorf("JSON part %s: %v", body[:n], err)
	}
	var r confResponse
	if err := json.Unmarshal(body[:n], &r); err != nil || len(r.Outputs) != 1 {
		t.Fatalf("JSON part %s: %v", body[:n], err)
	}
	o := r.Outputs[0]
	if fmt.Sprint(o.Name, o.Datatype, o.Shape, o.Parameters["binary_data_size"]) != "output0FP32[3 2] 24" || o.Data != nil {
		t.Errorf("output %+v; want output0 FP32 [3 2] with binary_data_size 24 and no data", o)
	}
	var vals []string
	for i := n; i < len(body); i += 4 {
		vals = append(vals, strconv.FormatFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(body[i:]))), 'g', -1, 32))
	}
	if got := "[" + strings.Join(vals, ",") + "]"; got != specOutput {
		t.Errorf("binary output0 %s; want %s", got, specOutput)
	}
}

// TestRawHTTPClient is a client written from the specification alone:
// Triton's HTTP examples as raw bytes on a TCP connection, answers read
// as HTTP/1.1 messages. Content-Length gives the whole body, binary part
// included, also for a large one (no chunked transfer).
func TestRawHTTPClient(t *testing.T) {
	schemas := loadSchemas(t)
	srv := httptest.NewServer(New(&specBackend{}, Options{Version: "1.2.3"}))
	defer srv.Close()
	exchange := func(t *testing.T, raw []byte) (*http.Response, []byte) {
		t.Helper()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.TransferEncoding) != 0 || resp.ContentLength != int64(len(b)) {
			t.Errorf("Transfer-Encoding %v, Content-Length %d for a %d-byte body; want Content-Length", resp.TransferEncoding, resp.ContentLength, len(b))
		}
		return resp, b
	}
	t.Run("binary example", func(t *testing.T) {
		body, n := tritonBinaryRequest()
		raw := fmt.Appendf(nil, "POST /v2/models/mymodel/infer HTTP/1.1\r\nHost: localhost:8000\r\nContent-Type: application/octet-stream\r\nInference-Header-Content-Length: %d\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", n, len(body))
		resp, b := exchange(t, append(raw, body...))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("status %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		checkBinaryExample(t, schemas, resp.Header, b)
	})
	t.Run("classification example", func(t *testing.T) {
		body := `{"id":"42","inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,4]},{"name":"input1","shape":[3],"datatype":"BOOL","data":[true,false,true]}],"outputs":[{"name":"output0","parameters":{"classification":2}}]}`
		raw := fmt.Sprintf("POST /v2/models/mymodel/infer HTTP/1.1\r\nHost: localhost:8000\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		resp, b := exchange(t, []byte(raw))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		if err := schemas.validate("inference_response", b); err != nil {
			t.Error(err)
		}
		var r confResponse
		if err := json.Unmarshal(b, &r); err != nil || len(r.Outputs) != 1 || r.ID == nil || *r.ID != "42" {
			t.Fatalf("%s: %v", b, err)
		}
		if got := fmt.Sprint(r.Outputs[0].Datatype, r.Outputs[0].Shape, string(r.Outputs[0].Data)); got != `BYTES[2]["6:3","4.5:2"]` {
			t.Errorf("classification %s; want BYTES [2] [\"6:3\",\"4.5:2\"]", got)
		}
	})
	t.Run("large binary response", func(t *testing.T) {
		js := `{"inputs":[{"name":"x","shape":[1024],"datatype":"FP32","parameters":{"binary_data_size":4096}}],"parameters":{"binary_data_output":true}}`
		in := make([]byte, 4096)
		for i := range 1024 {
			binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(float32(i)/4))
		}
		body := append([]byte(js), in...)
		raw := fmt.Appendf(nil, "POST /v2/models/big/infer HTTP/1.1\r\nHost: localhost\r\nInference-Header-Content-Length: %d\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(js), len(body))
		resp, b := exchange(t, append(raw, body...))
		n, err := strconv.Atoi(resp.Header.Get(HeaderContentLength))
		if resp.StatusCode != 200 || err != nil || n+4096 != len(b) {
			t.Fatalf("status %d, %s %q, %d-byte body", resp.StatusCode, HeaderContentLength, resp.Header.Get(HeaderContentLength), len(b))
		}
		if !bytes.Equal(b[n:], in) {
			t.Error("binary output differs from the echoed input")
		}
	})
	t.Run("server metadata", func(t *testing.T) {
		resp, b := exchange(t, []byte("GET /v2/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		if err := schemas.validate("metadata_server_response", b); err != nil {
			t.Error(err)
		}
	})
}

// TestBatchSplit: a batch of 3 over a model whose input is [1,2] runs as
// three requests of [1,2], and the outputs stack to [3,3].
func TestBatchSplit(t *testing.T) {
	b := &specBackend{}
	s := New(b, Options{})
	w := post(s, "/v2/models/b/infer", `{"inputs":[{"name":"in","shape":[3,2],"datatype":"UINT8","data":[[1,2],[3,4],[5,6]]}]}`)
	if w.Code != 200 {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	wantOutput(t, w, "out UINT8 [3 3] [1,2,3,3,4,7,5,6,11]")
	if n := b.batchCalls.Load(); n != 3 {
		t.Errorf("%d model requests; want 3", n)
	}
	// Classification per row: [batch, count].
	w = post(s, "/v2/models/b/infer", `{"inputs":[{"name":"in","shape":[2,2],"datatype":"UINT8","data":[1,2,30,4]}],"outputs":[{"name":"out","parameters":{"classification":2}}]}`)
	wantOutput(t, w, `out BYTES [2 2] ["3:2:owl","2:1:dog","34:2:owl","30:0:cat"]`)
	// The binary extension: 2 rows of 2 bytes in, 2 rows of 3 out.
	js := `{"inputs":[{"name":"in","shape":[2,2],"datatype":"UINT8","parameters":{"binary_data_size":4}}],"parameters":{"binary_data_output":true}}`
	w = post(s, "/v2/models/b/infer", js+"\x01\x02\x03\x04", HeaderContentLength, strconv.Itoa(len(js)))
	n, _ := strconv.Atoi(w.Header().Get(HeaderContentLength))
	if w.Code != 200 || n == 0 || w.Body.String()[n:] != "\x01\x02\x03\x03\x04\x07" {
		t.Errorf("binary batch: %d %q", w.Code, w.Body)
	}
	for _, bad := range []string{
		`{"inputs":[{"name":"in","shape":[3,3],"datatype":"UINT8","data":[1,2,3,4,5,6,7,8,9]}]}`, // not [k,2]
		`{"inputs":[{"name":"in","shape":[0,2],"datatype":"UINT8","data":[]}]}`,
		`{"inputs":[{"name":"in","shape":[1025,2],"datatype":"UINT8","data":[]}]}`,
	} {
		if w := post(s, "/v2/models/b/infer", bad); w.Code != 400 {
			t.Errorf("%s: status %d %s; want 400", bad, w.Code, w.Body)
		}
	}
	// A model whose input has no batch dimension of 1 is not split.
	if w := post(s, "/v2/models/m/infer", `{"inputs":[{"name":"in","shape":[2,2],"datatype":"UINT8","data":[1,2,3,4]}]}`); w.Code != 400 {
		t.Errorf("batch over [2]: status %d; want 400", w.Code)
	}
}

// TestStatistics: Triton's statistics extension, counted by hand from the
// requests sent: three successes (one a batch of 2, one a cache hit) and
// one failure.
func TestStatistics(t *testing.T) {
	b := &specBackend{}
	s := New(b, Options{})
	before := time.Now().UnixMilli()
	for _, body := range []string{
		`{"inputs":[{"name":"in","shape":[1,2],"datatype":"UINT8","data":[1,2]}]}`,
		`{"inputs":[{"name":"in","shape":[2,2],"datatype":"UINT8","data":[1,2,3,4]}]}`,
		`{"inputs":[{"name":"in","shape":[1,2],"datatype":"UINT8","data":[99,2]}]}`,
		`{"inputs":[{"name":"in","shape":[1,2],"datatype":"UINT8","data":[1]}]}`, // too few values
	} {
		post(s, "/v2/models/b/infer", body)
	}
	var st struct {
		ModelStats []struct {
			Name           string
			Version        string
			LastInference  int64                          `json:"last_inference"`
			InferenceCount uint64                         `json:"inference_count"`
			ExecutionCount uint64                         `json:"execution_count"`
			InferenceStats map[string]inferstats.Duration `json:"inference_stats"`
		} `json:"model_stats"`
	}
	for _, path := range []string{"/v2/models/b/stats", "/v2/models/b/versions/1/stats"} {
		r := httptest.NewRequest("GET", path, nil)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || w.Code != 200 || len(st.ModelStats) != 1 {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		m := st.ModelStats[0]
		is := m.InferenceStats
		// Inferences: 1 + 2 + 1; executions: 1 + 2 (the cache hit runs
		// nothing); queue: 2 ms for each execution.
		if m.Name != "b" || m.Version != "1" || m.InferenceCount != 4 || m.ExecutionCount != 3 || m.LastInference < before {
			t.Errorf("%s: %+v; want b 1, 4 inferences, 3 executions", path, m)
		}
		for k, want := range map[string]uint64{"success": 3, "fail": 1, "queue": 3, "compute_input": 3, "compute_infer": 3, "compute_output": 3, "cache_hit": 1, "cache_miss": 0} {
			if is[k].Count != want {
				t.Errorf("%s: %s count %d; want %d", path, k, is[k].Count, want)
			}
		}
		if is["queue"].NS != uint64(3*2*time.Millisecond) {
			t.Errorf("queue ns %d; want 3 × 2 ms", is["queue"].NS)
		}
		if is["success"].NS == 0 || is["fail"].NS == 0 || is["compute_input"].NS == 0 {
			t.Errorf("durations %+v; want success, fail and compute_input timed", is)
		}
	}
	// Every model, served ones not asked yet with zeros.
	r := httptest.NewRequest("GET", "/v2/models/stats", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || len(st.ModelStats) != 4 {
		t.Fatalf("all stats: %d %s", w.Code, w.Body)
	}
	for _, path := range []string{"/v2/models/nope/stats", "/v2/models/b/versions/2/stats"} {
		r := httptest.NewRequest("GET", path, nil)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != 404 {
			t.Errorf("%s: %d; want 404", path, w.Code)
		}
	}
}

// TestRepositoryAndConfig: the repository index lists served and missing
// models; a model's configuration names its tensors as Triton does.
func TestRepositoryAndConfig(t *testing.T) {
	b := &specBackend{}
	b.status.Missing = []status.Missing{{Model: "broken", Reason: "file not found"}}
	b.status.Models = []status.Model{{Name: "b", Instances: 2, Capacity: 64, Batchable: true, MaxBatch: 1,
		Delegates: []status.Delegate{{Delegate: "edgetpu", Variant: "std", State: "absent"}, {Delegate: "cpu", Fallback: true, State: "healthy"}}}}
	s := New(b, Options{})
	w := post(s, "/v2/repository/index", "")
	if w.Code != 200 || w.Body.String() != `[{"name":"b","version":"1","state":"READY"},{"name":"big","version":"1","state":"READY"},{"name":"broken","state":"UNAVAILABLE","reason":"file not found"},{"name":"m","version":"1","state":"READY"},{"name":"mymodel","version":"3","state":"READY"}]`+"\n" {
		t.Errorf("index: %d %s", w.Code, w.Body)
	}
	if w := post(s, "/v2/repository/index", `{"ready":true}`); strings.Contains(w.Body.String(), "broken") || w.Code != 200 {
		t.Errorf("index of ready models: %d %s", w.Code, w.Body)
	}
	if w := post(s, "/v2/repository/index", `{"ready":`); w.Code != 400 {
		t.Errorf("malformed index request: %d", w.Code)
	}
	for _, path := range []string{"/v2/models/b/config", "/v2/models/b/versions/1/config"} {
		r := httptest.NewRequest("GET", path, nil)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		want := `{"name":"b","version":"1","platform":"tflite","max_batch_size":1,"batchable":true,"input":[{"name":"in","data_type":"TYPE_UINT8","dims":[1,2]}],"output":[{"name":"out","data_type":"TYPE_UINT8","dims":[1,3]}],"instance_group":[{"count":2,"kind":"KIND_CPU"}],"dynamic_batching":{"max_queue_size":64},"delegates":[{"delegate":"edgetpu","variant":"std","state":"absent"},{"delegate":"cpu","fallback":true,"state":"healthy"}],"response_cache":{"enable":false},"labels":3,"sha256":""}` + "\n"
		if w.Code != 200 || w.Body.String() != want {
			t.Errorf("%s: %d %s\nwant %s", path, w.Code, w.Body, want)
		}
	}
	r := httptest.NewRequest("GET", "/v2/models/b/versions/9/config", nil)
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 404 {
		t.Errorf("config of an unknown version: %d", w.Code)
	}
}
