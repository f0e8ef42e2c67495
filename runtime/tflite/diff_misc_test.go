package tflite

// Generators for TestDifferential: FILL, ZEROS_LIKE, RANGE, MIRROR_PAD,
// POW, ADD_N, L2_POOL_2D, LOCAL_RESPONSE_NORMALIZATION,
// EMBEDDING_LOOKUP, SCATTER_ND, MATRIX_DIAG and MATRIX_SET_DIAG, every
// type TFLite's kernels take.

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
	flatbuffers "github.com/google/flatbuffers/go"
)

func init() {
	for _, dt := range moverTypes {
		addMoverGen("FILL/"+dt.String(), genFill(dt))
		addMoverGen("MIRROR_PAD/"+dt.String(), genMirrorPad(dt))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int32, tensor.Int64} {
		addMoverGen("ZEROS_LIKE/"+dt.String(), genZerosLike(dt))
		addMoverGen("RANGE/"+dt.String(), genRange(dt))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int32} {
		addDiffGen("POW/"+dt.String(), genPow(dt))
		addMoverGen("ADD_N/"+dt.String(), genAddN(dt))
	}
	addDiffGen("L2_POOL_2D/float32", genL2Pool)
	addDiffGen("LOCAL_RESPONSE_NORMALIZATION/float32", genLRN)
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int32} {
		addDiffGen("EMBEDDING_LOOKUP/"+dt.String(), genEmbeddingLookup(dt, dt, false))
	}
	addDiffGen("EMBEDDING_LOOKUP/int8_to_float32", genEmbeddingLookup(tensor.Int8, tensor.Float32, false))
	addDiffGen("EMBEDDING_LOOKUP/uint8_to_float32", genEmbeddingLookup(tensor.UInt8, tensor.Float32, false))
	addDiffGen("EMBEDDING_LOOKUP/int8_per_row_to_float32", genEmbeddingLookup(tensor.Int8, tensor.Float32, true))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int32, tensor.Int64, tensor.Bool} {
		addDiffGen("SCATTER_ND/"+dt.String(), genScatterND(dt))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64} {
		addMoverGen("MATRIX_DIAG/"+dt.String(), genMatrixDiag(dt, false))
		addMoverGen("MATRIX_SET_DIAG/"+dt.String(), genMatrixDiag(dt, true))
	}
	newOps = append(newOps, "FILL", "ZEROS_LIKE", "RANGE", "MIRROR_PAD", "POW", "ADD_N", "L2_POOL_2D",
		"LOCAL_RESPONSE_NORMALIZATION", "EMBEDDING_LOOKUP", "SCATTER_ND", "MATRIX_DIAG", "MATRIX_SET_DIAG")
}

// genFill: constant dims, the value an input (so that the output is
// computed at run time, which the oracle needs).
func genFill(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 4), 1, 5)
		dimT := diffPick(r, tensor.Int32, tensor.Int64)
		q := moverQuant(r, dt)
		version := 1
		switch dt {
		case tensor.Int8, tensor.Int16:
			version = 3
		case tensor.Bool:
			version = 2
		}
		b := tflitetest.NewBuilder()
		d := b.Const("dims", dimT, []int{len(shape)}, nil, intsBytes(dimT, shape))
		v := b.Tensor("value", dt, []int{}, q, nil)
		out := b.Tensor("out", dt, shape, q, nil)
		b.Op(schema.BuiltinOperatorFILL, version, []int{d, v}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsFillOptions))
		m, err := shapeGenFinish(b, []int{v}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, 1)}, err
	}
}

func genMirrorPad(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 5)
		symmetric := r.IntN(2) == 0
		off := 1
		if symmetric {
			off = 0
		}
		pads := make([]int, 2*rank)
		outShape := make([]int, rank)
		for i := range shape {
			pads[2*i], pads[2*i+1] = diffInt(r, 0, shape[i]-off), diffInt(r, 0, shape[i]-off)
			outShape[i] = shape[i] + pads[2*i] + pads[2*i+1]
		}
		pt := diffPick(r, tensor.Int32, tensor.Int64)
		q := moverQuant(r, dt)
		if dt == tensor.Int16 {
			q.ZeroPoint[0] = 0
		}
		version := 1
		switch dt {
		case tensor.Int16:
			version = 3
		case tensor.Int8:
			version = 2
		}
		mode := schema.MirrorPadModeREFLECT
		if symmetric {
			mode = schema.MirrorPadModeSYMMETRIC
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		p := b.Const("paddings", pt, []int{rank, 2}, nil, intsBytes(pt, pads))
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(schema.BuiltinOperatorMIRROR_PAD, version, []int{in, p}, []int{out}, tflitetest.RawOptions(schema.BuiltinOptionsMirrorPadOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
			schema.MirrorPadOptionsStart(fb)
			schema.MirrorPadOptionsAddMode(fb, mode)
			return schema.MirrorPadOptionsEnd(fb)
		}))
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genZerosLike(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 4), 1, 5)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, nil, nil)
		out := b.Tensor("out", dt, shape, nil, nil)
		b.Op(schema.BuiltinOperatorZEROS_LIKE, 1, []int{in}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsZerosLikeOptions))
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

// genRange: constant start, limit and delta (TFLite computes the range at
// prepare time then); an ADD of an input after it makes the output one
// the oracle can return.
func genRange(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		var start, limit, delta []byte
		var n int
		switch dt {
		case tensor.Float32:
			s := float32(diffInt(r, -20, 20)) / 4
			d := float32(diffLogUniform(r, 0.1, 3))
			if r.IntN(2) == 0 {
				d = -d
			}
			l := s + d*float32(r.Float64()*20+0.5)
			n = int(math.Ceil(math.Abs(float64((l - s) / d))))
			start, limit, delta = tflitetest.Float32Bytes([]float32{s}), tflitetest.Float32Bytes([]float32{l}), tflitetest.Float32Bytes([]float32{d})
		default:
			s, d := diffInt(r, -50, 50), diffInt(r, 1, 7)
			if r.IntN(2) == 0 {
				d = -d
			}
			l := s + d*diffInt(r, 1, 20) - diffInt(r, 0, 1)*d/max(1, abs(d))
			span := l - s
			if span < 0 {
				span = -span
			}
			n = (span + abs(d) - 1) / abs(d)
			if n == 0 {
				l, n = s+d, 1
			}
			start, limit, delta = intsBytes(dt, []int{s}), intsBytes(dt, []int{l}), intsBytes(dt, []int{d})
		}
		version := 1
		if dt == tensor.Int64 {
			version = 2
		}
		b := tflitetest.NewBuilder()
		st := b.Const("start", dt, []int{}, nil, start)
		li := b.Const("limit", dt, []int{}, nil, limit)
		de := b.Const("delta", dt, []int{}, nil, delta)
		rg := b.Tensor("range", dt, []int{n}, nil, nil)
		b.Op(schema.BuiltinOperatorRANGE, version, []int{st, li, de}, []int{rg}, tflitetest.RawOptionsFor(schema.BuiltinOptionsRangeOptions))
		x := b.Tensor("x", dt, []int{n}, nil, nil)
		out := b.Tensor("out", dt, []int{n}, nil, nil)
		addVersion := 1
		if dt == tensor.Int64 {
			addVersion = 4
		}
		b.Op(schema.BuiltinOperatorADD, addVersion, []int{rg, x}, []int{out}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
		m, err := shapeGenFinish(b, []int{x}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, n)}, err
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// genPow: float bases in (0, 3] (negative bases give NaN for fractional
// exponents) with exponents in [-3, 3]; int32 small bases and exponents
// in [0, 6].
func genPow(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		aShape, bShape, outShape := diffBroadcastShapes(r)
		for len(aShape) > 4 || len(bShape) > 4 {
			aShape, bShape, outShape = diffBroadcastShapes(r)
		}
		na, nb := tensor.NumElements(aShape), tensor.NumElements(bShape)
		var aData, bData []byte
		if dt == tensor.Float32 {
			aData, bData = diffFloatBytes(r, na, 0.01, 3), diffFloatBytes(r, nb, -3, 3)
		} else {
			aData, bData = diffInt32Bytes(r, na, -9, 9), diffInt32Bytes(r, nb, 0, 6)
		}
		b := tflitetest.NewBuilder()
		x := b.Tensor("a", dt, aShape, nil, nil)
		y := b.Tensor("b", dt, bShape, nil, nil)
		out := b.Tensor("out", dt, outShape, nil, nil)
		b.Op(schema.BuiltinOperatorPOW, 1, []int{x, y}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsPowOptions))
		m, err := shapeGenFinish(b, []int{x, y}, []int{out})
		return m, [][]byte{aData, bData}, err
	}
}

func genAddN(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 4), 1, 5)
		k := diffInt(r, 2, 5) // TFLite takes two or more
		b := tflitetest.NewBuilder()
		var ins []int
		var data [][]byte
		for i := 0; i < k; i++ {
			ins = append(ins, b.Tensor(fmt.Sprintf("in%d", i), dt, shape, nil, nil))
			data = append(data, diffTensorBytes(r, dt, tensor.NumElements(shape)))
		}
		out := b.Tensor("out", dt, shape, nil, nil)
		b.Op(schema.BuiltinOperatorADD_N, 1, ins, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsAddNOptions))
		m, err := shapeGenFinish(b, ins, []int{out})
		return m, data, err
	}
}

func genL2Pool(r *rand.Rand) ([]byte, [][]byte, error) {
	n, h, w, c := diffInt(r, 1, 2), diffInt(r, 1, 10), diffInt(r, 1, 10), diffInt(r, 1, 5)
	fh, fw := diffInt(r, 1, 4), diffInt(r, 1, 4)
	sh, sw := diffInt(r, 1, 3), diffInt(r, 1, 3)
	pad := diffPick(r, schema.PaddingSAME, schema.PaddingVALID)
	if pad == schema.PaddingVALID {
		fh, fw = min(fh, h), min(fw, w)
	}
	act := diffActivation(r)
	inShape := []int{n, h, w, c}
	outShape := []int{n, convOut(h, fh, sh, 1, pad), convOut(w, fw, sw, 1, pad), c}
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Float32, inShape, nil, nil)
	out := b.Tensor("out", tensor.Float32, outShape, nil, nil)
	b.Op(schema.BuiltinOperatorL2_POOL_2D, 1, []int{in}, []int{out}, tflitetest.Pool2DOptions(pad, sw, sh, fw, fh, act))
	m, err := shapeGenFinish(b, []int{in}, []int{out})
	return m, [][]byte{diffFloatBytes(r, tensor.NumElements(inShape), -2, 2)}, err
}

func genLRN(r *rand.Rand) ([]byte, [][]byte, error) {
	shape := []int{diffInt(r, 1, 2), diffInt(r, 1, 4), diffInt(r, 1, 4), diffInt(r, 1, 12)}
	radius := diffInt(r, 0, 4)
	bias := float32(diffPick(r, 1.0, 2.0, diffLogUniform(r, 0.1, 3)))
	alpha := float32(diffPick(r, 1e-4, 1.0, diffLogUniform(r, 1e-4, 1)))
	beta := float32(diffPick(r, 0.75, 0.5, 1.0, r.Float64()))
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Float32, shape, nil, nil)
	out := b.Tensor("out", tensor.Float32, shape, nil, nil)
	b.Op(schema.BuiltinOperatorLOCAL_RESPONSE_NORMALIZATION, 1, []int{in}, []int{out}, tflitetest.RawOptions(schema.BuiltinOptionsLocalResponseNormalizationOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
		schema.LocalResponseNormalizationOptionsStart(fb)
		schema.LocalResponseNormalizationOptionsAddRadius(fb, int32(radius))
		schema.LocalResponseNormalizationOptionsAddBias(fb, bias)
		schema.LocalResponseNormalizationOptionsAddAlpha(fb, alpha)
		schema.LocalResponseNormalizationOptionsAddBeta(fb, beta)
		return schema.LocalResponseNormalizationOptionsEnd(fb)
	}))
	m, err := shapeGenFinish(b, []int{in}, []int{out})
	return m, [][]byte{diffFloatBytes(r, tensor.NumElements(shape), -3, 3)}, err
}

// genEmbeddingLookup: a constant table (value) and input ids; quantized
// tables into float32 outputs use scales with zero points 0, one per row
// when perRow.
func genEmbeddingLookup(vt, ot tensor.DType, perRow bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rows := diffInt(r, 1, 10)
		vShape := append([]int{rows}, diffShape(r, diffInt(r, 1, 2), 1, 5)...)
		k := diffInt(r, 1, 8)
		var vq, oq *tensor.Quant
		switch {
		case perRow:
			vq = diffPerChannelQuant(r, rows, 0, 0.01, 0.1)
		case vt != ot:
			vq = &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.01, 0.1))}, ZeroPoint: []int32{0}}
		case vt == tensor.Int8 || vt == tensor.UInt8:
			vq = diffQuant(r, vt, 0.01, 0.1)
			oq = vq
		}
		version := 1
		if perRow {
			version = 4
		}
		ids := make([]int, k)
		for i := range ids {
			ids[i] = r.IntN(rows)
		}
		outShape := append([]int{k}, vShape[1:]...)
		b := tflitetest.NewBuilder()
		id := b.Tensor("ids", tensor.Int32, []int{k}, nil, nil)
		v := b.Const("value", vt, vShape, vq, diffTensorBytes(r, vt, tensor.NumElements(vShape)))
		out := b.Tensor("out", ot, outShape, oq, nil)
		b.Op(schema.BuiltinOperatorEMBEDDING_LOOKUP, version, []int{id, v}, []int{out}, nil)
		m, err := shapeGenFinish(b, []int{id}, []int{out})
		return m, [][]byte{shapeI32(ids)}, err
	}
}

// genScatterND: random slices of an output of rank 1-4, with repeated
// positions now and then (they accumulate).
func genScatterND(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 4), 1, 5)
		k := diffInt(r, 1, len(shape))
		outer := diffShape(r, diffInt(r, 1, 2), 1, 4)
		nIdx := tensor.NumElements(outer)
		idx := make([]int, 0, nIdx*k)
		for i := 0; i < nIdx; i++ {
			for j := 0; j < k; j++ {
				idx = append(idx, r.IntN(shape[j]))
			}
		}
		uShape := append(append([]int(nil), outer...), shape[k:]...)
		b := tflitetest.NewBuilder()
		in := b.Tensor("indices", tensor.Int32, append(append([]int(nil), outer...), k), nil, nil)
		up := b.Tensor("updates", dt, uShape, nil, nil)
		s := b.Const("shape", tensor.Int32, []int{len(shape)}, nil, shapeI32(shape))
		out := b.Tensor("out", dt, shape, nil, nil)
		b.Op(schema.BuiltinOperatorSCATTER_ND, 1, []int{in, up, s}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsScatterNdOptions))
		m, err := shapeGenFinish(b, []int{in, up}, []int{out})
		return m, [][]byte{shapeI32(idx), diffTensorBytes(r, dt, tensor.NumElements(uShape))}, err
	}
}

func genMatrixDiag(dt tensor.DType, set bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		batch := diffShape(r, diffInt(r, 0, 2), 1, 3)
		q := moverQuant(r, dt)
		b := tflitetest.NewBuilder()
		if !set {
			n := diffInt(r, 1, 6)
			inShape := append(append([]int(nil), batch...), n)
			in := b.Tensor("in", dt, inShape, q, nil)
			out := b.Tensor("out", dt, append(append([]int(nil), inShape...), n), q, nil)
			b.Op(schema.BuiltinOperatorMATRIX_DIAG, 1, []int{in}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsMatrixDiagOptions))
			m, err := shapeGenFinish(b, []int{in}, []int{out})
			return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(inShape))}, err
		}
		rows, cols := diffInt(r, 1, 5), diffInt(r, 1, 5)
		inShape := append(append([]int(nil), batch...), rows, cols)
		dShape := append(append([]int(nil), batch...), min(rows, cols))
		in := b.Tensor("in", dt, inShape, q, nil)
		d := b.Tensor("diagonal", dt, dShape, q, nil)
		out := b.Tensor("out", dt, inShape, q, nil)
		b.Op(schema.BuiltinOperatorMATRIX_SET_DIAG, 1, []int{in, d}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsMatrixSetDiagOptions))
		m, err := shapeGenFinish(b, []int{in, d}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(inShape)), diffTensorBytes(r, dt, tensor.NumElements(dShape))}, err
	}
}
