package tflite

import (
	"fmt"
	"math/rand/v2"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

type svdfCase struct {
	batch, nIn, nUnit, rank, nMemory int
	bias                             bool
	act                              schema.ActivationFunctionType
	// hybrid: float activations with int8 weights (float must be set).
	hybrid, asym bool
}

func (c svdfCase) String() string {
	return fmt.Sprintf("b%d_in%d_u%d_r%d_m%d_bias%v_%s_asym%v", c.batch, c.nIn, c.nUnit, c.rank, c.nMemory, c.bias, c.act, c.asym)
}

// buildSVDF writes a single SVDF model (float32, or int8 with int16 state
// and time weights) and runs inputs for it.
func buildSVDF(t testing.TB, r *rand.Rand, c svdfCase, float bool, runs int) ([]byte, []byte) {
	t.Helper()
	b := tflitetest.NewBuilder()
	nFilter := c.nUnit * c.rank
	var x, wf, wt, bias, st, y int
	var inputs []byte
	if float {
		x = b.Tensor("x", tensor.Float32, []int{c.batch, c.nIn}, nil, nil)
		if c.hybrid {
			q := func() *tensor.Quant { return &tensor.Quant{Scale: []float32{1.0 / 127}, ZeroPoint: []int32{0}} }
			wf = b.Const("wf", tensor.Int8, []int{nFilter, c.nIn}, q(), diffInt8Weights(r, nFilter*c.nIn))
			wt = b.Const("wt", tensor.Int8, []int{nFilter, c.nMemory}, q(), diffInt8Weights(r, nFilter*c.nMemory))
		} else {
			wf = b.Const("wf", tensor.Float32, []int{nFilter, c.nIn}, nil, diffFloatBytes(r, nFilter*c.nIn, -1, 1))
			wt = b.Const("wt", tensor.Float32, []int{nFilter, c.nMemory}, nil, diffFloatBytes(r, nFilter*c.nMemory, -1, 1))
		}
		bias = tflitetest.NoInput
		if c.bias {
			bias = b.Const("bias", tensor.Float32, []int{c.nUnit}, nil, diffFloatBytes(r, c.nUnit, -1, 1))
		}
		st = b.Variable("state", tensor.Float32, []int{c.batch, nFilter * c.nMemory}, nil)
		y = b.Tensor("y", tensor.Float32, []int{c.batch, c.nUnit}, nil, nil)
		inputs = diffFloatBytes(r, runs*c.batch*c.nIn, -2, 2)
	} else {
		xq := &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.005, 0.05))}, ZeroPoint: []int32{int32(diffInt(r, -20, 20))}}
		wfq := &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.002, 0.02))}, ZeroPoint: []int32{0}}
		stq := &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 1e-4, 1e-3))}, ZeroPoint: []int32{0}}
		wtq := &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 1e-5, 1e-4))}, ZeroPoint: []int32{0}}
		yq := &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.005, 0.05))}, ZeroPoint: []int32{int32(diffInt(r, -128, 0))}}
		x = b.Tensor("x", tensor.Int8, []int{c.batch, c.nIn}, xq, nil)
		wf = b.Const("wf", tensor.Int8, []int{nFilter, c.nIn}, wfq, diffInt8Weights(r, nFilter*c.nIn))
		wt = b.Const("wt", tensor.Int16, []int{nFilter, c.nMemory}, wtq, diffTensorBytes(r, tensor.Int16, nFilter*c.nMemory))
		bias = tflitetest.NoInput
		if c.bias {
			bq := &tensor.Quant{Scale: []float32{stq.Scale[0] * wtq.Scale[0]}, ZeroPoint: []int32{0}}
			bias = b.Const("bias", tensor.Int32, []int{c.nUnit}, bq, diffInt32Bytes(r, c.nUnit, -1<<20, 1<<20))
		}
		st = b.Variable("state", tensor.Int16, []int{c.batch, nFilter * c.nMemory}, stq)
		y = b.Tensor("y", tensor.Int8, []int{c.batch, c.nUnit}, yq, nil)
		inputs = diffTensorBytes(r, tensor.Int8, runs*c.batch*c.nIn)
	}
	version := 1
	switch {
	case !float:
		version = 3
	case c.hybrid && c.asym:
		version = 4
	case c.hybrid:
		version = 2
	}
	b.Op(schema.BuiltinOperatorSVDF, version, []int{x, wf, wt, bias, st}, []int{y}, tflitetest.SVDFOptions(c.rank, c.act, c.asym))
	b.Inputs(x)
	b.Outputs(y)
	model, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return model, inputs
}

// TestSVDFAgainstTFLite compares random single-op SVDF models with
// TensorFlow Lite's C library over invocations that carry the state over,
// then with a reset before each: int8 byte for byte in LiteRT arithmetic,
// float and hybrid (int8 weights, float activations) within 1e-5.
func TestSVDFAgainstTFLite(t *testing.T) {
	n := 30
	if testing.Short() {
		n = 8
	}
	for _, kind := range []string{"int8", "float32", "hybrid"} {
		float := kind != "int8"
		for i := 0; i < n; i++ {
			r := rand.New(rand.NewPCG(uint64(i), map[string]uint64{"float32": 3, "int8": 4, "hybrid": 8}[kind]))
			c := svdfCase{batch: diffInt(r, 1, 3), nIn: diffInt(r, 1, 8), nUnit: diffInt(r, 1, 6), rank: diffInt(r, 1, 3),
				nMemory: diffInt(r, 1, 6), bias: r.IntN(3) > 0, act: schema.ActivationFunctionTypeRELU}
			if float {
				c.act = diffPick(r, schema.ActivationFunctionTypeNONE, schema.ActivationFunctionTypeRELU, schema.ActivationFunctionTypeRELU6)
			}
			if kind == "hybrid" {
				c.hybrid, c.asym = true, r.IntN(2) == 0
			}
			name := kind + "/" + c.String()
			t.Run(name, func(t *testing.T) {
				const runs = 4
				model, in := buildSVDF(t, r, c, float, runs)
				for _, reset := range []bool{false, true} {
					want := capiRun(t, model, runs, reset, [][]byte{in})
					got := edgedRuns(t, model, &Options{Arithmetic: LiteRT}, runs, reset, [][]byte{in})
					if float {
						compareFloats(t, got[0], want[0], 1e-5)
					} else if d := firstDiff(got[0], want[0]); d >= 0 {
						t.Errorf("reset %v: byte %d of %d: edged %d, TFLite %d", reset, d, len(want[0]), int8(got[0][d]), int8(want[0][d]))
					}
				}
			})
		}
	}
}

// buildRNN writes a random float RNN (or UNIDIRECTIONAL_SEQUENCE_RNN)
// model and returns it with the shape of its input.
func buildRNN(t testing.TB, r *rand.Rand, seq bool) (name string, model []byte, xShape []int) {
	t.Helper()
	batch, steps, nIn, units := diffInt(r, 1, 3), diffInt(r, 1, 5), diffInt(r, 1, 8), diffInt(r, 1, 8)
	timeMajor := r.IntN(2) == 0
	act := diffPick(r, schema.ActivationFunctionTypeNONE, schema.ActivationFunctionTypeRELU, schema.ActivationFunctionTypeRELU6, schema.ActivationFunctionTypeTANH)
	name = fmt.Sprintf("seq%v/b%d_t%d_in%d_u%d_tm%v_%s", seq, batch, steps, nIn, units, timeMajor, act)
	b := tflitetest.NewBuilder()
	xShape, yShape := []int{batch, nIn}, []int{batch, units}
	if seq {
		xShape, yShape = []int{batch, steps, nIn}, []int{batch, steps, units}
		if timeMajor {
			xShape, yShape = []int{steps, batch, nIn}, []int{steps, batch, units}
		}
	}
	x := b.Tensor("x", tensor.Float32, xShape, nil, nil)
	w := b.Const("w", tensor.Float32, []int{units, nIn}, nil, diffFloatBytes(r, units*nIn, -0.7, 0.7))
	rw := b.Const("r", tensor.Float32, []int{units, units}, nil, diffFloatBytes(r, units*units, -0.7, 0.7))
	bias := b.Const("b", tensor.Float32, []int{units}, nil, diffFloatBytes(r, units, -0.5, 0.5))
	h := b.Variable("h", tensor.Float32, []int{batch, units}, nil)
	y := b.Tensor("y", tensor.Float32, yShape, nil, nil)
	if seq {
		b.Op(schema.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_RNN, 1, []int{x, w, rw, bias, h}, []int{y},
			tflitetest.RawOptions(schema.BuiltinOptionsSequenceRNNOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
				schema.SequenceRNNOptionsStart(fb)
				schema.SequenceRNNOptionsAddTimeMajor(fb, timeMajor)
				schema.SequenceRNNOptionsAddFusedActivationFunction(fb, act)
				return schema.SequenceRNNOptionsEnd(fb)
			}))
	} else {
		b.Op(schema.BuiltinOperatorRNN, 1, []int{x, w, rw, bias, h}, []int{y},
			tflitetest.RawOptions(schema.BuiltinOptionsRNNOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
				schema.RNNOptionsStart(fb)
				schema.RNNOptionsAddFusedActivationFunction(fb, act)
				return schema.RNNOptionsEnd(fb)
			}))
	}
	b.Inputs(x)
	b.Outputs(y)
	model, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return name, model, xShape
}

// TestRNNAgainstTFLite compares random float RNN and
// UNIDIRECTIONAL_SEQUENCE_RNN models with TensorFlow Lite's C library over
// invocations that carry the hidden state, then with resets: within 1e-5.
func TestRNNAgainstTFLite(t *testing.T) {
	n := 20
	if testing.Short() {
		n = 6
	}
	for _, seq := range []bool{false, true} {
		for i := 0; i < n; i++ {
			r := rand.New(rand.NewPCG(uint64(i), map[bool]uint64{true: 5, false: 6}[seq]))
			name, model, xShape := buildRNN(t, r, seq)
			t.Run(name, func(t *testing.T) {
				const runs = 3
				in := diffFloatBytes(r, runs*tensor.NumElements(xShape), -1.5, 1.5)
				for _, reset := range []bool{false, true} {
					want := capiRun(t, model, runs, reset, [][]byte{in})
					got := edgedRuns(t, model, nil, runs, reset, [][]byte{in})
					compareFloats(t, got[0], want[0], 1e-5)
				}
			})
		}
	}
}
