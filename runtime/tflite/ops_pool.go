package tflite

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Pooling, reductions, resizing and arg-min/max.

func init() {
	registerBuiltin(schema.BuiltinOperatorAVERAGE_POOL_2D, 3, preparePool(kernels.PoolAverage))
	registerBuiltin(schema.BuiltinOperatorMAX_POOL_2D, 3, preparePool(kernels.PoolMax))
	registerBuiltin(schema.BuiltinOperatorMEAN, 3, prepareReduce(kernels.ReduceMean))
	registerBuiltin(schema.BuiltinOperatorSUM, 2, prepareReduce(kernels.ReduceSum))
	registerBuiltin(schema.BuiltinOperatorREDUCE_MAX, 3, prepareReduce(kernels.ReduceMax))
	registerBuiltin(schema.BuiltinOperatorREDUCE_MIN, 3, prepareReduce(kernels.ReduceMin))
	registerBuiltin(schema.BuiltinOperatorRESIZE_BILINEAR, 4, prepareResize(false))
	registerBuiltin(schema.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR, 4, prepareResize(true))
	registerBuiltin(schema.BuiltinOperatorARG_MAX, 3, prepareArgMinMax(true))
	registerBuiltin(schema.BuiltinOperatorARG_MIN, 3, prepareArgMinMax(false))
}

func preparePool(kind kernels.PoolKind) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(1, 1, 1); err != nil {
			return nil, err
		}
		var o schema.Pool2DOptions
		if err := n.options(&o, schema.BuiltinOptionsPool2DOptions); err != nil {
			return nil, err
		}
		p := kernels.PoolParams{
			Kind:       kind,
			Padding:    padding(o.Padding()),
			StrideW:    int(o.StrideW()),
			StrideH:    int(o.StrideH()),
			FilterW:    int(o.FilterWidth()),
			FilterH:    int(o.FilterHeight()),
			Activation: activation(o.FusedActivationFunction()),
		}
		return kernels.Pool2D(n.cfg, p, n.input(0), n.output(0))
	}
}

func prepareReduce(kind kernels.ReduceKind) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
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
		p := kernels.ReduceParams{Kind: kind, Axes: axes, KeepDims: o.KeepDims()}
		return kernels.Reduce(n.cfg, p, n.input(0), n.output(0))
	}
}

func prepareResize(nearest bool) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(2, 2, 1); err != nil {
			return nil, err
		}
		var p kernels.ResizeParams
		if nearest {
			var o schema.ResizeNearestNeighborOptions
			if err := n.options(&o, schema.BuiltinOptionsResizeNearestNeighborOptions); err != nil {
				return nil, err
			}
			p = kernels.ResizeParams{AlignCorners: o.AlignCorners(), HalfPixelCenters: o.HalfPixelCenters()}
		} else {
			var o schema.ResizeBilinearOptions
			if err := n.options(&o, schema.BuiltinOptionsResizeBilinearOptions); err != nil {
				return nil, err
			}
			p = kernels.ResizeParams{AlignCorners: o.AlignCorners(), HalfPixelCenters: o.HalfPixelCenters()}
		}
		size, err := n.constInts(1, "size")
		if err != nil {
			return nil, err
		}
		if len(size) != 2 {
			return nil, malformedf("size has %d values; want 2 (height, width)", len(size))
		}
		if nearest {
			return kernels.ResizeNearestNeighbor(n.cfg, p, n.input(0), size[0], size[1], n.output(0))
		}
		return kernels.ResizeBilinear(n.cfg, p, n.input(0), size[0], size[1], n.output(0))
	}
}

func prepareArgMinMax(isMax bool) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(2, 2, 1); err != nil {
			return nil, err
		}
		var want schema.TensorType
		if isMax {
			var o schema.ArgMaxOptions
			if err := n.options(&o, schema.BuiltinOptionsArgMaxOptions); err != nil {
				return nil, err
			}
			want = o.OutputType()
		} else {
			var o schema.ArgMinOptions
			if err := n.options(&o, schema.BuiltinOptionsArgMinOptions); err != nil {
				return nil, err
			}
			want = o.OutputType()
		}
		out := n.output(0)
		if (want == schema.TensorTypeINT32 && out.Type != tensor.Int32) || (want == schema.TensorTypeINT64 && out.Type != tensor.Int64) {
			return nil, malformedf("output %q is %s; options say %s", out.Name, out.Type, want)
		}
		axis, err := n.constInts(1, "axis")
		if err != nil {
			return nil, err
		}
		if len(axis) != 1 {
			return nil, malformedf("axis has %d values; want 1", len(axis))
		}
		k, err := kernels.ArgMinMax(n.cfg, isMax, axis[0], n.input(0), out)
		if err != nil {
			return nil, fmt.Errorf("arg min/max: %w", err)
		}
		return k, nil
	}
}
