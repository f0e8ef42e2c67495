package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The vector float binary loops give what the Go loops give, bit for bit
// (NaN for NaN), for every operator, run form, length and clamp, on
// values that include ±0, ±Inf, NaN and subnormals.
func TestFloatRowVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-40, -1e-40, 1, -1, 3.5, -2.25}
	val := func() float32 {
		if r.IntN(4) == 0 {
			return special[r.IntN(len(special))]
		}
		return float32(r.NormFloat64() * 4)
	}
	inf := float32(math.Inf(1))
	type opDef struct {
		code int
		row  rowFunc[float32, float32, float32]
	}
	ops := []opDef{
		{f32RowOpAdd, f32RowAdd}, {f32RowOpSub, f32RowSub}, {f32RowOpMul, f32RowMul}, {f32RowOpDiv, f32RowDiv},
		{f32RowOpMax, f32RowMax}, {f32RowOpMin, f32RowMin}, {f32RowOpSqDiff, f32RowSqDiff}, {f32RowOpPrelu, f32RowPrelu},
	}
	same := func(x, y float32) bool {
		return math.Float32bits(x) == math.Float32bits(y) || (x != x && y != y)
	}
	for _, n := range []int{0, 1, 7, 8, 9, 16, 23, 64, 67} {
		a, b := make([]float32, n+1), make([]float32, n+1)
		for i := range a {
			a[i], b[i] = val(), val()
		}
		for _, op := range ops {
			for _, k := range []rowKind{rowVV, rowVS, rowSV, rowSS} {
				if op.code == f32RowOpPrelu && (k == rowSV || k == rowSS) {
					continue
				}
				for _, cl := range [][2]float32{{-inf, inf}, {0, 6}, {-1, 1}} {
					clamp := cl[0] != -inf
					want := make([]float32, n)
					goOnly := func() {
						start := Variant()
						defer SetVariant(start)
						if _, err := SetVariant(VariantPortable); err != nil {
							t.Fatal(err)
						}
						f32RowClamped(op.code, op.row, clamp, cl[0], cl[1])(k, a, b, want)
					}
					goOnly()
					forEachVariant(t, func(t *testing.T, v string) {
						got := make([]float32, n+1)
						got[n] = 42
						f32RowClamped(op.code, op.row, clamp, cl[0], cl[1])(k, a, b, got[:n])
						for i := 0; i < n; i++ {
							if !same(got[i], want[i]) {
								t.Fatalf("%s: op %d kind %d n %d clamp %v: y[%d] = %v (%#x); want %v (%#x) from a %v b %v",
									v, op.code, k, n, cl, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]), a[i], b[i])
							}
						}
						if got[n] != 42 {
							t.Fatalf("%s: wrote past the end", v)
						}
					})
				}
			}
		}
	}
}

// Hand-worked: PRELU keeps non-negative values (and -0), scales negative
// ones; MAXIMUM and MINIMUM return b when a is NaN, as TFLite's
// comparisons do.
func TestFloatRowCases(t *testing.T) {
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	a := []float32{2, -2, negZero, nan, 0.5, -4, 1, 1}
	b := []float32{0.5, 0.5, 0.5, 3, -1, 0.25, 1, 1}
	forEachVariant(t, func(t *testing.T, v string) {
		inf := float32(math.Inf(1))
		y := make([]float32, 8)
		f32RowClamped(f32RowOpPrelu, f32RowPrelu, false, -inf, inf)(rowVV, a, b, y)
		want := []float32{2, -1, negZero, nan, 0.5, -1, 1, 1}
		for i := range want {
			if math.Float32bits(y[i]) != math.Float32bits(want[i]) && !(y[i] != y[i] && want[i] != want[i]) {
				t.Errorf("%s: PRELU(%v, %v) = %v; want %v", v, a[i], b[i], y[i], want[i])
			}
		}
		f32RowClamped(f32RowOpMax, f32RowMax, false, -inf, inf)(rowVV, a, b, y)
		if y[3] != 3 || y[0] != 2 || y[1] != 0.5 {
			t.Errorf("%s: MAXIMUM = %v; want [2 0.5 ... 3 (b for a NaN) ...]", v, y)
		}
		f32RowClamped(f32RowOpMin, f32RowMin, false, -inf, inf)(rowVV, a, b, y)
		if y[3] != 3 || y[0] != 0.5 || y[1] != -2 {
			t.Errorf("%s: MINIMUM = %v; want [0.5 -2 ... 3 (b for a NaN) ...]", v, y)
		}
		f32RowClamped(f32RowOpSub, f32RowSub, true, 0, 6)(rowVS, []float32{1, 5, 9, -3, 7, 2, 8, 4}, []float32{2}, y)
		if w := []float32{0, 3, 6, 0, 5, 0, 6, 2}; !equalF32(y, w) {
			t.Errorf("%s: RELU6(a - 2) = %v; want %v", v, y, w)
		}
	})
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
