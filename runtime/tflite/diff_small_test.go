package tflite

import (
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// Generators with small operands and requantization scales well below 1:
// sums of a few units land on every fraction, so fixed-point (TFLite's
// kernels, double rounding) and float (XNNPACK) requantization give
// visibly different answers, and a case tells which arithmetic the oracle
// used for the operator.

func init() {
	for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8} {
		addDiffGen("TRANSPOSE_CONV/small_"+dt.String(), genSmallTransposeConv(dt))
	}
}

// diffSmallBytes returns n raw values within ±spread of zp.
func diffSmallBytes(r *rand.Rand, dt tensor.DType, n int, zp int32, spread int) []byte {
	lo, hi := int32(-128), int32(127)
	if dt == tensor.UInt8 {
		lo, hi = 0, 255
	}
	b := make([]byte, n)
	for i := range b {
		v := zp + int32(diffInt(r, -spread, spread))
		b[i] = byte(min(max(v, lo), hi))
	}
	return b
}

// genSmallTransposeConv covers the geometries TFLite's XNNPACK delegate
// takes and those it leaves to TFLite's kernel (SAME padding with a
// filter smaller than the stride, outputs cut short or extended within a
// stride).
func genSmallTransposeConv(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		batch := diffInt(r, 1, 2)
		inH, inW, inC := diffInt(r, 1, 5), diffInt(r, 1, 5), diffInt(r, 1, 3)
		outC := diffInt(r, 1, 3)
		fH, fW := diffInt(r, 1, 3), diffInt(r, 1, 3)
		sH, sW := diffInt(r, 1, 3), diffInt(r, 1, 3)
		pad := schema.PaddingVALID
		outH, outW := (inH-1)*sH+fH+r.IntN(sH), (inW-1)*sW+fW+r.IntN(sW)
		if r.IntN(2) == 0 {
			pad = schema.PaddingSAME
			outH, outW = max(inH*sH-r.IntN(sH), 1), max(inW*sW-r.IntN(sW), 1)
		}
		outShape := []int{batch, outH, outW, outC}
		inScale, wScale := float32(0.5), float32(0.25)
		var inZP, wZP int32
		if dt == tensor.UInt8 {
			inZP, wZP = int32(diffInt(r, 100, 150)), int32(diffInt(r, 100, 150))
		} else {
			inZP = int32(diffInt(r, -20, 20))
		}
		wq := &tensor.Quant{Scale: []float32{wScale}, ZeroPoint: []int32{wZP}}
		if dt == tensor.Int8 && outC > 1 && r.IntN(2) == 0 {
			wq = &tensor.Quant{Scale: make([]float32, outC), ZeroPoint: make([]int32, outC)}
			for c := range wq.Scale {
				wq.Scale[c] = wScale * float32(diffInt(r, 1, 4))
			}
		}
		b := tflitetest.NewBuilder()
		shapeT := b.Const("output_shape", tensor.Int32, []int{4}, nil, tflitetest.ShapeBytes(outShape))
		fShape := []int{outC, fH, fW, inC}
		w := b.Const("w", dt, fShape, wq, diffSmallBytes(r, dt, tensor.NumElements(fShape), wZP, 3))
		in := b.Tensor("in", dt, []int{batch, inH, inW, inC}, &tensor.Quant{Scale: []float32{inScale}, ZeroPoint: []int32{inZP}}, nil)
		inputs := []int{shapeT, w, in}
		if r.IntN(2) == 0 {
			bq := &tensor.Quant{Scale: make([]float32, len(wq.Scale)), ZeroPoint: make([]int32, len(wq.Scale))}
			for c, s := range wq.Scale {
				bq.Scale[c] = inScale * s
			}
			inputs = append(inputs, b.Const("b", tensor.Int32, []int{outC}, bq, diffInt32Bytes(r, outC, -6, 6)))
		}
		outZP := int32(diffInt(r, -20, 20))
		if dt == tensor.UInt8 {
			outZP += 128
		}
		// Requantization scales in [0.2, 0.9] of the per-tensor weights.
		outScale := inScale * wScale / float32(diffLogUniform(r, 0.2, 0.9))
		out := b.Tensor("out", dt, outShape, &tensor.Quant{Scale: []float32{outScale}, ZeroPoint: []int32{outZP}}, nil)
		b.Op(schema.BuiltinOperatorTRANSPOSE_CONV, 4, inputs, []int{out},
			tflitetest.TransposeConvOptions(pad, sW, sH, diffActivation(r)))
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{diffSmallBytes(r, dt, batch*inH*inW*inC, inZP, 3)}, err
	}
}
