package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

func init() {
	registerBuiltin(schema.BuiltinOperatorRNN, 3, prepareRNN)
	registerBuiltin(schema.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_RNN, 3, prepareSequenceRNN)
}

func prepareRNN(n *node) (kernels.Kernel, error) {
	var o schema.RNNOptions
	if err := n.options(&o, schema.BuiltinOptionsRNNOptions); err != nil {
		return nil, err
	}
	return prepareRNNCommon(n, kernels.RNNParams{Activation: activation(o.FusedActivationFunction())})
}

func prepareSequenceRNN(n *node) (kernels.Kernel, error) {
	var o schema.SequenceRNNOptions
	if err := n.options(&o, schema.BuiltinOptionsSequenceRNNOptions); err != nil {
		return nil, err
	}
	return prepareRNNCommon(n, kernels.RNNParams{Activation: activation(o.FusedActivationFunction()), Sequence: true, TimeMajor: o.TimeMajor()})
}

func prepareRNNCommon(n *node, p kernels.RNNParams) (kernels.Kernel, error) {
	if err := n.wantIO(5, 5, 1); err != nil {
		return nil, err
	}
	const stateInput = 4
	if !n.variable(stateInput) {
		return nil, malformedf("operand 4 (the hidden state) must be a variable tensor")
	}
	return kernels.RNN(n.cfg, p, n.input(0), n.input(1), n.input(2), n.input(3), n.input(stateInput), n.output(0))
}
