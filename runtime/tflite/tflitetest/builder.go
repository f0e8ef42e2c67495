// Package tflitetest writes small TFLite flatbuffers for tests: a handful
// of tensors and operators, built in memory, that load both in edged's
// tflite.Load and in the official TFLite runtime (the oracle used by the
// differential tests in package tflite).
//
// A model is described tensor by tensor and operator by operator; Bytes
// serialises it with the generated schema builders. Constant tensors get
// their data in a buffer of their own (aligned to 16 bytes, as the
// converter does); other tensors point at the empty buffer 0.
//
// Example: an int8 CONV_2D with per-channel weights.
//
//	b := tflitetest.NewBuilder()
//	in := b.Tensor("in", tensor.Int8, []int{1, 8, 8, 3},
//		&tensor.Quant{Scale: []float32{0.1}, ZeroPoint: []int32{-3}}, nil)
//	w := b.Tensor("w", tensor.Int8, []int{4, 3, 3, 3},
//		&tensor.Quant{Scale: []float32{0.01, 0.02, 0.01, 0.03}, ZeroPoint: make([]int32, 4), Axis: 0},
//		weightBytes) // 4*3*3*3 int8 values
//	bias := b.Tensor("b", tensor.Int32, []int{4},
//		&tensor.Quant{Scale: []float32{0.001, 0.002, 0.001, 0.003}, ZeroPoint: make([]int32, 4)},
//		tflitetest.Int32Bytes([]int32{10, -20, 0, 5}))
//	out := b.Tensor("out", tensor.Int8, []int{1, 8, 8, 4},
//		&tensor.Quant{Scale: []float32{0.05}, ZeroPoint: []int32{2}}, nil)
//	b.Op(schema.BuiltinOperatorCONV_2D, 3, []int{in, w, bias}, []int{out},
//		tflitetest.Conv2DOptions(schema.PaddingSAME, 1, 1, schema.ActivationFunctionTypeRELU, 1, 1))
//	b.Inputs(in)
//	b.Outputs(out)
//	data, err := b.Bytes()
//
// Pass NoInput in an operator's inputs for an omitted optional operand
// (e.g. a missing bias). Output shapes should be what TFLite computes: the
// oracle sizes output buffers from the file, and edged's kernels check
// that they agree. Operator versions are the caller's choice; use the
// lowest version TFLite assigns to the configuration (see TFLite's
// op_version.cc), since edged refuses versions above the ones it
// registers.
//
// Builtin options are small functions (type Options) that build the
// options table and return its union type and offset; this package has
// helpers for the common tables and RawOptions for any other. Custom
// operators take their custom_options bytes (usually a FlexBuffer) as is.
//
// The *Bytes helpers (Float32Bytes, Int32Bytes...) encode values as the
// little-endian bytes that constant tensors and test inputs need.
package tflitetest

import (
	"encoding/binary"
	"fmt"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// NoInput marks an omitted optional operator input.
const NoInput = -1

// Options builds a builtin options table in fb and returns its union type
// and offset. It runs while no other table is being built.
type Options func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT)

// Options2 is Options for the second options union (builtin_options_2),
// which the StableHLO operators use.
type Options2 func(fb *flatbuffers.Builder) (schema.BuiltinOptions2, flatbuffers.UOffsetT)

type tensorDef struct {
	name     string
	typ      tensor.DType
	shape    []int
	quant    *tensor.Quant
	buffer   int
	variable bool
	sparsity *Sparsity
}

type opDef struct {
	opcode  int
	inputs  []int
	outputs []int
	opts    Options
	opts2   Options2
	custom  []byte
	isCust  bool
	inter   []int
}

type opcodeDef struct {
	builtin schema.BuiltinOperator
	custom  string
	version int
}

// Builder accumulates a model. The zero value is not usable; call
// NewBuilder. Methods record the first error, which Bytes returns, so that
// a model can be described without checking every call.
//
// Tensors, operators, inputs and outputs go to the current subgraph:
// subgraph 0 ("main", the one run) until Subgraph starts another.
type Builder struct {
	// Description is written to Model.description.
	Description string

	// The current subgraph.
	tensors []tensorDef
	ops     []opDef
	inputs  []int
	outputs []int
	names   map[string]bool

	subgraphs []subgraphDef // subgraphs[cur] is stale until save
	cur       int
	opcodes   []opcodeDef
	buffers   [][]byte // buffers[0] is the empty sentinel TFLite requires
	err       error
}

type subgraphDef struct {
	name    string
	tensors []tensorDef
	ops     []opDef
	inputs  []int
	outputs []int
	names   map[string]bool
}

// NewBuilder returns an empty model builder.
func NewBuilder() *Builder {
	return &Builder{Description: "edged tflitetest", buffers: [][]byte{nil}, names: map[string]bool{},
		subgraphs: []subgraphDef{{name: "main"}}}
}

// save writes the current subgraph back to the list.
func (b *Builder) save() {
	b.subgraphs[b.cur] = subgraphDef{name: b.subgraphs[b.cur].name, tensors: b.tensors, ops: b.ops,
		inputs: b.inputs, outputs: b.outputs, names: b.names}
}

// Subgraph starts a new subgraph (e.g. the decomposition of a
// STABLEHLO_COMPOSITE) and returns its index; the calls that follow
// describe it. Tensor indices are per subgraph.
func (b *Builder) Subgraph(name string) int {
	b.save()
	b.subgraphs = append(b.subgraphs, subgraphDef{name: name})
	b.cur = len(b.subgraphs) - 1
	b.tensors, b.ops, b.inputs, b.outputs, b.names = nil, nil, nil, nil, map[string]bool{}
	return b.cur
}

// UseSubgraph makes subgraph i, started earlier, the current one again.
func (b *Builder) UseSubgraph(i int) {
	if i < 0 || i >= len(b.subgraphs) {
		b.fail("subgraph %d; there are %d", i, len(b.subgraphs))
		return
	}
	b.save()
	s := b.subgraphs[i]
	b.cur = i
	b.tensors, b.ops, b.inputs, b.outputs, b.names = s.tensors, s.ops, s.inputs, s.outputs, s.names
}

func (b *Builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("tflitetest: "+format, args...)
	}
}

// Tensor adds a tensor and returns its index. q may be nil (not
// quantized); data nil makes an activation tensor, non-nil a constant
// whose length must be the shape's element count times the type's size.
// An empty name is replaced by "t<index>"; names should be unique (the
// oracle matches inputs and outputs by name).
func (b *Builder) Tensor(name string, typ tensor.DType, shape []int, q *tensor.Quant, data []byte) int {
	idx := len(b.tensors)
	if name == "" {
		name = fmt.Sprintf("t%d", idx)
	}
	if b.names[name] {
		b.fail("tensor name %q used twice", name)
	}
	b.names[name] = true
	if _, err := tensorType(typ); err != nil {
		b.fail("tensor %q: %v", name, err)
	}
	for _, d := range shape {
		if d < 0 {
			b.fail("tensor %q: negative dimension in %v", name, shape)
		}
	}
	if q != nil {
		if len(q.Scale) == 0 {
			b.fail("tensor %q: quantization without scales", name)
		}
		if len(q.ZeroPoint) != 0 && len(q.ZeroPoint) != len(q.Scale) {
			b.fail("tensor %q: %d scales and %d zero points", name, len(q.Scale), len(q.ZeroPoint))
		}
		if len(q.Scale) > 1 && (q.Axis < 0 || q.Axis >= len(shape) || shape[q.Axis] != len(q.Scale)) {
			b.fail("tensor %q: %d per-channel scales on axis %d of shape %v", name, len(q.Scale), q.Axis, shape)
		}
	}
	buf := 0
	if data != nil {
		if want := tensor.NumElements(shape) * typ.Size(); len(data) != want {
			b.fail("tensor %q: %d data bytes; %s%v needs %d", name, len(data), typ, shape, want)
		}
		buf = len(b.buffers)
		b.buffers = append(b.buffers, data)
	}
	b.tensors = append(b.tensors, tensorDef{name: name, typ: typ, shape: append([]int(nil), shape...), quant: q, buffer: buf})
	return idx
}

// Const is Tensor with data, for readability at call sites.
func (b *Builder) Const(name string, typ tensor.DType, shape []int, q *tensor.Quant, data []byte) int {
	if data == nil {
		data = []byte{}
	}
	return b.Tensor(name, typ, shape, q, data)
}

// Variable adds a variable (state) tensor and returns its index: no data,
// is_variable set, kept by the runtime from one invocation to the next.
func (b *Builder) Variable(name string, typ tensor.DType, shape []int, q *tensor.Quant) int {
	i := b.Tensor(name, typ, shape, q, nil)
	b.tensors[i].variable = true
	return i
}

// Intermediates sets the intermediate tensors of operator op (TFLite's
// quantized LSTM reads their quantization parameters).
func (b *Builder) Intermediates(op int, idx ...int) {
	if op < 0 || op >= len(b.ops) {
		b.fail("intermediates of operator %d; there are %d", op, len(b.ops))
		return
	}
	b.checkIO("intermediate", idx, false)
	b.ops[op].inter = append([]int(nil), idx...)
}

func (b *Builder) opcode(c opcodeDef) int {
	for i, o := range b.opcodes {
		if o == c {
			return i
		}
	}
	b.opcodes = append(b.opcodes, c)
	return len(b.opcodes) - 1
}

func (b *Builder) checkIO(what string, idx []int, optional bool) {
	for _, i := range idx {
		if i == NoInput && optional {
			continue
		}
		if i < 0 || i >= len(b.tensors) {
			b.fail("%s refers to tensor %d; there are %d", what, i, len(b.tensors))
		}
	}
}

// Op adds a builtin operator and returns its index. opts may be nil (no
// options table).
func (b *Builder) Op(code schema.BuiltinOperator, version int, inputs, outputs []int, opts Options) int {
	if code == schema.BuiltinOperatorCUSTOM {
		b.fail("use Custom for custom operators")
	}
	b.checkIO(code.String()+" input", inputs, true)
	b.checkIO(code.String()+" output", outputs, false)
	b.ops = append(b.ops, opDef{
		opcode:  b.opcode(opcodeDef{builtin: code, version: version}),
		inputs:  append([]int(nil), inputs...),
		outputs: append([]int(nil), outputs...),
		opts:    opts,
	})
	return len(b.ops) - 1
}

// Op2 adds a builtin operator whose options are in builtin_options_2 (the
// StableHLO operators) and returns its index.
func (b *Builder) Op2(code schema.BuiltinOperator, version int, inputs, outputs []int, opts Options2) int {
	i := b.Op(code, version, inputs, outputs, nil)
	b.ops[i].opts2 = opts
	return i
}

// Custom adds a custom operator with the given custom code and raw
// custom_options (FlexBuffers format), and returns its index.
func (b *Builder) Custom(name string, version int, inputs, outputs []int, customOptions []byte) int {
	b.checkIO("custom "+name+" input", inputs, true)
	b.checkIO("custom "+name+" output", outputs, false)
	b.ops = append(b.ops, opDef{
		opcode:  b.opcode(opcodeDef{builtin: schema.BuiltinOperatorCUSTOM, custom: name, version: version}),
		inputs:  append([]int(nil), inputs...),
		outputs: append([]int(nil), outputs...),
		custom:  customOptions,
		isCust:  true,
	})
	return len(b.ops) - 1
}

// Inputs appends subgraph inputs (in the order the model takes them).
func (b *Builder) Inputs(idx ...int) {
	b.checkIO("subgraph input", idx, false)
	b.inputs = append(b.inputs, idx...)
}

// Outputs appends subgraph outputs.
func (b *Builder) Outputs(idx ...int) {
	b.checkIO("subgraph output", idx, false)
	b.outputs = append(b.outputs, idx...)
}

// Bytes serialises the model (file identifier "TFL3", schema version 3).
func (b *Builder) Bytes() (data []byte, err error) {
	if b.err != nil {
		return nil, b.err
	}
	b.save()
	if len(b.subgraphs[0].ops) == 0 {
		return nil, fmt.Errorf("tflitetest: model has no operators")
	}
	defer func() {
		// The flatbuffers builder panics on misuse (e.g. an Options func
		// that leaves a table open); report it as an error.
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("tflitetest: building flatbuffer: %v", r)
		}
	}()
	fb := flatbuffers.NewBuilder(1024)

	// Buffers.
	bufOffs := make([]flatbuffers.UOffsetT, len(b.buffers))
	for i, d := range b.buffers {
		var dv flatbuffers.UOffsetT
		if i > 0 {
			fb.Prep(16, len(d)) // align the data itself to 16 bytes
			dv = fb.CreateByteVector(d)
		}
		schema.BufferStart(fb)
		if i > 0 {
			schema.BufferAddData(fb, dv)
		}
		bufOffs[i] = schema.BufferEnd(fb)
	}
	buffers := offsetVector(fb, bufOffs)

	sgOffs := make([]flatbuffers.UOffsetT, len(b.subgraphs))
	for i, sg := range b.subgraphs {
		sgOffs[i] = b.subgraphBytes(fb, &sg)
	}
	subgraphs := offsetVector(fb, sgOffs)

	// Operator codes: codes above 127 go in builtin_code, with the
	// deprecated int8 field set to PLACEHOLDER_FOR_GREATER_OP_CODES.
	cOffs := make([]flatbuffers.UOffsetT, len(b.opcodes))
	for i, c := range b.opcodes {
		var cc flatbuffers.UOffsetT
		if c.custom != "" {
			cc = fb.CreateString(c.custom)
		}
		dep := int8(schema.BuiltinOperatorPLACEHOLDER_FOR_GREATER_OP_CODES)
		if c.builtin < schema.BuiltinOperatorPLACEHOLDER_FOR_GREATER_OP_CODES {
			dep = int8(c.builtin)
		}
		schema.OperatorCodeStart(fb)
		schema.OperatorCodeAddDeprecatedBuiltinCode(fb, dep)
		if cc != 0 {
			schema.OperatorCodeAddCustomCode(fb, cc)
		}
		schema.OperatorCodeAddVersion(fb, int32(max(c.version, 1)))
		schema.OperatorCodeAddBuiltinCode(fb, c.builtin)
		cOffs[i] = schema.OperatorCodeEnd(fb)
	}
	opcodes := offsetVector(fb, cOffs)

	desc := fb.CreateString(b.Description)
	schema.ModelStart(fb)
	schema.ModelAddVersion(fb, 3)
	schema.ModelAddOperatorCodes(fb, opcodes)
	schema.ModelAddSubgraphs(fb, subgraphs)
	schema.ModelAddDescription(fb, desc)
	schema.ModelAddBuffers(fb, buffers)
	fb.FinishWithFileIdentifier(schema.ModelEnd(fb), []byte("TFL3"))
	return append([]byte(nil), fb.FinishedBytes()...), nil
}

// subgraphBytes serialises one subgraph and returns its table.
func (b *Builder) subgraphBytes(fb *flatbuffers.Builder, sg *subgraphDef) flatbuffers.UOffsetT {
	// Tensors.
	tOffs := make([]flatbuffers.UOffsetT, len(sg.tensors))
	for i, t := range sg.tensors {
		name := fb.CreateString(t.name)
		shape := int32Vector(fb, t.shape)
		var quant flatbuffers.UOffsetT
		if t.quant != nil {
			scale := float32Vector(fb, t.quant.Scale)
			var zp flatbuffers.UOffsetT
			if len(t.quant.ZeroPoint) > 0 {
				fb.StartVector(8, len(t.quant.ZeroPoint), 8)
				for j := len(t.quant.ZeroPoint) - 1; j >= 0; j-- {
					fb.PrependInt64(int64(t.quant.ZeroPoint[j]))
				}
				zp = fb.EndVector(len(t.quant.ZeroPoint))
			}
			schema.QuantizationParametersStart(fb)
			schema.QuantizationParametersAddScale(fb, scale)
			if zp != 0 {
				schema.QuantizationParametersAddZeroPoint(fb, zp)
			}
			schema.QuantizationParametersAddQuantizedDimension(fb, int32(t.quant.Axis))
			quant = schema.QuantizationParametersEnd(fb)
		}
		var sparsity flatbuffers.UOffsetT
		if t.sparsity != nil {
			sparsity = t.sparsity.build(fb)
		}
		tt, _ := tensorType(t.typ)
		schema.TensorStart(fb)
		schema.TensorAddShape(fb, shape)
		schema.TensorAddType(fb, tt)
		schema.TensorAddBuffer(fb, uint32(t.buffer))
		schema.TensorAddName(fb, name)
		if quant != 0 {
			schema.TensorAddQuantization(fb, quant)
		}
		if t.variable {
			schema.TensorAddIsVariable(fb, true)
		}
		if sparsity != 0 {
			schema.TensorAddSparsity(fb, sparsity)
		}
		tOffs[i] = schema.TensorEnd(fb)
	}
	tensors := offsetVector(fb, tOffs)

	// Operators.
	oOffs := make([]flatbuffers.UOffsetT, len(sg.ops))
	for i, op := range sg.ops {
		ins := int32Vector(fb, op.inputs)
		outs := int32Vector(fb, op.outputs)
		var inter flatbuffers.UOffsetT
		if len(op.inter) > 0 {
			inter = int32Vector(fb, op.inter)
		}
		var optType schema.BuiltinOptions
		var optType2 schema.BuiltinOptions2
		var opt, opt2, cust flatbuffers.UOffsetT
		if op.opts != nil {
			optType, opt = op.opts(fb)
		}
		if op.opts2 != nil {
			optType2, opt2 = op.opts2(fb)
		}
		if op.isCust && len(op.custom) > 0 {
			cust = fb.CreateByteVector(op.custom)
		}
		schema.OperatorStart(fb)
		schema.OperatorAddOpcodeIndex(fb, uint32(op.opcode))
		schema.OperatorAddInputs(fb, ins)
		schema.OperatorAddOutputs(fb, outs)
		if op.opts != nil {
			schema.OperatorAddBuiltinOptionsType(fb, optType)
			schema.OperatorAddBuiltinOptions(fb, opt)
		}
		if op.opts2 != nil {
			schema.OperatorAddBuiltinOptions2Type(fb, optType2)
			schema.OperatorAddBuiltinOptions2(fb, opt2)
		}
		if inter != 0 {
			schema.OperatorAddIntermediates(fb, inter)
		}
		if cust != 0 {
			schema.OperatorAddCustomOptions(fb, cust)
			schema.OperatorAddCustomOptionsFormat(fb, schema.CustomOptionsFormatFLEXBUFFERS)
		}
		oOffs[i] = schema.OperatorEnd(fb)
	}
	operators := offsetVector(fb, oOffs)

	sgInputs := int32Vector(fb, sg.inputs)
	sgOutputs := int32Vector(fb, sg.outputs)
	sgName := fb.CreateString(sg.name)
	schema.SubGraphStart(fb)
	schema.SubGraphAddTensors(fb, tensors)
	schema.SubGraphAddInputs(fb, sgInputs)
	schema.SubGraphAddOutputs(fb, sgOutputs)
	schema.SubGraphAddOperators(fb, operators)
	schema.SubGraphAddName(fb, sgName)
	return schema.SubGraphEnd(fb)
}

func offsetVector(fb *flatbuffers.Builder, offs []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	fb.StartVector(4, len(offs), 4)
	for i := len(offs) - 1; i >= 0; i-- {
		fb.PrependUOffsetT(offs[i])
	}
	return fb.EndVector(len(offs))
}

func int32Vector(fb *flatbuffers.Builder, v []int) flatbuffers.UOffsetT {
	fb.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		fb.PrependInt32(int32(v[i]))
	}
	return fb.EndVector(len(v))
}

func float32Vector(fb *flatbuffers.Builder, v []float32) flatbuffers.UOffsetT {
	fb.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		fb.PrependFloat32(v[i])
	}
	return fb.EndVector(len(v))
}

func tensorType(t tensor.DType) (schema.TensorType, error) {
	switch t {
	case tensor.Float32:
		return schema.TensorTypeFLOAT32, nil
	case tensor.Float16:
		return schema.TensorTypeFLOAT16, nil
	case tensor.Float64:
		return schema.TensorTypeFLOAT64, nil
	case tensor.Int8:
		return schema.TensorTypeINT8, nil
	case tensor.UInt8:
		return schema.TensorTypeUINT8, nil
	case tensor.Int16:
		return schema.TensorTypeINT16, nil
	case tensor.UInt16:
		return schema.TensorTypeUINT16, nil
	case tensor.Int32:
		return schema.TensorTypeINT32, nil
	case tensor.UInt32:
		return schema.TensorTypeUINT32, nil
	case tensor.Int64:
		return schema.TensorTypeINT64, nil
	case tensor.UInt64:
		return schema.TensorTypeUINT64, nil
	case tensor.Bool:
		return schema.TensorTypeBOOL, nil
	case tensor.String:
		return schema.TensorTypeSTRING, nil
	case tensor.Complex64:
		return schema.TensorTypeCOMPLEX64, nil
	case tensor.Int4:
		return schema.TensorTypeINT4, nil
	case tensor.Resource:
		return schema.TensorTypeRESOURCE, nil
	case tensor.Variant:
		return schema.TensorTypeVARIANT, nil
	}
	return 0, fmt.Errorf("no TFLite tensor type for %s", t)
}

// Float32Bytes encodes values as little-endian float32.
func Float32Bytes(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

// Int32Bytes encodes values as little-endian int32.
func Int32Bytes(v []int32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], uint32(x))
	}
	return out
}

// Int64Bytes encodes values as little-endian int64.
func Int64Bytes(v []int64) []byte {
	out := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(out[8*i:], uint64(x))
	}
	return out
}

// Int16Bytes encodes values as little-endian int16.
func Int16Bytes(v []int16) []byte {
	out := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(x))
	}
	return out
}

// Int8Bytes encodes int8 values.
func Int8Bytes(v []int8) []byte {
	out := make([]byte, len(v))
	for i, x := range v {
		out[i] = byte(x)
	}
	return out
}

// BoolBytes encodes bools as one byte each (0 or 1).
func BoolBytes(v []bool) []byte {
	out := make([]byte, len(v))
	for i, x := range v {
		if x {
			out[i] = 1
		}
	}
	return out
}

// ShapeBytes encodes a shape as int32 values, for shape operands such as
// RESHAPE's second input.
func ShapeBytes(shape []int) []byte {
	v := make([]int32, len(shape))
	for i, d := range shape {
		v[i] = int32(d)
	}
	return Int32Bytes(v)
}
