package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Element-wise math operators beyond the arithmetic of ops_binary.go.
// Versions are TFLite's (register.cc).
func init() {
	registerBuiltin(schema.BuiltinOperatorFLOOR_MOD, 2, prepareFloorMod)
	registerBuiltin(schema.BuiltinOperatorLOG, 2, prepareMath(kernels.OpLog))
	registerBuiltin(schema.BuiltinOperatorABS, 5, prepareMath(kernels.OpAbs))
	registerBuiltin(schema.BuiltinOperatorNEG, 1, prepareMath(kernels.OpNeg))
	registerBuiltin(schema.BuiltinOperatorSQUARE, 1, prepareMath(kernels.OpSquare))
	registerBuiltin(schema.BuiltinOperatorSIN, 2, prepareMath(kernels.OpSin))
	registerBuiltin(schema.BuiltinOperatorCOS, 2, prepareMath(kernels.OpCos))
	registerBuiltin(schema.BuiltinOperatorFLOOR, 1, prepareMath(kernels.OpFloor))
	registerBuiltin(schema.BuiltinOperatorCEIL, 1, prepareMath(kernels.OpCeil))
	registerBuiltin(schema.BuiltinOperatorROUND, 1, prepareMath(kernels.OpRound))
	registerBuiltin(schema.BuiltinOperatorSIGN, 2, prepareMath(kernels.OpSign))
	registerBuiltin(schema.BuiltinOperatorRFFT2D, 1, prepareRFFT2D)
	registerBuiltin(schema.BuiltinOperatorREAL, 1, prepareComplex(kernels.OpReal))
	registerBuiltin(schema.BuiltinOperatorIMAG, 1, prepareComplex(kernels.OpImag))
	registerBuiltin(schema.BuiltinOperatorCOMPLEX_ABS, 1, prepareComplex(kernels.OpComplexAbs))
	registerBuiltin(schema.BuiltinOperatorELU, 1, prepareUnary(kernels.Elu))
	registerBuiltin(schema.BuiltinOperatorGELU, 2, prepareGelu)
}

func prepareGelu(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	var o schema.GeluOptions
	if err := n.options(&o, schema.BuiltinOptionsGeluOptions); err != nil {
		return nil, err
	}
	return kernels.Gelu(n.cfg, o.Approximate(), n.input(0), n.output(0))
}

func prepareMath(op kernels.MathOp) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(1, 1, 1); err != nil {
			return nil, err
		}
		return kernels.MathUnary(n.cfg, op, n.input(0), n.output(0))
	}
}

func prepareRFFT2D(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	if t := n.input(1); t.Type != tensor.Int32 || t.Rank() != 1 {
		return nil, malformedf("fft_length %q is %s%v; want an int32 vector", t.Name, t.Type, t.Shape)
	}
	l, err := n.constInts(1, "fft_length")
	if err != nil {
		return nil, err
	}
	return kernels.RFFT2D(n.input(0), l, n.output(0))
}

func prepareComplex(op kernels.ComplexOp) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(1, 1, 1); err != nil {
			return nil, err
		}
		return kernels.ComplexPart(op, n.input(0), n.output(0))
	}
}

func prepareFloorMod(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	return kernels.FloorMod(n.input(0), n.input(1), n.output(0))
}
