package tflite

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// prepareFunc builds the kernel of one operator. It must set the shapes of
// the node's outputs (their types are already set from the file) and may
// read the data of constant inputs only.
type prepareFunc func(n *node) (kernels.Kernel, error)

type opEntry struct {
	maxVersion int32
	prepare    prepareFunc
	// user marks a custom operator added with RegisterCustom.
	user bool
}

var (
	builtinOps = map[schema.BuiltinOperator]opEntry{}
	// customOps is written by init functions and RegisterCustom, read by
	// Load and Prepare, under customMu.
	customOps = map[string]opEntry{}
	customMu  sync.RWMutex
)

// registerBuiltin makes a builtin operator available, up to maxVersion.
// Call it from init functions only.
func registerBuiltin(code schema.BuiltinOperator, maxVersion int32, p prepareFunc) {
	if _, dup := builtinOps[code]; dup {
		panic("tflite: builtin registered twice: " + code.String())
	}
	builtinOps[code] = opEntry{maxVersion: maxVersion, prepare: p}
}

// registerCustom makes a custom operator available by its custom code.
// Call it from init functions only.
func registerCustom(name string, maxVersion int32, p prepareFunc) {
	customMu.Lock()
	defer customMu.Unlock()
	if _, dup := customOps[name]; dup {
		panic("tflite: custom op registered twice: " + name)
	}
	customOps[name] = opEntry{maxVersion: maxVersion, prepare: p}
}

func lookupOp(c opcode) (opEntry, error) {
	var e opEntry
	var ok bool
	if c.builtin == schema.BuiltinOperatorCUSTOM {
		customMu.RLock()
		e, ok = customOps[c.custom]
		customMu.RUnlock()
		if !ok {
			if c.custom == "edgetpu-custom-op" {
				return e, fmt.Errorf("%w CUSTOM %q (needs an Edge TPU: load the model through the Edge TPU delegate, or use its CPU variant)", ErrUnsupportedOp, c.custom)
			}
			if c.custom == "ethos-u" {
				return e, fmt.Errorf("%w CUSTOM %q (compiled by Vela for an Arm Ethos-U NPU: run the model as it was before Vela compiled it)", ErrUnsupportedOp, c.custom)
			}
			if strings.HasPrefix(c.custom, "Flex") {
				return e, fmt.Errorf("%w CUSTOM %q (a TensorFlow operator that needs TensorFlow Lite's Flex delegate)", ErrUnsupportedOp, c.custom)
			}
			return e, fmt.Errorf("%w CUSTOM %q", ErrUnsupportedOp, c.custom)
		}
	} else {
		e, ok = builtinOps[c.builtin]
		if !ok {
			return e, fmt.Errorf("%w %s", ErrUnsupportedOp, c.builtin)
		}
	}
	if c.version > e.maxVersion {
		return e, fmt.Errorf("%w %s version %d (this runtime implements versions up to %d)", ErrUnsupportedOp, c, c.version, e.maxVersion)
	}
	return e, nil
}

// SupportedOps lists the builtin operators and custom codes this runtime
// implements, with the highest version of each.
func SupportedOps() map[string]int {
	out := map[string]int{}
	for c, e := range builtinOps {
		out[c.String()] = int(e.maxVersion)
	}
	customMu.RLock()
	for c, e := range customOps {
		out["CUSTOM "+c] = int(e.maxVersion)
	}
	customMu.RUnlock()
	return out
}

// node is what a prepareFunc sees of one operator.
type node struct {
	index   int
	name    string
	version int32
	op      *Operator
	in      []*tensor.Tensor // nil for an omitted optional input
	out     []*tensor.Tensor
	inter   []*tensor.Tensor // the operator's intermediates
	cfg     *kernels.Config
	// shapeOnly is set by a prepareFunc whose kernel reads only the
	// shapes of its inputs (SHAPE, RANK): it runs at prepare time.
	shapeOnly bool
	sg        *Subgraph
	// reserved holds, per tensor of the subgraph, the bytes the arena
	// must hold for it when more than its prepared shape needs (an
	// output whose shape is set at Invoke).
	reserved []int
}

// reserveOutput makes the arena hold bytes for output j whatever shape it
// is prepared with: its kernel resizes it at Invoke, up to that size.
func (n *node) reserveOutput(j, bytes int) {
	if j < len(n.op.Outputs) && n.reserved != nil {
		t := n.op.Outputs[j]
		n.reserved[t] = max(n.reserved[t], bytes)
	}
}

// feedsHybrid reports whether output j reaches, through float32 tensors
// only, an operator that quantizes a float32 activation dynamically (a
// hybrid operator: float32 input, constant int8 weights). Such an
// operator turns a difference in the last bit of its input into a whole
// quantization step of its output, so the float operators before it must
// round exactly as the official runtime does.
func (n *node) feedsHybrid(j int) bool {
	if j >= len(n.op.Outputs) {
		return false
	}
	sg := n.sg
	hybrid := func(op *Operator, in int) bool {
		if len(op.Inputs) == 0 || op.Inputs[0] != in || sg.Tensors[in].Type != tensor.Float32 {
			return false
		}
		for _, w := range op.Inputs[1:] {
			if w >= 0 && sg.Tensors[w].Type == tensor.Int8 && sg.Tensors[w].Data != nil {
				return true
			}
		}
		return false
	}
	if !slices.ContainsFunc(sg.Operators, func(op Operator) bool { return len(op.Inputs) > 0 && op.Inputs[0] >= 0 && hybrid(&op, op.Inputs[0]) }) {
		return false
	}
	seen := map[int]bool{}
	todo := []int{n.op.Outputs[j]}
	for len(todo) > 0 {
		t := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[t] || sg.Tensors[t].Type != tensor.Float32 {
			continue
		}
		seen[t] = true
		for i := range sg.Operators {
			op := &sg.Operators[i]
			if !slices.Contains(op.Inputs, t) {
				continue
			}
			if hybrid(op, t) {
				return true
			}
			todo = append(todo, op.Outputs...)
		}
	}
	return false
}

// consumed reports whether another operator reads output j.
func (n *node) consumed(j int) bool {
	if j >= len(n.op.Outputs) {
		return false
	}
	t := n.op.Outputs[j]
	for i := range n.sg.Operators {
		if slices.Contains(n.sg.Operators[i].Inputs, t) {
			return true
		}
	}
	return false
}

// variable reports whether input i is a variable (state) tensor.
func (n *node) variable(i int) bool {
	return i < len(n.op.Inputs) && n.op.Inputs[i] >= 0 && n.sg.Tensors[n.op.Inputs[i]].IsVariable
}

// input returns input i, or nil when it is omitted or absent.
func (n *node) input(i int) *tensor.Tensor {
	if i < len(n.in) {
		return n.in[i]
	}
	return nil
}

// output returns output i, or nil when absent.
func (n *node) output(i int) *tensor.Tensor {
	if i < len(n.out) {
		return n.out[i]
	}
	return nil
}

// options initialises obj on the node's builtin options (see
// Operator.builtinOptions).
func (n *node) options(obj optionsObject, want schema.BuiltinOptions) error {
	return n.op.builtinOptions(obj, want)
}

// wantIO checks the number of inputs (counting omitted optional ones) and
// outputs, and that the required ones are present.
func (n *node) wantIO(minIn, maxIn, nOut int) error {
	if len(n.in) < minIn || len(n.in) > maxIn {
		if minIn == maxIn {
			return malformedf("%d inputs; want %d", len(n.in), minIn)
		}
		return malformedf("%d inputs; want %d to %d", len(n.in), minIn, maxIn)
	}
	for i := 0; i < minIn; i++ {
		if n.in[i] == nil {
			return malformedf("input %d is omitted; it is required", i)
		}
	}
	if len(n.out) != nOut {
		return malformedf("%d outputs; want %d", len(n.out), nOut)
	}
	return nil
}

// constInts returns the values of a constant int32/int64 input.
func (n *node) constInts(i int, what string) ([]int, error) {
	t := n.input(i)
	if t == nil {
		return nil, malformedf("%s (input %d) is missing", what, i)
	}
	if !t.Const {
		return nil, fmt.Errorf("%w: %s (input %d, %q) is computed at run time; only constant %s is supported", kernels.ErrUnsupported, what, i, t.Name, what)
	}
	return t.Ints()
}

func activation(a schema.ActivationFunctionType) kernels.Activation {
	return kernels.Activation(a)
}

func padding(p schema.Padding) kernels.Padding {
	return kernels.Padding(p)
}

func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", kernels.ErrUnsupported, fmt.Sprintf(format, args...))
}
