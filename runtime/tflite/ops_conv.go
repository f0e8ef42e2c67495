package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

func init() {
	registerBuiltin(schema.BuiltinOperatorCONV_2D, 8, prepareConv2D)
	registerBuiltin(schema.BuiltinOperatorDEPTHWISE_CONV_2D, 7, prepareDepthwiseConv2D)
	registerBuiltin(schema.BuiltinOperatorTRANSPOSE_CONV, 5, prepareTransposeConv)
	registerBuiltin(schema.BuiltinOperatorBATCH_MATMUL, 4, prepareBatchMatMul)
}

func prepareConv2D(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 3, 1); err != nil {
		return nil, err
	}
	var o schema.Conv2DOptions
	if err := n.options(&o, schema.BuiltinOptionsConv2DOptions); err != nil {
		return nil, err
	}
	p := kernels.ConvParams{
		Padding: padding(o.Padding()),
		StrideH: int(o.StrideH()), StrideW: int(o.StrideW()),
		DilationH: int(o.DilationHFactor()), DilationW: int(o.DilationWFactor()),
		Activation: activation(o.FusedActivationFunction()),
	}
	// In the official runtime's arithmetic, a float convolution whose
	// output a hybrid operator quantizes must round as XNNPACK does.
	p.InOrder = n.cfg.Arithmetic == kernels.LiteRT && n.input(0).Type == tensor.Float32 && n.input(1).Type == tensor.Float32 && n.feedsHybrid(0)
	return kernels.Conv2D(n.cfg, p, n.input(0), n.input(1), n.input(2), n.output(0))
}

func prepareDepthwiseConv2D(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 3, 1); err != nil {
		return nil, err
	}
	var o schema.DepthwiseConv2DOptions
	if err := n.options(&o, schema.BuiltinOptionsDepthwiseConv2DOptions); err != nil {
		return nil, err
	}
	// depth_multiplier is not read: the kernel derives it from the shapes,
	// as TFLite does, since some converters write 0 or a stale value.
	p := kernels.DepthwiseConvParams{
		Padding: padding(o.Padding()),
		StrideH: int(o.StrideH()), StrideW: int(o.StrideW()),
		DilationH: int(o.DilationHFactor()), DilationW: int(o.DilationWFactor()),
		Activation: activation(o.FusedActivationFunction()),
	}
	return kernels.DepthwiseConv2D(n.cfg, p, n.input(0), n.input(1), n.input(2), n.output(0))
}

func prepareTransposeConv(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(3, 4, 1); err != nil {
		return nil, err
	}
	var o schema.TransposeConvOptions
	if err := n.options(&o, schema.BuiltinOptionsTransposeConvOptions); err != nil {
		return nil, err
	}
	p := kernels.TransposeConvParams{
		Padding: padding(o.Padding()),
		StrideH: int(o.StrideH()), StrideW: int(o.StrideW()),
		Activation: activation(o.FusedActivationFunction()),
	}
	if t := n.input(0); !t.Const {
		// Sized at every Invoke from the tensor's values, as TFLite
		// does (a dynamic output): the arena holds the largest output
		// the input, filter, stride and padding allow.
		k, err := kernels.TransposeConvDynamic(n.cfg, p, t, n.input(1), n.input(2), n.input(3), n.output(0), n.consumed(0))
		if err != nil {
			return nil, err
		}
		n.reserveOutput(0, k.MaxOutputBytes())
		return k, nil
	}
	shape, err := n.constInts(0, "output_shape")
	if err != nil {
		return nil, err
	}
	return kernels.TransposeConv(n.cfg, p, shape, n.input(1), n.input(2), n.input(3), n.output(0))
}

func prepareBatchMatMul(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	var o schema.BatchMatMulOptions
	if err := n.options(&o, schema.BuiltinOptionsBatchMatMulOptions); err != nil {
		return nil, err
	}
	p := kernels.BatchMatMulParams{AdjX: o.AdjX(), AdjY: o.AdjY()}
	return kernels.BatchMatMul(n.cfg, p, n.input(0), n.input(1), n.output(0))
}
