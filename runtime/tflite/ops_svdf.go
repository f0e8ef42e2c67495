package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

func init() {
	registerBuiltin(schema.BuiltinOperatorSVDF, 4, prepareSVDF)
}

func prepareSVDF(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(3, 5, 1); err != nil {
		return nil, err
	}
	var o schema.SVDFOptions
	if err := n.options(&o, schema.BuiltinOptionsSVDFOptions); err != nil {
		return nil, err
	}
	const stateInput = 4
	if n.input(stateInput) == nil || !n.variable(stateInput) {
		return nil, malformedf("operand 4 (the activation state) must be a variable tensor")
	}
	p := kernels.SVDFParams{Rank: int(o.Rank()), Activation: activation(o.FusedActivationFunction()), AsymmetricQuantizeInputs: o.AsymmetricQuantizeInputs()}
	return kernels.SVDF(n.cfg, p, n.input(0), n.input(1), n.input(2), n.input(3), n.input(stateInput), n.output(0))
}
