package tflite

import (
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Shape queries and operators that rearrange elements between
// dimensions. Versions are TFLite's (register.cc); the later versions of
// these operators only add element types, which the kernels handle by
// element size.
func init() {
	registerBuiltin(schema.BuiltinOperatorSHAPE, 1, prepareShape)
	registerBuiltin(schema.BuiltinOperatorRANK, 1, prepareRank)
	registerBuiltin(schema.BuiltinOperatorTILE, 3, prepareTile)
	registerBuiltin(schema.BuiltinOperatorBROADCAST_TO, 3, prepareBroadcastTo)
	registerBuiltin(schema.BuiltinOperatorSPACE_TO_BATCH_ND, 4, prepareSpaceBatch(kernels.SpaceToBatchND))
	registerBuiltin(schema.BuiltinOperatorBATCH_TO_SPACE_ND, 4, prepareSpaceBatch(kernels.BatchToSpaceND))
	registerBuiltin(schema.BuiltinOperatorDEPTH_TO_SPACE, 2, prepareDepthToSpace)
	registerBuiltin(schema.BuiltinOperatorSPACE_TO_DEPTH, 2, prepareSpaceToDepth)
}

func prepareDepthToSpace(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	var o schema.DepthToSpaceOptions
	if err := n.options(&o, schema.BuiltinOptionsDepthToSpaceOptions); err != nil {
		return nil, err
	}
	return kernels.DepthToSpace(n.input(0), int(o.BlockSize()), n.output(0))
}

func prepareSpaceToDepth(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	var o schema.SpaceToDepthOptions
	if err := n.options(&o, schema.BuiltinOptionsSpaceToDepthOptions); err != nil {
		return nil, err
	}
	return kernels.SpaceToDepth(n.input(0), int(o.BlockSize()), n.output(0))
}

func prepareShape(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	var o schema.ShapeOptions
	if err := n.options(&o, schema.BuiltinOptionsShapeOptions); err != nil {
		return nil, err
	}
	out := n.output(0)
	if want, err := dtypeOf(o.OutType()); err == nil && (want == tensor.Int32 || want == tensor.Int64) && want != out.Type {
		return nil, malformedf("out_type is %s; output %q has type %s", want, out.Name, out.Type)
	}
	// The input's shape is known now: compute the output at prepare time
	// (TFLite's persistent read-only output), so that the shape arithmetic
	// after it folds too.
	n.shapeOnly = true
	return kernels.Shape(n.input(0), out)
}

func prepareRank(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	n.shapeOnly = true
	return kernels.Rank(n.input(0), n.output(0))
}

func prepareTile(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	m, err := n.constInts(1, "multiples")
	if err != nil {
		return nil, err
	}
	return kernels.Tile(n.input(0), m, n.output(0))
}

func prepareBroadcastTo(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	if s := n.input(1); s.Rank() != 1 {
		return nil, malformedf("shape %q has rank %d; want a vector", s.Name, s.Rank())
	}
	shape, err := n.constInts(1, "shape")
	if err != nil {
		return nil, err
	}
	return kernels.BroadcastTo(n.input(0), shape, n.output(0))
}

func prepareSpaceBatch(k func(in *tensor.Tensor, block, pads []int, out *tensor.Tensor) (kernels.Kernel, error)) prepareFunc {
	return func(n *node) (kernels.Kernel, error) {
		if err := n.wantIO(3, 3, 1); err != nil {
			return nil, err
		}
		for i, want := range []int{1, 2} {
			t := n.input(i + 1)
			if t.Type != tensor.Int32 {
				return nil, unsupportedf("%s (input %d) has type %s; want int32", t.Name, i+1, t.Type)
			}
			if t.Rank() != want || want == 2 && t.Shape[1] != 2 {
				return nil, malformedf("input %d %q has shape %v; want %s", i+1, t.Name, t.Shape, [...]string{"[spatial dims]", "[spatial dims, 2]"}[i])
			}
		}
		block, err := n.constInts(1, "block_shape")
		if err != nil {
			return nil, err
		}
		pads, err := n.constInts(2, "paddings/crops")
		if err != nil {
			return nil, err
		}
		return k(n.input(0), block, pads, n.output(0))
	}
}
