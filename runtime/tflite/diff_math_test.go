package tflite

// Generators for TestDifferential: the element-wise math operators of
// ops_math.go (LOG, ABS, NEG, SQUARE, SIN, COS, FLOOR, CEIL, ROUND, SIGN)
// and the complex ones (RFFT2D, REAL, IMAG, COMPLEX_ABS), every type
// TFLite's kernels take. The oracle neither takes nor returns complex64
// tensors, so the complex operators are checked behind RFFT2D.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	type mathCase struct {
		op      schema.BuiltinOperator
		types   []tensor.DType
		lo, hi  float64 // float input range
		version func(dt tensor.DType, quantized bool) int
	}
	v1 := func(tensor.DType, bool) int { return 1 }
	cases := []mathCase{
		{schema.BuiltinOperatorLOG, []tensor.DType{tensor.Float32, tensor.Int8, tensor.Int16}, 0.001, 50, func(dt tensor.DType, _ bool) int {
			if dt == tensor.Float32 {
				return 1
			}
			return 2
		}},
		{schema.BuiltinOperatorABS, []tensor.DType{tensor.Float32, tensor.Int8, tensor.Int16, tensor.Int32}, -10, 10, func(dt tensor.DType, q bool) int {
			switch {
			case dt == tensor.Int32:
				return 5
			case dt == tensor.Int16 && q:
				return 3
			case dt == tensor.Int16:
				return 4
			case dt == tensor.Int8:
				return 2
			}
			return 1
		}},
		{schema.BuiltinOperatorNEG, []tensor.DType{tensor.Float32, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64}, -10, 10, v1},
		{schema.BuiltinOperatorSQUARE, []tensor.DType{tensor.Float32}, -10, 10, v1},
		{schema.BuiltinOperatorSIN, []tensor.DType{tensor.Float32}, -10, 10, v1},
		{schema.BuiltinOperatorCOS, []tensor.DType{tensor.Float32}, -10, 10, v1},
		{schema.BuiltinOperatorFLOOR, []tensor.DType{tensor.Float32}, -10, 10, v1},
		{schema.BuiltinOperatorCEIL, []tensor.DType{tensor.Float32}, -10, 10, v1},
		{schema.BuiltinOperatorROUND, []tensor.DType{tensor.Float32}, -10, 10, v1},
		{schema.BuiltinOperatorSIGN, []tensor.DType{tensor.Float32, tensor.Int32}, -10, 10, func(dt tensor.DType, _ bool) int {
			if dt == tensor.Int32 {
				return 2
			}
			return 1
		}},
	}
	for _, c := range cases {
		for _, dt := range c.types {
			name := c.op.String() + "/" + dt.String()
			addDiffGen(name, genMathUnary(c.op, dt, c.lo, c.hi, c.version))
			switch c.op {
			case schema.BuiltinOperatorNEG, schema.BuiltinOperatorSQUARE, schema.BuiltinOperatorFLOOR,
				schema.BuiltinOperatorCEIL, schema.BuiltinOperatorROUND, schema.BuiltinOperatorSIGN:
				diffGenCases[name] = moverCases
			}
		}
		if c.op == schema.BuiltinOperatorABS {
			addDiffGen("ABS/int16_raw", genMathUnary(c.op, tensor.Int16, 0, 0, c.version))
		}
	}
	addDiffGen("RFFT2D/real", genRFFT2D(schema.BuiltinOperatorREAL))
	addDiffGen("RFFT2D/imag", genRFFT2D(schema.BuiltinOperatorIMAG))
	addDiffGen("COMPLEX_ABS/float32", genRFFT2D(schema.BuiltinOperatorCOMPLEX_ABS))
	addDiffGen("RFFT2D/yamnet_frontend", genYAMNetFrontEnd)
	newOps = append(newOps, "LOG", "ABS", "NEG", "SQUARE", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "SIGN",
		"RFFT2D", "REAL", "IMAG", "COMPLEX_ABS")
}

// genMathUnary: float inputs in [lo, hi) (with exact halves for ROUND and
// zeros for SIGN now and then); int8 and quantized int16 with random
// scales (zero points 0 for int16); raw integers over their whole range
// ("int16_raw": int16 without quantization).
func genMathUnary(op schema.BuiltinOperator, dt tensor.DType, lo, hi float64, version func(tensor.DType, bool) int) diffGen {
	raw := lo == 0 && hi == 0
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 4), 1, 6)
		n := tensor.NumElements(shape)
		var inQ, outQ *tensor.Quant
		var data []byte
		switch {
		case dt == tensor.Float32:
			data = diffFloatBytes(r, n, lo, hi)
			for i := 0; i < n; i++ {
				if r.IntN(6) == 0 {
					// Exact halves and integers, and zeros.
					v := float32(diffInt(r, int(lo)*2, int(hi)*2)) / 2
					binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
				}
			}
		case (dt == tensor.Int8 || dt == tensor.Int16) && !raw && op != schema.BuiltinOperatorNEG:
			inQ = diffQuant(r, dt, 0.001, 0.1)
			outQ = diffQuant(r, dt, 0.001, 0.1)
			if dt == tensor.Int16 {
				inQ.Scale[0] /= 256
				outQ.Scale[0] /= 256
			}
			if op == schema.BuiltinOperatorABS && r.IntN(3) == 0 {
				outQ.Scale[0] = inQ.Scale[0]
			}
			if op == schema.BuiltinOperatorLOG {
				// log of [scale, 127·scale] spans about [-7, 2].
				outQ.Scale[0] = float32(diffLogUniform(r, 0.02, 0.08))
				if dt == tensor.Int16 {
					outQ.Scale[0] /= 256
				}
			}
			data = diffTensorBytes(r, dt, n)
		default:
			data = diffTensorBytes(r, dt, n)
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, inQ, nil)
		out := b.Tensor("out", dt, shape, outQ, nil)
		b.Op(op, version(dt, inQ != nil), []int{in}, []int{out}, nil)
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{data}, err
	}
}

// genRFFT2D transforms a random [slices..., h, w] input with fft lengths
// that crop or pad it, and extracts part (REAL, IMAG or COMPLEX_ABS).
func genRFFT2D(part schema.BuiltinOperator) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 2, 4)
		shape := diffShape(r, rank, 1, 3)
		shape[rank-2], shape[rank-1] = diffInt(r, 1, 20), diffInt(r, 1, 40)
		// fft width 1 makes TFLite's rdft2d read memory it never wrote
		// (garbage results); edged returns the transform.
		fh, fw := 1<<diffInt(r, 0, 4), 1<<diffInt(r, 1, 6)
		outShape := append([]int(nil), shape...)
		outShape[rank-2], outShape[rank-1] = fh, fw/2+1
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", tensor.Float32, shape, nil, nil)
		l := b.Const("fft_length", tensor.Int32, []int{2}, nil, shapeI32([]int{fh, fw}))
		c := b.Tensor("spectrum", tensor.Complex64, outShape, nil, nil)
		out := b.Tensor("out", tensor.Float32, outShape, nil, nil)
		b.Op(schema.BuiltinOperatorRFFT2D, 1, []int{in, l}, []int{c}, tflitetest.RawOptionsFor(schema.BuiltinOptionsRfft2dOptions))
		b.Op(part, 1, []int{c}, []int{out}, nil)
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffFloatBytes(r, tensor.NumElements(shape), -1, 1)}, err
	}
}

// genYAMNetFrontEnd rebuilds the float front end of
// testdata/models/yamnet_audio_classifier.tflite (operators 0-13: framing
// by STRIDED_SLICE/RESHAPE/GATHER, the window MUL, PAD, RFFT2D,
// COMPLEX_ABS, the mel FULLY_CONNECTED, LOG and the QUANTIZE into the
// int8 body) with the model's constants, and returns both the log-mel
// floats and their int8 quantization for a random waveform.
func genYAMNetFrontEnd(r *rand.Rand) ([]byte, [][]byte, error) {
	data, err := os.ReadFile(filepath.Join(modelsDir, "yamnet_audio_classifier.tflite"))
	if err != nil {
		return nil, nil, err
	}
	m, err := Decode(data)
	if err != nil {
		return nil, nil, err
	}
	sg := m.Subgraphs[0]
	b := tflitetest.NewBuilder()
	ids := map[int]int{}
	tensorFor := func(i int) int {
		if id, ok := ids[i]; ok {
			return id
		}
		ti := &sg.Tensors[i]
		id := b.Tensor(fmt.Sprintf("t%d", i), ti.Type, ti.Shape, ti.Quant, ti.Data)
		ids[i] = id
		return id
	}
	for oi := 0; oi <= 13; oi++ {
		op := &sg.Operators[oi]
		var ins, outs []int
		for _, t := range op.Inputs {
			ins = append(ins, tensorFor(t))
		}
		for _, t := range op.Outputs {
			outs = append(outs, tensorFor(t))
		}
		var opts tflitetest.Options
		switch name := m.OpName(op); name {
		case "STRIDED_SLICE":
			var o schema.StridedSliceOptions
			if err := op.builtinOptions(&o, schema.BuiltinOptionsStridedSliceOptions); err != nil {
				return nil, nil, err
			}
			opts = tflitetest.StridedSliceOptions(tflitetest.StridedSliceMasks{Begin: int(o.BeginMask()), End: int(o.EndMask()),
				Ellipsis: int(o.EllipsisMask()), NewAxis: int(o.NewAxisMask()), ShrinkAxis: int(o.ShrinkAxisMask()), Offset: o.Offset()})
		case "RESHAPE":
			opts = tflitetest.ReshapeOptions(sg.Tensors[op.Outputs[0]].Shape)
		case "GATHER":
			var o schema.GatherOptions
			if err := op.builtinOptions(&o, schema.BuiltinOptionsGatherOptions); err != nil {
				return nil, nil, err
			}
			opts = tflitetest.GatherOptions(int(o.Axis()), int(o.BatchDims()))
		case "MUL":
			opts = tflitetest.MulOptions(schema.ActivationFunctionTypeNONE)
		case "PAD":
			opts = tflitetest.PadOptions()
		case "FULLY_CONNECTED":
			var o schema.FullyConnectedOptions
			if err := op.builtinOptions(&o, schema.BuiltinOptionsFullyConnectedOptions); err != nil {
				return nil, nil, err
			}
			opts = tflitetest.FullyConnectedOptions(o.FusedActivationFunction(), o.KeepNumDims())
		case "RFFT2D", "COMPLEX_ABS", "LOG", "QUANTIZE":
		default:
			return nil, nil, fmt.Errorf("yamnet operator %d is %s; the front end has changed", oi, name)
		}
		b.Op(schema.BuiltinOperator(m.opcodes[op.Opcode].builtin), m.OpVersion(op), ins, outs, opts)
	}
	logOut, q := ids[sg.Operators[11].Outputs[0]], ids[sg.Operators[13].Outputs[0]]
	model, err := shapeGenFinish(b, []int{ids[sg.Operators[0].Inputs[0]]}, []int{logOut, q})
	// A waveform: a few tones plus noise, in [-1, 1].
	n := sg.Tensors[sg.Inputs[0]].Shape[0]
	wave := make([]float32, n)
	f1, f2 := diffLogUniform(r, 50, 4000), diffLogUniform(r, 50, 4000)
	for i := range wave {
		t := float64(i) / 16000
		wave[i] = float32(0.4*math.Sin(2*math.Pi*f1*t) + 0.3*math.Sin(2*math.Pi*f2*t) + 0.2*(r.Float64()*2-1))
	}
	return model, [][]byte{tflitetest.Float32Bytes(wave)}, err
}
