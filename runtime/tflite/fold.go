package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Constant folding. An operator whose inputs are all constants computes
// the same outputs at every Invoke: Prepare runs it once and its outputs
// become constants, so that the operators after it see constant operands
// (a CONV_2D whose float32 weights come from a DEQUANTIZE of float16
// weights packs them for the GEMM, as it does for float32 weights in the
// file). Folded outputs live in memory of their own, outside the arena,
// for the interpreter's lifetime (FoldedBytes); reshapes of a constant
// share its data.

// foldMaxGrowth bounds how much larger than its constant inputs a folded
// output may be (plus foldSlack): DEQUANTIZE of int8 to float32 is 4×,
// a CAST to a 64-bit type up to 8×. Operators that would grow more (TILE,
// BROADCAST_TO of a small constant) stay in the graph.
const (
	foldMaxGrowth = 8
	foldSlack     = 64 << 10
)

// noFold lists operators that must run at every Invoke whatever their
// inputs: they have effects or draw random numbers.
var noFold = map[schema.BuiltinOperator]bool{
	schema.BuiltinOperatorCUSTOM:                 true,
	schema.BuiltinOperatorIF:                     true,
	schema.BuiltinOperatorWHILE:                  true,
	schema.BuiltinOperatorCALL_ONCE:              true,
	schema.BuiltinOperatorVAR_HANDLE:             true,
	schema.BuiltinOperatorREAD_VARIABLE:          true,
	schema.BuiltinOperatorASSIGN_VARIABLE:        true,
	schema.BuiltinOperatorRANDOM_STANDARD_NORMAL: true,
	schema.BuiltinOperatorRANDOM_UNIFORM:         true,
	schema.BuiltinOperatorMULTINOMIAL:            true,
}

// aliasFold lists the operators whose folded output is the input's data
// under another shape.
var aliasFold = map[schema.BuiltinOperator]bool{
	schema.BuiltinOperatorRESHAPE:     true,
	schema.BuiltinOperatorSQUEEZE:     true,
	schema.BuiltinOperatorEXPAND_DIMS: true,
	schema.BuiltinOperatorDENSIFY:     true,
}

// fold runs the prepared kernel k of operator n now if its inputs are all
// constants, and reports whether it did; its outputs are then constants.
// An operator that fails when run this way is left in the graph, so that
// Invoke reports its error as it would without folding.
func (it *Interpreter) fold(c opcode, n *node, k kernels.Kernel) bool {
	if noFold[c.builtin] || len(n.out) == 0 {
		return false
	}
	inBytes, consts := 0, 0
	for _, t := range n.in {
		if t == nil || n.shapeOnly {
			// SHAPE and RANK read only their input's shape, which is
			// known now: they fold whatever computes the input, so that
			// the shape arithmetic after them folds too (TFLite's
			// persistent read-only tensors).
			continue
		}
		if !t.Const || t.Data == nil {
			return false
		}
		inBytes += len(t.Data)
		consts++
	}
	if consts == 0 && !n.shapeOnly {
		return false
	}
	outBytes := 0
	for j, o := range n.out {
		if it.isGraphOutput(n.op.Outputs[j]) || o.Const {
			return false
		}
		outBytes += o.NumBytes()
	}
	if outBytes > foldMaxGrowth*inBytes+foldSlack {
		return false
	}
	if aliasFold[c.builtin] && len(n.out) == 1 && n.in[0].NumBytes() == n.out[0].NumBytes() {
		o := n.out[0]
		o.Data, o.Const = n.in[0].Data, true
		return true
	}
	buf := alignedBytes(outBytes + arenaAlign*len(n.out))
	off := 0
	for _, o := range n.out {
		size := o.NumBytes()
		o.Data = buf[off : off+size : off+size]
		off += (size + arenaAlign - 1) &^ (arenaAlign - 1)
	}
	if !evalOnce(k) {
		for _, o := range n.out {
			o.Data = nil
		}
		return false
	}
	for _, o := range n.out {
		o.Const = true
		it.foldedBytes += len(o.Data)
	}
	return true
}

// evalOnce runs k, reporting whether it succeeded; a panic (a kernel
// that relies on checks made elsewhere for data it cannot hold) is a
// failure too.
func evalOnce(k kernels.Kernel) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return k.Eval() == nil
}

func (it *Interpreter) isGraphOutput(t int) bool {
	for _, o := range it.sg.Outputs {
		if o == t {
			return true
		}
	}
	return false
}

// FoldedOps is the number of operators Prepare computed once because
// their inputs are constants (see the package documentation); Invoke
// skips them.
func (it *Interpreter) FoldedOps() int {
	n := 0
	for _, f := range it.folded {
		if f {
			n++
		}
	}
	return n
}

// FoldedBytes is the memory that holds the outputs of folded operators,
// outside the arena (reshaped constants share their input's data and
// count nothing).
func (it *Interpreter) FoldedBytes() int { return it.foldedBytes }
