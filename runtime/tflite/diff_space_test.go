package tflite

// Generators for TestDifferential: SHAPE, RANK, TILE, BROADCAST_TO,
// SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND and FLOOR_MOD, every element type
// TFLite's kernels take. Versions follow TFLite's op_version.cc.

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
	flatbuffers "github.com/google/flatbuffers/go"
)

// moverTypes are the element types of the operators that only move
// elements (TFLite dispatches them on element size).
var moverTypes = []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64, tensor.Bool}

func init() {
	for _, dt := range []tensor.DType{tensor.Int32, tensor.Int64} {
		addMoverGen("SHAPE/"+dt.String(), genShape(dt))
	}
	addDiffGen("RANK/int32", genRank)
	for _, dt := range moverTypes {
		addMoverGen("TILE/"+dt.String(), genTile(dt))
		addMoverGen("BROADCAST_TO/"+dt.String(), genBroadcastTo(dt))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64} {
		addMoverGen("SPACE_TO_BATCH_ND/"+dt.String(), genSpaceBatch(dt, true))
		addMoverGen("BATCH_TO_SPACE_ND/"+dt.String(), genSpaceBatch(dt, false))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64} {
		addDiffGen("FLOOR_MOD/"+dt.String(), genFloorMod(dt))
	}
}

// moverQuant returns the quantization an element mover's input and output
// share: per-tensor for int8/uint8, symmetric for int16, none otherwise.
func moverQuant(r *rand.Rand, dt tensor.DType) *tensor.Quant {
	switch dt {
	case tensor.Int8, tensor.UInt8, tensor.Int16:
		return diffQuant(r, dt, 0.005, 0.1)
	}
	return nil
}

// intsBytes encodes vals as int32 or int64.
func intsBytes(dt tensor.DType, vals []int) []byte {
	if dt == tensor.Int64 {
		v := make([]int64, len(vals))
		for i, x := range vals {
			v[i] = int64(x)
		}
		return tflitetest.Int64Bytes(v)
	}
	return shapeI32(vals)
}

func genShape(outType tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		dt := diffPick(r, tensor.Float32, tensor.Int8, tensor.Int32)
		shape := diffShape(r, diffInt(r, 1, 5), 1, 5)
		ot := schema.TensorTypeINT32
		if outType == tensor.Int64 {
			ot = schema.TensorTypeINT64
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, moverQuant(r, dt), nil)
		s := b.Tensor("shape", outType, []int{len(shape)}, nil, nil)
		b.Op(schema.BuiltinOperatorSHAPE, 1, []int{in}, []int{s}, tflitetest.RawOptions(schema.BuiltinOptionsShapeOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
			schema.ShapeOptionsStart(fb)
			schema.ShapeOptionsAddOutType(fb, ot)
			return schema.ShapeOptionsEnd(fb)
		}))
		// The oracle returns garbage for a graph output that TFLite
		// computes at prepare time: add a second input to the shape.
		x := b.Tensor("x", outType, []int{len(shape)}, nil, nil)
		out := b.Tensor("out", outType, []int{len(shape)}, nil, nil)
		b.Op(schema.BuiltinOperatorADD, 4, []int{s, x}, []int{out}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
		m, err := shapeGenFinish(b, []int{in, x}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape)), diffTensorBytes(r, outType, len(shape))}, err
	}
}

func genRank(r *rand.Rand) ([]byte, [][]byte, error) {
	shape := diffShape(r, diffInt(r, 0, 5), 1, 4)
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Float32, shape, nil, nil)
	rk := b.Tensor("rank", tensor.Int32, []int{}, nil, nil)
	b.Op(schema.BuiltinOperatorRANK, 1, []int{in}, []int{rk}, tflitetest.RawOptionsFor(schema.BuiltinOptionsRankOptions))
	// As for SHAPE: the oracle needs an output computed at run time.
	x := b.Tensor("x", tensor.Int32, []int{}, nil, nil)
	out := b.Tensor("out", tensor.Int32, []int{}, nil, nil)
	b.Op(schema.BuiltinOperatorADD, 1, []int{rk, x}, []int{out}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
	m, err := shapeGenFinish(b, []int{in, x}, []int{out})
	return m, [][]byte{diffTensorBytes(r, tensor.Float32, tensor.NumElements(shape)), diffTensorBytes(r, tensor.Int32, 1)}, err
}

func genTile(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 5)
		shape := diffShape(r, rank, 1, 4)
		// The oracle cannot return empty outputs: no zero multiples.
		mult := diffShape(r, rank, 1, 3)
		outShape := make([]int, rank)
		for i := range shape {
			outShape[i] = shape[i] * mult[i]
		}
		mt := diffPick(r, tensor.Int32, tensor.Int64)
		q := moverQuant(r, dt)
		version := 1
		if dt == tensor.Int8 {
			version = 3
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		m := b.Const("multiples", mt, []int{rank}, nil, intsBytes(mt, mult))
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(schema.BuiltinOperatorTILE, version, []int{in, m}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsTileOptions))
		model, err := shapeGenFinish(b, []int{in}, []int{out})
		return model, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genBroadcastTo(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		outRank := diffInt(r, 1, 6)
		target := diffShape(r, outRank, 1, 4)
		inRank := diffInt(r, 0, outRank)
		shape := append([]int(nil), target[outRank-inRank:]...)
		for i := range shape {
			if r.IntN(2) == 0 {
				shape[i] = 1
			}
		}
		st := diffPick(r, tensor.Int32, tensor.Int64)
		q := moverQuant(r, dt)
		version := 2
		if dt == tensor.Int8 || dt == tensor.Int16 {
			version = 3
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		s := b.Const("shape", st, []int{outRank}, nil, intsBytes(st, target))
		out := b.Tensor("out", dt, target, q, nil)
		b.Op(schema.BuiltinOperatorBROADCAST_TO, version, []int{in, s}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsBroadcastToOptions))
		model, err := shapeGenFinish(b, []int{in}, []int{out})
		return model, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

// genSpaceBatch writes SPACE_TO_BATCH_ND (toBatch) or BATCH_TO_SPACE_ND
// on a 4-D NHWC or 3-D NHC input.
func genSpaceBatch(dt tensor.DType, toBatch bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffPick(r, 4, 4, 3)
		spatial := rank - 2
		block := diffShape(r, spatial, 1, 3)
		pads := make([]int, 2*spatial)
		n, c := diffInt(r, 1, 2), diffInt(r, 1, 4)
		inShape := []int{n}
		outShape := []int{n}
		bprod := 1
		for i, bs := range block {
			bprod *= bs
			if toBatch {
				h := diffInt(r, 1, 7)
				pads[2*i] = diffInt(r, 0, 3)
				total := h + pads[2*i]
				pads[2*i+1] = (bs - total%bs) % bs
				if r.IntN(3) == 0 {
					pads[2*i+1] += bs
				}
				inShape = append(inShape, h)
				outShape = append(outShape, (total+pads[2*i+1])/bs)
			} else {
				h := diffInt(r, 1, 4)
				full := h * bs
				// Crop at most full-1: the oracle cannot return empty outputs.
				pads[2*i] = diffInt(r, 0, min(2, full-1))
				pads[2*i+1] = diffInt(r, 0, min(2, full-1-pads[2*i]))
				inShape = append(inShape, h)
				outShape = append(outShape, full-pads[2*i]-pads[2*i+1])
			}
		}
		if toBatch {
			outShape[0] = n * bprod
		} else {
			inShape[0] = n * bprod
		}
		inShape = append(inShape, c)
		outShape = append(outShape, c)
		q := moverQuant(r, dt)
		if dt == tensor.Int16 {
			q.ZeroPoint[0] = 0
		}
		version := 1
		switch {
		case dt == tensor.Int16:
			version = 4
		case rank != 4:
			version = 3
		case dt == tensor.Int8:
			version = 2
		}
		op := schema.BuiltinOperatorSPACE_TO_BATCH_ND
		opts := tflitetest.RawOptionsFor(schema.BuiltinOptionsSpaceToBatchNDOptions)
		if !toBatch {
			op = schema.BuiltinOperatorBATCH_TO_SPACE_ND
			opts = tflitetest.RawOptionsFor(schema.BuiltinOptionsBatchToSpaceNDOptions)
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, inShape, q, nil)
		bl := b.Const("block", tensor.Int32, []int{spatial}, nil, shapeI32(block))
		p := b.Const("pads", tensor.Int32, []int{spatial, 2}, nil, shapeI32(pads))
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(op, version, []int{in, bl, p}, []int{out}, opts)
		model, err := shapeGenFinish(b, []int{in}, []int{out})
		return model, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(inShape))}, err
	}
}

// genFloorMod: integer divisors are non-zero; float inputs span a few
// periods of the divisor, whose sign varies.
func genFloorMod(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		aShape, bShape, outShape := diffBroadcastShapes(r)
		for len(aShape) > 4 || len(bShape) > 4 {
			aShape, bShape, outShape = diffBroadcastShapes(r)
		}
		na, nb := tensor.NumElements(aShape), tensor.NumElements(bShape)
		var aData, bData []byte
		switch dt {
		case tensor.Float32:
			aData = diffFloatBytes(r, na, -20, 20)
			bData = make([]byte, 4*nb)
			for i := 0; i < nb; i++ {
				v := float32(diffLogUniform(r, 0.3, 8))
				if r.IntN(2) == 0 {
					v = -v
				}
				binary.LittleEndian.PutUint32(bData[4*i:], math.Float32bits(v))
			}
		default:
			aData = diffTensorBytes(r, dt, na)
			bData = diffTensorBytes(r, dt, nb)
			es := dt.Size()
			for i := 0; i < nb; i++ {
				zero := true
				for _, x := range bData[i*es : (i+1)*es] {
					zero = zero && x == 0
				}
				if zero {
					bData[i*es] = byte(diffPick(r, 1, 0xff))
					for k := 1; k < es; k++ {
						bData[i*es+k] = bData[i*es]
					}
					if bData[i*es] == 1 {
						clear(bData[i*es+1 : (i+1)*es])
					}
				}
			}
		}
		version := 1
		if dt == tensor.Int8 || dt == tensor.Int16 {
			version = 2
		}
		constB := r.IntN(4) == 0
		b := tflitetest.NewBuilder()
		x := b.Tensor("a", dt, aShape, nil, nil)
		var y int
		if constB {
			y = b.Const("b", dt, bShape, nil, bData)
		} else {
			y = b.Tensor("b", dt, bShape, nil, nil)
		}
		out := b.Tensor("out", dt, outShape, nil, nil)
		b.Op(schema.BuiltinOperatorFLOOR_MOD, version, []int{x, y}, []int{out}, tflitetest.RawOptionsFor(schema.BuiltinOptionsFloorModOptions))
		ins, data := []int{x}, [][]byte{aData}
		if !constB {
			ins = append(ins, y)
			data = append(data, bData)
		}
		model, err := shapeGenFinish(b, ins, []int{out})
		return model, data, err
	}
}

// newOps are the operators whose generators this file and its siblings
// add: case 0 of each of their generators seeds FuzzLoad.
var newOps = []string{
	"SHAPE", "RANK", "TILE", "BROADCAST_TO", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "FLOOR_MOD",
}

// addNewOpSeeds adds case 0 of every generator of newOps to f's corpus.
func addNewOpSeeds(f *testing.F) {
	ops := map[string]bool{}
	for _, op := range newOps {
		ops[op] = true
	}
	names := make([]string, 0, len(diffGens))
	for name := range diffGens {
		if op, _, _ := strings.Cut(name, "/"); ops[op] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		model, _, err := runDiffGen(diffGens[name], diffRand(name, 0))
		if err != nil {
			f.Fatalf("generator %s: %v", name, err)
		}
		f.Add(model)
	}
}

// moverCases is the number of cases of the generators of operators that
// only move, select or compare elements: their few code paths need fewer
// random shapes than arithmetic does, and TestDifferential runs in
// make test.
const moverCases = 8

// addMoverGen registers a generator with moverCases cases.
func addMoverGen(name string, g diffGen) {
	addDiffGen(name, g)
	diffGenCases[name] = moverCases
}
