package compress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// IOType is the element type of a quantized model's inputs and outputs.
type IOType string

// I/O types of Quantize.
const (
	// IOFloat32 keeps float inputs and outputs: QUANTIZE and DEQUANTIZE
	// operators convert at the edges, as TFLite's converter does by default.
	IOFloat32 IOType = "float32"
	// IOInt8 exposes the int8 tensors themselves.
	IOInt8 IOType = "int8"
	// IOUInt8 exposes uint8 tensors (zero point shifted by 128) converted
	// to int8 by QUANTIZE operators, like the converter's
	// inference_input_type=tf.uint8.
	IOUInt8 IOType = "uint8"
)

// QuantizeOptions tune Quantize; nil means the converter's defaults.
type QuantizeOptions struct {
	// PerChannelFC quantizes FULLY_CONNECTED weights per output channel
	// (the converter's default is one scale per tensor).
	PerChannelFC bool
	// IO is the type of the graph's inputs and outputs; "" means float32.
	IO IOType
}

// Sentinel errors of Quantize.
var (
	// ErrNotFloat is returned for a model that is already quantized or has
	// non-float inputs.
	ErrNotFloat = errors.New("not a float model")
	// ErrNoInt8Rewrite is returned for an operator that Quantize cannot
	// turn into its int8 form.
	ErrNoInt8Rewrite = errors.New("no int8 rewrite")
	// ErrNoHybridKernels is returned for dynamic-range (weight-only)
	// quantization: runtime/kernels has no hybrid kernels.
	ErrNoHybridKernels = errors.New("dynamic-range quantization needs hybrid kernels (float32 activations with int8 weights) for FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D and BATCH_MATMUL, which runtime/kernels does not implement; use full-integer quantization with a calibration set")
)

// opRule says how Quantize rewrites one builtin operator.
type opRule struct {
	// version is the operator version TFLite's converter writes for the
	// int8 form (tensorflow/lite/tools/versioning/op_version.cc; checked
	// against the converter-written int8 models in testdata/models).
	version int32
	kind    opKind
	// fixed output parameters (kind fixedOut).
	scale float32
	zp    int64
}

type opKind int

const (
	// free ops take every output's parameters from its calibrated range.
	free opKind = iota
	// weighted ops also get int8 weights and an int32 bias.
	weighted
	// fixedOut ops have an output range set by the int8 kernel.
	fixedOut
	// same ops need identical parameters on their activation inputs and
	// outputs (TFLite's int8 kernels check it, or copy bytes).
	same
)

var int8Rules = map[schema.BuiltinOperator]opRule{
	schema.BuiltinOperatorFULLY_CONNECTED:   {version: 4, kind: weighted},
	schema.BuiltinOperatorCONV_2D:           {version: 3, kind: weighted},
	schema.BuiltinOperatorDEPTHWISE_CONV_2D: {version: 3, kind: weighted},
	schema.BuiltinOperatorADD:               {version: 2, kind: free},
	schema.BuiltinOperatorSUB:               {version: 2, kind: free},
	schema.BuiltinOperatorMUL:               {version: 2, kind: free},
	schema.BuiltinOperatorRELU:              {version: 2, kind: free},
	schema.BuiltinOperatorRELU6:             {version: 2, kind: free},
	schema.BuiltinOperatorSOFTMAX:           {version: 2, kind: fixedOut, scale: 1.0 / 256, zp: -128},
	schema.BuiltinOperatorLOGISTIC:          {version: 2, kind: fixedOut, scale: 1.0 / 256, zp: -128},
	schema.BuiltinOperatorTANH:              {version: 2, kind: fixedOut, scale: 1.0 / 128, zp: 0},
	schema.BuiltinOperatorRESHAPE:           {version: 1, kind: same},
	schema.BuiltinOperatorSQUEEZE:           {version: 1, kind: same},
	schema.BuiltinOperatorEXPAND_DIMS:       {version: 1, kind: same},
	schema.BuiltinOperatorMAX_POOL_2D:       {version: 2, kind: same},
	schema.BuiltinOperatorAVERAGE_POOL_2D:   {version: 2, kind: same},
	schema.BuiltinOperatorPAD:               {version: 2, kind: same},
	schema.BuiltinOperatorCONCATENATION:     {version: 2, kind: same},
	schema.BuiltinOperatorTRANSPOSE:         {version: 2, kind: same},
}

// Versions of the edge operators for int8 (op_version.cc): QUANTIZE is 1
// for a per-tensor int8 or uint8 output, DEQUANTIZE 2 for an int8 input.
const (
	quantizeVersion   = 1
	dequantizeVersion = 2
)

// int8Version is the version op_version.cc gives op's int8 form: the
// rule's, raised where an option of the op needs a later kernel.
func (q *quantizer) int8Version(code schema.BuiltinOperator, op *schema.OperatorT) int32 {
	v := int8Rules[code].version
	switch code {
	case schema.BuiltinOperatorFULLY_CONNECTED:
		if len(op.Inputs) == 2 {
			return 6 // no bias input
		}
		if op.BuiltinOptions != nil {
			if o, ok := op.BuiltinOptions.Value.(*schema.FullyConnectedOptionsT); ok && o.KeepNumDims {
				return 5
			}
		}
	case schema.BuiltinOperatorMUL:
		scale := func(t int32) float64 { return float64(q.sg.Tensors[t].Quantization.Scale[0]) }
		if scale(op.Inputs[0])*scale(op.Inputs[1])/scale(op.Outputs[0]) >= 1 {
			return 3 // rescale >= 1
		}
	}
	return v
}

// QuantizeDynamic refuses weight-only quantization with ErrNoHybridKernels:
// a model it wrote would not run in edged.
func QuantizeDynamic(model []byte) ([]byte, error) {
	return nil, fmt.Errorf("quantize --dynamic: %w", ErrNoHybridKernels)
}

// Quantize rewrites a float model into a full-integer one the way TFLite's
// converter does: int8 activations (asymmetric, range widened to include
// 0), int8 symmetric weights (per output channel for CONV_2D and
// DEPTHWISE_CONV_2D), int32 biases with scale input_scale*weight_scale,
// fixed output ranges for SOFTMAX, LOGISTIC and TANH, shared parameters
// across RESHAPE, pooling, PAD and CONCATENATION, and QUANTIZE/DEQUANTIZE at
// the edges unless the I/O type is integer. cal must come from Calibrate on
// the same model.
func Quantize(model []byte, cal *Calibration, opts *QuantizeOptions) ([]byte, error) {
	if opts == nil {
		opts = &QuantizeOptions{}
	}
	io := opts.IO
	if io == "" {
		io = IOFloat32
	}
	if io != IOFloat32 && io != IOInt8 && io != IOUInt8 {
		return nil, fmt.Errorf("quantize: I/O type %q: want float32, int8 or uint8", io)
	}
	if cal == nil {
		return nil, fmt.Errorf("quantize: %w", ErrNoSamples)
	}
	m, err := Read(model)
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	q := &quantizer{m: m, sg: m.Subgraphs[0], cal: cal, opts: opts}
	if err := q.run(io); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	dropUnusedBuffers(m)
	out, err := Write(m)
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	return out, nil
}

// CheckFloat reports whether model is one Quantize accepts (a verified
// single-subgraph model with float32 inputs and no quantized tensors); the
// error wraps ErrNotFloat when it is not float.
func CheckFloat(model []byte) error {
	m, err := Read(model)
	if err != nil {
		return err
	}
	return checkFloatModel(m)
}

// checkFloatModel accepts one-subgraph models with float32 inputs and no
// quantized tensors.
func checkFloatModel(m *schema.ModelT) error {
	if len(m.Subgraphs) != 1 {
		return fmt.Errorf("%w: %d subgraphs; only single-subgraph models are supported", ErrNotFloat, len(m.Subgraphs))
	}
	sg := m.Subgraphs[0]
	for _, i := range sg.Inputs {
		if t := sg.Tensors[i]; t.Type != schema.TensorTypeFLOAT32 {
			return fmt.Errorf("%w: input %q is %s; want FLOAT32", ErrNotFloat, t.Name, t.Type)
		}
	}
	for _, t := range sg.Tensors {
		switch t.Type {
		case schema.TensorTypeINT8, schema.TensorTypeUINT8, schema.TensorTypeINT16:
			if t.Quantization != nil && len(t.Quantization.Scale) > 0 {
				return fmt.Errorf("%w: tensor %q is already quantized (%s)", ErrNotFloat, t.Name, t.Type)
			}
		}
	}
	return nil
}

type qparams struct {
	scale float32
	zp    int64
}

type quantizer struct {
	m    *schema.ModelT
	sg   *schema.SubGraphT
	cal  *Calibration
	opts *QuantizeOptions
	// params of every activation tensor.
	params map[int]qparams
	// constDone marks constant tensors already rewritten.
	constDone map[int]bool
}

func (q *quantizer) tensorName(i int32) string {
	if i < 0 || int(i) >= len(q.sg.Tensors) {
		return fmt.Sprintf("#%d", i)
	}
	return q.sg.Tensors[i].Name
}

func (q *quantizer) run(io IOType) error {
	if err := checkFloatModel(q.m); err != nil {
		return err
	}
	if err := fuseActivations(q.m); err != nil {
		return err
	}
	sg := q.sg
	codes := make([]schema.BuiltinOperator, len(sg.Operators))
	for i, op := range sg.Operators {
		c, err := BuiltinCode(q.m, op)
		if err != nil {
			return fmt.Errorf("operator %d: %w", i, err)
		}
		codes[i] = c
		if _, ok := int8Rules[c]; !ok {
			out := "?"
			if len(op.Outputs) > 0 {
				out = q.tensorName(op.Outputs[0])
			}
			return fmt.Errorf("operator %d %s (output %q): %w; supported: %s", i, c, out, ErrNoInt8Rewrite, supportedList())
		}
	}
	acts := activations(q.m)
	isAct := map[int]bool{}
	for _, t := range acts {
		isAct[t] = true
		if _, ok := q.cal.Ranges[t]; !ok {
			return fmt.Errorf("tensor %d %q has no calibrated range (is the calibration from this model?)", t, sg.Tensors[t].Name)
		}
	}
	// Group tensors that must share parameters.
	parent := map[int]int{}
	var find func(int) int
	find = func(x int) int {
		p, ok := parent[x]
		if !ok || p == x {
			return x
		}
		r := find(p)
		parent[x] = r
		return r
	}
	union := func(a, b int) { parent[find(a)] = find(b) }
	fixed := map[int]qparams{}
	for i, op := range sg.Operators {
		r := int8Rules[codes[i]]
		switch r.kind {
		case fixedOut:
			fixed[int(op.Outputs[0])] = qparams{r.scale, r.zp}
		case same:
			var members []int
			for _, t := range op.Inputs {
				if t >= 0 && isAct[int(t)] {
					members = append(members, int(t))
				} else if t >= 0 && sg.Tensors[t].Type == schema.TensorTypeFLOAT32 {
					return fmt.Errorf("operator %d %s: constant float input %q: %w for a constant operand of this op", i, codes[i], q.tensorName(t), ErrNoInt8Rewrite)
				}
			}
			for _, t := range op.Outputs {
				members = append(members, int(t))
			}
			for _, t := range members[1:] {
				union(t, members[0])
			}
		}
	}
	groups := map[int][]int{}
	for _, t := range acts {
		groups[find(t)] = append(groups[find(t)], t)
	}
	q.params = map[int]qparams{}
	for _, members := range groups {
		var p qparams
		var fixedBy = -1
		r := q.cal.Ranges[members[0]]
		for _, t := range members {
			if f, ok := fixed[t]; ok {
				if fixedBy >= 0 && f != p {
					return fmt.Errorf("tensors %q and %q must share quantization but their ops fix different ranges", sg.Tensors[fixedBy].Name, sg.Tensors[t].Name)
				}
				p, fixedBy = f, t
			}
			c := q.cal.Ranges[t]
			r.Min, r.Max = min(r.Min, c.Min), max(r.Max, c.Max)
		}
		if fixedBy < 0 {
			p = asymmetricParams(r.Min, r.Max)
		}
		for _, t := range members {
			q.params[t] = p
		}
	}
	for _, t := range acts {
		p := q.params[t]
		tt := sg.Tensors[t]
		tt.Type = schema.TensorTypeINT8
		tt.Quantization = &schema.QuantizationParametersT{Scale: []float32{p.scale}, ZeroPoint: []int64{p.zp}}
	}
	q.constDone = map[int]bool{}
	for i, op := range sg.Operators {
		if err := q.rewriteOp(i, codes[i], op); err != nil {
			return err
		}
	}
	// Every tensor an operator reads must be integer now.
	for i, op := range sg.Operators {
		for _, t := range op.Inputs {
			if t >= 0 && sg.Tensors[t].Type == schema.TensorTypeFLOAT32 {
				return fmt.Errorf("operator %d %s: input %q stays float32: %w", i, codes[i], q.tensorName(t), ErrNoInt8Rewrite)
			}
		}
	}
	for i, op := range sg.Operators {
		c := q.m.OperatorCodes[op.OpcodeIndex]
		c.Version = max(c.Version, q.int8Version(codes[i], op))
	}
	return q.rewriteIO(io)
}

func supportedList() string {
	var s []string
	for c := range int8Rules {
		s = append(s, c.String())
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// asymmetricParams are the int8 scale and zero point of a range, as
// TFLite's GetAsymmetricQuantizationParams computes them: the range is
// widened to contain 0 and the zero point is nudged to an integer.
func asymmetricParams(lo, hi float32) qparams {
	const qmin, qmax = -128.0, 127.0
	rmin, rmax := math.Min(float64(lo), 0), math.Max(float64(hi), 0)
	if rmax-rmin < 1e-30 {
		// A tensor that is always 0: any scale represents it.
		rmax = rmin + 1
	}
	scale := (rmax - rmin) / (qmax - qmin)
	zpFromMin := qmin - rmin/scale
	var zp float64
	switch {
	case zpFromMin < qmin:
		zp = qmin
	case zpFromMin > qmax:
		zp = qmax
	default:
		zp = math.Round(zpFromMin)
	}
	return qparams{float32(scale), int64(zp)}
}

func (q *quantizer) rewriteOp(i int, code schema.BuiltinOperator, op *schema.OperatorT) error {
	sg := q.sg
	switch int8Rules[code].kind {
	case weighted:
		if len(op.Inputs) < 2 || op.Inputs[0] < 0 || op.Inputs[1] < 0 {
			return fmt.Errorf("operator %d %s: %d inputs; want input, weights[, bias]", i, code, len(op.Inputs))
		}
		in := q.params[int(op.Inputs[0])]
		axis := -1 // per tensor
		switch code {
		case schema.BuiltinOperatorCONV_2D:
			axis = 0
		case schema.BuiltinOperatorDEPTHWISE_CONV_2D:
			axis = 3
		case schema.BuiltinOperatorFULLY_CONNECTED:
			if q.opts.PerChannelFC {
				axis = 0
			}
		}
		w, err := q.ownConst(op, 1)
		if err != nil {
			return fmt.Errorf("operator %d %s: weights: %w", i, code, err)
		}
		wScales, err := q.quantizeWeights(w, axis)
		if err != nil {
			return fmt.Errorf("operator %d %s: %w", i, code, err)
		}
		if len(op.Inputs) > 2 && op.Inputs[2] >= 0 {
			b, err := q.ownConst(op, 2)
			if err != nil {
				return fmt.Errorf("operator %d %s: bias: %w", i, code, err)
			}
			if err := q.quantizeBias(b, in.scale, wScales); err != nil {
				return fmt.Errorf("operator %d %s: %w", i, code, err)
			}
		}
	case free:
		for k, t := range op.Inputs {
			if t < 0 || sg.Tensors[t].Type != schema.TensorTypeFLOAT32 || bufferData(q.m, sg.Tensors[t]) == nil {
				continue
			}
			c, err := q.ownConst(op, k)
			if err != nil {
				return fmt.Errorf("operator %d %s: input %d: %w", i, code, k, err)
			}
			if err := q.quantizeConstAsymmetric(c); err != nil {
				return fmt.Errorf("operator %d %s: %w", i, code, err)
			}
		}
	}
	return nil
}

// ownConst returns input k of op, a float32 constant, copying the tensor
// first if another operator already rewrote it (its scale may differ here).
func (q *quantizer) ownConst(op *schema.OperatorT, k int) (*schema.TensorT, error) {
	t := int(op.Inputs[k])
	tt := q.sg.Tensors[t]
	if q.constDone[t] {
		return nil, fmt.Errorf("tensor %q is shared by several operators; that is not supported", tt.Name)
	}
	if tt.Type != schema.TensorTypeFLOAT32 || bufferData(q.m, tt) == nil {
		return nil, fmt.Errorf("tensor %q: want a float32 constant; found %s (constant: %v)", tt.Name, tt.Type, bufferData(q.m, tt) != nil)
	}
	q.constDone[t] = true
	return tt, nil
}

// quantizeWeights turns w into int8 symmetric ([-127, 127]) with one
// scale per slice along axis (or one for the tensor when axis < 0) and
// returns the scales.
func (q *quantizer) quantizeWeights(w *schema.TensorT, axis int) ([]float32, error) {
	v, err := Float32Data(q.m, w)
	if err != nil {
		return nil, err
	}
	shape := w.Shape
	if axis >= len(shape) {
		return nil, fmt.Errorf("weights %q have shape %v; want a dimension %d", w.Name, shape, axis)
	}
	channels, inner := 1, 1
	if axis >= 0 {
		channels = int(shape[axis])
		for _, d := range shape[axis+1:] {
			inner *= int(d)
		}
	}
	if channels == 0 || len(v)%channels != 0 {
		return nil, fmt.Errorf("weights %q: %d values for %d channels", w.Name, len(v), channels)
	}
	ch := func(idx int) int {
		if axis < 0 {
			return 0
		}
		return (idx / inner) % channels
	}
	absMax := make([]float64, channels)
	for idx, x := range v {
		absMax[ch(idx)] = math.Max(absMax[ch(idx)], math.Abs(float64(x)))
	}
	scales := make([]float32, channels)
	for c, a := range absMax {
		if a == 0 {
			// All-zero channel: the converter's scale of 1 keeps it zero.
			scales[c] = 1
		} else {
			scales[c] = float32(a / 127)
		}
	}
	raw := make([]byte, len(v))
	for idx, x := range v {
		r := math.Round(float64(x) / float64(scales[ch(idx)]))
		raw[idx] = byte(int8(min(max(r, -127), 127)))
	}
	SetData(q.m, w, raw)
	w.Type = schema.TensorTypeINT8
	qp := &schema.QuantizationParametersT{Scale: scales, ZeroPoint: make([]int64, channels)}
	if axis >= 0 {
		qp.QuantizedDimension = int32(axis)
	}
	w.Quantization = qp
	return scales, nil
}

// quantizeBias turns b into int32 with scale inScale*wScales[c], zero point 0.
func (q *quantizer) quantizeBias(b *schema.TensorT, inScale float32, wScales []float32) error {
	v, err := Float32Data(q.m, b)
	if err != nil {
		return err
	}
	n := len(wScales)
	if n != 1 && n != len(v) {
		return fmt.Errorf("bias %q has %d values; the weights have %d channels", b.Name, len(v), n)
	}
	scales := make([]float32, n)
	for c := range scales {
		scales[c] = inScale * wScales[c]
	}
	raw := make([]byte, 4*len(v))
	for idx, x := range v {
		s := scales[0]
		if n > 1 {
			s = scales[idx]
		}
		r := math.Round(float64(x) / float64(s))
		r = min(max(r, math.MinInt32), math.MaxInt32)
		binary.LittleEndian.PutUint32(raw[4*idx:], uint32(int32(r)))
	}
	SetData(q.m, b, raw)
	b.Type = schema.TensorTypeINT32
	b.Quantization = &schema.QuantizationParametersT{Scale: scales, ZeroPoint: make([]int64, n)}
	return nil
}

// quantizeConstAsymmetric quantizes a constant operand of an elementwise op
// like an activation: int8 with its own min/max.
func (q *quantizer) quantizeConstAsymmetric(t *schema.TensorT) error {
	v, err := Float32Data(q.m, t)
	if err != nil {
		return err
	}
	lo, hi := float32(0), float32(0)
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	p := asymmetricParams(lo, hi)
	raw := make([]byte, len(v))
	for i, x := range v {
		r := math.Round(float64(x)/float64(p.scale)) + float64(p.zp)
		raw[i] = byte(int8(min(max(r, -128), 127)))
	}
	SetData(q.m, t, raw)
	t.Type = schema.TensorTypeINT8
	t.Quantization = &schema.QuantizationParametersT{Scale: []float32{p.scale}, ZeroPoint: []int64{p.zp}}
	return nil
}

// opcode returns the index of a builtin operator code in the model,
// adding it if absent.
func (q *quantizer) opcode(code schema.BuiltinOperator, version int32) uint32 {
	for i, c := range q.m.OperatorCodes {
		eff := c.BuiltinCode
		if d := schema.BuiltinOperator(c.DeprecatedBuiltinCode); d > eff {
			eff = d
		}
		if eff == code && c.CustomCode == "" {
			c.Version = max(c.Version, version)
			return uint32(i)
		}
	}
	dep := int8(127) // PLACEHOLDER_FOR_GREATER_OP_CODES
	if code < 127 {
		dep = int8(code)
	}
	q.m.OperatorCodes = append(q.m.OperatorCodes, &schema.OperatorCodeT{BuiltinCode: code, DeprecatedBuiltinCode: dep, Version: version})
	return uint32(len(q.m.OperatorCodes) - 1)
}

// rewriteIO gives the graph its I/O type. The original tensor indices stay
// the graph's inputs and outputs (signatures point at them); new int8
// tensors take their place inside the graph.
func (q *quantizer) rewriteIO(io IOType) error {
	if io == IOInt8 {
		return nil
	}
	sg := q.sg
	clone := func(t int32) int32 {
		old := sg.Tensors[t]
		n := *old
		n.Name = old.Name + "_int8"
		n.Shape = slices.Clone(old.Shape)
		n.ShapeSignature = slices.Clone(old.ShapeSignature)
		qp := *old.Quantization
		n.Quantization = &qp
		sg.Tensors = append(sg.Tensors, &n)
		return int32(len(sg.Tensors) - 1)
	}
	edge := func(t int32) {
		tt := sg.Tensors[t]
		if io == IOFloat32 {
			tt.Type = schema.TensorTypeFLOAT32
			tt.Quantization = nil
			return
		}
		tt.Type = schema.TensorTypeUINT8
		tt.Quantization.ZeroPoint = []int64{tt.Quantization.ZeroPoint[0] + 128}
	}
	replace := func(s []int32, from, to int32) {
		for k, v := range s {
			if v == from {
				s[k] = to
			}
		}
	}
	var head, tail []*schema.OperatorT
	quant := q.opcode(schema.BuiltinOperatorQUANTIZE, quantizeVersion)
	for _, in := range sg.Inputs {
		n := clone(in)
		for _, op := range sg.Operators {
			replace(op.Inputs, in, n)
		}
		edge(in)
		head = append(head, &schema.OperatorT{OpcodeIndex: quant, Inputs: []int32{in}, Outputs: []int32{n}})
	}
	last := quant
	if io == IOFloat32 {
		last = q.opcode(schema.BuiltinOperatorDEQUANTIZE, dequantizeVersion)
	}
	for _, out := range sg.Outputs {
		if slices.Contains(sg.Inputs, out) {
			return fmt.Errorf("tensor %q is both a graph input and output", sg.Tensors[out].Name)
		}
		n := clone(out)
		for _, op := range sg.Operators {
			replace(op.Inputs, out, n)
			replace(op.Outputs, out, n)
		}
		edge(out)
		tail = append(tail, &schema.OperatorT{OpcodeIndex: last, Inputs: []int32{n}, Outputs: []int32{out}})
	}
	sg.Operators = slices.Concat(head, sg.Operators, tail)
	return nil
}

// dropUnusedBuffers removes the buffers no tensor or metadata entry refers
// to any more (the float weights SetData replaced), keeping buffer 0, the
// empty buffer of every non-constant tensor.
func dropUnusedBuffers(m *schema.ModelT) {
	used := make([]bool, len(m.Buffers))
	if len(used) > 0 {
		used[0] = true
	}
	mark := func(b uint32) {
		if int(b) < len(used) {
			used[b] = true
		}
	}
	for _, sg := range m.Subgraphs {
		for _, t := range sg.Tensors {
			mark(t.Buffer)
		}
	}
	for _, md := range m.Metadata {
		mark(md.Buffer)
	}
	for _, b := range m.MetadataBuffer {
		if b >= 0 {
			mark(uint32(b))
		}
	}
	newIndex := make([]uint32, len(m.Buffers))
	var kept []*schema.BufferT
	for i, b := range m.Buffers {
		if used[i] {
			newIndex[i] = uint32(len(kept))
			kept = append(kept, b)
		}
	}
	m.Buffers = kept
	for _, sg := range m.Subgraphs {
		for _, t := range sg.Tensors {
			if int(t.Buffer) < len(newIndex) {
				t.Buffer = newIndex[t.Buffer]
			}
		}
	}
	for _, md := range m.Metadata {
		if int(md.Buffer) < len(newIndex) {
			md.Buffer = newIndex[md.Buffer]
		}
	}
	for k, b := range m.MetadataBuffer {
		if b >= 0 && int(b) < len(newIndex) {
			m.MetadataBuffer[k] = int32(newIndex[b])
		}
	}
}

// fuseActivations folds a RELU or RELU6 into the operator before it when
// that operator has no fused activation yet and the RELU is the only
// reader of its output, as TFLite's converter does: the int8 graph then
// saves one requantization (and its rounding) per activation. Tensor
// indices stay as they are, so calibrated ranges still apply; the
// operator takes over the RELU's output tensor.
func fuseActivations(m *schema.ModelT) error {
	sg := m.Subgraphs[0]
	readers := map[int32]int{}
	for _, op := range sg.Operators {
		for _, t := range op.Inputs {
			readers[t]++
		}
	}
	for _, t := range sg.Outputs {
		readers[t]++
	}
	producer := map[int32]int{}
	for i, op := range sg.Operators {
		for _, t := range op.Outputs {
			producer[t] = i
		}
	}
	drop := map[int]bool{}
	for i, op := range sg.Operators {
		code, err := BuiltinCode(m, op)
		if err != nil {
			return err
		}
		var act schema.ActivationFunctionType
		switch code {
		case schema.BuiltinOperatorRELU:
			act = schema.ActivationFunctionTypeRELU
		case schema.BuiltinOperatorRELU6:
			act = schema.ActivationFunctionTypeRELU6
		default:
			continue
		}
		if len(op.Inputs) != 1 || len(op.Outputs) != 1 || readers[op.Inputs[0]] != 1 {
			continue
		}
		p, ok := producer[op.Inputs[0]]
		if !ok || drop[p] {
			continue
		}
		prev := sg.Operators[p]
		pc, err := BuiltinCode(m, prev)
		if err != nil {
			return err
		}
		if len(prev.Outputs) != 1 || !setActivation(pc, prev, act) {
			continue
		}
		prev.Outputs[0] = op.Outputs[0]
		drop[i] = true
	}
	kept := sg.Operators[:0]
	for i, op := range sg.Operators {
		if !drop[i] {
			kept = append(kept, op)
		}
	}
	sg.Operators = kept
	return nil
}

// setActivation sets the fused activation of an ADD, CONV_2D,
// DEPTHWISE_CONV_2D or FULLY_CONNECTED that has none, and reports whether
// it did.
func setActivation(code schema.BuiltinOperator, op *schema.OperatorT, act schema.ActivationFunctionType) bool {
	if code == schema.BuiltinOperatorADD && op.BuiltinOptions == nil {
		op.BuiltinOptions = &schema.BuiltinOptionsT{Type: schema.BuiltinOptionsAddOptions, Value: &schema.AddOptionsT{}}
	}
	if op.BuiltinOptions == nil {
		return false
	}
	var f *schema.ActivationFunctionType
	switch o := op.BuiltinOptions.Value.(type) {
	case *schema.AddOptionsT:
		f = &o.FusedActivationFunction
	case *schema.Conv2DOptionsT:
		f = &o.FusedActivationFunction
	case *schema.DepthwiseConv2DOptionsT:
		f = &o.FusedActivationFunction
	case *schema.FullyConnectedOptionsT:
		f = &o.FusedActivationFunction
	default:
		return false
	}
	if *f != schema.ActivationFunctionTypeNONE {
		return false
	}
	*f = act
	return true
}
