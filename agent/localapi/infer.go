package localapi

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/inferstats"
	"github.com/edged-dev/edged/runtime/tensor"
)

// The Open Inference Protocol's request and response bodies.
type inferRequest struct {
	// ID is echoed in the response when the request has one, even "".
	ID         *string    `json:"id,omitempty"`
	Parameters paramMap   `json:"parameters,omitempty"`
	Inputs     inputList  `json:"inputs"`
	Outputs    outputList `json:"outputs,omitempty"`
}

type requestInput struct {
	Name       string    `json:"name"`
	Shape      shapeDims `json:"shape"`
	Datatype   string    `json:"datatype"`
	Parameters paramMap  `json:"parameters,omitempty"`
	Data       rawData   `json:"data,omitempty"`
}

// rawData is an input's "data" as it stands in the body, not copied: a
// body may hold 16 MiB of it, and flatten reads it once. It aliases the
// body, so decode with json.Unmarshal on a body that outlives the request
// (a json.Decoder reuses its buffer).
type rawData []byte

func (d *rawData) UnmarshalJSON(b []byte) error {
	*d = b
	return nil
}

type requestedOuput struct {
	Name       string   `json:"name"`
	Parameters paramMap `json:"parameters,omitempty"`
}

type responseOutput struct {
	Name       string         `json:"name"`
	Shape      []int          `json:"shape"`
	Datatype   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data,omitempty"`
	raw        []byte
}

type inferResponse struct {
	ModelName    string           `json:"model_name"`
	ModelVersion string           `json:"model_version"`
	ID           *string          `json:"id,omitempty"`
	Outputs      []responseOutput `json:"outputs"`
}

// HeaderContentLength is the binary extension's header: the length of the
// JSON part of a body whose rest holds raw tensor bytes.
const HeaderContentLength = "Inference-Header-Content-Length"

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", infer.ErrBadInput, fmt.Sprintf(format, args...))
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name, version := r.PathValue("name"), r.PathValue("version")
	mi, err := s.b.Model(name, version)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	failed := func(code int, msg string) {
		s.stats.Fail(mi.Name, mi.Version, time.Since(start))
		writeError(w, code, msg)
	}
	if err := s.b.Admit(mi.Name, version); err != nil {
		failed(statusOf(err), err.Error())
		return
	}
	if b := s.opts.BodyBudget; b != nil {
		share := s.opts.MaxRequestBytes
		if r.ContentLength >= 0 && r.ContentLength < share {
			share = r.ContentLength
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		release, err := b.Acquire(ctx, share)
		cancel()
		if err != nil {
			w.Header().Set("Retry-After", "1")
			failed(http.StatusServiceUnavailable, fmt.Sprintf("too many large requests being read (%d bytes of http.body_memory in use); try again", b.Size()))
			return
		}
		defer release()
	}
	body, err := readBody(w, r, s.opts.MaxRequestBytes)
	if err != nil {
		if statusOf(err) == http.StatusRequestEntityTooLarge {
			failed(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", s.opts.MaxRequestBytes))
			return
		}
		failed(http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	decodeStart := time.Now()
	req, batch, err := decodeRequest(r.Header.Get(HeaderContentLength), body, mi)
	if err != nil {
		failed(statusOf(err), err.Error())
		return
	}
	// The outputs asked for and their parameters are checked before the
	// model runs.
	if _, err := wantedOutputs(req, mi, len(mi.Outputs)); err != nil {
		failed(statusOf(err), err.Error())
		return
	}
	for _, o := range req.Outputs {
		if _, _, err := classificationCount(o.Parameters); err != nil {
			failed(statusOf(err), fmt.Sprintf("output %q: %v", o.Name, err))
			return
		}
	}
	decoded := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	id := ""
	if req.ID != nil {
		id = *req.ID
	}
	results, err := s.run(ctx, mi, version, id, batch)
	if err != nil {
		failed(statusOf(err), err.Error())
		return
	}
	ran := time.Now()
	resp, binaryOut, err := encodeResponse(req, mi, batch, results)
	if err != nil {
		failed(statusOf(err), err.Error())
		return
	}
	if v := results[0].Version; v != "" {
		resp.ModelVersion = v
	}
	s.stats.Success(mi.Name, resp.ModelVersion, inferstats.Request{Start: start, Decode: decodeStart, Decoded: decoded, Ran: ran, Done: time.Now(),
		Size: batch.size, Results: results, Cached: mi.Cached})
	if !binaryOut {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	hdr, err := json.Marshal(resp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	// The binary extension: Content-Length gives the full body (JSON
	// part and every binary output), so a client can size its buffer.
	total := len(hdr)
	for _, o := range resp.Outputs {
		total += len(o.raw)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(HeaderContentLength, strconv.Itoa(len(hdr)))
	w.Header().Set("Content-Length", strconv.Itoa(total))
	w.WriteHeader(http.StatusOK)
	w.Write(hdr)
	for _, o := range resp.Outputs {
		w.Write(o.raw)
	}
}

// run answers a decoded request: one pipeline request, or, for a batch
// over a model of batch 1, one per item (infer.RunItems).
func (s *Server) run(ctx context.Context, mi infer.ModelInfo, version, id string, b *requestBatch) ([]*infer.Response, error) {
	return infer.RunItems(ctx, s.b, mi, version, id, b.items)
}

// readBody reads a request body of at most limit bytes. A body that
// declares its length is read into a buffer of exactly that size (one
// allocation, where io.ReadAll would hold up to twice it while growing);
// one declared larger than limit is refused before it is read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	if r.ContentLength < 0 {
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// requestBatch is a decoded request: size items, each the model's inputs
// in its input order. A request whose inputs carry a batch of k > 1 where
// the model's inputs fix batch 1 is split into k items (Triton runs such a
// request as k; TFLite files usually fix batch 1).
type requestBatch struct {
	size  int
	items [][]infer.Tensor
}

// decodeRequest parses a JSON or binary-extension body into model inputs.
func decodeRequest(headerLen string, body []byte, mi infer.ModelInfo) (*inferRequest, *requestBatch, error) {
	req, in, err := decodeInputs(headerLen, body, mi)
	if err != nil {
		return nil, nil, err
	}
	b, err := splitBatch(mi, in)
	return req, b, err
}

// splitBatch makes one item per batch entry of inputs whose shapes carry
// a batch over the model's batch 1.
func splitBatch(mi infer.ModelInfo, in []infer.Tensor) (*requestBatch, error) {
	items, err := infer.SplitBatch(mi, in)
	if err != nil {
		return nil, err
	}
	return &requestBatch{size: len(items), items: items}, nil
}

// decodeInputs parses a JSON or binary-extension body into inputs in the
// model's input order, with the request's shapes.
func decodeInputs(headerLen string, body []byte, mi infer.ModelInfo) (*inferRequest, []infer.Tensor, error) {
	if headerLen == "0" {
		return rawRequest(body, mi)
	}
	jsonPart, rest, err := splitBody(headerLen, body)
	if err != nil {
		return nil, nil, err
	}
	var req inferRequest
	if err := json.Unmarshal(jsonPart, &req); err != nil {
		return nil, nil, badf("malformed JSON request: %v", err)
	}
	if err := checkParameters("request", req.Parameters); err != nil {
		return nil, nil, err
	}
	for _, o := range req.Outputs {
		if err := checkParameters(fmt.Sprintf("output %q", o.Name), o.Parameters); err != nil {
			return nil, nil, err
		}
	}
	if len(req.Inputs) != len(mi.Inputs) {
		return nil, nil, badf("model %q takes %d inputs; the request has %d", mi.Name, len(mi.Inputs), len(req.Inputs))
	}
	out := make([]infer.Tensor, len(mi.Inputs))
	seen := make([]bool, len(mi.Inputs))
	for _, in := range req.Inputs {
		if err := checkParameters(fmt.Sprintf("input %q", in.Name), in.Parameters); err != nil {
			return nil, nil, err
		}
		pos := inputPosition(mi, in.Name)
		if pos < 0 {
			return nil, nil, badf("model %q has no input %q (inputs: %s)", mi.Name, in.Name, inputNames(mi))
		}
		if seen[pos] {
			return nil, nil, badf("input %q given twice", in.Name)
		}
		seen[pos] = true
		spec := mi.Inputs[pos]
		var data []byte
		if data, rest, err = decodeInput(in, spec, rest); err != nil {
			return nil, nil, err
		}
		out[pos] = infer.Tensor{Name: spec.Name, DType: spec.DType, Shape: in.Shape, Data: data}
	}
	if len(rest) != 0 {
		return nil, nil, badf("%d binary bytes after the last input", len(rest))
	}
	return &req, out, nil
}

// rawRequest reads a body that is one input's bytes and nothing else, as
// the binary extension allows with Inference-Header-Content-Length: 0.
// Triton's rule where the protocol is silent: only for a model with one
// input, whose datatype and shape the model gives; the outputs come back
// as in a JSON request that names none.
func rawRequest(body []byte, mi infer.ModelInfo) (*inferRequest, []infer.Tensor, error) {
	if len(mi.Inputs) != 1 {
		return nil, nil, badf("a raw binary request (%s: 0) needs a model with one input; model %q takes %d", HeaderContentLength, mi.Name, len(mi.Inputs))
	}
	spec := mi.Inputs[0]
	if n := tensor.NumElements(spec.Shape) * spec.DType.Size(); len(body) != n {
		return nil, nil, badf("raw binary request: %d bytes; input %q, %s%v, needs %d", len(body), spec.Name, infer.DatatypeName(spec.DType), spec.Shape, n)
	}
	return &inferRequest{}, []infer.Tensor{{Name: spec.Name, DType: spec.DType, Shape: spec.Shape, Data: body}}, nil
}

// checkParameters refuses parameters the protocol does not allow: each
// value is a boolean, a number or a string.
func checkParameters(where string, p map[string]any) error {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch p[k].(type) {
		case bool, float64, string:
		default:
			return badf("%s: parameter %q must be a boolean, a number or a string", where, k)
		}
	}
	return nil
}

// splitBody splits a body into its JSON part and the binary part after
// it, whose length the binary extension's header gives.
func splitBody(headerLen string, body []byte) (jsonPart, rest []byte, err error) {
	if headerLen == "" {
		return body, nil, nil
	}
	n, err := strconv.Atoi(headerLen)
	if err != nil || n < 0 || n > len(body) {
		return nil, nil, badf("%s: %q does not fit a %d-byte body", HeaderContentLength, headerLen, len(body))
	}
	return body[:n], body[n:], nil
}

// decodeInput reads one input as the model takes it, from its JSON data
// or from the binary bytes at the start of rest; it returns the bytes of
// rest it did not use.
func decodeInput(in requestInput, spec infer.TensorSpec, rest []byte) (data, left []byte, err error) {
	// Datatype names are case-sensitive in the protocol.
	dt, ok := infer.ParseDatatype(in.Datatype)
	if !ok {
		return nil, nil, badf("input %q: datatype %q is not one of %s (BYTES is not served: models here take numbers)", in.Name, in.Datatype, datatypeList)
	}
	k := infer.BatchOf(in.Shape, spec.Shape)
	if k == 1 && !tensor.SameShape(in.Shape, spec.Shape) {
		return nil, nil, badf("input %q: shape %v; the model takes %v (or [k, ...] for a batch of k when it takes [1, ...])", in.Name, in.Shape, spec.Shape)
	}
	if k > infer.MaxSplit {
		return nil, nil, badf("input %q: a batch of %d; at most %d in one request over a model of batch 1", in.Name, k, infer.MaxSplit)
	}
	spec.Shape = in.Shape // the batch's shape from here on
	if size, ok := in.Parameters["binary_data_size"]; ok {
		return binaryInput(in, spec, dt, size, rest)
	}
	n := tensor.NumElements(spec.Shape)
	vals, err := flatten(in.Data, n, spec.Shape)
	if err != nil {
		return nil, nil, badf("input %q: data: %v; shape %v needs %d values", in.Name, err, spec.Shape, n)
	}
	if len(vals) != n {
		return nil, nil, badf("input %q: %d values; shape %v needs %d", in.Name, len(vals), spec.Shape, n)
	}
	switch {
	case dt == spec.DType:
		data, err = infer.Encode(vals, spec.DType)
	case dt == tensor.Float32 && spec.Quantized:
		data, err = fromFloats(vals, spec, len(vals))
	default:
		err = fmt.Errorf("datatype %s; the model takes %s (FP32 is accepted for quantized inputs)", in.Datatype, infer.DatatypeName(spec.DType))
	}
	if err != nil {
		return nil, nil, badf("input %q: %v", in.Name, err)
	}
	return data, rest, nil
}

// binaryInput takes an input's size bytes from the start of rest: the
// model's own type as they are, FP32 for a quantized input quantized.
func binaryInput(in requestInput, spec infer.TensorSpec, dt tensor.DType, size any, rest []byte) (data, left []byte, err error) {
	sz, ok := size.(float64)
	// Compared as a float first: converting 2^63 or more to int is
	// undefined (and came out negative).
	if !ok || sz < 0 || sz != math.Trunc(sz) || sz > float64(len(rest)) {
		return nil, nil, badf("input %q: binary_data_size %v does not fit the %d binary bytes left", in.Name, size, len(rest))
	}
	raw, rest := rest[:int(sz)], rest[int(sz):]
	n := tensor.NumElements(spec.Shape)
	if dt == spec.DType {
		if len(raw) != n*spec.DType.Size() {
			return nil, nil, badf("input %q: %d binary bytes; %s%v needs %d", in.Name, len(raw), spec.DType, spec.Shape, n*spec.DType.Size())
		}
		return raw, rest, nil
	}
	vals, err := rawToFloats(dt, raw)
	if err == nil {
		data, err = fromFloats(vals, spec, n)
	}
	if err != nil {
		return nil, nil, badf("input %q: %v", in.Name, err)
	}
	return data, rest, nil
}

// datatypeList names the datatypes an input may have, in the protocol's
// order.
const datatypeList = "BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64"

// inputPosition finds an input by its name in the model's metadata.
func inputPosition(mi infer.ModelInfo, name string) int {
	for i, sp := range mi.Inputs {
		if sp.Name == name {
			return i
		}
	}
	return -1
}

func inputNames(mi infer.ModelInfo) string {
	var ns []string
	for _, sp := range mi.Inputs {
		ns = append(ns, strconv.Quote(sp.Name))
	}
	return strings.Join(ns, ", ")
}

// flatten reads a JSON array of numbers (or booleans), nested to any
// depth up to 16, in row-major order. It is a small scanner rather than
// encoding/json's token stream, which costs an allocation per number: an
// image of 150 000 values is common here. It stops at the value after the
// first limit: a body's worth of values the shape has no room for is
// never stored. The data is flat or nested exactly as shape (every array
// at depth d holds shape[d] items, numbers only at the deepest level):
// ragged data is refused, not read in row-major order by luck.
func flatten(raw []byte, limit int, shape []int) ([]float64, error) {
	sc := &arrayScanner{b: raw, limit: limit, shape: shape}
	sc.skip()
	if sc.i == len(sc.b) {
		return nil, fmt.Errorf("missing")
	}
	if sc.b[sc.i] != '[' {
		return nil, fmt.Errorf("want a JSON array at offset %d", sc.i)
	}
	sc.out = make([]float64, 0, min(limit, len(sc.b)/2+1))
	sc.expectValue = true
	for {
		sc.skip()
		if sc.i == len(sc.b) {
			return nil, fmt.Errorf("unexpected end of data (unclosed array)")
		}
		done, err := sc.step()
		if err != nil || done {
			return sc.out, err
		}
	}
}

// arrayScanner is flatten's state.
type arrayScanner struct {
	b           []byte
	i, depth    int
	expectValue bool // after '[' or ','
	out         []float64
	limit       int // values beyond it are an error
	shape       []int
	// counts[d] counts the items of the open array at depth d+1; leaf is
	// the depth of the numbers (0 before the first).
	counts []int
	leaf   int
}

// item counts one item of the array open at the current depth.
func (sc *arrayScanner) item() {
	if sc.depth > 0 {
		sc.counts[sc.depth-1]++
	}
}

func (sc *arrayScanner) skip() {
	for sc.i < len(sc.b) && (sc.b[sc.i] == ' ' || sc.b[sc.i] == '\t' || sc.b[sc.i] == '\n' || sc.b[sc.i] == '\r') {
		sc.i++
	}
}

// step reads one token: a bracket, a comma or a number. done is set after
// the outermost ']'.
func (sc *arrayScanner) step() (done bool, err error) {
	b, i := sc.b, sc.i
	switch c := b[i]; {
	case c == '[':
		if !sc.expectValue {
			return false, fmt.Errorf("missing ',' at offset %d", i)
		}
		if sc.leaf != 0 && sc.depth >= sc.leaf {
			return false, fmt.Errorf("ragged: an array at offset %d where numbers were", i)
		}
		sc.item()
		if sc.depth++; sc.depth > 16 {
			return false, fmt.Errorf("nested deeper than 16")
		}
		sc.counts = append(sc.counts[:sc.depth-1], 0)
		sc.i++
		return false, nil
	case c == ']':
		if sc.expectValue && i > 0 && b[i-1-countSpaceBefore(b, i)] == ',' {
			return false, fmt.Errorf("unexpected ']' after ',' at offset %d", i)
		}
		if err := sc.closeArray(); err != nil {
			return false, err
		}
		sc.depth--
		sc.i++
		sc.expectValue = false
		if sc.depth > 0 {
			return false, nil
		}
		if sc.skip(); sc.i != len(b) {
			return false, fmt.Errorf("data after the array at offset %d", sc.i)
		}
		return true, nil
	case c == ',':
		if sc.expectValue {
			return false, fmt.Errorf("unexpected ',' at offset %d", i)
		}
		sc.i++
		sc.expectValue = true
		return false, nil
	}
	if !sc.expectValue {
		return false, fmt.Errorf("missing ',' at offset %d", i)
	}
	for sc.i < len(b) && (b[sc.i] == '-' || b[sc.i] == '+' || b[sc.i] == '.' || b[sc.i] == 'e' || b[sc.i] == 'E' || (b[sc.i] >= '0' && b[sc.i] <= '9') || (b[sc.i] >= 'a' && b[sc.i] <= 'z')) {
		sc.i++
	}
	tok := b[i:sc.i]
	if sc.leaf == 0 {
		sc.leaf = sc.depth
	} else if sc.depth != sc.leaf {
		return false, fmt.Errorf("ragged: a number at offset %d where arrays were", i)
	}
	sc.item()
	if len(sc.out) == sc.limit {
		return false, fmt.Errorf("more than %d values", sc.limit)
	}
	v, err := parseNumber(tok)
	if err != nil {
		return false, fmt.Errorf("value %q at offset %d: %v", tok, i, err)
	}
	sc.out = append(sc.out, v)
	sc.expectValue = false
	return false, nil
}

// closeArray checks the length of the array being closed when the data
// is nested: the array at depth d holds shape[d-1] items.
func (sc *arrayScanner) closeArray() error {
	if sc.leaf == 1 || (sc.leaf == 0 && sc.depth == 1) {
		return nil // flat (or empty): the caller counts the values
	}
	if len(sc.shape) < 2 || (sc.leaf != 0 && sc.leaf != len(sc.shape)) || sc.depth > len(sc.shape) {
		return fmt.Errorf("nested %d deep; shape %v has %d dimensions (send it flat or nested as the shape)", max(sc.leaf, sc.depth), sc.shape, len(sc.shape))
	}
	if got, want := sc.counts[sc.depth-1], sc.shape[sc.depth-1]; got != want {
		return fmt.Errorf("ragged: an array of %d items at depth %d ending at offset %d; shape %v needs %d", got, sc.depth, sc.i, sc.shape, want)
	}
	return nil
}

// countSpaceBefore counts the white space just before b[i].
func countSpaceBefore(b []byte, i int) int {
	n := 0
	for i-1-n >= 0 && (b[i-1-n] == ' ' || b[i-1-n] == '\t' || b[i-1-n] == '\n' || b[i-1-n] == '\r') {
		n++
	}
	return n
}

// parseNumber parses a JSON number (integers without allocating) or a
// boolean.
func parseNumber(tok []byte) (float64, error) {
	switch string(tok) {
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	case "":
		return 0, fmt.Errorf("not a number")
	}
	neg := tok[0] == '-'
	digits := tok
	if neg {
		digits = tok[1:]
	}
	if len(digits) > 0 && len(digits) <= 15 && (digits[0] != '0' || len(digits) == 1) {
		var n int64
		ok := true
		for _, d := range digits {
			if d < '0' || d > '9' {
				ok = false
				break
			}
			n = n*10 + int64(d-'0')
		}
		if ok {
			if neg {
				return -float64(n), nil
			}
			return float64(n), nil
		}
	}
	// JSON's grammar is stricter than ParseFloat's (no "Inf", "0x1p3",
	// "+1", ".5", "1.", or underscores).
	if !validJSONNumber(tok) {
		return 0, fmt.Errorf("not a JSON number")
	}
	return strconv.ParseFloat(string(tok), 64)
}

func validJSONNumber(t []byte) bool {
	i := 0
	if i < len(t) && t[i] == '-' {
		i++
	}
	if i == len(t) {
		return false
	}
	if t[i] == '0' {
		i++
	} else if t[i] >= '1' && t[i] <= '9' {
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(t) && t[i] == '.' {
		i++
		if i == len(t) || t[i] < '0' || t[i] > '9' {
			return false
		}
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		if i == len(t) || t[i] < '0' || t[i] > '9' {
			return false
		}
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
	}
	return i == len(t)
}

// fromFloats stores real values in a quantized input (q = round(v /
// scale) + zero_point, saturated) or a float32 one.
func fromFloats(vals []float64, spec infer.TensorSpec, n int) ([]byte, error) {
	if len(vals) != n {
		return nil, fmt.Errorf("%d values; shape %v needs %d", len(vals), spec.Shape, n)
	}
	if spec.DType != tensor.Float32 && !spec.Quantizes() {
		return nil, fmt.Errorf("the model's %s input is not quantized; send %s", spec.DType, infer.DatatypeName(spec.DType))
	}
	return infer.EncodeReal(vals, spec)
}

func rawToFloats(dt tensor.DType, raw []byte) ([]float64, error) {
	if dt != tensor.Float32 {
		return nil, fmt.Errorf("binary data of type %s does not match the model's input type", dt)
	}
	return infer.Values(dt, raw)
}

// encodeResponse builds the response; binary reports whether any output
// goes in the binary part.
func encodeResponse(req *inferRequest, mi infer.ModelInfo, b *requestBatch, results []*infer.Response) (*inferResponse, bool, error) {
	resp := &inferResponse{ModelName: mi.Name, ModelVersion: mi.Version, ID: req.ID}
	outs := results[0].Outputs
	if b.size > 1 {
		var err error
		if outs, err = infer.JoinBatch(results); err != nil {
			return nil, false, err
		}
	}
	wanted, err := wantedOutputs(req, mi, len(outs))
	if err != nil {
		return nil, false, err
	}
	keys := make([]int, 0, len(wanted))
	for k := range wanted {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	anyBinary := false
	for _, k := range keys {
		ro, err := encodeOutput(req, wanted[k], outs[k], mi.Outputs[k], mi.Labels, b.size)
		if err != nil {
			return nil, false, err
		}
		anyBinary = anyBinary || ro.raw != nil
		resp.Outputs = append(resp.Outputs, ro)
	}
	return resp, anyBinary, nil
}

// wantedOutputs maps the positions of the outputs the request asks for
// (all when it names none) to their parameters.
func wantedOutputs(req *inferRequest, mi infer.ModelInfo, n int) (map[int]map[string]any, error) {
	wanted := map[int]map[string]any{}
	if len(req.Outputs) == 0 {
		for k := range n {
			wanted[k] = nil
		}
	}
	for _, ro := range req.Outputs {
		k := -1
		for i, sp := range mi.Outputs {
			if sp.Name == ro.Name {
				k = i
			}
		}
		if k < 0 && strings.HasPrefix(ro.Name, "output_") {
			if i, err := strconv.Atoi(ro.Name[len("output_"):]); err == nil && i >= 0 && i < n {
				k = i
			}
		}
		if k < 0 {
			return nil, badf("model %q has no output %q", mi.Name, ro.Name)
		}
		wanted[k] = ro.Parameters
	}
	return wanted, nil
}

// encodeOutput encodes one output as its parameters and the request's
// ask: dequantized, top-k classification, binary or JSON. A binary
// output's bytes are in raw.
func encodeOutput(req *inferRequest, params map[string]any, o infer.Tensor, sp infer.TensorSpec, labels []string, rows int) (responseOutput, error) {
	ro := responseOutput{Name: sp.Name, Shape: o.Shape, Datatype: infer.DatatypeName(o.DType)}
	if ro.Shape == nil {
		ro.Shape = []int{}
	}
	vals, err := infer.Values(o.DType, o.Data)
	if err != nil {
		return ro, fmt.Errorf("output %q: %w", sp.Name, err)
	}
	k, classification, err := classificationCount(params)
	if err != nil {
		return ro, fmt.Errorf("output %q: %w", sp.Name, err)
	}
	// binary_data on an output overrides the request's binary_data_output
	// either way (the binary extension).
	binaryOut := paramBool(req.Parameters, "binary_data_output")
	if v, ok := params["binary_data"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return ro, badf("output %q: binary_data must be a boolean", sp.Name)
		}
		binaryOut = b
	}
	dequant := paramBool(params, "dequantize") || paramBool(req.Parameters, "dequantize")
	if classification {
		// Classification reports the model's own output values (the
		// classification extension: "the value associated with that index
		// in the model output"), compared in the output's type.
		// A batch of rows > 1 gets [rows, count], each row classified
		// apart (Triton's [batch-size, count]).
		strs := infer.ClassifyRows(vals, o.DType, labels, k, rows)
		ro.Shape, ro.Datatype = []int{len(strs)}, "BYTES"
		if rows > 1 {
			ro.Shape = []int{rows, len(strs) / rows}
		}
		if binaryOut {
			ro.raw = infer.EncodeBytes(strs)
			ro.Parameters = map[string]any{"binary_data_size": len(ro.raw)}
		} else {
			ro.Data = strs
		}
		return ro, nil
	}
	if dequant && sp.Quantized {
		for i := range vals {
			vals[i] = sp.Dequantize(vals[i])
		}
		ro.Datatype = "FP32"
	}
	switch {
	case binaryOut:
		ro.raw = o.Data
		if dequant && sp.Quantized {
			ro.raw = make([]byte, 4*len(vals))
			for i, v := range vals {
				binary.LittleEndian.PutUint32(ro.raw[4*i:], math.Float32bits(float32(v)))
			}
		}
		if ro.raw == nil {
			ro.raw = []byte{}
		}
		ro.Parameters = map[string]any{"binary_data_size": len(ro.raw)}
	case ro.Datatype == "FP32":
		f := make([]float32, len(vals))
		for i, v := range vals {
			f[i] = float32(v)
		}
		ro.Data = f
	case ro.Datatype == "FP64":
		ro.Data = vals
	case ro.Datatype == "BOOL":
		bs := make([]bool, len(vals))
		for i, v := range vals {
			bs[i] = v != 0
		}
		ro.Data = bs
	default:
		iv := make([]int64, len(vals))
		for i, v := range vals {
			iv[i] = int64(v)
		}
		ro.Data = iv
	}
	return ro, nil
}

// classificationCount reads an output's "classification" parameter: a
// whole number of classes, at least 1. Triton refuses anything else (a
// string, a negative or fractional count) rather than ignoring it.
func classificationCount(params map[string]any) (int, bool, error) {
	v, ok := params["classification"]
	if !ok {
		return 0, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || f != math.Trunc(f) || f < 1 || f > 1<<31 {
		return 0, false, badf("classification %v: want a whole number of classes, 1 or more", jsonText(v))
	}
	return int(f), true, nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func paramBool(p map[string]any, key string) bool {
	v, ok := p[key].(bool)
	return ok && v
}
