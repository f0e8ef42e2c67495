package tflite

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// int16 ADD and SUB whose scales are all powers of two: TFLite's
// fixed-point path (pot_scale_int16, on by default), in LiteRT arithmetic
// only, since TFLite Micro's kernels (the reference arithmetic) take the
// general path there. With pot_scale_int16 off both take the general
// path.

func init() {
	for _, op := range []schema.BuiltinOperator{schema.BuiltinOperatorADD, schema.BuiltinOperatorSUB} {
		name := op.String() + "/int16_pot"
		addDiffGen(name, genPOT16(op, true))
		diffLiteRTOnly[name] = true
		addDiffGen(op.String()+"/int16_pot_off", genPOT16(op, false))
	}
}

// pot16Options is ADD's or SUB's options with pot_scale_int16 set as given.
func pot16Options(op schema.BuiltinOperator, act schema.ActivationFunctionType, pot bool) tflitetest.Options {
	if op == schema.BuiltinOperatorADD {
		return tflitetest.RawOptions(schema.BuiltinOptionsAddOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
			schema.AddOptionsStart(fb)
			schema.AddOptionsAddFusedActivationFunction(fb, act)
			schema.AddOptionsAddPotScaleInt16(fb, pot)
			return schema.AddOptionsEnd(fb)
		})
	}
	return tflitetest.RawOptions(schema.BuiltinOptionsSubOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
		schema.SubOptionsStart(fb)
		schema.SubOptionsAddFusedActivationFunction(fb, act)
		schema.SubOptionsAddPotScaleInt16(fb, pot)
		return schema.SubOptionsEnd(fb)
	})
}

// genPOT16: the output's scale is 2^-k; one input (either) has it, the
// other 2^-(k+e) with e from 0 to 18 (past 15, gemmlowp's int16 rounding
// mask is all ones). SUB (whose TFLite kernel broadcasts on this path)
// broadcasts in a third of the cases; ADD's kernel does not.
func genPOT16(op schema.BuiltinOperator, pot bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		k := diffInt(r, 6, 15)
		e := diffPick(r, 0, 1, 2, 3, 5, 8, 12, 15, 16, 18)
		if r.IntN(3) == 0 {
			e = diffInt(r, 0, 4)
		}
		sOut := float32(math.Ldexp(1, -k))
		s1, s2 := sOut, float32(math.Ldexp(1, -k-e))
		if r.IntN(2) == 0 {
			s1, s2 = s2, s1
		}
		shape := diffShape(r, diffInt(r, 1, 4), 1, 6)
		shape2 := shape
		if op == schema.BuiltinOperatorSUB && r.IntN(3) == 0 {
			shape2 = make([]int, len(shape))
			for i, d := range shape {
				shape2[i] = diffPick(r, d, 1)
			}
		}
		q := func(s float32) *tensor.Quant { return &tensor.Quant{Scale: []float32{s}, ZeroPoint: []int32{0}} }
		b := tflitetest.NewBuilder()
		x := b.Tensor("x", tensor.Int16, shape, q(s1), nil)
		y := b.Tensor("y", tensor.Int16, shape2, q(s2), nil)
		out := b.Tensor("out", tensor.Int16, shape, q(sOut), nil)
		b.Op(op, 4, []int{x, y}, []int{out}, pot16Options(op, diffActivation(r), pot))
		b.Inputs(x, y)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{diffTensorBytes(r, tensor.Int16, tensor.NumElements(shape)), diffTensorBytes(r, tensor.Int16, tensor.NumElements(shape2))}, err
	}
}

// TestPOT16Refused: scales TFLite's power-of-two path cannot take fail
// at prepare with a clear error, as in TFLite; ADD on operands of
// different shapes is refused (TFLite's kernel reads past the smaller).
func TestPOT16Refused(t *testing.T) {
	for _, tc := range []struct {
		op           schema.BuiltinOperator
		s1, s2, sOut float64
		shape2       []int
		want         string
	}{
		{schema.BuiltinOperatorADD, 0x1p-8, 0x1p-10, 0x1p-9, []int{2, 3}, "one input must have the output's scale"},
		{schema.BuiltinOperatorSUB, 0x1p-7, 0x1p-9, 0x1p-9, []int{2, 3}, "one input must have the output's scale"},
		{schema.BuiltinOperatorADD, 0x1p-9, 0x1p-45, 0x1p-9, []int{2, 3}, "more than 2^31 times finer"},
		{schema.BuiltinOperatorADD, 0x1p-9, 0x1p-10, 0x1p-9, []int{1, 3}, "does not broadcast"},
	} {
		q := func(s float64) *tensor.Quant {
			return &tensor.Quant{Scale: []float32{float32(s)}, ZeroPoint: []int32{0}}
		}
		b := tflitetest.NewBuilder()
		x := b.Tensor("x", tensor.Int16, []int{2, 3}, q(tc.s1), nil)
		y := b.Tensor("y", tensor.Int16, tc.shape2, q(tc.s2), nil)
		out := b.Tensor("out", tensor.Int16, []int{2, 3}, q(tc.sOut), nil)
		b.Op(tc.op, 4, []int{x, y}, []int{out}, pot16Options(tc.op, schema.ActivationFunctionTypeNONE, true))
		b.Inputs(x, y)
		b.Outputs(out)
		model, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		m, err := Load(model)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewInterpreter(m, &Options{Arithmetic: LiteRT})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %g %g → %g %v: error %v; want one saying %q", tc.op, tc.s1, tc.s2, tc.sOut, tc.shape2, err, tc.want)
		}
		// TFLite Micro's general path takes them all.
		if _, err := NewInterpreter(m, &Options{Arithmetic: Reference}); err != nil {
			t.Errorf("%s %g %g → %g %v in reference arithmetic: %v", tc.op, tc.s1, tc.s2, tc.sOut, tc.shape2, err)
		}
	}
}
