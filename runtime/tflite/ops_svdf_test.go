package tflite

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

type svdfCase struct {
	batch, nIn, nUnit, rank, nMemory int
	bias                             bool
	act                              schema.ActivationFunctionType
}

func (c svdfCase) String() string {
	return fmt.Sprintf("b%d_in%d_u%d_r%d_m%d_bias%v_%s", c.batch, c.nIn, c.nUnit, c.rank, c.nMemory, c.bias, c.act)
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
		wf = b.Const("wf", tensor.Float32, []int{nFilter, c.nIn}, nil, diffFloatBytes(r, nFilter*c.nIn, -1, 1))
		wt = b.Const("wt", tensor.Float32, []int{nFilter, c.nMemory}, nil, diffFloatBytes(r, nFilter*c.nMemory, -1, 1))
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
	if !float {
		version = 3
	}
	b.Op(schema.BuiltinOperatorSVDF, version, []int{x, wf, wt, bias, st}, []int{y}, tflitetest.SVDFOptions(c.rank, c.act, false))
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
// float within 1e-5.
func TestSVDFAgainstTFLite(t *testing.T) {
	n := 30
	if testing.Short() {
		n = 8
	}
	for _, float := range []bool{false, true} {
		for i := 0; i < n; i++ {
			r := rand.New(rand.NewPCG(uint64(i), map[bool]uint64{true: 3, false: 4}[float]))
			c := svdfCase{batch: diffInt(r, 1, 3), nIn: diffInt(r, 1, 8), nUnit: diffInt(r, 1, 6), rank: diffInt(r, 1, 3),
				nMemory: diffInt(r, 1, 6), bias: r.IntN(3) > 0, act: schema.ActivationFunctionTypeRELU}
			if float {
				c.act = diffPick(r, schema.ActivationFunctionTypeNONE, schema.ActivationFunctionTypeRELU, schema.ActivationFunctionTypeRELU6)
			}
			name := map[bool]string{true: "float32", false: "int8"}[float] + "/" + c.String()
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
