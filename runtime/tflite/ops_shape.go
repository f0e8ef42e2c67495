package tflite

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Shape and data-movement operators. The versions are TFLite's
// (tensorflow/lite/kernels/register.cc); later versions of these ops only
// add element types, which the kernels handle by element size.
func init() {
	registerBuiltin(schema.BuiltinOperatorRESHAPE, 1, prepareReshape)
	registerBuiltin(schema.BuiltinOperatorSQUEEZE, 2, prepareSqueeze)
	registerBuiltin(schema.BuiltinOperatorEXPAND_DIMS, 1, prepareExpandDims)
	registerBuiltin(schema.BuiltinOperatorTRANSPOSE, 7, prepareTranspose)
	registerBuiltin(schema.BuiltinOperatorPAD, 5, preparePad)
	registerBuiltin(schema.BuiltinOperatorPADV2, 5, preparePadV2)
	registerBuiltin(schema.BuiltinOperatorCONCATENATION, 4, prepareConcatenation)
	registerBuiltin(schema.BuiltinOperatorSPLIT, 4, prepareSplit)
	registerBuiltin(schema.BuiltinOperatorSPLIT_V, 2, prepareSplitV)
	registerBuiltin(schema.BuiltinOperatorPACK, 4, preparePack)
	registerBuiltin(schema.BuiltinOperatorUNPACK, 4, prepareUnpack)
	registerBuiltin(schema.BuiltinOperatorSLICE, 6, prepareSlice)
	registerBuiltin(schema.BuiltinOperatorSTRIDED_SLICE, 8, prepareStridedSlice)
	registerBuiltin(schema.BuiltinOperatorGATHER, 7, prepareGather)
	registerBuiltin(schema.BuiltinOperatorGATHER_ND, 5, prepareGatherND)
}

func prepareReshape(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 2, 1); err != nil {
		return nil, err
	}
	in, out := n.input(0), n.output(0)
	shape, err := reshapeTarget(n, in, out)
	if err != nil {
		return nil, err
	}
	return kernels.Reshape(in, shape, out)
}

// reshapeTarget chooses RESHAPE's new shape as TFLite's reshape.cc does:
// the second input when it is an int32 vector, else the new_shape option
// (where the legacy [0] means a scalar). A shape input computed at run time
// cannot be honoured; the option, which the converter writes alongside it,
// stands in for it. Without either, the output's declared shape is used,
// as TFLite Micro does.
func reshapeTarget(n *node, in, out *tensor.Tensor) ([]int, error) {
	if t := n.input(1); t != nil && t.Rank() == 1 && t.Type == tensor.Int32 {
		if t.NumElements() == 0 {
			return []int{}, nil // an empty shape vector: a scalar (no data to be constant)
		}
		if t.Const {
			return t.Ints()
		}
	}
	var o schema.ReshapeOptions
	if err := n.options(&o, schema.BuiltinOptionsReshapeOptions); err != nil {
		return nil, err
	}
	if k := o.NewShapeLength(); k > 0 {
		shape := make([]int, k)
		for i := range shape {
			shape[i] = int(o.NewShape(i))
		}
		if k == 1 && shape[0] == 0 {
			return []int{}, nil
		}
		return shape, nil
	}
	if t := n.input(1); t != nil && !t.Const {
		return nil, unsupportedf("RESHAPE: shape input %q is computed at run time", t.Name)
	}
	if out.Shape != nil && tensor.NumElements(out.Shape) == in.NumElements() {
		return append([]int(nil), out.Shape...), nil
	}
	return []int{}, nil // TFLite: no new_shape means a scalar
}

func prepareSqueeze(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	var o schema.SqueezeOptions
	if err := n.options(&o, schema.BuiltinOptionsSqueezeOptions); err != nil {
		return nil, err
	}
	dims := make([]int, o.SqueezeDimsLength())
	for i := range dims {
		dims[i] = int(o.SqueezeDims(i))
	}
	return kernels.Squeeze(n.input(0), dims, n.output(0))
}

func prepareExpandDims(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	axis, err := shapeScalar(n, 1, "axis")
	if err != nil {
		return nil, err
	}
	return kernels.ExpandDims(n.input(0), axis, n.output(0))
}

// shapeScalar returns the single value of a constant int32/int64 input.
func shapeScalar(n *node, i int, what string) (int, error) {
	v, err := n.constInts(i, what)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s (input %d) has %d values; want 1", what, i, len(v))
	}
	return v[0], nil
}

func prepareTranspose(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	perm, err := n.constInts(1, "perm")
	if err != nil {
		return nil, err
	}
	return kernels.Transpose(n.input(0), perm, n.output(0))
}

func preparePad(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	return preparePadCommon(n, nil)
}

func preparePadV2(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 3, 1); err != nil {
		return nil, err
	}
	return preparePadCommon(n, n.input(2))
}

func preparePadCommon(n *node, value *tensor.Tensor) (kernels.Kernel, error) {
	in := n.input(0)
	if p := n.input(1); p.Rank() != 2 || p.Shape[0] != in.Rank() || p.Shape[1] != 2 {
		return nil, fmt.Errorf("paddings %q has shape %v; want [%d 2]", p.Name, p.Shape, in.Rank())
	}
	paddings, err := n.constInts(1, "paddings")
	if err != nil {
		return nil, err
	}
	return kernels.Pad(in, paddings, value, n.output(0))
}

func prepareConcatenation(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, max(1, len(n.in)), 1); err != nil {
		return nil, err
	}
	var o schema.ConcatenationOptions
	if err := n.options(&o, schema.BuiltinOptionsConcatenationOptions); err != nil {
		return nil, err
	}
	p := kernels.ConcatenationParams{Axis: int(o.Axis()), Activation: activation(o.FusedActivationFunction())}
	return kernels.Concatenation(n.cfg, p, n.in, n.output(0))
}

func prepareSplit(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, max(1, len(n.out))); err != nil {
		return nil, err
	}
	var o schema.SplitOptions
	if err := n.options(&o, schema.BuiltinOptionsSplitOptions); err != nil {
		return nil, err
	}
	if k := int(o.NumSplits()); k != 0 && k != len(n.out) {
		return nil, malformedf("num_splits %d; the operator has %d outputs", k, len(n.out))
	}
	axis, err := shapeScalar(n, 0, "axis")
	if err != nil {
		return nil, err
	}
	return kernels.Split(n.input(1), axis, n.out)
}

func prepareSplitV(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(3, 3, max(1, len(n.out))); err != nil {
		return nil, err
	}
	var o schema.SplitVOptions
	if err := n.options(&o, schema.BuiltinOptionsSplitVOptions); err != nil {
		return nil, err
	}
	if k := int(o.NumSplits()); k != 0 && k != len(n.out) {
		return nil, malformedf("num_splits %d; the operator has %d outputs", k, len(n.out))
	}
	sizes, err := n.constInts(1, "size_splits")
	if err != nil {
		return nil, err
	}
	axis, err := shapeScalar(n, 2, "axis")
	if err != nil {
		return nil, err
	}
	return kernels.SplitV(n.input(0), sizes, axis, n.out)
}

func preparePack(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, max(1, len(n.in)), 1); err != nil {
		return nil, err
	}
	var o schema.PackOptions
	if err := n.options(&o, schema.BuiltinOptionsPackOptions); err != nil {
		return nil, err
	}
	if k := int(o.ValuesCount()); k != 0 && k != len(n.in) {
		return nil, malformedf("values_count %d; the operator has %d inputs", k, len(n.in))
	}
	return kernels.Pack(n.in, int(o.Axis()), n.output(0))
}

func prepareUnpack(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, max(1, len(n.out))); err != nil {
		return nil, err
	}
	var o schema.UnpackOptions
	if err := n.options(&o, schema.BuiltinOptionsUnpackOptions); err != nil {
		return nil, err
	}
	if k := int(o.Num()); k != 0 && k != len(n.out) {
		return nil, malformedf("num %d; the operator has %d outputs", k, len(n.out))
	}
	return kernels.Unpack(n.input(0), int(o.Axis()), n.out)
}

func prepareSlice(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(3, 3, 1); err != nil {
		return nil, err
	}
	begin, err := n.constInts(1, "begin")
	if err != nil {
		return nil, err
	}
	size, err := n.constInts(2, "size")
	if err != nil {
		return nil, err
	}
	return kernels.Slice(n.input(0), begin, size, n.output(0))
}

func prepareStridedSlice(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(4, 4, 1); err != nil {
		return nil, err
	}
	var o schema.StridedSliceOptions
	if err := n.options(&o, schema.BuiltinOptionsStridedSliceOptions); err != nil {
		return nil, err
	}
	begin, err := n.constInts(1, "begin")
	if err != nil {
		return nil, err
	}
	end, err := n.constInts(2, "end")
	if err != nil {
		return nil, err
	}
	strides, err := n.constInts(3, "strides")
	if err != nil {
		return nil, err
	}
	p := kernels.StridedSliceParams{
		BeginMask:      int(o.BeginMask()),
		EndMask:        int(o.EndMask()),
		EllipsisMask:   int(o.EllipsisMask()),
		NewAxisMask:    int(o.NewAxisMask()),
		ShrinkAxisMask: int(o.ShrinkAxisMask()),
		Offset:         o.Offset(),
	}
	return kernels.StridedSlice(n.input(0), begin, end, strides, p, n.output(0))
}

func prepareGather(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	var o schema.GatherOptions
	if err := n.options(&o, schema.BuiltinOptionsGatherOptions); err != nil {
		return nil, err
	}
	p := kernels.GatherParams{Axis: int(o.Axis()), BatchDims: int(o.BatchDims())}
	return kernels.Gather(n.input(0), n.input(1), p, n.output(0))
}

func prepareGatherND(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	return kernels.GatherND(n.input(0), n.input(1), n.output(0))
}
