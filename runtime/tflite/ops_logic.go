package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Comparisons, logical operators and selection. Versions are TFLite's
// (register.cc).
func init() {
	registerBuiltin(schema.BuiltinOperatorEQUAL, 5, prepareCompare(kernels.OpEqual))
	registerBuiltin(schema.BuiltinOperatorNOT_EQUAL, 4, prepareCompare(kernels.OpNotEqual))
	registerBuiltin(schema.BuiltinOperatorLESS, 3, prepareCompare(kernels.OpLess))
	registerBuiltin(schema.BuiltinOperatorLESS_EQUAL, 2, prepareCompare(kernels.OpLessEqual))
	registerBuiltin(schema.BuiltinOperatorGREATER, 2, prepareCompare(kernels.OpGreater))
	registerBuiltin(schema.BuiltinOperatorGREATER_EQUAL, 3, prepareCompare(kernels.OpGreaterEqual))
	registerBuiltin(schema.BuiltinOperatorLOGICAL_AND, 1, prepareLogical(kernels.OpLogicalAnd))
	registerBuiltin(schema.BuiltinOperatorLOGICAL_OR, 1, prepareLogical(kernels.OpLogicalOr))
	registerBuiltin(schema.BuiltinOperatorLOGICAL_NOT, 1, prepareLogicalNot)
	registerBuiltin(schema.BuiltinOperatorSELECT, 4, prepareSelect(true))
	registerBuiltin(schema.BuiltinOperatorSELECT_V2, 2, prepareSelect(false))
}

func prepareCompare(op kernels.CompareOp) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(2, 2, 1); err != nil {
			return nil, err
		}
		return kernels.Compare(op, n.input(0), n.input(1), n.output(0))
	}
}

func prepareLogical(op kernels.LogicalOp) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(2, 2, 1); err != nil {
			return nil, err
		}
		return kernels.Logical(op, n.input(0), n.input(1), n.output(0))
	}
}

func prepareLogicalNot(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	return kernels.LogicalNot(n.input(0), n.output(0))
}

func prepareSelect(v1 bool) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(3, 3, 1); err != nil {
			return nil, err
		}
		return kernels.Select(v1, n.input(0), n.input(1), n.input(2), n.output(0))
	}
}
