package kernels

import (
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestDepthToSpace(t *testing.T) {
	in := shapeTensor("in", tensor.Int8, []int{1, 1, 2, 4}, shapeIota(8))
	out := shapeTensor("out", tensor.Int8, nil, nil)
	k, err := DepthToSpace(in, 2, out)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{0, 1, 4, 5, 2, 3, 6, 7}
	shapeRun(t, "DepthToSpace", k, out, []int{1, 2, 4, 1}, want)

	back := shapeTensor("back", tensor.Int8, nil, nil)
	if k, err = SpaceToDepth(shapeTensor("in", tensor.Int8, []int{1, 2, 4, 1}, want), 2, back); err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "SpaceToDepth", k, back, []int{1, 1, 2, 4}, shapeIota(8))

	if _, err := DepthToSpace(shapeTensor("in", tensor.Int8, []int{1, 1, 1, 3}, nil), 2, out); err == nil {
		t.Error("DepthToSpace of 3 channels by block 2 succeeded; want an error")
	}
	if _, err := SpaceToDepth(shapeTensor("in", tensor.Int8, []int{1, 3, 2, 1}, nil), 2, out); err == nil {
		t.Error("SpaceToDepth of height 3 by block 2 succeeded; want an error")
	}
	if _, err := DepthToSpace(shapeTensor("in", tensor.Int16, []int{1, 1, 1, 4}, nil), 2, shapeTensor("out", tensor.Int16, nil, nil)); err == nil {
		t.Error("DepthToSpace on int16 succeeded; TFLite does not take it")
	}
}

func TestEluGeluFloat(t *testing.T) {
	x := []float32{-1, 0, 1, 2}
	for _, tc := range []struct {
		name string
		f    func(float32) float32
		want []float64
	}{
		{"ELU", func(v float32) float32 {
			if v < 0 {
				return float32(math.Expm1(float64(v)))
			}
			return v
		}, []float64{math.Expm1(-1), 0, 1, 2}},
		{"GELU", geluExact, []float64{-0.15865525, 0, 0.84134475, 1.9544997}},
		{"GELU approximate", geluApprox, []float64{-0.15880801, 0, 0.84119199, 1.9545977}},
	} {
		for i, v := range x {
			want := tc.want[i]
			if got := tc.f(v); math.Abs(float64(got)-want) > 1e-6 {
				t.Errorf("%s(%g) = %g; want %g", tc.name, v, got, want)
			}
		}
	}
}

// TestEluArithmetics checks where the two tables part: an exact half of
// an output step rounds away from zero in TFLite's table and to even in
// XNNPACK's.
func TestEluArithmetics(t *testing.T) {
	q := func(s float32) *tensor.Quant { return &tensor.Quant{Scale: []float32{s}, ZeroPoint: []int32{0}} }
	for _, tc := range []struct {
		arith Arithmetic
		want  int64 // ELU(1) = 1 at output scale 2: 0.5 steps
	}{{Reference, 1}, {LiteRT, 0}} {
		in := shapeTensor("in", tensor.Int8, []int{3}, []int64{1, 3, -2})
		in.Quant = q(1)
		out := shapeTensor("out", tensor.Int8, nil, nil)
		out.Quant = q(2)
		k, err := Elu(&Config{Arithmetic: tc.arith}, in, out)
		if err != nil {
			t.Fatal(err)
		}
		// ELU(3)/2 = 1.5: away from zero 2, to even 2; ELU(-2)/2 =
		// -0.432: 0 either way.
		shapeRun(t, "Elu "+tc.arith.String(), k, out, []int{3}, []int64{tc.want, 2, 0})
	}
}
