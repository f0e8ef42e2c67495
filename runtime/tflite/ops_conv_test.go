package tflite

import (
	"math"
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// Differential generators for the convolution family (see diff_test.go):
// random single-operator CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and
// BATCH_MATMUL models checked against the oracle.

func init() {
	// diff_gen_test.go covers float32, int8 and uint8 CONV_2D and
	// DEPTHWISE_CONV_2D; these add int16, grouped and larger 1x1 cases.
	addDiffGen("CONV_2D/int16", func(r *rand.Rand) ([]byte, [][]byte, error) { return convDiffConv(r, tensor.Int16, false, false) })
	// Deep int16 convolutions (an audio U-Net's 3×4 over 64 channels):
	// long dot products, several vector chunks per output.
	addDiffGen("CONV_2D/int16_deep", func(r *rand.Rand) ([]byte, [][]byte, error) {
		return convDiffConvDepth(r, tensor.Int16, false, false, 160)
	})
	addDiffGen("CONV_2D/grouped_float32", func(r *rand.Rand) ([]byte, [][]byte, error) { return convDiffConv(r, tensor.Float32, false, true) })
	addDiffGen("CONV_2D/grouped_int8", func(r *rand.Rand) ([]byte, [][]byte, error) { return convDiffConv(r, tensor.Int8, false, true) })
	addDiffGen("DEPTHWISE_CONV_2D/int16", func(r *rand.Rand) ([]byte, [][]byte, error) { return convDiffConv(r, tensor.Int16, true, false) })
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16} {
		addDiffGen("TRANSPOSE_CONV/"+dt.String(), func(r *rand.Rand) ([]byte, [][]byte, error) { return convDiffTranspose(r, dt) })
	}
	addDiffGen("CONV_2D/pointwise_int8", func(r *rand.Rand) ([]byte, [][]byte, error) { return convDiffPointwise(r) })
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.Int16} {
		addDiffGen("BATCH_MATMUL/"+dt.String(), func(r *rand.Rand) ([]byte, [][]byte, error) { return convDiffBatchMatMul(r, dt, dt) })
	}
	// int16 activations with int8 weights (ai-edge-quantizer's a16w8).
	addDiffGen("BATCH_MATMUL/int16_int8", func(r *rand.Rand) ([]byte, [][]byte, error) {
		return convDiffBatchMatMul(r, tensor.Int16, tensor.Int8)
	})
	// Float weights (an einsum by a parameter): the rhs is a constant,
	// packed for the float GEMM; sizes that fill its SIMD blocks.
	addDiffGen("BATCH_MATMUL/float32_const_rhs", func(r *rand.Rand) ([]byte, [][]byte, error) {
		return convDiffBatchMatMulSized(r, tensor.Float32, tensor.Float32, true, 40, 80, 40)
	})
	// Two activations (attention's Q·Kᵀ and P·V), large enough for the
	// GEMM path: the rhs is packed at every invoke.
	addDiffGen("BATCH_MATMUL/float32_large", func(r *rand.Rand) ([]byte, [][]byte, error) {
		return convDiffBatchMatMulSized(r, tensor.Float32, tensor.Float32, false, 40, 80, 40)
	})
}

// convDiffOutSize is TFLite's output size of a window over n elements.
func convDiffOutSize(same bool, n, filter, stride, dil int) int {
	if same {
		return (n + stride - 1) / stride
	}
	return (n-((filter-1)*dil+1))/stride + 1
}

// convDiffWeights returns the filter (and its quantization) for a
// convolution with input type dt and n weights over outC channels on axis.
func convDiffWeights(r *rand.Rand, dt tensor.DType, n, outC, axis int) (tensor.DType, *tensor.Quant, []byte, float64) {
	switch dt {
	case tensor.Float32:
		return tensor.Float32, nil, diffTensorBytes(r, tensor.Float32, n), 0
	case tensor.UInt8:
		q := diffQuant(r, tensor.UInt8, 0.002, 0.05)
		return tensor.UInt8, q, diffTensorBytes(r, tensor.UInt8, n), float64(q.Scale[0])
	}
	// int8 and int16 activations take symmetric int8 weights, per-channel
	// or per-tensor.
	var q *tensor.Quant
	if outC > 1 && r.IntN(4) != 0 {
		q = diffPerChannelQuant(r, outC, axis, 0.002, 0.05)
	} else {
		q = diffPerChannelQuant(r, 1, 0, 0.002, 0.05)
	}
	maxS := 0.0
	for _, s := range q.Scale {
		maxS = math.Max(maxS, float64(s))
	}
	return tensor.Int8, q, diffInt8Weights(r, n), maxS
}

// convDiffBias returns a bias for outC channels: float, int32 (8-bit
// types) or int64 (int16), with scales in_scale*filter_scale.
func convDiffBias(r *rand.Rand, dt tensor.DType, inQ, fQ *tensor.Quant, outC int) (tensor.DType, *tensor.Quant, []byte) {
	switch dt {
	case tensor.Float32:
		return tensor.Float32, nil, diffTensorBytes(r, tensor.Float32, outC)
	}
	q := &tensor.Quant{Scale: make([]float32, len(fQ.Scale)), ZeroPoint: make([]int32, len(fQ.Scale))}
	for i, s := range fQ.Scale {
		q.Scale[i] = inQ.Scale[0] * s
	}
	if dt == tensor.Int16 {
		v := make([]int64, outC)
		for i := range v {
			v[i] = int64(diffInt(r, -200000, 200000))
		}
		return tensor.Int64, q, tflitetest.Int64Bytes(v)
	}
	return tensor.Int32, q, diffInt32Bytes(r, outC, -5000, 5000)
}

// convDiffOutQuant picks an output scale that keeps typical sums of k
// products inside the output type's range.
func convDiffOutQuant(r *rand.Rand, dt tensor.DType, inQ *tensor.Quant, fScale float64, k int) *tensor.Quant {
	if dt == tensor.Float32 {
		return nil
	}
	q := diffQuant(r, dt, 1, 1)
	spread := 90.0
	if dt == tensor.Int16 {
		spread = 200
	}
	q.Scale[0] = float32(float64(inQ.Scale[0]) * fScale * math.Sqrt(float64(k)) * spread * diffLogUniform(r, 0.5, 2))
	return q
}

func convDiffVersion(dt tensor.DType, float, uint8v, int8v, int16v int) int {
	switch dt {
	case tensor.UInt8:
		return uint8v
	case tensor.Int8:
		return int8v
	case tensor.Int16:
		return int16v
	}
	return float
}

// convDiffConv builds a CONV_2D or DEPTHWISE_CONV_2D with random
// geometry; grouped gives CONV_2D filters fewer input channels than the
// input has.
func convDiffConv(r *rand.Rand, dt tensor.DType, depthwise, grouped bool) ([]byte, [][]byte, error) {
	return convDiffConvDepth(r, dt, depthwise, grouped, 8)
}

// convDiffConvDepth is convDiffConv with 1 to maxC input channels.
func convDiffConvDepth(r *rand.Rand, dt tensor.DType, depthwise, grouped bool, maxC int) ([]byte, [][]byte, error) {
	batch := diffInt(r, 1, 2)
	inC := diffInt(r, 1, maxC)
	fH, fW := diffInt(r, 1, 3), diffInt(r, 1, 3)
	sH, sW := diffInt(r, 1, 3), diffInt(r, 1, 3)
	dH, dW := 1, 1
	if r.IntN(3) == 0 {
		dH, dW = diffInt(r, 1, 2), diffInt(r, 1, 2)
	}
	same := r.IntN(2) == 0
	inH := diffInt(r, (fH-1)*dH+1, 10)
	inW := diffInt(r, (fW-1)*dW+1, 10)
	outH, outW := convDiffOutSize(same, inH, fH, sH, dH), convDiffOutSize(same, inW, fW, sW, dW)
	act := diffActivation(r)
	pad := schema.PaddingVALID
	if same {
		pad = schema.PaddingSAME
	}

	var outC, k, axis int
	var fShape []int
	if depthwise {
		dm := diffPick(r, 1, 1, 2, 3)
		outC = inC * dm
		fShape = []int{1, fH, fW, outC}
		k, axis = fH*fW, 3
	} else {
		groups := 1
		if grouped {
			groups = diffInt(r, 2, 3)
			inC = groups * diffInt(r, 1, 3)
		}
		outC = groups * diffInt(r, 1, 3)
		if !grouped {
			outC = diffInt(r, 1, 8)
		}
		fShape = []int{outC, fH, fW, inC / groups}
		k, axis = fH*fW*inC/groups, 0
	}
	b := tflitetest.NewBuilder()
	inQ := (*tensor.Quant)(nil)
	if dt != tensor.Float32 {
		inQ = diffQuant(r, dt, 0.01, 0.1)
	}
	in := b.Tensor("in", dt, []int{batch, inH, inW, inC}, inQ, nil)
	fT, fQ, fData, fScale := convDiffWeights(r, dt, tensor.NumElements(fShape), outC, axis)
	w := b.Const("w", fT, fShape, fQ, fData)
	bias := tflitetest.NoInput
	// TFLite's int16 and grouped kernels require the bias.
	if dt == tensor.Int16 || grouped || r.IntN(4) != 0 {
		bT, bQ, bData := convDiffBias(r, dt, inQ, fQ, outC)
		bias = b.Const("b", bT, []int{outC}, bQ, bData)
	}
	out := b.Tensor("out", dt, []int{batch, outH, outW, outC}, convDiffOutQuant(r, dt, inQ, fScale, k), nil)
	if depthwise {
		b.Op(schema.BuiltinOperatorDEPTHWISE_CONV_2D, convDiffVersion(dt, 2, 2, 3, 5), []int{in, w, bias}, []int{out},
			tflitetest.DepthwiseConv2DOptions(pad, sW, sH, outC/inC, act, dW, dH))
	} else {
		b.Op(schema.BuiltinOperatorCONV_2D, convDiffVersion(dt, 1, 1, 3, 4), []int{in, w, bias}, []int{out},
			tflitetest.Conv2DOptions(pad, sW, sH, act, dW, dH))
	}
	b.Inputs(in)
	b.Outputs(out)
	model, err := b.Bytes()
	return model, [][]byte{diffTensorBytes(r, dt, batch*inH*inW*inC)}, err
}

// convDiffPointwise is a larger 1x1 stride-1 int8 convolution, the shape
// most of MobileNet's work has.
func convDiffPointwise(r *rand.Rand) ([]byte, [][]byte, error) {
	hw, inC, outC := diffInt(r, 1, 12), diffInt(r, 8, 64), diffInt(r, 8, 64)
	b := tflitetest.NewBuilder()
	inQ := diffQuant(r, tensor.Int8, 0.01, 0.1)
	in := b.Tensor("in", tensor.Int8, []int{1, hw, hw, inC}, inQ, nil)
	fT, fQ, fData, fScale := convDiffWeights(r, tensor.Int8, outC*inC, outC, 0)
	w := b.Const("w", fT, []int{outC, 1, 1, inC}, fQ, fData)
	bT, bQ, bData := convDiffBias(r, tensor.Int8, inQ, fQ, outC)
	bias := b.Const("b", bT, []int{outC}, bQ, bData)
	out := b.Tensor("out", tensor.Int8, []int{1, hw, hw, outC}, convDiffOutQuant(r, tensor.Int8, inQ, fScale, inC), nil)
	b.Op(schema.BuiltinOperatorCONV_2D, 3, []int{in, w, bias}, []int{out},
		tflitetest.Conv2DOptions(schema.PaddingSAME, 1, 1, diffActivation(r), 1, 1))
	b.Inputs(in)
	b.Outputs(out)
	model, err := b.Bytes()
	return model, [][]byte{diffTensorBytes(r, tensor.Int8, hw*hw*inC)}, err
}

// convDiffTranspose builds a TRANSPOSE_CONV whose output_shape is the one
// TensorFlow's conv2d_transpose produces for the padding.
func convDiffTranspose(r *rand.Rand, dt tensor.DType) ([]byte, [][]byte, error) {
	batch := diffInt(r, 1, 2)
	inH, inW, inC := diffInt(r, 1, 5), diffInt(r, 1, 5), diffInt(r, 1, 6)
	outC := diffInt(r, 1, 6)
	fH, fW := diffInt(r, 1, 3), diffInt(r, 1, 3)
	sH, sW := diffInt(r, 1, 3), diffInt(r, 1, 3)
	same := r.IntN(2) == 0
	var outH, outW int
	pad := schema.PaddingVALID
	if same {
		pad = schema.PaddingSAME
		outH, outW = inH*sH, inW*sW
	} else {
		outH, outW = (inH-1)*sH+fH, (inW-1)*sW+fW
	}
	outShape := []int{batch, outH, outW, outC}
	b := tflitetest.NewBuilder()
	shapeT := b.Const("output_shape", tensor.Int32, []int{4}, nil, tflitetest.ShapeBytes(outShape))
	fShape := []int{outC, fH, fW, inC}
	fT, fQ, fData, fScale := convDiffWeights(r, dt, tensor.NumElements(fShape), outC, 0)
	w := b.Const("w", fT, fShape, fQ, fData)
	inQ := (*tensor.Quant)(nil)
	if dt != tensor.Float32 {
		inQ = diffQuant(r, dt, 0.01, 0.1)
	}
	in := b.Tensor("in", dt, []int{batch, inH, inW, inC}, inQ, nil)
	inputs := []int{shapeT, w, in}
	if r.IntN(3) != 0 {
		bT, bQ, bData := convDiffBias(r, dt, inQ, fQ, outC)
		inputs = append(inputs, b.Const("b", bT, []int{outC}, bQ, bData))
	}
	k := inC * ((fH + sH - 1) / sH) * ((fW + sW - 1) / sW)
	out := b.Tensor("out", dt, outShape, convDiffOutQuant(r, dt, inQ, fScale, k), nil)
	b.Op(schema.BuiltinOperatorTRANSPOSE_CONV, 4, inputs, []int{out},
		tflitetest.TransposeConvOptions(pad, sW, sH, diffActivation(r)))
	b.Inputs(in)
	b.Outputs(out)
	model, err := b.Bytes()
	return model, [][]byte{diffTensorBytes(r, dt, batch*inH*inW*inC)}, err
}

// convDiffBatchMatMul builds a BATCH_MATMUL with random adjoints and
// broadcast batch dimensions; rdt is the rhs's type (dt, or int8 with
// int16 activations: zero point 0, as TFLite requires, and sometimes a
// constant, as the converter writes weights).
func convDiffBatchMatMul(r *rand.Rand, dt, rdt tensor.DType) ([]byte, [][]byte, error) {
	return convDiffBatchMatMulSized(r, dt, rdt, false, 6, 8, 6)
}

// convDiffBatchMatMulSized is convDiffBatchMatMul with rows, depth and
// columns up to the given sizes; constant makes the rhs a constant always.
func convDiffBatchMatMulSized(r *rand.Rand, dt, rdt tensor.DType, constant bool, maxRows, maxDepth, maxCols int) ([]byte, [][]byte, error) {
	rank := diffInt(r, 2, 4)
	rows, depth, cols := diffInt(r, 1, maxRows), diffInt(r, 1, maxDepth), diffInt(r, 1, maxCols)
	batch := diffShape(r, rank-2, 1, 3)
	lb, rb := append([]int(nil), batch...), append([]int(nil), batch...)
	for i := range batch {
		switch r.IntN(4) {
		case 0:
			lb[i] = 1
		case 1:
			rb[i] = 1
		}
	}
	// Sometimes give rhs fewer dimensions (implicit leading 1s).
	if len(rb) > 0 && r.IntN(3) == 0 {
		rb = rb[1:]
		batch[0] = lb[0]
	}
	adjX, adjY := r.IntN(2) == 0, r.IntN(2) == 0
	lShape := append(lb, rows, depth)
	if adjX {
		lShape = append(lb, depth, rows)
	}
	rShape := append(rb, depth, cols)
	if adjY {
		rShape = append(rb, cols, depth)
	}
	oShape := append(append([]int(nil), batch...), rows, cols)
	var lQ, rQ, oQ *tensor.Quant
	if dt != tensor.Float32 {
		lQ, rQ = diffQuant(r, dt, 0.01, 0.1), diffQuant(r, rdt, 0.01, 0.1)
		if rdt != dt {
			rQ.ZeroPoint[0] = 0
		}
		oQ = convDiffOutQuant(r, dt, lQ, float64(rQ.Scale[0]), depth)
	}
	b := tflitetest.NewBuilder()
	l := b.Tensor("lhs", dt, lShape, lQ, nil)
	lData := diffTensorBytes(r, dt, tensor.NumElements(lShape))
	rData := diffTensorBytes(r, rdt, tensor.NumElements(rShape))
	constRHS := constant || rdt != dt && r.IntN(2) == 0
	var rt int
	if constRHS {
		rt = b.Const("rhs", rdt, rShape, rQ, rData)
	} else {
		rt = b.Tensor("rhs", rdt, rShape, rQ, nil)
	}
	out := b.Tensor("out", dt, oShape, oQ, nil)
	b.Op(schema.BuiltinOperatorBATCH_MATMUL, convDiffVersion(dt, 1, 1, 2, 3), []int{l, rt}, []int{out},
		tflitetest.BatchMatMulOptions(adjX, adjY))
	inputs := [][]byte{lData}
	if constRHS {
		b.Inputs(l)
	} else {
		b.Inputs(l, rt)
		inputs = append(inputs, rData)
	}
	b.Outputs(out)
	model, err := b.Bytes()
	return model, inputs, err
}
