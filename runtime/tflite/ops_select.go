package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Ranking, indexing and scanning operators. Versions are TFLite's
// (register.cc).
func init() {
	registerBuiltin(schema.BuiltinOperatorTOPK_V2, 3, prepareTopK)
	registerBuiltin(schema.BuiltinOperatorONE_HOT, 1, prepareOneHot)
	registerBuiltin(schema.BuiltinOperatorCUMSUM, 1, prepareCumSum)
	registerBuiltin(schema.BuiltinOperatorREVERSE_V2, 4, prepareReverseV2)
	registerBuiltin(schema.BuiltinOperatorNON_MAX_SUPPRESSION_V4, 1, prepareNMS(false))
	registerBuiltin(schema.BuiltinOperatorNON_MAX_SUPPRESSION_V5, 1, prepareNMS(true))
}

// constScalar returns the single value of a constant integer input of
// one element.
func constScalar(n *node, i int, what string) (int, error) {
	t := n.input(i)
	if t == nil {
		return 0, malformedf("%s (input %d) is missing", what, i)
	}
	if t.NumElements() != 1 {
		return 0, malformedf("%s %q has %d elements; want 1", what, t.Name, t.NumElements())
	}
	if t.Type == tensor.Int16 && t.Const {
		return int(t.Int16s()[0]), nil
	}
	return shapeScalar(n, i, what)
}

func prepareTopK(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 2); err != nil {
		return nil, err
	}
	if t := n.input(1); t.Type != tensor.Int32 && t.Type != tensor.Int16 {
		return nil, unsupportedf("TOPK_V2 k %q has type %s; want int32 or int16", t.Name, t.Type)
	}
	k, err := constScalar(n, 1, "k")
	if err != nil {
		return nil, err
	}
	return kernels.TopKV2(n.input(0), k, n.output(0), n.output(1))
}

func prepareOneHot(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(4, 4, 1); err != nil {
		return nil, err
	}
	var o schema.OneHotOptions
	if err := n.options(&o, schema.BuiltinOptionsOneHotOptions); err != nil {
		return nil, err
	}
	if t := n.input(1); t.Type != tensor.Int32 {
		return nil, malformedf("depth %q has type %s; want int32", t.Name, t.Type)
	}
	depth, err := constScalar(n, 1, "depth")
	if err != nil {
		return nil, err
	}
	return kernels.OneHot(n.input(0), depth, n.input(2), n.input(3), int(o.Axis()), n.output(0))
}

func prepareCumSum(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	var o schema.CumsumOptions
	if err := n.options(&o, schema.BuiltinOptionsCumsumOptions); err != nil {
		return nil, err
	}
	if t := n.input(1); t.Type != tensor.Int32 {
		return nil, malformedf("axis %q has type %s; want int32", t.Name, t.Type)
	}
	axis, err := constScalar(n, 1, "axis")
	if err != nil {
		return nil, err
	}
	return kernels.CumSum(n.input(0), axis, o.Exclusive(), o.Reverse(), n.output(0))
}

func prepareReverseV2(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	if t := n.input(1); t.Type != tensor.Int32 || t.Rank() != 1 {
		return nil, malformedf("axis %q is %s%v; want an int32 vector", t.Name, t.Type, t.Shape)
	}
	axes, err := n.constInts(1, "axis")
	if err != nil {
		return nil, err
	}
	return kernels.ReverseV2(n.input(0), axes, n.output(0))
}

func prepareNMS(soft bool) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		nIn, nOut := 5, 2
		if soft {
			nIn, nOut = 6, 3
		}
		if err := n.wantIO(nIn, nIn, nOut); err != nil {
			return nil, err
		}
		if t := n.input(2); t.Type != tensor.Int32 || t.Rank() != 0 {
			return nil, malformedf("max_output_size %q is %s%v; want an int32 scalar", t.Name, t.Type, t.Shape)
		}
		m, err := constScalar(n, 2, "max_output_size")
		if err != nil {
			return nil, err
		}
		p := kernels.NMSParams{MaxOutputSize: m, Soft: soft}
		if soft {
			return kernels.NonMaxSuppression(p, n.input(0), n.input(1), n.input(3), n.input(4), n.input(5), n.output(0), n.output(1), n.output(2))
		}
		return kernels.NonMaxSuppression(p, n.input(0), n.input(1), n.input(3), n.input(4), nil, n.output(0), nil, n.output(1))
	}
}
