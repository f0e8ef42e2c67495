package tflite

// Generators for TestDifferential (see diff_test.go) of the activation,
// softmax and conversion operators of ops_activation.go: LOG_SOFTMAX,
// LOGISTIC, TANH, RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, PRELU, HARD_SWISH,
// QUANTIZE, DEQUANTIZE, CAST and L2_NORMALIZATION (SOFTMAX is in
// diff_gen_test.go), plus hand-built single-op models run through the
// interpreter.

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// actUnaryCase describes a one-input, one-output operator case.
type actUnaryCase struct {
	op        schema.BuiltinOperator
	version   int
	inT, outT tensor.DType
	inQ, outQ *tensor.Quant
	opts      tflitetest.Options
	// constIn makes the input a constant with the generated data.
	constIn bool
}

// actGen builds a generator from a function drawing a case; the input data
// is random over the type (float32 in [lo, hi)).
func actGen(lo, hi float64, draw func(r *rand.Rand) actUnaryCase) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		c := draw(r)
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 5)
		shape[rank-1] = diffInt(r, 1, 24)
		n := tensor.NumElements(shape)
		var data []byte
		switch c.inT {
		case tensor.Float32:
			data = diffFloatBytes(r, n, lo, hi)
		case tensor.Float16:
			data = make([]byte, 2*n)
			for i := 0; i < n; i++ {
				// Finite halves only: exponent field below 31.
				h := uint16(r.IntN(1<<15)) | uint16(r.IntN(2))<<15
				if (h>>10)&0x1f == 0x1f {
					h &^= 1 << 14
				}
				binary.LittleEndian.PutUint16(data[2*i:], h)
			}
		default:
			data = diffTensorBytes(r, c.inT, n)
		}
		b := tflitetest.NewBuilder()
		var in int
		if c.constIn {
			in = b.Const("in", c.inT, shape, c.inQ, data)
		} else {
			in = b.Tensor("in", c.inT, shape, c.inQ, nil)
		}
		out := b.Tensor("out", c.outT, shape, c.outQ, nil)
		b.Op(c.op, c.version, []int{in}, []int{out}, c.opts)
		if !c.constIn {
			b.Inputs(in)
		}
		b.Outputs(out)
		model, err := b.Bytes()
		if c.constIn {
			return model, nil, err
		}
		return model, [][]byte{data}, err
	}
}

func fixedQ(scale float32, zp int32) *tensor.Quant {
	return &tensor.Quant{Scale: []float32{scale}, ZeroPoint: []int32{zp}}
}

func init() {
	allTypes := []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8}

	for _, dt := range allTypes {
		addDiffGen("LOG_SOFTMAX/"+dt.String(), actGen(-8, 8, func(r *rand.Rand) actUnaryCase {
			c := actUnaryCase{op: schema.BuiltinOperatorLOG_SOFTMAX, version: 1, inT: dt, outT: dt}
			if dt != tensor.Float32 {
				_, qmax, _ := typeRangeForTest(dt)
				c.inQ, c.outQ = diffQuant(r, dt, 0.01, 0.2), fixedQ(16.0/256, qmax)
				if dt == tensor.Int8 {
					c.version = 2
				}
			}
			return c
		}))
		addDiffGen("LOGISTIC/"+dt.String(), actGen(-10, 10, func(r *rand.Rand) actUnaryCase {
			c := actUnaryCase{op: schema.BuiltinOperatorLOGISTIC, version: 1, inT: dt, outT: dt}
			switch dt {
			case tensor.Int8:
				c.inQ, c.outQ, c.version = diffQuant(r, dt, 0.01, 0.2), fixedQ(1.0/256, -128), 2
			case tensor.UInt8:
				c.inQ, c.outQ = diffQuant(r, dt, 0.01, 0.2), fixedQ(1.0/256, 0)
			}
			return c
		}))
		addDiffGen("TANH/"+dt.String(), actGen(-5, 5, func(r *rand.Rand) actUnaryCase {
			c := actUnaryCase{op: schema.BuiltinOperatorTANH, version: 1, inT: dt, outT: dt}
			switch dt {
			case tensor.Int8:
				c.inQ, c.outQ, c.version = diffQuant(r, dt, 0.01, 0.1), fixedQ(1.0/128, 0), 2
			case tensor.UInt8:
				c.inQ, c.outQ = diffQuant(r, dt, 0.01, 0.1), fixedQ(1.0/128, 128)
			}
			return c
		}))
		for _, op := range []schema.BuiltinOperator{schema.BuiltinOperatorRELU, schema.BuiltinOperatorRELU6, schema.BuiltinOperatorRELU_N1_TO_1} {
			addDiffGen(op.String()+"/"+dt.String(), actGen(-8, 8, func(r *rand.Rand) actUnaryCase {
				c := actUnaryCase{op: op, version: 1, inT: dt, outT: dt}
				if dt != tensor.Float32 {
					c.inQ = diffQuant(r, dt, 0.01, 0.1)
					c.outQ = c.inQ
					if r.IntN(2) == 0 {
						c.outQ = diffQuant(r, dt, 0.01, 0.1)
					}
					if dt == tensor.Int8 && op != schema.BuiltinOperatorRELU_N1_TO_1 {
						c.version = 2
					}
				}
				return c
			}))
		}
		addDiffGen("LEAKY_RELU/"+dt.String(), actGen(-8, 8, func(r *rand.Rand) actUnaryCase {
			alpha := float32(diffPick(r, 0.2, 0.01, 0.3, r.Float64()))
			c := actUnaryCase{op: schema.BuiltinOperatorLEAKY_RELU, version: 1, inT: dt, outT: dt, opts: tflitetest.LeakyReluOptions(alpha)}
			if dt != tensor.Float32 {
				c.inQ, c.outQ, c.version = diffQuant(r, dt, 0.01, 0.1), diffQuant(r, dt, 0.01, 0.1), 2
			}
			return c
		}))
		addDiffGen("HARD_SWISH/"+dt.String(), actGen(-8, 8, func(r *rand.Rand) actUnaryCase {
			c := actUnaryCase{op: schema.BuiltinOperatorHARD_SWISH, version: 1, inT: dt, outT: dt}
			if dt != tensor.Float32 {
				c.inQ, c.outQ = diffQuant(r, dt, 0.02, 0.1), diffQuant(r, dt, 0.02, 0.1)
			}
			return c
		}))
		addDiffGen("L2_NORMALIZATION/"+dt.String(), actGen(-4, 4, func(r *rand.Rand) actUnaryCase {
			c := actUnaryCase{op: schema.BuiltinOperatorL2_NORMALIZATION, version: 1, inT: dt, outT: dt}
			switch dt {
			case tensor.Int8:
				c.inQ, c.outQ, c.version = diffQuant(r, dt, 0.01, 0.2), fixedQ(1.0/128, 0), 2
			case tensor.UInt8:
				c.inQ, c.outQ = diffQuant(r, dt, 0.01, 0.2), fixedQ(1.0/128, 128)
			}
			return c
		}))
		addDiffGen("PRELU/"+dt.String(), genPrelu(dt))
	}

	// No int16 LOGISTIC/TANH generators: edged follows TFLite Micro's
	// interpolated table (within 3 units of exact, see kernels'
	// TestInt16SigmoidAccuracy) while the oracle runs TFLite's optimized
	// int16 kernel, which differs from it by up to 5 units.
	for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8, tensor.Int16} {
		addDiffGen("QUANTIZE/float32_"+dt.String(), actGen(-3, 3, func(r *rand.Rand) actUnaryCase {
			v := map[tensor.DType]int{tensor.UInt8: 1, tensor.Int8: 1, tensor.Int16: 2}[dt]
			return actUnaryCase{op: schema.BuiltinOperatorQUANTIZE, version: v, inT: tensor.Float32, outT: dt, outQ: diffQuant(r, dt, 0.005, 0.05)}
		}))
		addDiffGen("DEQUANTIZE/"+dt.String(), actGen(0, 0, func(r *rand.Rand) actUnaryCase {
			v := map[tensor.DType]int{tensor.UInt8: 1, tensor.Int8: 2, tensor.Int16: 3}[dt]
			return actUnaryCase{op: schema.BuiltinOperatorDEQUANTIZE, version: v, inT: dt, outT: tensor.Float32, inQ: diffQuant(r, dt, 0.005, 0.05)}
		}))
	}
	addDiffGen("DEQUANTIZE/float16_const", genDequantizeFloat16)
	for _, pair := range [][2]tensor.DType{{tensor.Int8, tensor.Int8}, {tensor.Int8, tensor.UInt8}, {tensor.UInt8, tensor.Int8}, {tensor.UInt8, tensor.UInt8}, {tensor.Int16, tensor.Int16}} {
		addDiffGen("QUANTIZE/"+pair[0].String()+"_"+pair[1].String(), actGen(0, 0, func(r *rand.Rand) actUnaryCase {
			v := 1
			if pair[1] == tensor.Int16 {
				v = 2
			}
			return actUnaryCase{op: schema.BuiltinOperatorQUANTIZE, version: v, inT: pair[0], outT: pair[1], inQ: diffQuant(r, pair[0], 0.01, 0.1), outQ: diffQuant(r, pair[1], 0.01, 0.1)}
		}))
	}
	castTypes := []tensor.DType{tensor.Float32, tensor.Int32, tensor.Int64, tensor.UInt8, tensor.Bool}
	for _, from := range castTypes {
		for _, to := range castTypes {
			if from == to {
				continue
			}
			addDiffGen("CAST/"+from.String()+"_"+to.String(), actGen(-300, 300, func(r *rand.Rand) actUnaryCase {
				return actUnaryCase{op: schema.BuiltinOperatorCAST, version: 1, inT: from, outT: to}
			}))
		}
	}
}

func typeRangeForTest(dt tensor.DType) (int32, int32, error) {
	switch dt {
	case tensor.Int8:
		return -128, 127, nil
	case tensor.UInt8:
		return 0, 255, nil
	}
	return math.MinInt16, math.MaxInt16, nil
}

// genPrelu: alpha is a constant broadcast over the leading dimensions
// (shape [C], [1, C] or the input's last two dimensions), as converters
// emit it.
func genPrelu(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 2, 4)
		shape := diffShape(r, rank, 1, 5)
		shape[rank-1] = diffInt(r, 1, 12)
		var aShape []int
		switch r.IntN(3) {
		case 0:
			aShape = []int{shape[rank-1]}
		case 1:
			aShape = []int{1, shape[rank-1]}
		default:
			aShape = append([]int(nil), shape[rank-2:]...)
		}
		na := tensor.NumElements(aShape)
		var inQ, aQ, outQ *tensor.Quant
		var aData []byte
		version := 1
		switch dt {
		case tensor.Float32:
			aData = diffFloatBytes(r, na, -0.5, 0.5)
		default:
			inQ, outQ = diffQuant(r, dt, 0.01, 0.1), diffQuant(r, dt, 0.01, 0.1)
			aQ = diffQuant(r, dt, 0.002, 0.01)
			aData = diffTensorBytes(r, dt, na)
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, inQ, nil)
		al := b.Const("alpha", dt, aShape, aQ, aData)
		out := b.Tensor("out", dt, shape, outQ, nil)
		b.Op(schema.BuiltinOperatorPRELU, version, []int{in, al}, []int{out}, nil)
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		var data []byte
		if dt == tensor.Float32 {
			data = diffFloatBytes(r, tensor.NumElements(shape), -4, 4)
		} else {
			data = diffTensorBytes(r, dt, tensor.NumElements(shape))
		}
		return model, [][]byte{data}, err
	}
}

// runSingleOp loads a model built by b and runs it on the given inputs.
func runSingleOp(t *testing.T, b *tflitetest.Builder, inputs ...[]byte) *Interpreter {
	t.Helper()
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range inputs {
		copy(it.Input(i).Data, in)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return it
}

// TestActivationOpsHandWorked runs single-op models whose outputs are
// worked out by hand.
func TestActivationOpsHandWorked(t *testing.T) {
	t.Run("SOFTMAX/float32", func(t *testing.T) {
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", tensor.Float32, []int{1, 2}, nil, nil)
		out := b.Tensor("out", tensor.Float32, []int{1, 2}, nil, nil)
		b.Op(schema.BuiltinOperatorSOFTMAX, 1, []int{in}, []int{out}, tflitetest.SoftmaxOptions(1))
		b.Inputs(in)
		b.Outputs(out)
		it := runSingleOp(t, b, tflitetest.Float32Bytes([]float32{0, float32(math.Log(3))}))
		// exp(0) : exp(log 3) = 1 : 3.
		want := []float32{0.25, 0.75}
		for i, got := range it.Output(0).Float32s() {
			if math.Abs(float64(got-want[i])) > 1e-6 {
				t.Errorf("SOFTMAX output[%d] = %g; want %g", i, got, want[i])
			}
		}
	})
	t.Run("DEQUANTIZE/float16_const", func(t *testing.T) {
		b := tflitetest.NewBuilder()
		// 0x3c00 = 1, 0xc000 = -2, 0x3555 ≈ 0.33325195, 0x0001 = 2^-24.
		halves := []byte{0x00, 0x3c, 0x00, 0xc0, 0x55, 0x35, 0x01, 0x00}
		in := b.Const("w", tensor.Float16, []int{4}, nil, halves)
		out := b.Tensor("out", tensor.Float32, []int{4}, nil, nil)
		b.Op(schema.BuiltinOperatorDEQUANTIZE, 3, []int{in}, []int{out}, nil)
		b.Outputs(out)
		it := runSingleOp(t, b)
		want := []float32{1, -2, 0.33325195, 1.0 / (1 << 24)}
		got := it.Output(0).Float32s()
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("DEQUANTIZE(float16) output[%d] = %g; want %g", i, got[i], want[i])
			}
		}
		if n := testing.AllocsPerRun(10, func() { _ = it.Invoke() }); n != 0 {
			t.Errorf("Invoke allocates %v times", n)
		}
	})
}

// genDequantizeFloat16: a constant float16 tensor (as in fp16-weight
// models) dequantized and used as PRELU's alpha (XNNPACK, in the oracle,
// only takes dequantized constants as operands of other operators).
func genDequantizeFloat16(r *rand.Rand) ([]byte, [][]byte, error) {
	shape := diffShape(r, diffInt(r, 1, 3), 1, 6)
	n := tensor.NumElements(shape)
	halves := make([]byte, 2*n)
	for i := 0; i < n; i++ {
		h := uint16(r.IntN(1 << 16))
		if (h>>10)&0x1f == 0x1f { // keep to finite values
			h &^= 1 << 14
		}
		binary.LittleEndian.PutUint16(halves[2*i:], h)
	}
	b := tflitetest.NewBuilder()
	w := b.Const("w", tensor.Float16, shape, nil, halves)
	wf := b.Tensor("w_f32", tensor.Float32, shape, nil, nil)
	in := b.Tensor("in", tensor.Float32, shape, nil, nil)
	out := b.Tensor("out", tensor.Float32, shape, nil, nil)
	b.Op(schema.BuiltinOperatorDEQUANTIZE, 3, []int{w}, []int{wf}, nil)
	b.Op(schema.BuiltinOperatorPRELU, 1, []int{in, wf}, []int{out}, nil)
	b.Inputs(in)
	b.Outputs(out)
	model, err := b.Bytes()
	return model, [][]byte{diffFloatBytes(r, n, -1, 1)}, err
}
