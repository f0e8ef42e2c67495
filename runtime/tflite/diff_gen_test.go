package tflite

// Generators for TestDifferential (see diff_test.go): FULLY_CONNECTED,
// CONV_2D, DEPTHWISE_CONV_2D, ADD, SUB, MUL, AVERAGE_POOL_2D, MAX_POOL_2D,
// SOFTMAX, CONCATENATION and RESHAPE. Operator versions are the lowest
// TFLite assigns to each configuration (op_version.cc).

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	addDiffGen("FULLY_CONNECTED/float32", genFullyConnected(tensor.Float32, false))
	addDiffGen("FULLY_CONNECTED/int8", genFullyConnected(tensor.Int8, false))
	addDiffGen("FULLY_CONNECTED/int8_per_channel", genFullyConnected(tensor.Int8, true))
	addDiffGen("FULLY_CONNECTED/uint8", genFullyConnected(tensor.UInt8, false))

	// "any_": random strides, dilations, padding, activation and depth
	// multiplier together (ops_conv_test.go has the conv family's own).
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8} {
		addDiffGen("CONV_2D/any_"+dt.String(), genConv(false, dt))
		addDiffGen("DEPTHWISE_CONV_2D/any_"+dt.String(), genConv(true, dt))
	}
	// Tall filters over a column, as keyword-spotting models have them
	// (3×1 to 15×1 over 30 frames of 40 or 128 channels).
	for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8} {
		addDiffGen("DEPTHWISE_CONV_2D/tall_"+dt.String(), genConvShape(true, dt, true))
	}

	for _, op := range []schema.BuiltinOperator{schema.BuiltinOperatorADD, schema.BuiltinOperatorSUB, schema.BuiltinOperatorMUL} {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8} {
			addDiffGen(op.String()+"/"+dt.String(), genBinary(op, dt))
		}
	}
	for _, op := range []schema.BuiltinOperator{schema.BuiltinOperatorAVERAGE_POOL_2D, schema.BuiltinOperatorMAX_POOL_2D} {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8} {
			addDiffGen(op.String()+"/"+dt.String(), genPool(op, dt))
		}
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8} {
		addDiffGen("SOFTMAX/"+dt.String(), genSoftmax(dt))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int32} {
		addDiffGen("CONCATENATION/"+dt.String(), genConcat(dt))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.Int32} {
		addDiffGen("RESHAPE/"+dt.String(), genReshape(dt))
	}
}

// diffAccScale picks an output scale for a sum of k products of quantized
// values with scales sIn and sW: about three standard deviations of the
// sum over the output range, times a random factor, so that outputs use
// the range without saturating most of the time.
func diffAccScale(r *rand.Rand, sIn, sW float64, k int) float64 {
	std := sIn * sW * math.Sqrt(float64(k)) * 74 * 74
	return std * 3 / 127 * diffLogUniform(r, 0.5, 2)
}

// diffBiasBytes returns n int32 biases of a magnitude comparable to a
// k-term accumulator.
func diffBiasBytes(r *rand.Rand, n, k int) []byte {
	b := int(math.Sqrt(float64(k)) * 74 * 74)
	return diffInt32Bytes(r, n, -b, b)
}

// diffWeights returns a quantized weight tensor's quantization and data:
// int8 symmetric (per-channel over axis when perChannel), uint8 per-tensor
// with a zero point near the middle.
func diffWeights(r *rand.Rand, dt tensor.DType, shape []int, axis int, perChannel bool) (*tensor.Quant, []byte) {
	n := tensor.NumElements(shape)
	switch {
	case dt == tensor.UInt8:
		q := &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.002, 0.02))}, ZeroPoint: []int32{int32(diffInt(r, 100, 155))}}
		return q, diffTensorBytes(r, tensor.UInt8, n)
	case perChannel:
		return diffPerChannelQuant(r, shape[axis], axis, 0.002, 0.02), diffInt8Weights(r, n)
	default:
		q := &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.002, 0.02))}, ZeroPoint: []int32{0}}
		return q, diffInt8Weights(r, n)
	}
}

// diffBiasQuant returns the bias quantization TFLite expects: scale
// sIn*sW[c], zero point 0.
func diffBiasQuant(sIn float32, w *tensor.Quant) *tensor.Quant {
	q := &tensor.Quant{Scale: make([]float32, len(w.Scale)), ZeroPoint: make([]int32, len(w.Scale))}
	for i, s := range w.Scale {
		q.Scale[i] = sIn * s
	}
	return q
}

func meanScale(q *tensor.Quant) float64 {
	s := 0.0
	for _, v := range q.Scale {
		s += float64(v)
	}
	return s / float64(len(q.Scale))
}

func genFullyConnected(dt tensor.DType, perChannel bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		depth := diffInt(r, 1, 64)
		units := diffInt(r, 1, 32)
		var inShape []int
		switch diffInt(r, 0, 3) {
		case 0:
			inShape = []int{depth}
		case 1:
			inShape = []int{diffInt(r, 1, 2), diffInt(r, 1, 3), depth}
		default:
			inShape = []int{diffInt(r, 1, 4), depth}
		}
		keep := dt == tensor.Float32 && len(inShape) > 1 && r.IntN(2) == 0
		var outShape []int
		if keep {
			outShape = append(append([]int(nil), inShape[:len(inShape)-1]...), units)
		} else {
			outShape = []int{tensor.NumElements(inShape) / depth, units}
		}
		act := diffActivation(r)
		hasBias := r.IntN(4) != 0
		version := 1
		if dt == tensor.Int8 {
			version = 4
		}
		if keep {
			version = 5
		}

		b := tflitetest.NewBuilder()
		var inQ, outQ, wQ, biasQ *tensor.Quant
		var wData, biasData []byte
		biasType := dt
		wShape := []int{units, depth}
		if dt == tensor.Float32 {
			wData = diffTensorBytes(r, dt, units*depth)
			biasData = diffTensorBytes(r, dt, units)
		} else {
			inQ = diffQuant(r, dt, 0.005, 0.1)
			wQ, wData = diffWeights(r, dt, wShape, 0, perChannel)
			outQ = diffQuant(r, dt, 1, 1)
			outQ.Scale[0] = float32(diffAccScale(r, float64(inQ.Scale[0]), meanScale(wQ), depth))
			biasQ = diffBiasQuant(inQ.Scale[0], wQ)
			biasData = diffBiasBytes(r, units, depth)
			biasType = tensor.Int32
		}
		in := b.Tensor("in", dt, inShape, inQ, nil)
		w := b.Tensor("w", dt, wShape, wQ, wData)
		bias := tflitetest.NoInput
		if hasBias {
			bias = b.Tensor("bias", biasType, []int{units}, biasQ, biasData)
		}
		out := b.Tensor("out", dt, outShape, outQ, nil)
		b.Op(schema.BuiltinOperatorFULLY_CONNECTED, version, []int{in, w, bias}, []int{out}, tflitetest.FullyConnectedOptions(act, keep))
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(inShape))}, err
	}
}

// convOut is TFLite's output size of a convolution or pooling window.
func convOut(in, k, stride, dilation int, pad schema.Padding) int {
	if pad == schema.PaddingSAME {
		return (in + stride - 1) / stride
	}
	eff := (k-1)*dilation + 1
	return (in - eff + stride) / stride
}

// genConv generates CONV_2D (depthwise false) or DEPTHWISE_CONV_2D. int8
// weights are per-channel, as the converter writes them.
func genConv(depthwise bool, dt tensor.DType) diffGen { return genConvShape(depthwise, dt, false) }

// genConvShape is genConv; tall draws tall filters (3 to 16 rows, 1 or 2
// columns) over 1 to 3 columns of 20 to 40 rows and 1 to 160 channels,
// depth multiplier 1.
func genConvShape(depthwise bool, dt tensor.DType, tall bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		n := diffInt(r, 1, 2)
		h, w := diffInt(r, 1, 12), diffInt(r, 1, 12)
		cin := diffInt(r, 1, 8)
		kh, kw := diffInt(r, 1, 5), diffInt(r, 1, 5)
		sh, sw := diffInt(r, 1, 3), diffInt(r, 1, 3)
		dh, dw := 1, 1
		if r.IntN(3) == 0 {
			dh, dw = diffInt(r, 1, 3), diffInt(r, 1, 3)
		}
		if tall {
			n, h, w = 1, diffInt(r, 20, 40), diffInt(r, 1, 3)
			cin = diffPick(r, 40, 128, 64, 33, 8, diffInt(r, 1, 160))
			kh, kw = diffInt(r, 3, 16), diffInt(r, 1, 2)
			sh, sw = diffInt(r, 1, 2), 1
			dh, dw = diffInt(r, 1, 2), 1
		}
		pad := diffPick(r, schema.PaddingSAME, schema.PaddingVALID)
		if pad == schema.PaddingVALID {
			// The dilated window must fit in the input.
			for (kh-1)*dh+1 > h {
				if dh > 1 {
					dh--
				} else {
					kh--
				}
			}
			for (kw-1)*dw+1 > w {
				if dw > 1 {
					dw--
				} else {
					kw--
				}
			}
		}
		act := diffActivation(r)
		mult := 1
		var cout int
		var wShape []int
		axis := 0
		if depthwise {
			mult = diffPick(r, 1, 1, 2, 3)
			if tall {
				mult = 1
			}
			cout = cin * mult
			wShape = []int{1, kh, kw, cout}
			axis = 3
		} else {
			cout = diffInt(r, 1, 8)
			wShape = []int{cout, kh, kw, cin}
		}
		oh, ow := convOut(h, kh, sh, dh, pad), convOut(w, kw, sw, dw, pad)
		inShape := []int{n, h, w, cin}
		outShape := []int{n, oh, ow, cout}
		k := kh * kw * cin
		if depthwise {
			k = kh * kw
		}
		version := 1
		if dh != 1 || dw != 1 {
			version = 2
		}
		if dt == tensor.Int8 {
			version = 3
		}

		b := tflitetest.NewBuilder()
		var inQ, outQ, wQ, biasQ *tensor.Quant
		var wData, biasData []byte
		biasType := dt
		if dt == tensor.Float32 {
			wData = diffTensorBytes(r, dt, tensor.NumElements(wShape))
			biasData = diffTensorBytes(r, dt, cout)
		} else {
			inQ = diffQuant(r, dt, 0.005, 0.1)
			wQ, wData = diffWeights(r, dt, wShape, axis, dt == tensor.Int8)
			outQ = diffQuant(r, dt, 1, 1)
			outQ.Scale[0] = float32(diffAccScale(r, float64(inQ.Scale[0]), meanScale(wQ), k))
			biasQ = diffBiasQuant(inQ.Scale[0], wQ)
			biasData = diffBiasBytes(r, cout, k)
			biasType = tensor.Int32
		}
		in := b.Tensor("in", dt, inShape, inQ, nil)
		wt := b.Tensor("w", dt, wShape, wQ, wData)
		bias := b.Tensor("bias", biasType, []int{cout}, biasQ, biasData)
		out := b.Tensor("out", dt, outShape, outQ, nil)
		if depthwise {
			b.Op(schema.BuiltinOperatorDEPTHWISE_CONV_2D, version, []int{in, wt, bias}, []int{out},
				tflitetest.DepthwiseConv2DOptions(pad, sw, sh, mult, act, dw, dh))
		} else {
			b.Op(schema.BuiltinOperatorCONV_2D, version, []int{in, wt, bias}, []int{out},
				tflitetest.Conv2DOptions(pad, sw, sh, act, dw, dh))
		}
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(inShape))}, err
	}
}

// diffBroadcastShapes returns two shapes that broadcast together (NumPy
// rules, ranks up to 4) and their broadcast shape.
func diffBroadcastShapes(r *rand.Rand) (a, b, out []int) {
	rank := diffInt(r, 1, 4)
	full := diffShape(r, rank, 1, 6)
	derive := func() []int {
		if r.IntN(3) == 0 {
			return append([]int(nil), full...)
		}
		s := append([]int(nil), full[diffInt(r, 0, rank-1):]...)
		for i := range s {
			if r.IntN(3) == 0 {
				s[i] = 1
			}
		}
		return s
	}
	a, b = derive(), derive()
	if r.IntN(3) == 0 {
		b = append([]int(nil), a...)
	}
	out = make([]int, max(len(a), len(b)))
	for i := range out {
		da, db := 1, 1
		if j := i - (len(out) - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (len(out) - len(b)); j >= 0 {
			db = b[j]
		}
		out[i] = max(da, db)
	}
	return a, b, out
}

func genBinary(op schema.BuiltinOperator, dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		aShape, bShape, outShape := diffBroadcastShapes(r)
		act := diffActivation(r)
		constB := r.IntN(4) == 0
		var aQ, bQ, outQ *tensor.Quant
		if dt != tensor.Float32 {
			aQ = diffQuant(r, dt, 0.005, 0.1)
			bQ = diffQuant(r, dt, 0.005, 0.1)
			outQ = diffQuant(r, dt, 1, 1)
			sa, sb := float64(aQ.Scale[0]), float64(bQ.Scale[0])
			if op == schema.BuiltinOperatorMUL {
				outQ.Scale[0] = float32(sa * sb * 128 * diffLogUniform(r, 0.3, 1.5))
			} else {
				outQ.Scale[0] = float32(max(sa, sb) * diffLogUniform(r, 1, 3))
			}
		}
		version := 1
		if dt == tensor.Int8 {
			version = 2
		}
		var opts tflitetest.Options
		switch op {
		case schema.BuiltinOperatorADD:
			opts = tflitetest.AddOptions(act)
		case schema.BuiltinOperatorSUB:
			opts = tflitetest.SubOptions(act)
		case schema.BuiltinOperatorMUL:
			opts = tflitetest.MulOptions(act)
		default:
			return nil, nil, fmt.Errorf("genBinary: no options for %s", op)
		}
		b := tflitetest.NewBuilder()
		aData := diffTensorBytes(r, dt, tensor.NumElements(aShape))
		bData := diffTensorBytes(r, dt, tensor.NumElements(bShape))
		x := b.Tensor("a", dt, aShape, aQ, nil)
		var y int
		if constB {
			y = b.Tensor("b", dt, bShape, bQ, bData)
		} else {
			y = b.Tensor("b", dt, bShape, bQ, nil)
		}
		out := b.Tensor("out", dt, outShape, outQ, nil)
		b.Op(op, version, []int{x, y}, []int{out}, opts)
		inputs := [][]byte{aData}
		b.Inputs(x)
		if !constB {
			b.Inputs(y)
			inputs = append(inputs, bData)
		}
		b.Outputs(out)
		model, err := b.Bytes()
		return model, inputs, err
	}
}

func genPool(op schema.BuiltinOperator, dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		n := diffInt(r, 1, 2)
		h, w := diffInt(r, 1, 12), diffInt(r, 1, 12)
		c := diffInt(r, 1, 8)
		fh, fw := diffInt(r, 1, 4), diffInt(r, 1, 4)
		sh, sw := diffInt(r, 1, 3), diffInt(r, 1, 3)
		pad := diffPick(r, schema.PaddingSAME, schema.PaddingVALID)
		if pad == schema.PaddingVALID {
			fh, fw = min(fh, h), min(fw, w)
		}
		act := diffActivation(r)
		inShape := []int{n, h, w, c}
		outShape := []int{n, convOut(h, fh, sh, 1, pad), convOut(w, fw, sw, 1, pad), c}
		var q *tensor.Quant
		if dt != tensor.Float32 {
			q = diffQuant(r, dt, 0.005, 0.1)
		}
		version := 1
		if dt == tensor.Int8 {
			version = 2
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, inShape, q, nil)
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(op, version, []int{in}, []int{out}, tflitetest.Pool2DOptions(pad, sw, sh, fw, fh, act))
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(inShape))}, err
	}
}

func genSoftmax(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 4)
		shape[rank-1] = diffInt(r, 1, 32)
		beta := float32(diffPick(r, 1.0, 1.0, 0.5, 2.0, diffLogUniform(r, 0.1, 3)))
		var inQ, outQ *tensor.Quant
		version := 1
		switch dt {
		case tensor.Int8:
			inQ = diffQuant(r, dt, 0.01, 0.2)
			outQ = &tensor.Quant{Scale: []float32{1.0 / 256}, ZeroPoint: []int32{-128}}
			version = 2
		case tensor.UInt8:
			inQ = diffQuant(r, dt, 0.01, 0.2)
			outQ = &tensor.Quant{Scale: []float32{1.0 / 256}, ZeroPoint: []int32{0}}
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, inQ, nil)
		out := b.Tensor("out", dt, shape, outQ, nil)
		b.Op(schema.BuiltinOperatorSOFTMAX, version, []int{in}, []int{out}, tflitetest.SoftmaxOptions(beta))
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		var data []byte
		if dt == tensor.Float32 {
			data = diffFloatBytes(r, tensor.NumElements(shape), -8, 8)
		} else {
			data = diffTensorBytes(r, dt, tensor.NumElements(shape))
		}
		return model, [][]byte{data}, err
	}
}

// genConcat: int8 inputs share the output's quantization (TFLite requires
// it); uint8 inputs each have their own, which makes the kernel rescale.
func genConcat(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		base := diffShape(r, rank, 1, 5)
		axis := diffInt(r, 0, rank-1)
		nIn := diffInt(r, 2, 4)
		var outQ *tensor.Quant
		if dt == tensor.Int8 || dt == tensor.UInt8 {
			outQ = diffQuant(r, dt, 0.005, 0.1)
		}
		version := 1
		if dt == tensor.Int8 || dt == tensor.Int32 {
			version = 2
		}
		b := tflitetest.NewBuilder()
		var ins []int
		var data [][]byte
		outShape := append([]int(nil), base...)
		outShape[axis] = 0
		for i := 0; i < nIn; i++ {
			s := append([]int(nil), base...)
			s[axis] = diffInt(r, 1, 5)
			outShape[axis] += s[axis]
			q := outQ
			if dt == tensor.UInt8 && r.IntN(2) == 0 {
				q = diffQuant(r, dt, 0.005, 0.1)
			}
			ins = append(ins, b.Tensor(fmt.Sprintf("in%d", i), dt, s, q, nil))
			data = append(data, diffTensorBytes(r, dt, tensor.NumElements(s)))
		}
		out := b.Tensor("out", dt, outShape, outQ, nil)
		optAxis := axis
		if r.IntN(2) == 0 {
			optAxis -= rank
		}
		b.Op(schema.BuiltinOperatorCONCATENATION, version, ins, []int{out}, tflitetest.ConcatenationOptions(optAxis, schema.ActivationFunctionTypeNONE))
		b.Inputs(ins...)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, data, err
	}
}

// genReshape writes the new shape as a constant second input, in the
// options only, or both; sometimes with one -1 dimension.
func genReshape(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		inShape := diffShape(r, diffInt(r, 1, 4), 1, 6)
		total := tensor.NumElements(inShape)
		// Split total into a random number of factors.
		var outShape []int
		rest := total
		for len(outShape) < 3 && rest > 1 && r.IntN(4) != 0 {
			var divs []int
			for d := 1; d <= rest; d++ {
				if rest%d == 0 {
					divs = append(divs, d)
				}
			}
			d := diffPick(r, divs...)
			outShape = append(outShape, d)
			rest /= d
		}
		outShape = append(outShape, rest)
		r.Shuffle(len(outShape), func(i, j int) { outShape[i], outShape[j] = outShape[j], outShape[i] })
		newShape := append([]int(nil), outShape...)
		if r.IntN(3) == 0 {
			newShape[r.IntN(len(newShape))] = -1
		}
		var q *tensor.Quant
		if dt == tensor.Int8 {
			q = diffQuant(r, dt, 0.005, 0.1)
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, inShape, q, nil)
		out := b.Tensor("out", dt, outShape, q, nil)
		mode := r.IntN(3)
		ins := []int{in}
		var opts tflitetest.Options
		if mode != 0 {
			ins = append(ins, b.Tensor("shape", tensor.Int32, []int{len(newShape)}, nil, tflitetest.ShapeBytes(newShape)))
		}
		if mode != 1 {
			opts = tflitetest.ReshapeOptions(newShape)
		}
		b.Op(schema.BuiltinOperatorRESHAPE, 1, ins, []int{out}, opts)
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{diffTensorBytes(r, dt, total)}, err
	}
}
