package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

func init() {
	registerBuiltin(schema.BuiltinOperatorSOFTMAX, 3, prepareSoftmax)
	registerBuiltin(schema.BuiltinOperatorLOG_SOFTMAX, 2, prepareUnary(kernels.LogSoftmax))
	registerBuiltin(schema.BuiltinOperatorLOGISTIC, 3, prepareUnary(kernels.Logistic))
	registerBuiltin(schema.BuiltinOperatorTANH, 3, prepareUnary(kernels.Tanh))
	registerBuiltin(schema.BuiltinOperatorRELU, 3, prepareRelu(kernels.ActRelu))
	registerBuiltin(schema.BuiltinOperatorRELU6, 3, prepareRelu(kernels.ActRelu6))
	registerBuiltin(schema.BuiltinOperatorRELU_N1_TO_1, 2, prepareRelu(kernels.ActReluN1To1))
	registerBuiltin(schema.BuiltinOperatorLEAKY_RELU, 2, prepareLeakyRelu)
	registerBuiltin(schema.BuiltinOperatorPRELU, 2, preparePrelu)
	registerBuiltin(schema.BuiltinOperatorHARD_SWISH, 1, prepareUnary(kernels.HardSwish))
	registerBuiltin(schema.BuiltinOperatorQUANTIZE, 3, prepareUnary(kernels.Quantize))
	registerBuiltin(schema.BuiltinOperatorDEQUANTIZE, 5, prepareUnary(kernels.Dequantize))
	registerBuiltin(schema.BuiltinOperatorCAST, 6, prepareUnary(kernels.Cast))
	registerBuiltin(schema.BuiltinOperatorL2_NORMALIZATION, 2, prepareL2Norm)
}

// prepareUnary adapts a one-input, one-output kernel constructor without
// options.
func prepareUnary(k func(*kernels.Config, *tensor.Tensor, *tensor.Tensor) (kernels.Kernel, error)) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(1, 1, 1); err != nil {
			return nil, err
		}
		return k(n.cfg, n.input(0), n.output(0))
	}
}

func prepareRelu(act kernels.Activation) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(1, 1, 1); err != nil {
			return nil, err
		}
		return kernels.ReluX(n.cfg, act, n.input(0), n.output(0))
	}
}

func prepareSoftmax(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	var o schema.SoftmaxOptions
	if err := n.options(&o, schema.BuiltinOptionsSoftmaxOptions); err != nil {
		return nil, err
	}
	return kernels.Softmax(n.cfg, kernels.SoftmaxParams{Beta: o.Beta()}, n.input(0), n.output(0))
}

func prepareLeakyRelu(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	var o schema.LeakyReluOptions
	if err := n.options(&o, schema.BuiltinOptionsLeakyReluOptions); err != nil {
		return nil, err
	}
	return kernels.LeakyRelu(n.cfg, o.Alpha(), n.input(0), n.output(0))
}

func preparePrelu(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	return kernels.Prelu(n.cfg, n.input(0), n.input(1), n.output(0))
}

func prepareL2Norm(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	var o schema.L2NormOptions
	if err := n.options(&o, schema.BuiltinOptionsL2NormOptions); err != nil {
		return nil, err
	}
	return kernels.L2Normalization(n.cfg, activation(o.FusedActivationFunction()), n.input(0), n.output(0))
}
