package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

func init() {
	registerBuiltin(schema.BuiltinOperatorFULLY_CONNECTED, 12, prepareFullyConnected)
}

func prepareFullyConnected(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 3, 1); err != nil {
		return nil, err
	}
	var o schema.FullyConnectedOptions
	if err := n.options(&o, schema.BuiltinOptionsFullyConnectedOptions); err != nil {
		return nil, err
	}
	if o.WeightsFormat() != schema.FullyConnectedOptionsWeightsFormatDEFAULT {
		return nil, unsupportedf("weights format %s", o.WeightsFormat())
	}
	p := kernels.FullyConnectedParams{Activation: activation(o.FusedActivationFunction()), KeepNumDims: o.KeepNumDims(),
		AsymmetricQuantizeInputs: o.AsymmetricQuantizeInputs()}
	in, filter := n.input(0), n.input(1)
	if p.KeepNumDims && (in.Rank() == 0 || filter.Rank() != 2 || in.Dim(-1) != filter.Shape[1]) {
		// TFLite requires it: the output keeps the input's leading dims.
		return nil, malformedf("keep_num_dims with input shape %v and filter shape %v: the input's last dimension must equal the filter's depth", in.Shape, filter.Shape)
	}
	return kernels.FullyConnected(n.cfg, p, n.input(0), n.input(1), n.input(2), n.output(0))
}
