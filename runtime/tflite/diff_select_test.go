package tflite

// Generators for TestDifferential: TOPK_V2, ONE_HOT, CUMSUM, REVERSE_V2
// and NON_MAX_SUPPRESSION_V4/V5, every type TFLite's kernels take.

import (
	"encoding/binary"
	"math"
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
	flatbuffers "github.com/google/flatbuffers/go"
)

func init() {
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64} {
		addDiffGen("TOPK_V2/"+dt.String(), genTopK(dt, tensor.Int32))
	}
	addDiffGen("TOPK_V2/float32_int16_indices", genTopK(tensor.Float32, tensor.Int16))
	// TFLite's ONE_HOT prepares int16 outputs but cannot evaluate them.
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int32, tensor.Int64, tensor.Bool} {
		addMoverGen("ONE_HOT/"+dt.String(), genOneHot(dt))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int32, tensor.Int64} {
		addDiffGen("CUMSUM/"+dt.String(), genCumSum(dt))
	}
	for _, dt := range moverTypes {
		addMoverGen("REVERSE_V2/"+dt.String(), genReverse(dt))
	}
	addDiffGen("NON_MAX_SUPPRESSION_V4/float32", genNMS(false))
	addDiffGen("NON_MAX_SUPPRESSION_V5/float32", genNMS(true))
	newOps = append(newOps, "TOPK_V2", "ONE_HOT", "CUMSUM", "REVERSE_V2", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5")
}

// genTopK draws values from a small range half of the time, so that rows
// have ties (broken by index).
func genTopK(dt, idxType tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 3), 1, 4)
		shape[len(shape)-1] = diffInt(r, 1, 40)
		// k ≥ 1: the oracle cannot return empty tensors.
		k := diffInt(r, 1, shape[len(shape)-1])
		n := tensor.NumElements(shape)
		data := diffTensorBytes(r, dt, n)
		if r.IntN(2) == 0 {
			es := dt.Size()
			for i := 0; i < n; i++ {
				// Copy one of the first 3 values: many ties.
				j := r.IntN(min(3, n))
				copy(data[i*es:(i+1)*es], data[j*es:(j+1)*es])
			}
		}
		outShape := append([]int(nil), shape...)
		outShape[len(outShape)-1] = k
		version := 1
		switch {
		case dt == tensor.Int16 || idxType == tensor.Int16:
			version = 3
		case dt == tensor.Int8:
			version = 2
		}
		q := moverQuant(r, dt)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		kt := b.Const("k", idxType, []int{}, nil, intsBytes16(idxType, []int{k}))
		vals := b.Tensor("values", dt, outShape, q, nil)
		idx := b.Tensor("indices", idxType, outShape, nil, nil)
		b.Op(schema.BuiltinOperatorTOPK_V2, version, []int{in, kt}, []int{vals, idx}, tflitetest.RawOptionsFor(schema.BuiltinOptionsTopKV2Options))
		m, err := shapeGenFinish(b, []int{in}, []int{vals, idx})
		return m, [][]byte{data}, err
	}
}

// intsBytes16 encodes vals as int16, int32 or int64.
func intsBytes16(dt tensor.DType, vals []int) []byte {
	if dt == tensor.Int16 {
		v := make([]int16, len(vals))
		for i, x := range vals {
			v[i] = int16(x)
		}
		return tflitetest.Int16Bytes(v)
	}
	return intsBytes(dt, vals)
}

func genOneHot(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 0, 3), 1, 4)
		depth := diffInt(r, 1, 6)
		axis := diffInt(r, -1, len(shape))
		a := axis
		if a == -1 {
			a = len(shape)
		}
		outShape := append(append(append([]int(nil), shape[:a]...), depth), shape[a:]...)
		it := diffPick(r, tensor.Int32, tensor.Int64)
		n := tensor.NumElements(shape)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = diffInt(r, -1, depth) // out of range now and then
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("indices", it, shape, nil, nil)
		d := b.Const("depth", tensor.Int32, []int{}, nil, shapeI32([]int{depth}))
		on := b.Const("on", dt, []int{}, nil, diffTensorBytes(r, dt, 1))
		off := b.Const("off", dt, []int{}, nil, diffTensorBytes(r, dt, 1))
		out := b.Tensor("out", dt, outShape, nil, nil)
		b.Op(schema.BuiltinOperatorONE_HOT, 1, []int{in, d, on, off}, []int{out}, tflitetest.RawOptions(schema.BuiltinOptionsOneHotOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
			schema.OneHotOptionsStart(fb)
			schema.OneHotOptionsAddAxis(fb, int32(axis))
			return schema.OneHotOptionsEnd(fb)
		}))
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{intsBytes(it, idx)}, err
	}
}

func genCumSum(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 4), 1, 6)
		axis := diffInt(r, -len(shape), len(shape)-1)
		exclusive, reverse := r.IntN(2) == 0, r.IntN(2) == 0
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, nil, nil)
		ax := b.Const("axis", tensor.Int32, []int{}, nil, shapeI32([]int{axis}))
		out := b.Tensor("out", dt, shape, nil, nil)
		b.Op(schema.BuiltinOperatorCUMSUM, 1, []int{in, ax}, []int{out}, tflitetest.RawOptions(schema.BuiltinOptionsCumsumOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
			schema.CumsumOptionsStart(fb)
			schema.CumsumOptionsAddExclusive(fb, exclusive)
			schema.CumsumOptionsAddReverse(fb, reverse)
			return schema.CumsumOptionsEnd(fb)
		}))
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genReverse(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 5)
		shape := diffShape(r, rank, 1, 4)
		// TFLite takes a contiguous run of axes, in any order, negative
		// ones counting from the end.
		first := diffInt(r, 0, rank-1)
		axes := []int{first}
		if first+1 < rank && r.IntN(2) == 0 {
			axes = append(axes, first+1)
			r.Shuffle(2, func(i, j int) { axes[i], axes[j] = axes[j], axes[i] })
		}
		for i := range axes {
			if r.IntN(3) == 0 {
				axes[i] -= rank
			}
		}
		version := 1
		switch dt {
		case tensor.Int8:
			version = 3
		case tensor.Bool:
			version = 2
		}
		q := moverQuant(r, dt)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		ax := b.Const("axis", tensor.Int32, []int{len(axes)}, nil, shapeI32(axes))
		out := b.Tensor("out", dt, shape, q, nil)
		b.Op(schema.BuiltinOperatorREVERSE_V2, version, []int{in, ax}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsReverseV2Options))
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

// genNMS: boxes around a few centres (so that they overlap), corners
// sometimes swapped, scores from a small set half of the time (ties).
func genNMS(soft bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		n := diffInt(r, 1, 40)
		maxOut := diffInt(r, 1, n+3)
		boxes := make([]float32, 4*n)
		scores := make([]float32, n)
		centres := diffInt(r, 1, 4)
		for i := 0; i < n; i++ {
			c := float32(r.IntN(centres)) * 0.3
			y, x := c+float32(r.Float64()*0.1), c+float32(r.Float64()*0.1)
			h, w := float32(0.05+r.Float64()*0.3), float32(0.05+r.Float64()*0.3)
			boxes[4*i], boxes[4*i+1], boxes[4*i+2], boxes[4*i+3] = y, x, y+h, x+w
			if r.IntN(5) == 0 {
				boxes[4*i], boxes[4*i+2] = boxes[4*i+2], boxes[4*i]
			}
			scores[i] = float32(r.Float64())
			if r.IntN(2) == 0 {
				scores[i] = float32(r.IntN(4)) / 4
			}
		}
		scalar := func(v float64) []byte {
			b := make([]byte, 4)
			binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v)))
			return b
		}
		b := tflitetest.NewBuilder()
		bx := b.Tensor("boxes", tensor.Float32, []int{n, 4}, nil, nil)
		sc := b.Tensor("scores", tensor.Float32, []int{n}, nil, nil)
		mo := b.Const("max_output_size", tensor.Int32, []int{}, nil, shapeI32([]int{maxOut}))
		iou := b.Const("iou_threshold", tensor.Float32, []int{}, nil, scalar(diffPick(r, 0.3, 0.5, 0.7, r.Float64())))
		st := b.Const("score_threshold", tensor.Float32, []int{}, nil, scalar(diffPick(r, 0.0, 0.2, r.Float64()*0.5, -1)))
		ins := []int{bx, sc, mo, iou, st}
		sel := b.Tensor("selected", tensor.Int32, []int{maxOut}, nil, nil)
		num := b.Tensor("num", tensor.Int32, []int{}, nil, nil)
		outs := []int{sel, num}
		op := schema.BuiltinOperatorNON_MAX_SUPPRESSION_V4
		opts := tflitetest.RawOptionsFor(schema.BuiltinOptionsNonMaxSuppressionV4Options)
		if soft {
			ins = append(ins, b.Const("sigma", tensor.Float32, []int{}, nil, scalar(diffPick(r, 0.0, 0.5, r.Float64()))))
			selS := b.Tensor("selected_scores", tensor.Float32, []int{maxOut}, nil, nil)
			outs = []int{sel, selS, num}
			op = schema.BuiltinOperatorNON_MAX_SUPPRESSION_V5
			opts = tflitetest.RawOptionsFor(schema.BuiltinOptionsNonMaxSuppressionV5Options)
		}
		b.Op(op, 1, ins, outs, opts)
		m, err := shapeGenFinish(b, []int{bx, sc}, outs)
		return m, [][]byte{tflitetest.Float32Bytes(boxes), tflitetest.Float32Bytes(scores)}, err
	}
}
