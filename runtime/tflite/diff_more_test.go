package tflite

// Generators for TestDifferential: REDUCE_PROD, REDUCE_ANY, REDUCE_ALL,
// RELU_0_TO_1, DYNAMIC_UPDATE_SLICE, BROADCAST_ARGS and ATAN2.

import (
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int32, tensor.Int64, tensor.Int8, tensor.Int16} {
		addDiffGen("REDUCE_PROD/"+dt.String(), genReduceMore(schema.BuiltinOperatorREDUCE_PROD, dt))
	}
	addMoverGen("REDUCE_ANY/bool", genReduceMore(schema.BuiltinOperatorREDUCE_ANY, tensor.Bool))
	addMoverGen("REDUCE_ALL/bool", genReduceMore(schema.BuiltinOperatorREDUCE_ALL, tensor.Bool))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8} {
		addDiffGen("RELU_0_TO_1/"+dt.String(), genRelu0To1(dt))
	}
	// TFLite's DYNAMIC_UPDATE_SLICE refuses uint8 (edged copies it).
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64, tensor.Bool} {
		addMoverGen("DYNAMIC_UPDATE_SLICE/"+dt.String(), genDynamicUpdateSlice(dt))
	}
	for _, dt := range []tensor.DType{tensor.Int32, tensor.Int64} {
		addMoverGen("BROADCAST_ARGS/"+dt.String(), genBroadcastArgs(dt))
	}
	addDiffGen("ATAN2/float32", genAtan2)
	newOps = append(newOps, "REDUCE_PROD", "REDUCE_ANY", "REDUCE_ALL", "RELU_0_TO_1", "DYNAMIC_UPDATE_SLICE", "BROADCAST_ARGS", "ATAN2")
}

// genReduceMore: random axes (negative and repeated ones too); int8 and
// int16 REDUCE_PROD quantized (int16 zero points 0) with inputs near ±1
// in real value so that products stay in range.
func genReduceMore(op schema.BuiltinOperator, dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 4)
		nAxes := diffInt(r, 1, rank)
		axes := make([]int, nAxes)
		for i := range axes {
			axes[i] = diffInt(r, -rank, rank-1)
		}
		keep := r.IntN(2) == 0
		reduced := map[int]bool{}
		k := 1
		for _, a := range axes {
			d := (a + rank) % rank
			if !reduced[d] {
				k *= shape[d]
			}
			reduced[d] = true
		}
		if k == 1 && (dt == tensor.Int8 || dt == tensor.Int16) {
			// TFLite's quantized product over only size-1 dimensions
			// returns values its kernel never wrote.
			shape[(axes[0]+rank)%rank] = 2
		}
		var outShape []int
		for d, s := range shape {
			switch {
			case !reduced[d]:
				outShape = append(outShape, s)
			case keep:
				outShape = append(outShape, 1)
			}
		}
		n := tensor.NumElements(shape)
		var inQ, outQ *tensor.Quant
		data := diffTensorBytes(r, dt, n)
		version := 1
		switch dt {
		case tensor.Float32:
			data = diffFloatBytes(r, n, 0.5, 1.5)
		case tensor.Int32, tensor.Int64:
			data = intsBytes(dt, randInts(r, n, -3, 3))
		case tensor.Int8, tensor.Int16:
			version = 2
			s := 1.0 / 100
			if dt == tensor.Int16 {
				s = 1.0 / 20000
			}
			inQ = &tensor.Quant{Scale: []float32{float32(s)}, ZeroPoint: []int32{0}}
			outQ = &tensor.Quant{Scale: []float32{float32(s * diffLogUniform(r, 1, 4))}, ZeroPoint: []int32{0}}
			if dt == tensor.Int8 {
				inQ.ZeroPoint[0] = int32(diffInt(r, -10, 10))
				outQ.ZeroPoint[0] = int32(diffInt(r, -10, 10))
			}
			vals := randInts(r, n, 60, 140)
			for i := range vals {
				if r.IntN(2) == 0 {
					vals[i] = -vals[i]
				}
				if dt == tensor.Int16 {
					vals[i] *= 150
				} else {
					vals[i] = min(max(vals[i]/1+int(inQ.ZeroPoint[0]), -128), 127)
				}
			}
			data = intsBytes16(dt, vals)
			if dt == tensor.Int8 {
				data = make([]byte, n)
				for i, v := range vals {
					data[i] = byte(int8(v))
				}
			}
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, inQ, nil)
		ax := b.Const("axis", tensor.Int32, []int{nAxes}, nil, shapeI32(axes))
		out := b.Tensor("out", dt, outShape, outQ, nil)
		b.Op(op, version, []int{in, ax}, []int{out}, tflitetest.ReducerOptions(keep))
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{data}, err
	}
}

func randInts(r *rand.Rand, n, lo, hi int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = diffInt(r, lo, hi)
	}
	return v
}

func genRelu0To1(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 4), 1, 6)
		n := tensor.NumElements(shape)
		var inQ, outQ *tensor.Quant
		data := diffFloatBytes(r, n, -2, 2)
		if dt != tensor.Float32 {
			inQ = diffQuant(r, dt, 0.005, 0.03)
			outQ = diffQuant(r, dt, 0.003, 0.01)
			data = diffTensorBytes(r, dt, n)
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, inQ, nil)
		out := b.Tensor("out", dt, shape, outQ, nil)
		b.Op(schema.BuiltinOperatorRELU_0_TO_1, 1, []int{in}, []int{out}, nil)
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{data}, err
	}
}

// genDynamicUpdateSlice: start indices as an input, some out of range
// (they are clamped).
func genDynamicUpdateSlice(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 5)
		up := make([]int, rank)
		start := make([]int, rank)
		for d := range shape {
			up[d] = diffInt(r, 1, shape[d])
			start[d] = diffInt(r, -2, shape[d])
		}
		it := diffPick(r, tensor.Int32, tensor.Int64)
		q := moverQuant(r, dt)
		version := 1
		switch {
		case dt == tensor.Int16:
			version = 4
		case it == tensor.Int64:
			version = 2
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("operand", dt, shape, q, nil)
		u := b.Tensor("update", dt, up, q, nil)
		s := b.Tensor("start", it, []int{rank}, nil, nil)
		out := b.Tensor("out", dt, shape, q, nil)
		b.Op(schema.BuiltinOperatorDYNAMIC_UPDATE_SLICE, version, []int{in, u, s}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsDynamicUpdateSliceOptions))
		m, err := shapeGenFinish(b, []int{in, u, s}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape)), diffTensorBytes(r, dt, tensor.NumElements(up)), intsBytes(it, start)}, err
	}
}

func genBroadcastArgs(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		a, bs, out := diffBroadcastShapes(r)
		b := tflitetest.NewBuilder()
		x := b.Tensor("s0", dt, []int{len(a)}, nil, nil)
		y := b.Tensor("s1", dt, []int{len(bs)}, nil, nil)
		o := b.Tensor("out", dt, []int{len(out)}, nil, nil)
		b.Op(schema.BuiltinOperatorBROADCAST_ARGS, 1, []int{x, y}, []int{o}, nil)
		m, err := shapeGenFinish(b, []int{x, y}, []int{o})
		return m, [][]byte{intsBytes(dt, a), intsBytes(dt, bs)}, err
	}
}

// genAtan2: equal shapes (TFLite's ATAN2 does not broadcast; edged does).
func genAtan2(r *rand.Rand) ([]byte, [][]byte, error) {
	aShape := diffShape(r, diffInt(r, 1, 4), 1, 5)
	bShape, outShape := aShape, aShape
	b := tflitetest.NewBuilder()
	x := b.Tensor("y", tensor.Float32, aShape, nil, nil)
	y := b.Tensor("x", tensor.Float32, bShape, nil, nil)
	out := b.Tensor("out", tensor.Float32, outShape, nil, nil)
	b.Op(schema.BuiltinOperatorATAN2, 1, []int{x, y}, []int{out}, nil)
	m, err := shapeGenFinish(b, []int{x, y}, []int{out})
	return m, [][]byte{diffFloatBytes(r, tensor.NumElements(aShape), -3, 3), diffFloatBytes(r, tensor.NumElements(bShape), -3, 3)}, err
}
