package compress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/edged-dev/edged/runtime/kernels"
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
	schema.BuiltinOperatorTRANSPOSE_CONV:    {version: 2, kind: weighted},
	schema.BuiltinOperatorBATCH_MATMUL:      {version: 2, kind: free},
	schema.BuiltinOperatorMEAN:              {version: 2, kind: free},
	schema.BuiltinOperatorSUM:               {version: 2, kind: free},
	schema.BuiltinOperatorLEAKY_RELU:        {version: 1, kind: free},
	schema.BuiltinOperatorHARD_SWISH:        {version: 1, kind: free},
	schema.BuiltinOperatorPRELU:             {version: 1, kind: free},
	// Keras LayerNormalization's decomposition.
	schema.BuiltinOperatorSQUARED_DIFFERENCE: {version: 2, kind: free},
	schema.BuiltinOperatorRSQRT:              {version: 2, kind: free},
	// Ops that move or select int8 values without rescaling them.
	schema.BuiltinOperatorRESIZE_BILINEAR:         {version: 2, kind: same},
	schema.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR: {version: 2, kind: same},
	schema.BuiltinOperatorSTRIDED_SLICE:           {version: 2, kind: same},
	schema.BuiltinOperatorSLICE:                   {version: 2, kind: same},
	schema.BuiltinOperatorSPLIT:                   {version: 2, kind: same},
	schema.BuiltinOperatorSPLIT_V:                 {version: 2, kind: same},
	schema.BuiltinOperatorGATHER:                  {version: 2, kind: same},
	schema.BuiltinOperatorPADV2:                   {version: 2, kind: same},
	schema.BuiltinOperatorMAXIMUM:                 {version: 2, kind: same},
	schema.BuiltinOperatorMINIMUM:                 {version: 2, kind: same},
	schema.BuiltinOperatorPACK:                    {version: 2, kind: same},
	schema.BuiltinOperatorUNPACK:                  {version: 2, kind: same},
	schema.BuiltinOperatorREDUCE_MAX:              {version: 2, kind: same}, // Keras GlobalMaxPooling2D
	schema.BuiltinOperatorREDUCE_MIN:              {version: 2, kind: same},
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
	rank := func(k int) int {
		if k >= len(op.Inputs) || op.Inputs[k] < 0 {
			return 0
		}
		return len(q.sg.Tensors[op.Inputs[k]].Shape)
	}
	var opts any
	if op.BuiltinOptions != nil {
		opts = op.BuiltinOptions.Value
	}
	switch code {
	case schema.BuiltinOperatorRESIZE_BILINEAR:
		if o, ok := opts.(*schema.ResizeBilinearOptionsT); ok && o.HalfPixelCenters {
			return 3
		}
	case schema.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR:
		if o, ok := opts.(*schema.ResizeNearestNeighborOptionsT); ok && (o.HalfPixelCenters || o.AlignCorners) {
			return 3
		}
	case schema.BuiltinOperatorSTRIDED_SLICE:
		if o, ok := opts.(*schema.StridedSliceOptionsT); ok {
			switch {
			case o.Offset:
				return 8
			case o.EllipsisMask != 0 || o.NewAxisMask != 0:
				return 6
			}
		}
		if rank(0) > 4 {
			return 4
		}
	case schema.BuiltinOperatorSLICE:
		if rank(0) > 4 {
			return 5
		}
	case schema.BuiltinOperatorGATHER:
		if o, ok := opts.(*schema.GatherOptionsT); ok && o.BatchDims != 0 {
			return 5
		}
	case schema.BuiltinOperatorPAD, schema.BuiltinOperatorPADV2:
		if rank(0) > 4 {
			return 4
		}
	case schema.BuiltinOperatorTRANSPOSE:
		switch {
		case rank(0) > 5:
			return 6
		case rank(0) > 4:
			return 4
		}
	case schema.BuiltinOperatorMAXIMUM, schema.BuiltinOperatorMINIMUM:
		if !slices.Equal(q.sg.Tensors[op.Inputs[0]].Shape, q.sg.Tensors[op.Inputs[1]].Shape) && max(rank(0), rank(1)) > 4 {
			return 3
		}
	case schema.BuiltinOperatorTRANSPOSE_CONV:
		if o, ok := opts.(*schema.TransposeConvOptionsT); ok && o.FusedActivationFunction != schema.ActivationFunctionTypeNONE {
			return 4
		}
		if len(op.Inputs) == 4 && op.Inputs[3] >= 0 {
			return 3
		}
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

// Quantize rewrites a float model into a full-integer one the way TFLite's
// converter does: int8 activations (asymmetric, range widened to include
// 0), int8 symmetric weights (per output channel for CONV_2D and
// DEPTHWISE_CONV_2D), int32 biases with scale input_scale*weight_scale,
// fixed output ranges for SOFTMAX, LOGISTIC and TANH, shared parameters
// across the ops that move values without rescaling them (RESHAPE, pooling,
// PAD, CONCATENATION, slicing, splitting, resizing, MAXIMUM, ...; a float
// constant operand of those takes the shared parameters), and
// QUANTIZE/DEQUANTIZE at the edges unless the I/O type is integer.
// DEQUANTIZE operators of float16 constants (float16 weights) are folded
// into float32 constants first. cal must come from Calibrate on the same
// model.
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
	// The float16 constants foldFloat16 replaced and the outputs of
	// operators fuseActivations merged with their RELU leave the file.
	dropUnusedTensors(m, 0)
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
	// constDone marks constant tensors already rewritten; floatBuf keeps
	// their float32 buffers for other readers.
	constDone map[int]bool
	floatBuf  map[int]uint32
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
	if err := foldFloat16(q.m); err != nil {
		return err
	}
	if err := fuseActivations(q.m); err != nil {
		return err
	}
	// Before rewriteIO looks up DEQUANTIZE: a folded float16 one must not
	// lend its version to the int8 output's.
	dropUnusedOpcodes(q.m)
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
	constRanges := map[int]Range{}
	for i, op := range sg.Operators {
		r := int8Rules[codes[i]]
		switch r.kind {
		case fixedOut:
			fixed[int(op.Outputs[0])] = qparams{r.scale, r.zp}
		case same:
			var members []int
			var consts []int32
			for _, t := range op.Inputs {
				if t >= 0 && isAct[int(t)] {
					members = append(members, int(t))
				} else if t >= 0 && sg.Tensors[t].Type == schema.TensorTypeFLOAT32 {
					consts = append(consts, t)
				}
			}
			for _, t := range op.Outputs {
				members = append(members, int(t))
			}
			for _, t := range members[1:] {
				union(t, members[0])
			}
			// A float constant operand (PADV2's pad value, MAXIMUM's
			// bound, a concatenated constant) takes the shared
			// parameters, so its values widen the shared range.
			for _, t := range consts {
				v, err := Float32Data(q.m, sg.Tensors[t])
				if err != nil {
					return fmt.Errorf("operator %d %s: constant input %q: %w", i, codes[i], q.tensorName(t), err)
				}
				r := constRanges[int(op.Outputs[0])]
				for _, x := range v {
					r.Min, r.Max = min(r.Min, x), max(r.Max, x)
				}
				constRanges[int(op.Outputs[0])] = r
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
			if c, ok := constRanges[t]; ok {
				r.Min, r.Max = min(r.Min, c.Min), max(r.Max, c.Max)
			}
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
	q.constDone, q.floatBuf = map[int]bool{}, map[int]uint32{}
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
	if err := q.rewriteIO(io); err != nil {
		return err
	}
	dropUnusedOpcodes(q.m)
	return nil
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
		// TRANSPOSE_CONV's inputs are output shape, weights, input[, bias].
		ai, wi, bi := 0, 1, 2
		if code == schema.BuiltinOperatorTRANSPOSE_CONV {
			ai, bi = 2, 3
		}
		if len(op.Inputs) <= max(ai, wi) || op.Inputs[ai] < 0 || op.Inputs[wi] < 0 {
			return fmt.Errorf("operator %d %s: %d inputs; want input, weights[, bias]", i, code, len(op.Inputs))
		}
		in, ok := q.params[int(op.Inputs[ai])]
		if !ok {
			return fmt.Errorf("operator %d %s: input %q is not a run-time float tensor", i, code, q.tensorName(op.Inputs[ai]))
		}
		axis := -1 // per tensor
		switch code {
		case schema.BuiltinOperatorCONV_2D, schema.BuiltinOperatorTRANSPOSE_CONV:
			// TRANSPOSE_CONV weights are [out, h, w, in] too.
			axis = 0
		case schema.BuiltinOperatorDEPTHWISE_CONV_2D:
			axis = 3
		case schema.BuiltinOperatorFULLY_CONNECTED:
			if q.opts.PerChannelFC {
				axis = 0
			}
		}
		w, err := q.ownConst(op, wi)
		if err != nil {
			return fmt.Errorf("operator %d %s: weights: %w", i, code, err)
		}
		wScales, err := q.quantizeWeights(w, axis)
		if err != nil {
			return fmt.Errorf("operator %d %s: %w", i, code, err)
		}
		if len(op.Inputs) > bi && op.Inputs[bi] >= 0 {
			b, err := q.ownConst(op, bi)
			if err != nil {
				return fmt.Errorf("operator %d %s: bias: %w", i, code, err)
			}
			if err := q.quantizeBias(b, in.scale, wScales); err != nil {
				return fmt.Errorf("operator %d %s: %w", i, code, err)
			}
		}
	case same:
		p := q.params[int(op.Outputs[0])]
		for k, t := range op.Inputs {
			if t < 0 || !q.constDone[int(t)] && (sg.Tensors[t].Type != schema.TensorTypeFLOAT32 || bufferData(q.m, sg.Tensors[t]) == nil) {
				continue
			}
			c, err := q.ownConst(op, k)
			if err != nil {
				return fmt.Errorf("operator %d %s: input %d: %w", i, code, k, err)
			}
			if err := q.quantizeConstWith(c, p); err != nil {
				return fmt.Errorf("operator %d %s: %w", i, code, err)
			}
		}
	case free:
		for k, t := range op.Inputs {
			if t < 0 || !q.constDone[int(t)] && (sg.Tensors[t].Type != schema.TensorTypeFLOAT32 || bufferData(q.m, sg.Tensors[t]) == nil) {
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
		// Shared with an operator that already rewrote it (the converter
		// deduplicates equal constants): this one gets its own copy of
		// the float values, which the rewrite's SetData left in place.
		c := *tt
		c.Name = fmt.Sprintf("%s_%d", tt.Name, len(q.sg.Tensors))
		c.Type, c.Quantization, c.Buffer = schema.TensorTypeFLOAT32, nil, q.floatBuf[t]
		c.Shape, c.ShapeSignature = slices.Clone(tt.Shape), slices.Clone(tt.ShapeSignature)
		q.sg.Tensors = append(q.sg.Tensors, &c)
		t = len(q.sg.Tensors) - 1
		op.Inputs[k] = int32(t)
		tt = &c
	}
	if tt.Type != schema.TensorTypeFLOAT32 || bufferData(q.m, tt) == nil {
		return nil, fmt.Errorf("tensor %q: want a float32 constant; found %s (constant: %v)", tt.Name, tt.Type, bufferData(q.m, tt) != nil)
	}
	q.constDone[t] = true
	q.floatBuf[t] = tt.Buffer
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
	return q.quantizeConstWith(t, asymmetricParams(lo, hi))
}

// quantizeConstWith quantizes a float constant to int8 with parameters p.
func (q *quantizer) quantizeConstWith(t *schema.TensorT, p qparams) error {
	v, err := Float32Data(q.m, t)
	if err != nil {
		return err
	}
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

// foldFloat16 replaces every DEQUANTIZE of a float16 constant (the
// converter's float16 post-training export keeps weights that way and
// dequantizes them at load) by the float32 constant it computes: the
// DEQUANTIZE output tensor takes the decoded values and the operator goes.
// Its index stays, so the weighted ops that read it see a float constant.
func foldFloat16(m *schema.ModelT) error {
	sg := m.Subgraphs[0]
	readers := map[int32]int{}
	for _, op := range sg.Operators {
		for _, t := range op.Inputs {
			readers[t]++
		}
	}
	kept := sg.Operators[:0]
	for i, op := range sg.Operators {
		code, err := BuiltinCode(m, op)
		if err != nil {
			return fmt.Errorf("operator %d: %w", i, err)
		}
		if code != schema.BuiltinOperatorDEQUANTIZE || len(op.Inputs) != 1 || len(op.Outputs) != 1 {
			kept = append(kept, op)
			continue
		}
		in, out := sg.Tensors[op.Inputs[0]], sg.Tensors[op.Outputs[0]]
		raw := bufferData(m, in)
		if in.Type != schema.TensorTypeFLOAT16 || raw == nil || out.Type != schema.TensorTypeFLOAT32 {
			return fmt.Errorf("operator %d DEQUANTIZE %q -> %q: %w: only a DEQUANTIZE of a float16 constant (float16 weights) is folded; found a %s %s", i, in.Name, out.Name, ErrNoInt8Rewrite, map[bool]string{true: "constant", false: "run-time"}[raw != nil], in.Type)
		}
		if len(raw)%2 != 0 {
			return fmt.Errorf("operator %d DEQUANTIZE: float16 constant %q has %d bytes, not a whole number of values", i, in.Name, len(raw))
		}
		v := make([]float32, len(raw)/2)
		for k := range v {
			v[k] = kernels.Float16ToFloat32(binary.LittleEndian.Uint16(raw[2*k:]))
		}
		SetData(m, out, Float32Bytes(v))
		if readers[op.Inputs[0]] == 1 {
			// Nothing else reads the float16 copy: let its buffer go.
			in.Buffer = 0
		}
	}
	sg.Operators = kept
	return nil
}

// dropUnusedOpcodes removes the operator codes no operator uses any more
// (DEQUANTIZE after foldFloat16, RELU after fuseActivations).
func dropUnusedOpcodes(m *schema.ModelT) {
	used := make([]bool, len(m.OperatorCodes))
	for _, sg := range m.Subgraphs {
		for _, op := range sg.Operators {
			if int(op.OpcodeIndex) < len(used) {
				used[op.OpcodeIndex] = true
			}
		}
	}
	newIndex := make([]uint32, len(m.OperatorCodes))
	var kept []*schema.OperatorCodeT
	for i, c := range m.OperatorCodes {
		if used[i] {
			newIndex[i] = uint32(len(kept))
			kept = append(kept, c)
		}
	}
	m.OperatorCodes = kept
	for _, sg := range m.Subgraphs {
		for _, op := range sg.Operators {
			if int(op.OpcodeIndex) < len(newIndex) {
				op.OpcodeIndex = newIndex[op.OpcodeIndex]
			}
		}
	}
}
