package tflite

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
)

// Arithmetic selects how quantized kernels round. Float kernels are the
// same in both (within float32 rounding of the summation order).
type Arithmetic int

const (
	// LiteRT, the default, is the arithmetic of LiteRT's (TFLite's) CPU
	// path: XNNPACK's for the operators its delegate takes (float32
	// requantization), TFLite's builtin kernels' for the rest. Quantized
	// outputs are bit-exact with the official runtime.
	LiteRT Arithmetic = iota
	// Reference is TFLite's reference kernels' fixed-point arithmetic,
	// bit-exact with TFLite Micro.
	Reference
)

func (a Arithmetic) String() string {
	switch a {
	case LiteRT:
		return "litert"
	case Reference:
		return "reference"
	}
	return fmt.Sprintf("arithmetic(%d)", int(a))
}

// kernel returns the kernels' name for a.
func (a Arithmetic) kernel() kernels.Arithmetic {
	if a == Reference {
		return kernels.Reference
	}
	return kernels.LiteRT
}

// ParseArithmetic reads an arithmetic's name: "litert" or "reference"
// (any case); the empty string is the default, LiteRT.
func ParseArithmetic(s string) (Arithmetic, error) {
	switch strings.ToLower(s) {
	case "", "litert":
		return LiteRT, nil
	case "reference":
		return Reference, nil
	}
	return 0, fmt.Errorf("arithmetic %q: want litert or reference", s)
}

// Options configure an interpreter. The zero value (or nil) means one
// thread and LiteRT arithmetic.
type Options struct {
	// Threads bounds the goroutines one Invoke uses; < 1 means 1.
	Threads int
	// Arithmetic is the requantization scheme of quantized kernels.
	Arithmetic Arithmetic
}

// Interpreter runs subgraph 0 of a model. It is not safe for concurrent
// use; create one interpreter per goroutine (they share the Model).
type Interpreter struct {
	model   *Model
	sg      *Subgraph
	cfg     kernels.Config
	tensors []tensor.Tensor
	kernels []kernels.Kernel
	// inputShapes holds the shapes set by ResizeInput (nil: the file's).
	inputShapes [][]int
	arena       []byte
	arenaSize   int
	prepared    bool
	// folded[i] marks operator i as computed at Prepare (fold.go).
	folded      []bool
	foldedBytes int
	// reserved holds per tensor the arena bytes a kernel that resizes
	// its output at Invoke asked for (node.reserveOutput).
	reserved []int
	// state holds the variable tensors, outside the arena: they keep
	// their values from one Invoke to the next.
	state     []byte
	variables []int
}

// ErrNotPrepared is returned by Invoke after a failed Prepare.
var ErrNotPrepared = errors.New("interpreter is not prepared")

// NewInterpreter prepares an interpreter for m: it resolves shapes, builds
// every kernel and plans one arena for all activations.
func NewInterpreter(m *Model, opts *Options) (*Interpreter, error) {
	if opts == nil {
		opts = &Options{}
	}
	it := &Interpreter{model: m, sg: m.Subgraphs[0], cfg: kernels.Config{Arithmetic: opts.Arithmetic.kernel(), Threads: max(1, opts.Threads)}}
	for i, t := range it.sg.Tensors {
		if t.IsVariable {
			if t.Type.Size() == 0 {
				return nil, fmt.Errorf("preparing the model: %w: variable tensor %q has type %s", ErrUnsupportedOp, t.Name, t.Type)
			}
			it.variables = append(it.variables, i)
		}
	}
	it.inputShapes = make([][]int, len(it.sg.Inputs))
	if err := it.Prepare(); err != nil {
		return nil, err
	}
	return it, nil
}

// Model returns the interpreter's model.
func (it *Interpreter) Model() *Model { return it.model }

// Prepare recomputes shapes, kernels and the arena; ResizeInput calls it.
// Input data is not preserved across a Prepare.
func (it *Interpreter) Prepare() (err error) {
	it.prepared = false
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("preparing the model: internal error: %v", r)
		}
	}()
	if err := it.resetTensors(); err != nil {
		return err
	}
	it.kernels = it.kernels[:0]
	it.folded = it.folded[:0]
	it.reserved = make([]int, len(it.tensors))
	it.foldedBytes = 0
	for i := range it.sg.Operators {
		k, folded, err := it.prepareOp(i)
		if err != nil {
			return fmt.Errorf("preparing the model: %w", err)
		}
		if folded {
			k = nil // its outputs are constants now; free what it holds
		}
		it.kernels = append(it.kernels, k)
		it.folded = append(it.folded, folded)
	}
	if err := it.plan(); err != nil {
		return err
	}
	it.planState()
	it.prepared = true
	return nil
}

// resetTensors sets every tensor back to its file's type, shape and data,
// with the shapes ResizeInput set on the inputs.
func (it *Interpreter) resetTensors() error {
	sg := it.sg
	if it.tensors == nil {
		it.tensors = make([]tensor.Tensor, len(sg.Tensors))
	}
	for i := range sg.Tensors {
		ti := &sg.Tensors[i]
		it.tensors[i] = tensor.Tensor{Name: ti.Name, Type: ti.Type, Shape: slices.Clone(ti.Shape), Quant: ti.Quant, Data: ti.Data, Const: ti.Data != nil}
	}
	for i, s := range it.inputShapes {
		if s != nil {
			it.tensors[sg.Inputs[i]].Shape = slices.Clone(s)
		}
	}
	for _, in := range sg.Inputs {
		if t := &it.tensors[in]; !t.Const && t.Type.Size() == 0 {
			return fmt.Errorf("preparing the model: %w: input %q has type %s", ErrUnsupportedOp, t.Name, t.Type)
		}
	}
	return nil
}

// prepareOp builds the kernel of operator i (which sets its outputs'
// shapes) and folds it when its inputs are all constants.
func (it *Interpreter) prepareOp(i int) (k kernels.Kernel, folded bool, err error) {
	sg := it.sg
	op := &sg.Operators[i]
	c := it.model.opcodes[op.Opcode]
	e, err := lookupOp(c)
	if err != nil {
		return nil, false, fmt.Errorf("operator %d: %w", i, err)
	}
	if op.unproduced != nil {
		return nil, false, fmt.Errorf("operator %d (%s): %w", i, c, op.unproduced)
	}
	n := &node{index: i, name: c.String(), version: c.version, op: op, cfg: &it.cfg, sg: sg, reserved: it.reserved}
	for _, ti := range op.Intermediates {
		n.inter = append(n.inter, &it.tensors[ti])
	}
	n.in = make([]*tensor.Tensor, len(op.Inputs))
	for j, ti := range op.Inputs {
		if ti >= 0 {
			n.in[j] = &it.tensors[ti]
		}
	}
	n.out = make([]*tensor.Tensor, len(op.Outputs))
	for j, ti := range op.Outputs {
		n.out[j] = &it.tensors[ti]
	}
	if k, err = e.prepare(n); err != nil {
		return nil, false, fmt.Errorf("operator %d (%s): %w", i, c, err)
	}
	for j, o := range n.out {
		if o.Type.Size() == 0 {
			return nil, false, fmt.Errorf("operator %d (%s): output %d has type %s", i, c, j, o.Type)
		}
	}
	return k, it.fold(c, n, k), nil
}

// planState gives every variable tensor its own slice of it.state and
// resets them: a Prepare (and so a ResizeInput) starts from fresh state,
// as TFLite's AllocateTensors does.
func (it *Interpreter) planState() {
	total := 0
	for _, v := range it.variables {
		total += (it.tensors[v].NumBytes() + arenaAlign - 1) &^ (arenaAlign - 1)
	}
	if cap(it.state) < total {
		it.state = alignedBytes(total)
	}
	it.state = it.state[:total]
	off := 0
	for _, v := range it.variables {
		t := &it.tensors[v]
		n := t.NumBytes()
		t.Data = it.state[off : off+n : off+n]
		off += (n + arenaAlign - 1) &^ (arenaAlign - 1)
	}
	it.ResetVariables()
}

// Stateful reports whether the model has variable tensors (e.g. an LSTM's
// state), whose values carry over from one Invoke to the next.
func (it *Interpreter) Stateful() bool { return len(it.variables) > 0 }

// ResetVariables sets every variable tensor back to its initial value:
// zero, or the zero point for int8 tensors (TFLite's
// ResetVariableTensors). A stateful model then runs as if freshly
// loaded. It allocates nothing.
func (it *Interpreter) ResetVariables() {
	for _, v := range it.variables {
		t := &it.tensors[v]
		fill := byte(0)
		if t.Type == tensor.Int8 {
			fill = byte(int8(t.ZeroPoint()))
		}
		for i := range t.Data {
			t.Data[i] = fill
		}
	}
}

// plan assigns every non-constant tensor a slice of one arena, reusing
// memory between tensors whose lifetimes do not overlap (greedy by size,
// like TFLite's arena planner). Graph inputs and outputs live for the whole
// invocation.
func (it *Interpreter) plan() error {
	sg := it.sg
	nOps := len(sg.Operators)
	type life struct {
		t           int
		first, last int
		size        int
	}
	first := make([]int, len(it.tensors))
	last := make([]int, len(it.tensors))
	for i := range first {
		first[i], last[i] = nOps+1, -2
	}
	use := func(t, at int) {
		first[t] = min(first[t], at)
		last[t] = max(last[t], at)
	}
	for _, t := range sg.Inputs {
		use(t, -1)
		use(t, nOps)
	}
	for _, t := range sg.Outputs {
		use(t, -1)
		use(t, nOps)
	}
	for i := range sg.Operators {
		op := &sg.Operators[i]
		for _, t := range op.Inputs {
			if t >= 0 {
				use(t, i)
			}
		}
		for _, t := range op.Outputs {
			use(t, i)
		}
	}
	var lives []life
	for i := range it.tensors {
		t := &it.tensors[i]
		if t.Const || last[i] < first[i] || sg.Tensors[i].IsVariable {
			continue
		}
		size := max(t.NumBytes(), it.reserved[i])
		lives = append(lives, life{i, first[i], last[i], (size + arenaAlign - 1) &^ (arenaAlign - 1)})
	}
	sort.SliceStable(lives, func(a, b int) bool { return lives[a].size > lives[b].size })
	type placed struct{ off, end, first, last int }
	var done []placed
	offsets := make([]int, len(lives))
	total := 0
	for k, l := range lives {
		// Lowest offset that fits between placed tensors alive at the same time.
		var busy []placed
		for _, p := range done {
			if p.first <= l.last && l.first <= p.last {
				busy = append(busy, p)
			}
		}
		sort.Slice(busy, func(a, b int) bool { return busy[a].off < busy[b].off })
		off := 0
		for _, p := range busy {
			if off+l.size <= p.off {
				break
			}
			off = max(off, p.end)
		}
		offsets[k] = off
		done = append(done, placed{off, off + l.size, l.first, l.last})
		total = max(total, off+l.size)
	}
	if cap(it.arena) < total {
		it.arena = alignedBytes(total)
	}
	it.arena = it.arena[:total]
	clear(it.arena)
	it.arenaSize = total
	for k, l := range lives {
		t := &it.tensors[l.t]
		t.Data = it.arena[offsets[k] : offsets[k]+t.NumBytes() : offsets[k]+max(t.NumBytes(), it.reserved[l.t])]
	}
	return nil
}

const arenaAlign = 64

// ArenaBytes is the size of the activation arena.
func (it *Interpreter) ArenaBytes() int { return it.arenaSize }

// Invoke runs the graph once on the current input data. It allocates
// nothing.
func (it *Interpreter) Invoke() error {
	if !it.prepared {
		return ErrNotPrepared
	}
	for i, k := range it.kernels {
		if it.folded[i] {
			continue
		}
		if err := k.Eval(); err != nil {
			return fmt.Errorf("running the model: operator %d (%s): %w", i, it.model.OpName(&it.sg.Operators[i]), err)
		}
	}
	return nil
}

// NumInputs is the number of subgraph inputs.
func (it *Interpreter) NumInputs() int { return len(it.sg.Inputs) }

// NumOutputs is the number of subgraph outputs.
func (it *Interpreter) NumOutputs() int { return len(it.sg.Outputs) }

// Input returns subgraph input i (position in SubGraph.inputs); write its
// Data before Invoke. It returns nil when i is out of range.
func (it *Interpreter) Input(i int) *tensor.Tensor {
	if i < 0 || i >= len(it.sg.Inputs) {
		return nil
	}
	return &it.tensors[it.sg.Inputs[i]]
}

// Output returns subgraph output i; its Data holds the result of the last
// Invoke. It returns nil when i is out of range.
func (it *Interpreter) Output(i int) *tensor.Tensor {
	if i < 0 || i >= len(it.sg.Outputs) {
		return nil
	}
	return &it.tensors[it.sg.Outputs[i]]
}

// InputIndex returns the position of the input with the given tensor name
// or serving_default signature name, or -1.
func (it *Interpreter) InputIndex(name string) int {
	return it.ioIndex(name, it.sg.Inputs, func(s *Signature) []SignatureTensor { return s.Inputs })
}

// OutputIndex returns the position of the output with the given tensor
// name or serving_default signature name, or -1.
func (it *Interpreter) OutputIndex(name string) int {
	return it.ioIndex(name, it.sg.Outputs, func(s *Signature) []SignatureTensor { return s.Outputs })
}

func (it *Interpreter) ioIndex(name string, ios []int, pick func(*Signature) []SignatureTensor) int {
	for i, t := range ios {
		if it.sg.Tensors[t].Name == name {
			return i
		}
	}
	if s := it.model.Signature(DefaultSignature); s != nil && s.Subgraph == 0 {
		for _, st := range pick(s) {
			if st.Name == name {
				for i, t := range ios {
					if t == st.Tensor {
						return i
					}
				}
			}
		}
	}
	return -1
}

// DefaultSignature is the key of the signature TFLite's converter writes.
const DefaultSignature = "serving_default"

// Signature returns the signature with the given key, or nil.
func (m *Model) Signature(key string) *Signature {
	for i := range m.Signatures {
		if m.Signatures[i].Key == key {
			return &m.Signatures[i]
		}
	}
	return nil
}

// ResizeInput sets the shape of input i and prepares the interpreter
// again. Only dimensions that the model's shape signature marks as
// variable (-1), or the batch dimension of a model without a signature,
// may change; the kernels then check that the rest of the graph agrees.
func (it *Interpreter) ResizeInput(i int, shape []int) error {
	if i < 0 || i >= len(it.sg.Inputs) {
		return fmt.Errorf("resizing the input: input %d of %d", i, len(it.sg.Inputs))
	}
	ti := &it.sg.Tensors[it.sg.Inputs[i]]
	if len(shape) != len(ti.Shape) {
		return fmt.Errorf("resizing the input: input %d %q has rank %d; got shape %v", i, ti.Name, len(ti.Shape), shape)
	}
	for d, v := range shape {
		if v < 1 {
			return fmt.Errorf("resizing the input: input %d %q: dimension %d is %d", i, ti.Name, d, v)
		}
		if v == ti.Shape[d] {
			continue
		}
		variable := d == 0
		if ti.ShapeSignature != nil {
			variable = ti.ShapeSignature[d] == -1 || (d == 0 && ti.ShapeSignature[d] == 1)
		}
		if !variable {
			return fmt.Errorf("resizing the input: input %d %q: dimension %d is fixed at %d by the model; got %d", i, ti.Name, d, ti.Shape[d], v)
		}
	}
	old := it.inputShapes[i]
	it.inputShapes[i] = slices.Clone(shape)
	err := it.Prepare()
	if err == nil && shape[0] != ti.Shape[0] {
		err = it.checkBatchCarried(ti.Shape[0], shape[0])
	}
	if err != nil {
		it.inputShapes[i] = old
		if perr := it.Prepare(); perr != nil {
			return errors.Join(err, perr)
		}
		return fmt.Errorf("resizing the input: input %d to %v: %w", i, shape, err)
	}
	return nil
}

// checkBatchCarried verifies that a new batch size reaches every output as
// its leading dimension, and every activation on the way: a graph that
// reshapes the batch away (e.g. to [1, -1, 16]) or slices sample 0 out
// of it (STRIDED_SLICE to [1, ...], then broadcast back by an ADD) would
// otherwise run, but mix the samples together. Activations are the
// non-constant tensors of rank 2 or more other than integer ones (shape
// arithmetic), whose file shape leads with the old batch; their leading
// dimension must become a multiple of the new batch (SPACE_TO_BATCH_ND
// multiplies it).
func (it *Interpreter) checkBatchCarried(from, to int) error {
	for k, o := range it.sg.Outputs {
		orig := it.sg.Tensors[o].Shape
		got := it.tensors[o].Shape
		if len(orig) == 0 || orig[0] != from {
			continue
		}
		if len(got) == 0 || got[0] != to {
			return fmt.Errorf("the graph does not carry the batch dimension to output %d %q (shape %v at batch %d)", k, it.tensors[o].Name, got, to)
		}
	}
	for i := range it.tensors {
		t := &it.tensors[i]
		orig := it.sg.Tensors[i].Shape
		if t.Const || len(orig) < 2 || orig[0] != from || t.Type == tensor.Int32 || t.Type == tensor.Int64 || t.Type == tensor.Bool {
			continue
		}
		if len(t.Shape) == 0 || t.Shape[0]%to != 0 {
			return fmt.Errorf("the graph does not carry the batch dimension through tensor %q (shape %v at batch %d)", t.Name, t.Shape, to)
		}
	}
	return nil
}
