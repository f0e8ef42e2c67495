package tflite

// Generators for TestDifferential: DEPTH_TO_SPACE, SPACE_TO_DEPTH, ELU and
// GELU, every type TFLite's kernels take.

import (
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
	flatbuffers "github.com/google/flatbuffers/go"
)

func init() {
	for _, dt := range []tensor.DType{tensor.Float32, tensor.UInt8, tensor.Int8, tensor.Int32, tensor.Int64} {
		addMoverGen("DEPTH_TO_SPACE/"+dt.String(), genDepthSpace(dt, true))
		addMoverGen("SPACE_TO_DEPTH/"+dt.String(), genDepthSpace(dt, false))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8} {
		addDiffGen("ELU/"+dt.String(), genActivation(schema.BuiltinOperatorELU, dt, false))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16} {
		addDiffGen("GELU/"+dt.String(), genActivation(schema.BuiltinOperatorGELU, dt, false))
		addDiffGen("GELU/approximate_"+dt.String(), genActivation(schema.BuiltinOperatorGELU, dt, true))
	}
	newOps = append(newOps, "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "ELU", "GELU")
}

func genDepthSpace(dt tensor.DType, toSpace bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		block := diffInt(r, 1, 3)
		n, h, w, c := diffInt(r, 1, 2), diffInt(r, 1, 4), diffInt(r, 1, 4), diffInt(r, 1, 3)
		space := []int{n, h * block, w * block, c}
		depth := []int{n, h, w, c * block * block}
		inShape, outShape := depth, space
		op, optType := schema.BuiltinOperatorDEPTH_TO_SPACE, schema.BuiltinOptionsDepthToSpaceOptions
		if !toSpace {
			inShape, outShape = space, depth
			op, optType = schema.BuiltinOperatorSPACE_TO_DEPTH, schema.BuiltinOptionsSpaceToDepthOptions
		}
		q := moverQuant(r, dt)
		version := 1
		if dt == tensor.Int8 {
			version = 2
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, inShape, q, nil)
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(op, version, []int{in}, []int{out}, tflitetest.RawOptions(optType, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
			// DepthToSpaceOptions and SpaceToDepthOptions have the same
			// single field.
			fb.StartObject(1)
			fb.PrependInt32Slot(0, int32(block), 0)
			return fb.EndObject()
		}))
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(inShape))}, err
	}
}

// genActivation writes ELU or GELU: float inputs in [-5, 5); quantized
// ones with an output scale fitted to the function's range.
func genActivation(op schema.BuiltinOperator, dt tensor.DType, approximate bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 4), 1, 6)
		n := tensor.NumElements(shape)
		var inQ, outQ *tensor.Quant
		var data []byte
		if dt == tensor.Float32 {
			data = diffFloatBytes(r, n, -5, 5)
		} else {
			inQ = diffQuant(r, dt, 0.01, 0.05)
			outQ = diffQuant(r, dt, 0.01, 0.05)
			if dt == tensor.Int16 {
				inQ = &tensor.Quant{Scale: []float32{inQ.Scale[0] / 256}, ZeroPoint: []int32{0}}
				outQ = &tensor.Quant{Scale: []float32{outQ.Scale[0] / 256}, ZeroPoint: []int32{0}}
			}
			data = diffTensorBytes(r, dt, n)
		}
		version := 1
		var opts tflitetest.Options
		if op == schema.BuiltinOperatorGELU {
			if dt == tensor.Int8 || dt == tensor.UInt8 {
				version = 2
			}
			opts = tflitetest.RawOptions(schema.BuiltinOptionsGeluOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
				schema.GeluOptionsStart(fb)
				schema.GeluOptionsAddApproximate(fb, approximate)
				return schema.GeluOptionsEnd(fb)
			})
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, inQ, nil)
		out := b.Tensor("out", dt, shape, outQ, nil)
		b.Op(op, version, []int{in}, []int{out}, opts)
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{data}, err
	}
}

func init() {
	addDiffGen("SOFTMAX/int16", genSoftmaxInt16)
}

// genSoftmaxInt16: int16 in (zero point 0) and out (scale 1/32768, zero
// point 0), as TFLite requires; rows up to 64 wide, random beta.
func genSoftmaxInt16(r *rand.Rand) ([]byte, [][]byte, error) {
	rank := diffInt(r, 1, 4)
	shape := diffShape(r, rank, 1, 4)
	shape[rank-1] = diffInt(r, 1, 64)
	beta := float32(diffPick(r, 1.0, 1.0, 0.5, 2.0, diffLogUniform(r, 0.1, 3)))
	inQ := &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 1e-4, 2e-3))}, ZeroPoint: []int32{0}}
	outQ := &tensor.Quant{Scale: []float32{1.0 / 32768}, ZeroPoint: []int32{0}}
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Int16, shape, inQ, nil)
	out := b.Tensor("out", tensor.Int16, shape, outQ, nil)
	b.Op(schema.BuiltinOperatorSOFTMAX, 3, []int{in}, []int{out}, tflitetest.SoftmaxOptions(beta))
	m, err := shapeGenFinish(b, []int{in}, []int{out})
	return m, [][]byte{diffTensorBytes(r, tensor.Int16, tensor.NumElements(shape))}, err
}
