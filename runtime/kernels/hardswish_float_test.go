package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func hardSwishRun(t *testing.T, x []float32) []float32 {
	t.Helper()
	in := convT("x", tensor.Float32, []int{len(x)}, nil, x)
	out := convT("y", tensor.Float32, []int{len(x)}, nil, nil)
	for j := range out.Data {
		out.Data[j] = 0x5a
	}
	k, err := HardSwish(&Config{}, in, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Eval(); err != nil {
		t.Fatal(err)
	}
	return out.Float32s()
}

// Hand-worked float HARD_SWISH x·relu6(x+3)/6 under every variant, over
// 17 elements so the SIMD body and its scalar tail both see them:
// 1·4/6 = 0.6666667, -1·2/6 = -0.33333334, 1.5·4.5/6 = 1.125,
// -1.5·1.5/6 = -0.375, -inf·0 = NaN.
func TestHardSwishFloatValues(t *testing.T) {
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	inf := float32(math.Inf(1))
	x := []float32{-4, -3, negZero, 0, 1, -1, 1.5, -1.5, 3, 6, inf, -inf, nan, 100, -2.5, 2, -6}
	want := []float32{negZero, negZero, negZero, 0, 0.6666667, -0.33333334, 1.125, -0.375, 3, 6, inf, nan, nan, 100, -0.20833333, 1.6666666, negZero}
	forEachVariant(t, func(t *testing.T, v string) {
		got := hardSwishRun(t, x)
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) && !(math.IsNaN(float64(got[j])) && math.IsNaN(float64(want[j]))) {
				t.Errorf("%s: HARD_SWISH(%v) = %v; want %v", v, x[j], got[j], want[j])
			}
		}
	})
}

// Every variant gives the portable loop's bits, specials included, for
// every tail length.
func TestHardSwishFloatVariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var inputs [][]float32
	for _, n := range eltwiseSizes() {
		x := eltwiseInput(rng, n)
		for i := range x {
			if rng.IntN(8) == 0 {
				x[i] = []float32{-3, 3, -6, 0.5, -0.5}[rng.IntN(5)]
			}
		}
		inputs = append(inputs, x)
	}
	start := Variant()
	t.Cleanup(func() { _, _ = SetVariant(start) })
	if _, err := SetVariant(VariantPortable); err != nil {
		t.Fatal(err)
	}
	want := make([][]float32, len(inputs))
	for i, x := range inputs {
		want[i] = hardSwishRun(t, x)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for i, x := range inputs {
			got := hardSwishRun(t, x)
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("%s: HARD_SWISH(%v) = %v (%#08x); portable %v (%#08x)", v, x[j], got[j], math.Float32bits(got[j]), want[i][j], math.Float32bits(want[i][j]))
				}
			}
		}
	})
}
