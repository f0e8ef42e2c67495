package tflite

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os"
	"unsafe"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Errors returned (wrapped) by Load and NewInterpreter.
var (
	// ErrMalformed means the file is not a well-formed TFLite flatbuffer or
	// breaks one of the schema's invariants (an index out of range, a
	// buffer of the wrong size...).
	ErrMalformed = errors.New("malformed model")
	// ErrUnsupportedOp means the model uses an operator, or an operator
	// version, that this runtime does not implement.
	ErrUnsupportedOp = errors.New("unsupported op")
)

// MaxModelSize bounds the files Load accepts (flatbuffers address 2 GiB).
const MaxModelSize = 1<<31 - 1

// Model is a loaded, validated TFLite model. It is immutable and may be
// shared by any number of interpreters.
type Model struct {
	data      []byte // the file; schema accessors read it
	Version   uint32
	SHA256    [32]byte
	Subgraphs []*Subgraph
	// Signatures lists the model's signature defs (e.g. serving_default).
	Signatures  []Signature
	Description string
	opcodes     []opcode
	buffers     [][]byte
	// denseBytes counts the bytes the sparse constants took when
	// densified (bounded, see sparse.go).
	denseBytes int
	Metadata   map[string][]byte
}

// Subgraph is one graph of the model; subgraph 0 is the one run.
type Subgraph struct {
	Name      string
	Tensors   []TensorInfo
	Inputs    []int
	Outputs   []int
	Operators []Operator
}

// TensorInfo describes a tensor as the file declares it.
type TensorInfo struct {
	Name string
	Type tensor.DType
	// Shape as stored; nil when the file gives none (the kernel sets it).
	Shape []int
	// ShapeSignature has -1 for dimensions that may vary (e.g. batch).
	ShapeSignature []int
	Quant          *tensor.Quant
	// Data is the constant content, nil for activations.
	Data []byte
	// Sparse marks a constant stored sparse in the file (Data holds its
	// dense form, which the loader computed).
	Sparse bool
	// IsVariable marks a state tensor (e.g. an LSTM's hidden and cell
	// state): it has no data in the file, survives from one Invoke to
	// the next and is reset by Interpreter.ResetVariables.
	IsVariable bool
}

// Operator is one node of a subgraph.
type Operator struct {
	Opcode  int
	Inputs  []int // -1 marks an omitted optional input
	Outputs []int
	// Intermediates are tensors some quantized kernels read only the
	// quantization parameters of (an LSTM's effective hidden scale).
	Intermediates []int
	op            schema.Operator
	custom        []byte
	// unproduced is set when a custom operator reads a tensor that is
	// neither a constant, a graph input nor an earlier operator's output
	// (an accelerator's scratch area, as in Ethos-U compiled models): the
	// operator cannot run here, but the model still loads so that what
	// is missing can be reported.
	unproduced error
}

type opcode struct {
	builtin schema.BuiltinOperator
	custom  string
	version int32
}

func (c opcode) String() string {
	if c.builtin == schema.BuiltinOperatorCUSTOM {
		return fmt.Sprintf("CUSTOM %q", c.custom)
	}
	return c.builtin.String()
}

// Signature maps names to tensor indices of a subgraph.
type Signature struct {
	Key      string
	Subgraph int
	Inputs   []SignatureTensor
	Outputs  []SignatureTensor
}

// SignatureTensor is one named input or output of a signature.
type SignatureTensor struct {
	Name   string
	Tensor int
}

// LoadFile reads and loads a model file.
func LoadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading the model: %w", err)
	}
	m, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Load parses and validates a TFLite flatbuffer. The model keeps data; the
// caller must not modify it afterwards. Every offset, length, index, shape
// and buffer size is checked, and every operator must be one this runtime
// implements; nothing in data can make Load panic.
func Load(data []byte) (*Model, error) {
	m, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if err := m.CheckOps(); err != nil {
		return nil, fmt.Errorf("loading the model: %w", err)
	}
	return m, nil
}

// Decode parses and validates the structure of a TFLite flatbuffer like
// Load, but accepts operators this runtime cannot run, so that tools can
// describe any model. CheckOps tells whether it can run.
func Decode(data []byte) (m *Model, err error) {
	defer func() {
		// Backstop: the verifier should make this unreachable. Reaching it
		// is a bug (the fuzz test fails on "internal error").
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("loading the model: %w: internal error while decoding: %v", ErrMalformed, r)
		}
	}()
	if len(data) > MaxModelSize {
		return nil, fmt.Errorf("loading the model: %w: %d bytes is larger than the 2 GiB a flatbuffer can address", ErrMalformed, len(data))
	}
	if err := verify(data); err != nil {
		return nil, fmt.Errorf("loading the model: %w: %w", ErrMalformed, err)
	}
	m = &Model{data: data, SHA256: sha256.Sum256(data)}
	if err := m.decode(); err != nil {
		return nil, fmt.Errorf("loading the model: %w", err)
	}
	return m, nil
}

func malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func (m *Model) decode() error {
	fm := schema.GetRootAsModel(m.data, 0)
	m.Version = fm.Version()
	m.Description = string(fm.Description())
	if m.Version != 3 {
		return malformedf("schema version %d; want 3", m.Version)
	}

	// Buffers first: tensors point into them.
	var fb schema.Buffer
	m.buffers = make([][]byte, fm.BuffersLength())
	for i := range m.buffers {
		if !fm.Buffers(&fb, i) {
			return malformedf("buffer %d missing", i)
		}
		var b []byte
		if off, size := fb.Offset(), fb.Size(); off > 1 {
			if off > uint64(len(m.data)) || size > uint64(len(m.data))-off {
				return malformedf("buffer %d: external data [%d, +%d) outside the %d-byte file", i, off, size, len(m.data))
			}
			b = m.data[off : off+size : off+size]
		} else {
			b = fb.DataBytes()
		}
		m.buffers[i] = b
	}

	var oc schema.OperatorCode
	m.opcodes = make([]opcode, fm.OperatorCodesLength())
	for i := range m.opcodes {
		if !fm.OperatorCodes(&oc, i) {
			return malformedf("operator code %d missing", i)
		}
		code := schema.BuiltinOperator(oc.DeprecatedBuiltinCode())
		if b := oc.BuiltinCode(); b > code {
			code = b
		}
		m.opcodes[i] = opcode{builtin: code, custom: string(oc.CustomCode()), version: oc.Version()}
		if m.opcodes[i].version < 1 {
			m.opcodes[i].version = 1
		}
	}

	if fm.SubgraphsLength() == 0 {
		return malformedf("no subgraphs")
	}
	var fsg schema.SubGraph
	m.Subgraphs = make([]*Subgraph, fm.SubgraphsLength())
	for i := range m.Subgraphs {
		if !fm.Subgraphs(&fsg, i) {
			return malformedf("subgraph %d missing", i)
		}
		sg, err := m.decodeSubgraph(&fsg)
		if err != nil {
			return fmt.Errorf("subgraph %d: %w", i, err)
		}
		m.Subgraphs[i] = sg
	}
	if err := m.inlineComposites(); err != nil {
		return err
	}

	var sd schema.SignatureDef
	var tm schema.TensorMap
	for i := 0; i < fm.SignatureDefsLength(); i++ {
		fm.SignatureDefs(&sd, i)
		s := Signature{Key: string(sd.SignatureKey())}
		if sd.SubgraphIndex() >= uint32(len(m.Subgraphs)) {
			return malformedf("signature %q: subgraph %d of %d", s.Key, sd.SubgraphIndex(), len(m.Subgraphs))
		}
		s.Subgraph = int(sd.SubgraphIndex())
		nt := len(m.Subgraphs[s.Subgraph].Tensors)
		for j := 0; j < sd.InputsLength(); j++ {
			sd.Inputs(&tm, j)
			if tm.TensorIndex() >= uint32(nt) {
				return malformedf("signature %q input %d: tensor %d of %d", s.Key, j, tm.TensorIndex(), nt)
			}
			s.Inputs = append(s.Inputs, SignatureTensor{Name: string(tm.Name()), Tensor: int(tm.TensorIndex())})
		}
		for j := 0; j < sd.OutputsLength(); j++ {
			sd.Outputs(&tm, j)
			if tm.TensorIndex() >= uint32(nt) {
				return malformedf("signature %q output %d: tensor %d of %d", s.Key, j, tm.TensorIndex(), nt)
			}
			s.Outputs = append(s.Outputs, SignatureTensor{Name: string(tm.Name()), Tensor: int(tm.TensorIndex())})
		}
		m.Signatures = append(m.Signatures, s)
	}

	var md schema.Metadata
	for i := 0; i < fm.MetadataLength(); i++ {
		fm.Metadata(&md, i)
		if md.Buffer() < uint32(len(m.buffers)) {
			if m.Metadata == nil {
				m.Metadata = map[string][]byte{}
			}
			m.Metadata[string(md.Name())] = m.buffers[md.Buffer()]
		}
	}
	return nil
}

func (m *Model) decodeSubgraph(fsg *schema.SubGraph) (*Subgraph, error) {
	sg := &Subgraph{Name: string(fsg.Name())}
	var ft schema.Tensor
	var fq schema.QuantizationParameters
	sg.Tensors = make([]TensorInfo, fsg.TensorsLength())
	for i := range sg.Tensors {
		if !fsg.Tensors(&ft, i) {
			return nil, malformedf("tensor %d missing", i)
		}
		t, err := m.decodeTensor(&ft, &fq)
		if err != nil {
			return nil, fmt.Errorf("tensor %d %q: %w", i, ft.Name(), err)
		}
		sg.Tensors[i] = t
	}
	nt := len(sg.Tensors)
	idx := func(what string, v int32, optional bool) (int, error) {
		if v == -1 && optional {
			return -1, nil
		}
		if v < 0 || int(v) >= nt {
			return 0, malformedf("%s refers to tensor %d; the subgraph has %d", what, v, nt)
		}
		return int(v), nil
	}
	for i := 0; i < fsg.InputsLength(); i++ {
		v, err := idx(fmt.Sprintf("input %d", i), fsg.Inputs(i), false)
		if err != nil {
			return nil, err
		}
		sg.Inputs = append(sg.Inputs, v)
	}
	for i := 0; i < fsg.OutputsLength(); i++ {
		v, err := idx(fmt.Sprintf("output %d", i), fsg.Outputs(i), false)
		if err != nil {
			return nil, err
		}
		sg.Outputs = append(sg.Outputs, v)
	}
	sg.Operators = make([]Operator, fsg.OperatorsLength())
	for i := range sg.Operators {
		op := &sg.Operators[i]
		if !fsg.Operators(&op.op, i) {
			return nil, malformedf("operator %d missing", i)
		}
		if op.op.OpcodeIndex() >= uint32(len(m.opcodes)) {
			return nil, malformedf("operator %d: opcode index %d; the model has %d", i, op.op.OpcodeIndex(), len(m.opcodes))
		}
		op.Opcode = int(op.op.OpcodeIndex())
		for j := 0; j < op.op.InputsLength(); j++ {
			v, err := idx(fmt.Sprintf("operator %d (%s) input %d", i, m.opcodes[op.Opcode], j), op.op.Inputs(j), true)
			if err != nil {
				return nil, err
			}
			op.Inputs = append(op.Inputs, v)
		}
		for j := 0; j < op.op.OutputsLength(); j++ {
			v, err := idx(fmt.Sprintf("operator %d (%s) output %d", i, m.opcodes[op.Opcode], j), op.op.Outputs(j), false)
			if err != nil {
				return nil, err
			}
			op.Outputs = append(op.Outputs, v)
		}
		for j := 0; j < op.op.IntermediatesLength(); j++ {
			v, err := idx(fmt.Sprintf("operator %d (%s) intermediate %d", i, m.opcodes[op.Opcode], j), op.op.Intermediates(j), false)
			if err != nil {
				return nil, err
			}
			op.Intermediates = append(op.Intermediates, v)
		}
		if off, size := op.op.LargeCustomOptionsOffset(), op.op.LargeCustomOptionsSize(); off > 1 {
			if off > uint64(len(m.data)) || size > uint64(len(m.data))-off {
				return nil, malformedf("operator %d: custom options [%d, +%d) outside the file", i, off, size)
			}
			op.custom = m.data[off : off+size : off+size]
		} else {
			op.custom = op.op.CustomOptionsBytes()
		}
	}
	custom := make([]bool, len(m.opcodes))
	for i, c := range m.opcodes {
		custom[i] = c.builtin == schema.BuiltinOperatorCUSTOM
	}
	if err := checkDataflow(sg, custom); err != nil {
		return nil, err
	}
	return sg, nil
}

// checkDataflow requires the operators to be in execution order: every
// tensor an operator reads is a constant, a graph input or the output of
// an earlier operator, and every tensor is produced at most once and never
// when it is a constant or a graph input. Kernels rely on it (their
// shapes are fixed at prepare time in this order).
//
// custom marks the opcodes of custom operators: one of those may read a
// tensor nobody produces (a scratch area); that is recorded on the
// operator and refused when it is prepared.
func checkDataflow(sg *Subgraph, custom []bool) error {
	const (
		unset = iota
		available
	)
	state := make([]uint8, len(sg.Tensors))
	for i, t := range sg.Tensors {
		if t.Data != nil {
			state[i] = available
		}
	}
	for _, t := range sg.Inputs {
		state[t] = available
	}
	for oi := range sg.Operators {
		op := &sg.Operators[oi]
		for j, t := range op.Inputs {
			if t >= 0 && state[t] != available && !sg.Tensors[t].IsVariable {
				err := malformedf("operator %d input %d reads tensor %d %q before any operator produces it", oi, j, t, sg.Tensors[t].Name)
				if !custom[op.Opcode] {
					return err
				}
				if op.unproduced == nil {
					op.unproduced = err
				}
			}
		}
		for j, t := range op.Outputs {
			if state[t] == available {
				return malformedf("operator %d output %d writes tensor %d %q, which is a constant, a graph input or already produced", oi, j, t, sg.Tensors[t].Name)
			}
			state[t] = available
		}
	}
	for k, t := range sg.Outputs {
		if state[t] != available {
			return malformedf("graph output %d (tensor %d %q) is never produced", k, t, sg.Tensors[t].Name)
		}
	}
	return nil
}

const maxRank = 8

func (m *Model) decodeTensor(ft *schema.Tensor, fq *schema.QuantizationParameters) (TensorInfo, error) {
	t := TensorInfo{Name: string(ft.Name()), IsVariable: ft.IsVariable()}
	var err error
	if t.Type, err = dtypeOf(ft.Type()); err != nil {
		return t, err
	}
	if n := ft.ShapeLength(); n > 0 {
		if n > maxRank {
			return t, malformedf("rank %d; at most %d is supported", n, maxRank)
		}
		t.Shape = make([]int, n)
		elems := int64(1)
		for i := range t.Shape {
			d := ft.Shape(i)
			if d < 0 {
				// -1 in the shape itself happens in some exports; treat as 1
				// (the signature says it varies).
				if d != -1 {
					return t, malformedf("dimension %d is %d", i, d)
				}
				d = 1
			}
			t.Shape[i] = int(d)
			elems *= int64(d)
			if elems > math.MaxInt32 {
				return t, malformedf("shape %v has more than 2^31 elements", t.Shape)
			}
		}
	}
	if n := ft.ShapeSignatureLength(); n > 0 {
		if n != len(t.Shape) {
			return t, malformedf("shape_signature has rank %d; shape has %d", n, len(t.Shape))
		}
		t.ShapeSignature = make([]int, n)
		for i := range t.ShapeSignature {
			t.ShapeSignature[i] = int(ft.ShapeSignature(i))
		}
	}
	if ft.Buffer() >= uint32(len(m.buffers)) && ft.Buffer() != 0 {
		return t, malformedf("buffer %d; the model has %d", ft.Buffer(), len(m.buffers))
	}
	var fsp schema.SparsityParameters
	if sp := ft.Sparsity(&fsp); sp != nil {
		if err := m.decodeSparse(&t, sp, int(ft.Buffer())); err != nil {
			return t, err
		}
	} else if b := int(ft.Buffer()); b != 0 {
		if data := m.buffers[b]; len(data) > 0 {
			if t.IsVariable {
				// TFLite refuses it too: a variable starts from zero.
				return t, malformedf("variable tensor with constant data (buffer %d); variables start from zero and may not have an initial value", b)
			}
			if t.Type.Size() == 0 {
				return t, fmt.Errorf("%w: constant %s tensors", ErrUnsupportedOp, t.Type)
			}
			want := tensor.NumElements(t.Shape) * t.Type.Size()
			if len(data) != want {
				return t, malformedf("buffer %d holds %d bytes; shape %v of %s needs %d", b, len(data), t.Shape, t.Type, want)
			}
			t.Data = aligned(data, t.Type.Size())
		}
	}
	if q := ft.Quantization(fq); q != nil && q.ScaleLength() > 0 {
		quant, err := decodeQuant(q, t.Shape)
		if err != nil {
			return t, err
		}
		t.Quant = quant
	}
	return t, nil
}

func decodeQuant(q *schema.QuantizationParameters, shape []int) (*tensor.Quant, error) {
	ns, nz := q.ScaleLength(), q.ZeroPointLength()
	if nz != 0 && nz != ns {
		return nil, malformedf("quantization has %d scales and %d zero points", ns, nz)
	}
	quant := &tensor.Quant{Scale: make([]float32, ns), ZeroPoint: make([]int32, ns)}
	for i := 0; i < ns; i++ {
		s := q.Scale(i)
		if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) || s < 0 {
			return nil, malformedf("quantization scale %d is %g", i, s)
		}
		quant.Scale[i] = s
		if nz > 0 {
			z := q.ZeroPoint(i)
			if z < math.MinInt32 || z > math.MaxInt32 {
				return nil, malformedf("zero point %d is %d", i, z)
			}
			quant.ZeroPoint[i] = int32(z)
		}
	}
	axis := int(q.QuantizedDimension())
	switch {
	case ns == 1:
		axis = 0
	case len(shape) == 1:
		// Real files (person_detect.tflite) carry quantized_dimension 3 on
		// rank-1 bias tensors; dimension 0 is the only valid one.
		axis = 0
	case axis < 0 || axis >= len(shape):
		return nil, malformedf("quantized_dimension %d out of range for rank %d", axis, len(shape))
	}
	if ns > 1 && (len(shape) == 0 || shape[axis] != ns) {
		return nil, malformedf("%d per-channel scales for dimension %d of shape %v", ns, axis, shape)
	}
	quant.Axis = axis
	return quant, nil
}

// aligned returns b, or a copy of it when its start is not aligned to size
// (views in package tensor need aligned data).
func aligned(b []byte, size int) []byte {
	if size <= 1 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%uintptr(size) == 0 {
		return b
	}
	c := alignedBytes(len(b))
	copy(c, b)
	return c
}

// alignedBytes allocates n bytes aligned to 64.
func alignedBytes(n int) []byte {
	const align = 64
	raw := make([]byte, n+align)
	off := int(uintptr(align)-uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%align) % align
	return raw[off : off+n : off+n]
}

func dtypeOf(t schema.TensorType) (tensor.DType, error) {
	switch t {
	case schema.TensorTypeFLOAT32:
		return tensor.Float32, nil
	case schema.TensorTypeFLOAT16:
		return tensor.Float16, nil
	case schema.TensorTypeFLOAT64:
		return tensor.Float64, nil
	case schema.TensorTypeINT8:
		return tensor.Int8, nil
	case schema.TensorTypeUINT8:
		return tensor.UInt8, nil
	case schema.TensorTypeINT16:
		return tensor.Int16, nil
	case schema.TensorTypeUINT16:
		return tensor.UInt16, nil
	case schema.TensorTypeINT32:
		return tensor.Int32, nil
	case schema.TensorTypeUINT32:
		return tensor.UInt32, nil
	case schema.TensorTypeINT64:
		return tensor.Int64, nil
	case schema.TensorTypeUINT64:
		return tensor.UInt64, nil
	case schema.TensorTypeBOOL:
		return tensor.Bool, nil
	case schema.TensorTypeSTRING:
		return tensor.String, nil
	case schema.TensorTypeCOMPLEX64:
		return tensor.Complex64, nil
	case schema.TensorTypeINT4:
		return tensor.Int4, nil
	case schema.TensorTypeRESOURCE:
		return tensor.Resource, nil
	case schema.TensorTypeVARIANT:
		return tensor.Variant, nil
	}
	return tensor.Invalid, fmt.Errorf("%w: tensor type %s", ErrUnsupportedOp, t)
}

// CheckOps reports the first operator this runtime cannot run (an error
// wrapping ErrUnsupportedOp that names it), or nil.
func (m *Model) CheckOps() error {
	for si, sg := range m.Subgraphs {
		for oi := range sg.Operators {
			op := &sg.Operators[oi]
			c := m.opcodes[op.Opcode]
			if _, err := lookupOp(c); err != nil {
				return fmt.Errorf("subgraph %d operator %d: %w", si, oi, err)
			}
			if err := m.checkOperands(sg, op, c); err != nil {
				return fmt.Errorf("subgraph %d operator %d (%s): %w", si, oi, c, err)
			}
		}
	}
	return nil
}

func (m *Model) checkOperands(sg *Subgraph, op *Operator, c opcode) error {
	if op.unproduced != nil {
		return op.unproduced
	}
	for _, o := range op.Outputs {
		if sg.Tensors[o].Data != nil {
			return malformedf("output tensor %d %q is a constant", o, sg.Tensors[o].Name)
		}
	}
	return nil
}

// OpName is the name of an operator: the builtin's name, or the custom
// code for custom operators.
func (m *Model) OpName(op *Operator) string {
	c := m.opcodes[op.Opcode]
	if c.builtin == schema.BuiltinOperatorCUSTOM {
		return c.custom
	}
	return c.builtin.String()
}

// OpVersion is the version the file declares for the operator.
func (m *Model) OpVersion(op *Operator) int { return int(m.opcodes[op.Opcode].version) }

// emptyTable is a flatbuffer table with no fields: options objects
// initialised on it return their schema defaults.
var emptyTable = []byte{4, 0, 4, 0, 4, 0, 0, 0}

// optionsObject is implemented by every generated options table.
type optionsObject interface {
	Init(buf []byte, i flatbuffers.UOffsetT)
}

// builtinOptions initialises obj on the operator's builtin options, or on
// an empty table (schema defaults) when the operator has none. It fails
// when the options are of another type than want.
func (op *Operator) builtinOptions(obj optionsObject, want schema.BuiltinOptions) error {
	got := op.op.BuiltinOptionsType()
	if got == schema.BuiltinOptionsNONE {
		obj.Init(emptyTable, 4)
		return nil
	}
	if got != want {
		return malformedf("builtin options are %s; want %s", got, want)
	}
	var tbl flatbuffers.Table
	if !op.op.BuiltinOptions(&tbl) {
		obj.Init(emptyTable, 4)
		return nil
	}
	obj.Init(tbl.Bytes, tbl.Pos)
	return nil
}

// CustomOptions returns the raw custom options of a custom operator.
func (op *Operator) CustomOptions() []byte { return op.custom }
