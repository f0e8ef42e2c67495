package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Element-wise binary and unary math operators. Maximum versions follow
// TFLite's builtin op resolver; the kernels reject the operand types of a
// version they do not implement.
func init() {
	registerBuiltin(schema.BuiltinOperatorADD, 5, prepareBinary(kernels.OpAdd))
	registerBuiltin(schema.BuiltinOperatorSUB, 5, prepareBinary(kernels.OpSub))
	registerBuiltin(schema.BuiltinOperatorMUL, 7, prepareBinary(kernels.OpMul))
	registerBuiltin(schema.BuiltinOperatorDIV, 2, prepareBinary(kernels.OpDiv))
	registerBuiltin(schema.BuiltinOperatorFLOOR_DIV, 3, prepareBinary(kernels.OpFloorDiv))
	registerBuiltin(schema.BuiltinOperatorSQUARED_DIFFERENCE, 2, prepareBinary(kernels.OpSquaredDifference))
	registerBuiltin(schema.BuiltinOperatorMAXIMUM, 4, prepareBinary(kernels.OpMaximum))
	registerBuiltin(schema.BuiltinOperatorMINIMUM, 4, prepareBinary(kernels.OpMinimum))
	registerBuiltin(schema.BuiltinOperatorSQRT, 2, prepareMathUnary(kernels.OpSqrt))
	registerBuiltin(schema.BuiltinOperatorRSQRT, 3, prepareMathUnary(kernels.OpRsqrt))
	registerBuiltin(schema.BuiltinOperatorEXP, 2, prepareMathUnary(kernels.OpExp))
}

func prepareBinary(op kernels.BinaryOp) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(2, 2, 1); err != nil {
			return nil, err
		}
		p := kernels.BinaryParams{PotScaleInt16: true}
		switch op {
		case kernels.OpAdd:
			var o schema.AddOptions
			if err := n.options(&o, schema.BuiltinOptionsAddOptions); err != nil {
				return nil, err
			}
			p.Activation = activation(o.FusedActivationFunction())
			p.PotScaleInt16 = o.PotScaleInt16()
		case kernels.OpSub:
			var o schema.SubOptions
			if err := n.options(&o, schema.BuiltinOptionsSubOptions); err != nil {
				return nil, err
			}
			p.Activation = activation(o.FusedActivationFunction())
			p.PotScaleInt16 = o.PotScaleInt16()
		case kernels.OpMul:
			var o schema.MulOptions
			if err := n.options(&o, schema.BuiltinOptionsMulOptions); err != nil {
				return nil, err
			}
			p.Activation = activation(o.FusedActivationFunction())
		case kernels.OpDiv:
			var o schema.DivOptions
			if err := n.options(&o, schema.BuiltinOptionsDivOptions); err != nil {
				return nil, err
			}
			p.Activation = activation(o.FusedActivationFunction())
		}
		return kernels.Binary(n.cfg, op, p, n.input(0), n.input(1), n.output(0))
	}
}

func prepareMathUnary(op kernels.UnaryOp) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(1, 1, 1); err != nil {
			return nil, err
		}
		return kernels.Unary(n.cfg, op, n.input(0), n.output(0))
	}
}
