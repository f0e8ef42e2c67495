package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Generators, padding, pooling, normalization and indexing operators of
// TFLite's builtin set. Versions are TFLite's (register.cc).
func init() {
	registerBuiltin(schema.BuiltinOperatorFILL, 4, prepareFill)
	registerBuiltin(schema.BuiltinOperatorZEROS_LIKE, 1, prepareUnary(func(_ *kernels.Config, in, out *tensor.Tensor) (kernels.Kernel, error) {
		return kernels.ZerosLike(in, out)
	}))
	registerBuiltin(schema.BuiltinOperatorRANGE, 2, prepareRange)
	registerBuiltin(schema.BuiltinOperatorMIRROR_PAD, 3, prepareMirrorPad)
	registerBuiltin(schema.BuiltinOperatorPOW, 1, preparePow)
	registerBuiltin(schema.BuiltinOperatorADD_N, 1, prepareAddN)
	registerBuiltin(schema.BuiltinOperatorL2_POOL_2D, 1, prepareL2Pool)
	registerBuiltin(schema.BuiltinOperatorLOCAL_RESPONSE_NORMALIZATION, 1, prepareLRN)
	registerBuiltin(schema.BuiltinOperatorEMBEDDING_LOOKUP, 4, prepareEmbeddingLookup)
	registerBuiltin(schema.BuiltinOperatorSCATTER_ND, 1, prepareScatterND)
	registerBuiltin(schema.BuiltinOperatorMATRIX_DIAG, 1, prepareMatrixDiag)
	registerBuiltin(schema.BuiltinOperatorMATRIX_SET_DIAG, 1, prepareMatrixSetDiag)
	registerBuiltin(schema.BuiltinOperatorREDUCE_PROD, 2, prepareReduceMore)
	registerBuiltin(schema.BuiltinOperatorREDUCE_ANY, 1, prepareReduceMore)
	registerBuiltin(schema.BuiltinOperatorREDUCE_ALL, 1, prepareReduceMore)
	registerBuiltin(schema.BuiltinOperatorRELU_0_TO_1, 1, prepareUnary(func(_ *kernels.Config, in, out *tensor.Tensor) (kernels.Kernel, error) {
		return kernels.Relu0To1(in, out)
	}))
	registerBuiltin(schema.BuiltinOperatorDYNAMIC_UPDATE_SLICE, 4, prepareDynamicUpdateSlice)
	registerBuiltin(schema.BuiltinOperatorBROADCAST_ARGS, 1, prepareBroadcastArgs)
	registerBuiltin(schema.BuiltinOperatorATAN2, 1, prepareAtan2)
}

func prepareReduceMore(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	var o schema.ReducerOptions
	if err := n.options(&o, schema.BuiltinOptionsReducerOptions); err != nil {
		return nil, err
	}
	axes, err := n.constInts(1, "axis")
	if err != nil {
		return nil, err
	}
	switch n.name {
	case "REDUCE_ANY":
		return kernels.ReduceLogical(true, axes, o.KeepDims(), n.input(0), n.output(0))
	case "REDUCE_ALL":
		return kernels.ReduceLogical(false, axes, o.KeepDims(), n.input(0), n.output(0))
	}
	return kernels.ReduceProd(axes, o.KeepDims(), n.input(0), n.output(0))
}

func prepareDynamicUpdateSlice(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(3, 3, 1); err != nil {
		return nil, err
	}
	return kernels.DynamicUpdateSlice(n.input(0), n.input(1), n.input(2), n.output(0))
}

func prepareBroadcastArgs(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	return kernels.BroadcastArgs(n.input(0), n.input(1), n.output(0))
}

func prepareAtan2(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	return kernels.Atan2(n.input(0), n.input(1), n.output(0))
}

func prepareFill(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	if t := n.input(0); t.Rank() != 1 {
		return nil, malformedf("dims %q has shape %v; want a vector", t.Name, t.Shape)
	}
	dims, err := n.constInts(0, "dims")
	if err != nil {
		return nil, err
	}
	return kernels.Fill(dims, n.input(1), n.output(0))
}

func prepareRange(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(3, 3, 1); err != nil {
		return nil, err
	}
	for i, what := range []string{"start", "limit", "delta"} {
		if t := n.input(i); !t.Const {
			return nil, unsupportedf("RANGE %s (input %d, %q) is computed at run time; only constant ones are supported", what, i, t.Name)
		}
	}
	return kernels.Range(n.input(0), n.input(1), n.input(2), n.output(0))
}

func prepareMirrorPad(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	var o schema.MirrorPadOptions
	if err := n.options(&o, schema.BuiltinOptionsMirrorPadOptions); err != nil {
		return nil, err
	}
	if t := n.input(1); t.Rank() != 2 || t.Shape[1] != 2 || t.Shape[0] != n.input(0).Rank() {
		return nil, malformedf("paddings %q have shape %v; want [%d, 2]", t.Name, t.Shape, n.input(0).Rank())
	}
	pads, err := n.constInts(1, "paddings")
	if err != nil {
		return nil, err
	}
	return kernels.MirrorPad(n.input(0), pads, o.Mode() == schema.MirrorPadModeSYMMETRIC, n.output(0))
}

func preparePow(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	return kernels.Pow(n.input(0), n.input(1), n.output(0))
}

func prepareAddN(n *node) (kernels.Kernel, error) {
	if len(n.in) < 1 {
		return nil, malformedf("ADD_N without inputs")
	}
	if err := n.wantIO(len(n.in), len(n.in), 1); err != nil {
		return nil, err
	}
	return kernels.AddN(n.in, n.output(0))
}

func prepareL2Pool(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	var o schema.Pool2DOptions
	if err := n.options(&o, schema.BuiltinOptionsPool2DOptions); err != nil {
		return nil, err
	}
	return kernels.L2Pool2D(padding(o.Padding()), int(o.StrideH()), int(o.StrideW()), int(o.FilterHeight()), int(o.FilterWidth()),
		activation(o.FusedActivationFunction()), n.input(0), n.output(0))
}

func prepareLRN(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	var o schema.LocalResponseNormalizationOptions
	if err := n.options(&o, schema.BuiltinOptionsLocalResponseNormalizationOptions); err != nil {
		return nil, err
	}
	return kernels.LocalResponseNorm(int(o.Radius()), o.Bias(), o.Alpha(), o.Beta(), n.input(0), n.output(0))
}

func prepareEmbeddingLookup(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	return kernels.EmbeddingLookup(n.input(0), n.input(1), n.output(0))
}

func prepareScatterND(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(3, 3, 1); err != nil {
		return nil, err
	}
	if t := n.input(2); t.Type != n.input(0).Type || t.Rank() != 1 {
		return nil, malformedf("shape %q is %s%v; want a vector of the indices' type", t.Name, t.Type, t.Shape)
	}
	shape, err := n.constInts(2, "shape")
	if err != nil {
		return nil, err
	}
	return kernels.ScatterND(n.input(0), n.input(1), shape, n.output(0))
}

func prepareMatrixDiag(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	return kernels.MatrixDiag(n.input(0), n.output(0))
}

func prepareMatrixSetDiag(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	return kernels.MatrixSetDiag(n.input(0), n.input(1), n.output(0))
}
