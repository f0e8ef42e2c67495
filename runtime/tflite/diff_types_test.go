package tflite

// Generators for TestDifferential (see diff_test.go) covering the operand
// types of older operators that the first generators left out: the
// element-wise binary operators on every type TFLite's kernels take,
// EXP/SQRT/RSQRT, int16 activations, and the data movers on the remaining
// fixed-size types.

import (
	"encoding/binary"
	"math"
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	arith := map[schema.BuiltinOperator][]tensor.DType{
		schema.BuiltinOperatorADD: {tensor.Int16, tensor.Int32, tensor.Int64},
		schema.BuiltinOperatorSUB: {tensor.Int16, tensor.Int32, tensor.Int64},
		schema.BuiltinOperatorMUL: {tensor.Int16, tensor.Int32, tensor.Int64},
		// uint8: where the quotient is tiny TFLite shifts by 32 or more
		// (undefined in C++); edged computes what x86-64 and Wasm do.
		schema.BuiltinOperatorDIV:                {tensor.Float32, tensor.Int32, tensor.UInt8},
		schema.BuiltinOperatorFLOOR_DIV:          {tensor.Float32, tensor.Int8, tensor.Int16, tensor.Int32},
		schema.BuiltinOperatorSQUARED_DIFFERENCE: {tensor.Float32, tensor.Int8, tensor.Int32},
		schema.BuiltinOperatorMAXIMUM:            {tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64},
		schema.BuiltinOperatorMINIMUM:            {tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64},
	}
	for op, dts := range arith {
		for _, dt := range dts {
			addDiffGen(op.String()+"/"+dt.String(), genArith(op, dt))
		}
	}

	addDiffGen("EXP/float32", actGen(-4, 4, func(r *rand.Rand) actUnaryCase {
		return actUnaryCase{op: schema.BuiltinOperatorEXP, version: 1, inT: tensor.Float32, outT: tensor.Float32}
	}))
	addDiffGen("SQRT/float32", actGen(0, 9, func(r *rand.Rand) actUnaryCase {
		return actUnaryCase{op: schema.BuiltinOperatorSQRT, version: 1, inT: tensor.Float32, outT: tensor.Float32}
	}))
	addDiffGen("RSQRT/float32", actGen(0.01, 9, func(r *rand.Rand) actUnaryCase {
		return actUnaryCase{op: schema.BuiltinOperatorRSQRT, version: 1, inT: tensor.Float32, outT: tensor.Float32}
	}))
	for _, dt := range []tensor.DType{tensor.Int8, tensor.Int16} {
		addDiffGen("EXP/"+dt.String(), actGen(0, 0, func(r *rand.Rand) actUnaryCase {
			return actUnaryCase{op: schema.BuiltinOperatorEXP, version: 2, inT: dt, outT: dt,
				inQ: diffQuant(r, dt, 0.01/typeSpan(dt), 6/typeSpan(dt)), outQ: diffQuant(r, dt, 1/typeSpan(dt), 60/typeSpan(dt))}
		}))
		addDiffGen("RSQRT/"+dt.String(), genRootQuant(schema.BuiltinOperatorRSQRT, dt))
		addDiffGen("SQRT/"+dt.String(), genRootQuant(schema.BuiltinOperatorSQRT, dt))
	}

	// int16 activations: zero points 0, TFLite's fixed output scales. A
	// power-of-two input scale takes TFLite's fixed-point kernel, which
	// TFLite Micro (reference arithmetic) does not have: it uses its table
	// for every scale.
	for _, pot := range []bool{false, true} {
		name := "int16"
		if pot {
			name = "int16_pot"
			diffLiteRTOnly["LOGISTIC/"+name], diffLiteRTOnly["TANH/"+name] = true, true
		}
		addDiffGen("LOGISTIC/"+name, actGen(0, 0, func(r *rand.Rand) actUnaryCase {
			return actUnaryCase{op: schema.BuiltinOperatorLOGISTIC, version: 3, inT: tensor.Int16, outT: tensor.Int16,
				inQ: int16ActQuant(r, 8, pot, 4096), outQ: fixedQ(1.0/32768, 0)}
		}))
		addDiffGen("TANH/"+name, actGen(0, 0, func(r *rand.Rand) actUnaryCase {
			return actUnaryCase{op: schema.BuiltinOperatorTANH, version: 3, inT: tensor.Int16, outT: tensor.Int16,
				inQ: int16ActQuant(r, 4, pot, diffPick[float32](r, 4096, 2048)), outQ: fixedQ(1.0/32768, 0)}
		}))
	}
	for _, op := range []schema.BuiltinOperator{schema.BuiltinOperatorRELU, schema.BuiltinOperatorRELU6, schema.BuiltinOperatorLEAKY_RELU} {
		addDiffGen(op.String()+"/int16", actGen(0, 0, func(r *rand.Rand) actUnaryCase {
			c := actUnaryCase{op: op, version: 3, inT: tensor.Int16, outT: tensor.Int16,
				inQ: diffQuant(r, tensor.Int16, 1e-4, 1e-3), outQ: diffQuant(r, tensor.Int16, 1e-4, 1e-3)}
			if op == schema.BuiltinOperatorLEAKY_RELU {
				c.version = 2
				c.opts = tflitetest.LeakyReluOptions(float32(diffPick(r, 0.2, 0.01, 0.3, r.Float64())))
			}
			return c
		}))
	}
	// LOG_SOFTMAX: TFLite has no int16 kernel ("Only float32, uint8 and int8
	// are supported").

	// Data movers on the remaining types.
	i16, i32, i64, u8, bl := tensor.Int16, tensor.Int32, tensor.Int64, tensor.UInt8, tensor.Bool
	movers := []struct {
		name string
		gen  func(tensor.DType) diffGen
		dts  []tensor.DType
	}{
		{"TRANSPOSE", genShapeTranspose, []tensor.DType{i16, i64, bl}},
		{"PAD", func(dt tensor.DType) diffGen { return genShapePad(dt, false) }, []tensor.DType{i16, i32, i64, bl}},
		{"PADV2", func(dt tensor.DType) diffGen { return genShapePad(dt, true) }, []tensor.DType{i16, i32, i64, bl}},
		{"SPLIT", func(dt tensor.DType) diffGen { return genShapeSplit(dt, false) }, []tensor.DType{i16, i32, i64}},
		{"SPLIT_V", func(dt tensor.DType) diffGen { return genShapeSplit(dt, true) }, []tensor.DType{i16, i32, i64}},
		{"STRIDED_SLICE", genShapeStridedSlice, []tensor.DType{i16, i64, bl}},
		{"GATHER", genShapeGather, []tensor.DType{i16, i32, bl}},
		{"PACK", genShapePack, []tensor.DType{u8, i16, i32, i64}},
		{"UNPACK", genShapeUnpack, []tensor.DType{u8, i16, i32, bl}},
		{"SLICE", genShapeSlice, []tensor.DType{u8, i16, i32, i64, bl}},
		{"SQUEEZE", genShapeSqueeze, []tensor.DType{u8, i16, i32, i64, bl}},
		{"EXPAND_DIMS", genShapeExpandDims, []tensor.DType{u8, i16, i32, i64, bl}},
		{"GATHER_ND", genShapeGatherND, []tensor.DType{u8, i16, i32, i64, bl}},
		{"CONCATENATION", genConcat, []tensor.DType{i16, i64, bl}},
		{"RESHAPE", genReshape, []tensor.DType{u8, i16, i64, bl}},
	}
	for _, m := range movers {
		for _, dt := range m.dts {
			addMoverGen(m.name+"/"+dt.String(), m.gen(dt))
		}
	}
}

// typeSpan is the number of steps of a quantized type.
func typeSpan(dt tensor.DType) float64 {
	if dt == tensor.Int16 {
		return 65536
	}
	return 256
}

// int16ActQuant is a symmetric int16 input quantization: scale 1/pot
// when pot is set, else one covering about ±span that is not a power of
// two.
func int16ActQuant(r *rand.Rand, span float64, pot bool, inv float32) *tensor.Quant {
	if pot {
		return fixedQ(1/inv, 0)
	}
	for {
		s := float32(span / 32768 * diffLogUniform(r, 0.25, 4))
		if _, isPOT := checkedLog2(s); !isPOT {
			return fixedQ(s, 0)
		}
	}
}

// checkedLog2 is TFLite's CheckedLog2: the rounded log2 of x and whether x
// is within 1e-3 (in log2) of that power of two.
func checkedLog2(x float32) (int, bool) {
	l := math.Log2(float64(x))
	r := math.Round(l)
	return int(r), math.Abs(l-r) < 1e-3
}

// genArith builds one element-wise binary operator on dt with broadcast
// shapes, a constant second operand a quarter of the time, and (for the
// operators that have one) a fused activation. Divisors are never zero.
func genArith(op schema.BuiltinOperator, dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		aShape, bShape, outShape := diffBroadcastShapes(r)
		act := schema.ActivationFunctionTypeNONE
		if dt == tensor.Float32 || dt.Quantized() || dt == tensor.Int32 {
			act = diffActivation(r)
		}
		var aQ, bQ, outQ *tensor.Quant
		if dt.Quantized() {
			aQ = diffQuant(r, dt, 0.005, 0.1)
			bQ = diffQuant(r, dt, 0.005, 0.1)
			if dt == tensor.Int16 {
				for _, q := range []*tensor.Quant{aQ, bQ} {
					q.Scale[0] /= 256
				}
			}
			sa, sb := float64(aQ.Scale[0]), float64(bQ.Scale[0])
			outQ = diffQuant(r, dt, 1, 1)
			switch op {
			case schema.BuiltinOperatorMUL:
				outQ.Scale[0] = float32(sa * sb * 128 * diffLogUniform(r, 0.3, 1.5))
			case schema.BuiltinOperatorSQUARED_DIFFERENCE:
				outQ.Scale[0] = float32(max(sa, sb) * max(sa, sb) * 128 * diffLogUniform(r, 0.5, 4))
			case schema.BuiltinOperatorDIV:
				outQ.Scale[0] = float32(sa / sb / 16 * diffLogUniform(r, 0.5, 2))
			case schema.BuiltinOperatorMAXIMUM, schema.BuiltinOperatorMINIMUM:
				// TFLite compares raw values: one quantization for all.
				bQ, outQ = aQ, aQ
			default:
				outQ.Scale[0] = float32(max(sa, sb) * diffLogUniform(r, 1, 3))
			}
			if op == schema.BuiltinOperatorFLOOR_DIV {
				aQ, bQ, outQ = nil, nil, nil
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
		case schema.BuiltinOperatorDIV:
			opts = tflitetest.DivOptions(act)
		}
		aData := diffTensorBytes(r, dt, tensor.NumElements(aShape))
		bData := diffTensorBytes(r, dt, tensor.NumElements(bShape))
		if op == schema.BuiltinOperatorDIV || op == schema.BuiltinOperatorFLOOR_DIV {
			var zp int32
			if bQ != nil {
				zp = bQ.ZeroPoint[0]
			}
			arithNoZero(bData, dt, zp)
		}
		b := tflitetest.NewBuilder()
		x := b.Tensor("a", dt, aShape, aQ, nil)
		constB := r.IntN(4) == 0
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

// arithNoZero replaces every element equal to zp (a zero divisor) by zp+1.
func arithNoZero(data []byte, dt tensor.DType, zp int32) {
	switch dt {
	case tensor.Int8:
		for i, v := range data {
			if int32(int8(v)) == zp {
				data[i] = byte(int8(zp + 1))
			}
		}
	case tensor.UInt8:
		for i, v := range data {
			if int32(v) == zp {
				data[i] = byte(zp + 1)
			}
		}
	case tensor.Int16:
		for i := 0; i < len(data); i += 2 {
			if int32(int16(binary.LittleEndian.Uint16(data[i:]))) == zp {
				binary.LittleEndian.PutUint16(data[i:], uint16(zp+1))
			}
		}
	case tensor.Int32:
		for i := 0; i < len(data); i += 4 {
			if binary.LittleEndian.Uint32(data[i:]) == 0 {
				binary.LittleEndian.PutUint32(data[i:], 1)
			}
		}
	case tensor.Int64:
		for i := 0; i < len(data); i += 8 {
			if binary.LittleEndian.Uint64(data[i:]) == 0 {
				binary.LittleEndian.PutUint64(data[i:], 1)
			}
		}
	}
}

// genRootQuant: quantized SQRT or RSQRT of non-negative inputs (TFLite
// fails on negative ones): int8 inputs have the type's minimum as zero
// point, int16 inputs (zero point 0) are made non-negative.
func genRootQuant(op schema.BuiltinOperator, dt tensor.DType) diffGen {
	g := actGen(0, 0, func(r *rand.Rand) actUnaryCase {
		inQ := diffQuant(r, dt, 0.01, 0.1)
		outQ := diffQuant(r, dt, 0.005, 0.05)
		if dt == tensor.Int8 {
			inQ.ZeroPoint[0] = -128
		} else {
			inQ.Scale[0] /= 256
			outQ.Scale[0] /= 64
		}
		return actUnaryCase{op: op, version: 2, inT: dt, outT: dt, inQ: inQ, outQ: outQ}
	})
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		model, inputs, err := g(r)
		if dt == tensor.Int16 && err == nil {
			in := inputs[0]
			for i := 0; i < len(in); i += 2 {
				v := int16(binary.LittleEndian.Uint16(in[i:]))
				binary.LittleEndian.PutUint16(in[i:], uint16(max(v, -v, 0)))
			}
		}
		return model, inputs, err
	}
}

func init() {
	// CAST to and from the 8- and 16-bit integer types (raw values; as
	// the oracle, a float beyond int16 saturates, one beyond int8 wraps
	// after a conversion to int32).
	castTypes := []tensor.DType{tensor.Float32, tensor.Int32, tensor.Int64, tensor.UInt8, tensor.Bool}
	for _, small := range []tensor.DType{tensor.Int8, tensor.Int16} {
		for _, other := range append(castTypes, tensor.Int8, tensor.Int16) {
			if other == small {
				continue
			}
			for _, pair := range [][2]tensor.DType{{small, other}, {other, small}} {
				name := "CAST/" + pair[0].String() + "_" + pair[1].String()
				if small == tensor.Int16 && other == tensor.Int8 {
					continue // added by the int8 loop
				}
				span := 300.0 // beyond int8 and uint8
				if pair[0] == tensor.Float32 && pair[1] == tensor.Int16 {
					span = 70000 // beyond the type: saturates
				}
				addDiffGen(name, actGen(-span, span, func(r *rand.Rand) actUnaryCase {
					return actUnaryCase{op: schema.BuiltinOperatorCAST, version: 1, inT: pair[0], outT: pair[1]}
				}))
			}
		}
	}
	for _, dt := range []tensor.DType{tensor.Int16, tensor.Int32, tensor.Int64} {
		addDiffGen("REDUCE_MAX/"+dt.String(), genReduce(schema.BuiltinOperatorREDUCE_MAX, dt, false))
	}
	for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64} {
		addDiffGen("REDUCE_MIN/"+dt.String(), genReduce(schema.BuiltinOperatorREDUCE_MIN, dt, false))
	}
	// ARG_MAX/ARG_MIN: TFLite takes no int16 or int64 input.
	addDiffGen("ARG_MAX/bool", genArgMinMax(true, tensor.Bool))
	addDiffGen("ARG_MIN/bool", genArgMinMax(false, tensor.Bool))
}
