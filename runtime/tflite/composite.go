package tflite

import (
	"fmt"
	"slices"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// A STABLEHLO_COMPOSITE operator (what PyTorch exports through
// ai-edge-torch write for attention, normalisations and the like) names a
// decomposition subgraph and computes exactly what that subgraph computes
// from its inputs: TFLite calls the subgraph. The loader inlines it
// instead: the composite is replaced by a copy of the decomposition's
// operators, reading the composite's inputs and writing its outputs, with
// the decomposition's other tensors appended to the calling subgraph. The
// kernels then see ordinary operators (constant folding, arena planning,
// the profile), and no composite is left to prepare.
func init() {
	registerBuiltin(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, func(n *node) (kernels.Kernel, error) {
		return nil, fmt.Errorf("%w: STABLEHLO_COMPOSITE is replaced by its decomposition when the model loads", ErrMalformed)
	})
}

// inlineGrowth bounds the operators and tensors of a subgraph once its
// composites are inlined, as a multiple of those in the file: nested
// composites that share a decomposition could otherwise multiply them
// without limit.
const (
	inlineGrowth = 16
	inlineSlack  = 4096
)

// inlineComposites replaces, in every subgraph, each STABLEHLO_COMPOSITE
// operator by the operators of its decomposition subgraph (themselves
// inlined first).
func (m *Model) inlineComposites() error {
	total, tensors := 0, 0
	for _, sg := range m.Subgraphs {
		total += len(sg.Operators)
		tensors += len(sg.Tensors)
	}
	limit, tensorLimit := inlineGrowth*total+inlineSlack, inlineGrowth*tensors+inlineSlack
	const (
		todo = iota
		busy
		done
	)
	state := make([]uint8, len(m.Subgraphs))
	var flatten func(s int) error
	flatten = func(s int) error {
		switch state[s] {
		case busy:
			return malformedf("subgraph %d: its composite operators call it back (a cycle)", s)
		case done:
			return nil
		}
		state[s] = busy
		sg := m.Subgraphs[s]
		if slices.ContainsFunc(sg.Operators, m.isComposite) {
			out := &Subgraph{Name: sg.Name, Tensors: slices.Clone(sg.Tensors), Inputs: sg.Inputs, Outputs: sg.Outputs}
			for oi := range sg.Operators {
				op := &sg.Operators[oi]
				if !m.isComposite(*op) {
					out.Operators = append(out.Operators, *op)
					continue
				}
				d, err := m.decomposition(op)
				if err == nil {
					err = flatten(d)
				}
				if err == nil {
					err = inlineCall(out, op, m.Subgraphs[d], d)
				}
				if err != nil {
					return fmt.Errorf("subgraph %d operator %d (STABLEHLO_COMPOSITE): %w", s, oi, err)
				}
				if len(out.Operators) > limit || len(out.Tensors) > tensorLimit {
					return fmt.Errorf("subgraph %d: %w: its composite operators expand to more than %d operators or %d tensors (%d and %d in the file)",
						s, ErrUnsupportedOp, limit, tensorLimit, total, tensors)
				}
			}
			m.Subgraphs[s] = out
		}
		state[s] = done
		return nil
	}
	for s := range m.Subgraphs {
		if err := flatten(s); err != nil {
			return err
		}
	}
	return nil
}

func (m *Model) isComposite(op Operator) bool {
	return m.opcodes[op.Opcode].builtin == schema.BuiltinOperatorSTABLEHLO_COMPOSITE
}

// decomposition returns the index of a composite's decomposition subgraph.
func (m *Model) decomposition(op *Operator) (int, error) {
	if op.op.BuiltinOptions2Type() != schema.BuiltinOptions2StableHLOCompositeOptions {
		return 0, malformedf("options are %s; want StableHLOCompositeOptions", op.op.BuiltinOptions2Type())
	}
	var tbl flatbuffers.Table
	var o schema.StableHLOCompositeOptions
	if !op.op.BuiltinOptions2(&tbl) {
		return 0, malformedf("no options")
	}
	o.Init(tbl.Bytes, tbl.Pos)
	d := o.DecompositionSubgraphIndex()
	if d < 0 || int(d) >= len(m.Subgraphs) {
		return 0, malformedf("composite %q: decomposition subgraph %d; the model has %d", o.Name(), d, len(m.Subgraphs))
	}
	return int(d), nil
}

// inlineCall appends to out the operators of dec (subgraph d, with no
// composite left), reading op's inputs and writing its outputs.
func inlineCall(out *Subgraph, op *Operator, dec *Subgraph, d int) error {
	if len(op.Inputs) != len(dec.Inputs) || len(op.Outputs) != len(dec.Outputs) {
		return malformedf("%d inputs and %d outputs; its decomposition (subgraph %d) takes %d and gives %d",
			len(op.Inputs), len(op.Outputs), d, len(dec.Inputs), len(dec.Outputs))
	}
	const unmapped = -2
	remap := make([]int, len(dec.Tensors))
	for i := range remap {
		remap[i] = unmapped
	}
	for i, t := range dec.Inputs {
		a := op.Inputs[i]
		if a < 0 {
			return fmt.Errorf("%w: input %d is omitted", ErrUnsupportedOp, i)
		}
		if remap[t] != unmapped && remap[t] != a {
			return malformedf("subgraph %d lists tensor %d as two of its inputs", d, t)
		}
		if dec.Tensors[t].Type != out.Tensors[a].Type {
			return malformedf("input %d is %s; subgraph %d takes %s", i, out.Tensors[a].Type, d, dec.Tensors[t].Type)
		}
		remap[t] = a
	}
	for k, t := range dec.Outputs {
		o := op.Outputs[k]
		if remap[t] != unmapped {
			return fmt.Errorf("%w: output %d of subgraph %d is one of its inputs or outputs already (a copy)", ErrUnsupportedOp, k, d)
		}
		if dec.Tensors[t].Data != nil {
			return fmt.Errorf("%w: output %d of subgraph %d is a constant", ErrUnsupportedOp, k, d)
		}
		if dec.Tensors[t].Type != out.Tensors[o].Type {
			return malformedf("output %d is %s; subgraph %d gives %s", k, out.Tensors[o].Type, d, dec.Tensors[t].Type)
		}
		remap[t] = o
	}
	for t := range dec.Tensors {
		if remap[t] == unmapped {
			remap[t] = len(out.Tensors)
			out.Tensors = append(out.Tensors, dec.Tensors[t])
		}
	}
	mapped := func(ix []int) []int {
		if ix == nil {
			return nil
		}
		r := make([]int, len(ix))
		for i, t := range ix {
			r[i] = t
			if t >= 0 {
				r[i] = remap[t]
			}
		}
		return r
	}
	for _, dop := range dec.Operators {
		dop.Inputs, dop.Outputs, dop.Intermediates = mapped(dop.Inputs), mapped(dop.Outputs), mapped(dop.Intermediates)
		out.Operators = append(out.Operators, dop)
	}
	return nil
}
