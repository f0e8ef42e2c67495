package tflite

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/edged-dev/edged/runtime/kernels"
)

// Problem is one reason this runtime cannot run a model.
type Problem struct {
	// Subgraph and Operator locate the operator; Operator is -1 for a
	// problem of the model as a whole (the type of an input or of a
	// variable tensor).
	Subgraph, Operator int
	// Op is the operator's name: the builtin's, or "CUSTOM" and the
	// custom code.
	Op string
	// Unsupported reports that the runtime lacks the operator, the
	// operand types or the options (ErrUnsupportedOp or
	// kernels.ErrUnsupported); otherwise the model is malformed.
	Unsupported bool
	// Downstream reports that an input of the operator comes (directly or
	// not) from an operator with a problem: its shape is the file's, not
	// a computed one, and the problem may follow from the earlier one.
	Downstream bool
	Err        error
}

func (p Problem) String() string {
	if p.Operator < 0 {
		return p.Err.Error()
	}
	return fmt.Sprintf("operator %d (%s): %v", p.Operator, p.Op, p.Err)
}

// Problems lists every reason an interpreter with opts (nil: the
// defaults) could not run m, not only the first: every operator of any
// subgraph that is not registered, then, in subgraph 0 (the one an
// interpreter runs), every operator whose kernel refuses its operands. An operator
// that fails leaves its outputs with the shapes the file gives them, so
// the operators after it are still checked. The model may come from
// Decode, which does not look at the operators. No problems means
// NewInterpreter(m, opts) succeeds.
func (m *Model) Problems(opts *Options) []Problem {
	if opts == nil {
		opts = &Options{}
	}
	var ps []Problem
	add := func(sg, op int, name string, err error) {
		ps = append(ps, Problem{Subgraph: sg, Operator: op, Op: name, Err: err,
			Unsupported: errors.Is(err, ErrUnsupportedOp) || errors.Is(err, kernels.ErrUnsupported)})
	}
	known := map[int]bool{} // operators of subgraph 0 that are registered
	for si, sg := range m.Subgraphs {
		for oi := range sg.Operators {
			op := &sg.Operators[oi]
			c := m.opcodes[op.Opcode]
			if _, err := lookupOp(c); err != nil {
				add(si, oi, c.String(), err)
				continue
			}
			if err := m.checkOperands(sg, op, c); err != nil {
				add(si, oi, c.String(), err)
				continue
			}
			if si == 0 {
				known[oi] = true
			}
		}
	}
	if len(m.Subgraphs) == 0 {
		return ps
	}
	it := &Interpreter{model: m, sg: m.Subgraphs[0], cfg: kernels.Config{Arithmetic: opts.Arithmetic.kernel(), Threads: 1}}
	for _, t := range it.sg.Tensors {
		if t.IsVariable && t.Type.Size() == 0 {
			add(0, -1, "", fmt.Errorf("%w: variable tensor %q has type %s", ErrUnsupportedOp, t.Name, t.Type))
		}
	}
	it.inputShapes = make([][]int, len(it.sg.Inputs))
	if err := it.resetTensors(); err != nil {
		add(0, -1, "", err)
		return ps
	}
	tainted := map[int]bool{} // tensors computed after a problem
	for oi := range it.sg.Operators {
		op := &it.sg.Operators[oi]
		down := false
		for _, t := range op.Inputs {
			down = down || (t >= 0 && tainted[t])
		}
		failed := !known[oi]
		if !failed {
			if err := it.problemOp(oi); err != nil {
				add(0, oi, m.opcodes[op.Opcode].String(), err)
				ps[len(ps)-1].Downstream = down
				failed = true
			}
		}
		if failed || down {
			for _, t := range op.Outputs {
				tainted[t] = true
			}
		}
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Subgraph, b.Subgraph), cmp.Compare(a.Operator, b.Operator))
	})
	return ps
}

// problemOp prepares operator i alone, turning a panic into an error.
func (it *Interpreter) problemOp(i int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	_, _, err = it.prepareOp(i)
	// prepareOp names the operator; Problem does it again.
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
