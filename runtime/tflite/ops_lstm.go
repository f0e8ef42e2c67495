package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

func init() {
	registerBuiltin(schema.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_LSTM, 4, prepareUnidirectionalSequenceLSTM)
}

func prepareUnidirectionalSequenceLSTM(n *node) (kernels.Kernel, error) {
	// Models without layer normalisation may leave out the last four
	// operands.
	if err := n.wantIO(1, kernels.LSTMNumInputs, 1); err != nil {
		return nil, err
	}
	if len(n.in) < 20 {
		return nil, malformedf("%d inputs; want 20 or 24", len(n.in))
	}
	var o schema.UnidirectionalSequenceLSTMOptions
	if err := n.options(&o, schema.BuiltinOptionsUnidirectionalSequenceLSTMOptions); err != nil {
		return nil, err
	}
	if o.DiagonalRecurrentTensors() {
		return nil, unsupportedf("diagonal recurrent weights")
	}
	for _, i := range []int{kernels.LSTMOutputState, kernels.LSTMCellState} {
		if n.input(i) == nil || !n.variable(i) {
			return nil, malformedf("operand %d (the %s) must be a variable tensor", i, map[int]string{kernels.LSTMOutputState: "output state", kernels.LSTMCellState: "cell state"}[i])
		}
	}
	in := make([]*tensor.Tensor, kernels.LSTMNumInputs)
	copy(in, n.in)
	var hidden *tensor.Tensor
	if len(n.inter) > 4 {
		hidden = n.inter[4]
	}
	p := kernels.LSTMParams{
		Activation: activation(o.FusedActivationFunction()),
		CellClip:   o.CellClip(), ProjClip: o.ProjClip(),
		TimeMajor:                o.TimeMajor(),
		AsymmetricQuantizeInputs: o.AsymmetricQuantizeInputs(),
	}
	return kernels.UnidirectionalSequenceLSTM(n.cfg, p, in, hidden, n.output(0))
}
