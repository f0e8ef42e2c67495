package tflite

import (
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// OpHistogram counts the operators of subgraph 0 by name.
func (m *Model) OpHistogram() map[string]int {
	h := map[string]int{}
	for i := range m.Subgraphs[0].Operators {
		h[m.OpName(&m.Subgraphs[0].Operators[i])]++
	}
	return h
}

// Params is the number of elements held in constant tensors (weights,
// biases, lookup tables) of subgraph 0.
func (m *Model) Params() int64 {
	var n int64
	for _, t := range m.Subgraphs[0].Tensors {
		if t.Data != nil {
			n += int64(tensor.NumElements(t.Shape))
		}
	}
	return n
}

// MACs estimates the multiply-accumulates of one Invoke at the current
// shapes: convolutions, depthwise convolutions, transposed convolutions,
// fully-connected layers and batched matrix products. Other operators are
// counted as zero.
func (it *Interpreter) MACs() int64 {
	var total int64
	for i := range it.sg.Operators {
		op := &it.sg.Operators[i]
		c := it.model.opcodes[op.Opcode]
		in := func(k int) *tensor.Tensor {
			if k < len(op.Inputs) && op.Inputs[k] >= 0 {
				return &it.tensors[op.Inputs[k]]
			}
			return nil
		}
		out := &it.tensors[op.Outputs[0]]
		switch c.builtin {
		case schema.BuiltinOperatorCONV_2D:
			if w := in(1); w != nil && w.Rank() == 4 {
				total += int64(out.NumElements()) * int64(w.Shape[1]*w.Shape[2]*w.Shape[3])
			}
		case schema.BuiltinOperatorDEPTHWISE_CONV_2D:
			if w := in(1); w != nil && w.Rank() == 4 {
				total += int64(out.NumElements()) * int64(w.Shape[1]*w.Shape[2])
			}
		case schema.BuiltinOperatorTRANSPOSE_CONV:
			if w, x := in(1), in(2); w != nil && x != nil && w.Rank() == 4 {
				total += int64(x.NumElements()) * int64(w.Shape[0]*w.Shape[1]*w.Shape[2])
			}
		case schema.BuiltinOperatorFULLY_CONNECTED:
			if w := in(1); w != nil && w.Rank() == 2 {
				total += int64(out.NumElements()) * int64(w.Shape[1])
			}
		case schema.BuiltinOperatorBATCH_MATMUL:
			if x := in(0); x != nil && x.Rank() >= 2 {
				// Each output element is a dot product over the shared dimension.
				k := x.Shape[x.Rank()-1]
				var o schema.BatchMatMulOptions
				if op.builtinOptions(&o, schema.BuiltinOptionsBatchMatMulOptions) == nil && o.AdjX() {
					k = x.Shape[x.Rank()-2]
				}
				total += int64(out.NumElements()) * int64(k)
			}
		}
	}
	return total
}
