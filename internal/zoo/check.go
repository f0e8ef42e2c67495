package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// arithmetics are checked in this order; result.Edged follows it.
var arithmetics = []struct {
	name string
	a    tflite.Arithmetic
}{{"reference", tflite.Reference}, {"litert", tflite.LiteRT}}

// result is everything measured on one model.
type result struct {
	File    string         `json:"file"`
	Kind    string         `json:"kind,omitempty"`
	SHA256  string         `json:"sha256"`
	Bytes   int            `json:"bytes"`
	DType   string         `json:"dtype"`
	Ops     map[string]int `json:"ops"`
	Inspect inspectResult  `json:"inspect"`
	// Missing lists every operator of the model that edged's registry
	// lacks, with the types of each use ("NOT_EQUAL int64,int64c→bool").
	Missing    []string     `json:"missing,omitempty"`
	InputNotes []string     `json:"input_notes,omitempty"`
	Oracle     run          `json:"oracle"`
	Edged      [2]run       `json:"edged"` // reference, litert
	Bench      *benchResult `json:"bench,omitempty"`
}

// run is the outcome of one runtime on the model.
type run struct {
	Arithmetic string `json:"arithmetic,omitempty"`
	Ran        bool   `json:"ran"`
	// Via names the runtime that served as the oracle when it was not the
	// WebAssembly one.
	Via string `json:"via,omitempty"`
	// Class is unsupported, malformed, panic, error or harness when Ran is
	// false.
	Class   string `json:"class,omitempty"`
	Err     string `json:"error,omitempty"`
	Outputs []cmp  `json:"outputs,omitempty"`
	// FirstMS is the time of the first edged invocation, in milliseconds.
	FirstMS float64    `json:"first_ms,omitempty"`
	Cut     *cutResult `json:"cut,omitempty"`
}

// inspectResult is what `edgectl inspect --json` says about running the
// model. Fields beyond runnable and reason are kept as they come, so a
// richer inspect shows up in the report without a change here.
type inspectResult struct {
	Runnable *bool          `json:"runnable,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Extra    map[string]any `json:"extra,omitempty"`
	Err      string         `json:"error,omitempty"`
}

// ok tells whether every output meets the check.
func (r *run) ok() bool {
	if !r.Ran {
		return false
	}
	for i := range r.Outputs {
		if !r.Outputs[i].ok() {
			return false
		}
	}
	return true
}

func (r *run) exact() bool {
	if !r.Ran {
		return false
	}
	for _, o := range r.Outputs {
		if !o.Exact {
			return false
		}
	}
	return true
}

func checkModel(ctx context.Context, c *config, path string) *result {
	r := &result{File: filepath.Base(path)}
	for i, a := range arithmetics {
		r.Edged[i].Arithmetic = a.name
	}
	data, err := os.ReadFile(path)
	if err != nil {
		r.Oracle = run{Class: "harness", Err: err.Error()}
		return r
	}
	sum := sha256File(data)
	r.SHA256, r.Bytes = hex.EncodeToString(sum[:]), len(data)
	r.Inspect = c.inspect(ctx, path)
	work := filepath.Join(c.work, strings.TrimSuffix(r.File, ".tflite"))
	defer os.RemoveAll(work)

	info, err := c.oracleInfo(ctx, path)
	if err != nil {
		r.Oracle = run{Class: "harness", Err: "oracle info: " + err.Error()}
		return r
	}
	r.Ops = info.Ops
	m, _ := tflite.Decode(data) // for index ranges and the dtype summary only
	r.DType = dtypeSummary(info, m)
	r.Missing = missingOps(m)
	inputs, notes, err := makeInputs(sum, info.Inputs, m)
	r.InputNotes = notes
	if err != nil {
		msg := "inputs: " + err.Error()
		r.Oracle = run{Class: "harness", Err: msg}
		for i := range r.Edged {
			r.Edged[i].Class, r.Edged[i].Err = "harness", msg
		}
		return r
	}
	inFiles, err := writeInputs(filepath.Join(work, "in"), inputs)
	if err != nil {
		r.Oracle = run{Class: "harness", Err: err.Error()}
		return r
	}
	sets := [][][]byte{inputs}
	want, err := c.oracleRun(ctx, path, inFiles, filepath.Join(work, "oracle"))
	r.Oracle = run{Ran: true}
	if why := runTimeShaped(m); err == nil && why != "" {
		// The WebAssembly oracle returns a buffer sized from the file
		// for an output TFLite resizes at Invoke, holding whatever its
		// heap had there.
		want, err = nil, fmt.Errorf("%s: the WebAssembly oracle cannot return an output sized at run time (the TFLite C library can: -tflite-c)", why)
	}
	if err != nil {
		r.Oracle = run{Class: "error", Err: err.Error()}
		if c.capi != "" {
			// The official runtime natively, on a sequence of inputs so
			// that state carried between invocations is checked too.
			sets = inputSequence(sum, info.Inputs, m, inputs, capiRuns)
			if w, cerr := c.capiRun(ctx, path, sets, info.Outputs, filepath.Join(work, "capi")); cerr == nil {
				want = w
				via := fmt.Sprintf("TFLite C library, %d invocations, state carried", capiRuns)
				if runTimeShaped(m) != "" {
					via = fmt.Sprintf("TFLite C library, %d invocations (an output sized at run time)", capiRuns)
				}
				r.Oracle = run{Ran: true, Via: via, Err: r.Oracle.Err}
			} else {
				r.Oracle.Err += "; TFLite C library: " + cerr.Error()
			}
		}
	}

	var its [2]*tflite.Interpreter
	var cutOracle *oracleIntermediates
	for i, a := range arithmetics {
		e := &r.Edged[i]
		it, got, ms, err := runEdgedSeq(data, sets, a.a)
		its[i], e.FirstMS = it, ms
		if err != nil {
			e.Class, e.Err = classify(err), err.Error()
			continue
		}
		e.Ran = true
		if want == nil {
			continue
		}
		if len(got) != len(want) {
			e.Err = fmt.Sprintf("%d outputs, oracle %d", len(got), len(want))
			e.Class = "error"
			e.Ran = false
			continue
		}
		for k := range want {
			e.Outputs = append(e.Outputs, compare(want[k], got[k]))
		}
		if !e.exact() && c.cut {
			if cutOracle == nil {
				cutOracle = c.oracleIntermediates(ctx, data, m, inFiles, sets, r.Oracle.Via != "", want, filepath.Join(work, "cut"))
			}
			e.Cut = cutOracle.compareEdged(sets, a.a, c.trace)
		}
	}
	if c.bench && r.Oracle.Ran && r.Oracle.Via == "" {
		r.Bench = c.benchModel(ctx, path, inFiles, its, r.Edged)
	}
	return r
}

// runEdgedSeq loads the model and invokes one interpreter (one thread)
// once per input set, in order, with
// the variable tensors carried from one invocation to the next; each
// output holds the results of all invocations one after the other. ms is
// the time of the first invocation. A panic is returned as an error:
// nothing in a model file may panic the runtime.
func runEdgedSeq(data []byte, sets [][][]byte, a tflite.Arithmetic) (it *tflite.Interpreter, outs []tensorBytes, ms float64, err error) {
	defer func() {
		if p := recover(); p != nil {
			it, outs = nil, nil
			err = &panicError{fmt.Sprint(p), firstFrames(string(debug.Stack()))}
		}
	}()
	m, err := tflite.Load(data)
	if err != nil {
		return nil, nil, 0, err
	}
	it, err = tflite.NewInterpreter(m, &tflite.Options{Threads: 1, Arithmetic: a})
	if err != nil {
		return nil, nil, 0, err
	}
	for j, inputs := range sets {
		if it.NumInputs() != len(inputs) {
			return nil, nil, 0, fmt.Errorf("edged sees %d inputs, the oracle %d", it.NumInputs(), len(inputs))
		}
		for i, b := range inputs {
			in := it.Input(i)
			if len(in.Data) != len(b) {
				return nil, nil, 0, fmt.Errorf("input %d: edged wants %d bytes (%s%v), the oracle %d", i, len(in.Data), in.Type, in.Shape, len(b))
			}
			copy(in.Data, b)
		}
		t0 := time.Now()
		if err := it.Invoke(); err != nil {
			return nil, nil, 0, err
		}
		if j == 0 {
			ms = float64(time.Since(t0).Microseconds()) / 1e3
			for k := 0; k < it.NumOutputs(); k++ {
				o := it.Output(k)
				outs = append(outs, tensorBytes{DType: o.Type.String(), Shape: slices.Clone(o.Shape)})
			}
		}
		for k := range outs {
			outs[k].Data = append(outs[k].Data, it.Output(k).Data...)
		}
	}
	return it, outs, ms, nil
}

type panicError struct{ msg, where string }

func (p *panicError) Error() string { return "panic: " + p.msg + " at " + p.where }

// firstFrames keeps the first frames of a stack below the panic itself.
func firstFrames(stack string) string {
	lines := strings.Split(stack, "\n")
	var out []string
	for i := 0; i+1 < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "github.com/edged-dev/edged/runtime/") && !strings.Contains(l, "internal/zoo") {
			out = append(out, strings.TrimSpace(lines[i+1]))
			if len(out) == 3 {
				break
			}
		}
	}
	return strings.Join(out, " < ")
}

func classify(err error) string {
	var p *panicError
	switch {
	case errors.As(err, &p):
		return "panic"
	case errors.Is(err, tflite.ErrUnsupportedOp):
		return "unsupported"
	case errors.Is(err, tflite.ErrMalformed):
		return "malformed"
	}
	return "error"
}

func (c *config) inspect(ctx context.Context, path string) inspectResult {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.edgectl, "inspect", "--json", path).Output()
	if err != nil {
		msg := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg = lastLines(string(ee.Stderr), 2)
		}
		return inspectResult{Err: msg}
	}
	var all map[string]any
	if err := json.Unmarshal(out, &all); err != nil {
		return inspectResult{Err: "inspect output: " + err.Error()}
	}
	var r inspectResult
	if b, ok := all["runnable"].(bool); ok {
		r.Runnable = &b
	}
	r.Reason, _ = all["reason"].(string)
	for k, v := range all {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "arith") || strings.Contains(lk, "unsupported") || strings.Contains(lk, "runs") {
			if r.Extra == nil {
				r.Extra = map[string]any{}
			}
			r.Extra[k] = v
		}
	}
	return r
}

// dtypeSummary describes a model's types: input → output types, and the
// compute/weight types of its first convolution or fully-connected layer
// when they differ from the inputs (e.g. float16 or int8 weights).
func dtypeSummary(info *modelInfo, m *tflite.Model) string {
	set := func(ios []ioSpec) string {
		var s []string
		for _, io := range ios {
			if !slices.Contains(s, io.DType) {
				s = append(s, io.DType)
			}
		}
		return strings.Join(s, ",")
	}
	in, out := set(info.Inputs), set(info.Outputs)
	sum := in
	if out != in {
		sum += "→" + out
	}
	if m == nil || len(m.Subgraphs) == 0 {
		return sum
	}
	sg := m.Subgraphs[0]
	producer := map[int]*tflite.Operator{}
	for i := range sg.Operators {
		for _, o := range sg.Operators[i].Outputs {
			producer[o] = &sg.Operators[i]
		}
	}
	for i := range sg.Operators {
		op := &sg.Operators[i]
		switch m.OpName(op) {
		case "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV":
		default:
			continue
		}
		wi, ai := 1, 0
		if m.OpName(op) == "TRANSPOSE_CONV" {
			wi, ai = 1, 2
		}
		if len(op.Inputs) <= max(wi, ai) || op.Inputs[wi] < 0 || op.Inputs[ai] < 0 {
			continue
		}
		act := sg.Tensors[op.Inputs[ai]].Type
		wt := sg.Tensors[op.Inputs[wi]]
		w := wt.Type.String()
		if p := producer[op.Inputs[wi]]; p != nil && m.OpName(p) == "DEQUANTIZE" && len(p.Inputs) > 0 && p.Inputs[0] >= 0 {
			w = sg.Tensors[p.Inputs[0]].Type.String() + " via DEQUANTIZE"
		}
		switch {
		case act == tensor.Float32 && (wt.Type == tensor.Int8 || wt.Type == tensor.UInt8) && wt.Data != nil:
			return sum + " (hybrid: float " + strings.ToLower(m.OpName(op)) + " with " + w + " weights)"
		case act.String() == in && w == in:
			return sum
		case w == act.String():
			return sum + " (" + w + " compute)"
		}
		return sum + " (" + act.String() + " compute, " + w + " weights)"
	}
	return sum
}

// runTimeShaped describes the first operator of m whose output TFLite
// sizes at Invoke from tensor values (a TRANSPOSE_CONV whose output_shape
// is not a constant), or returns "".
func runTimeShaped(m *tflite.Model) string {
	if m == nil || len(m.Subgraphs) == 0 {
		return ""
	}
	sg := m.Subgraphs[0]
	for i := range sg.Operators {
		op := &sg.Operators[i]
		if m.OpName(op) == "TRANSPOSE_CONV" && len(op.Inputs) > 0 && op.Inputs[0] >= 0 && sg.Tensors[op.Inputs[0]].Data == nil {
			return fmt.Sprintf("operator %d (TRANSPOSE_CONV) takes its output_shape at run time", i)
		}
	}
	return ""
}

// missingOps lists the operators of m that tflite.SupportedOps does not
// name, each with the distinct type signatures of its uses.
func missingOps(m *tflite.Model) []string {
	if m == nil || len(m.Subgraphs) == 0 {
		return nil
	}
	have := map[string]bool{}
	for n := range tflite.SupportedOps() {
		have[strings.ReplaceAll(n, `"`, "")] = true
	}
	sg := m.Subgraphs[0]
	sigs := map[string][]string{}
	var order []string
	for i := range sg.Operators {
		op := &sg.Operators[i]
		name := m.OpName(op)
		if have[strings.ReplaceAll(name, `"`, "")] {
			continue
		}
		if _, ok := sigs[name]; !ok {
			order = append(order, name)
		}
		types, _ := opSignature(sg, op, nil)
		if !slices.ContainsFunc(sigs[name], func(s string) bool { return strings.HasPrefix(s, types+" ") }) {
			var shapes []string
			for _, in := range op.Inputs {
				if in >= 0 {
					shapes = append(shapes, fmt.Sprint(sg.Tensors[in].Shape))
				}
			}
			var outs []string
			for _, o := range op.Outputs {
				outs = append(outs, fmt.Sprint(sg.Tensors[o].Shape))
			}
			use := fmt.Sprintf("%s (op %d: %s → %s", types, i, strings.Join(shapes, " "), strings.Join(outs, " "))
			if co := op.CustomOptions(); len(co) > 0 {
				use += fmt.Sprintf("; custom options %d bytes %x", len(co), co[:min(len(co), 24)])
			}
			sigs[name] = append(sigs[name], use+")")
		}
	}
	var out []string
	for _, n := range order {
		out = append(out, n+" "+strings.Join(sigs[n], " | "))
	}
	return out
}
