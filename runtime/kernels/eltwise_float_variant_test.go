package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// eltwiseSpecials are the values where a SIMD clamp could part from
// ClampF: NaN, both zeros, the infinities and the RELU6/RELU_N1_TO_1
// bounds themselves.
var eltwiseSpecials = []float32{
	float32(math.NaN()), float32(math.Copysign(0, -1)), 0,
	float32(math.Inf(1)), float32(math.Inf(-1)), 6, -1, 1, math.MaxFloat32, -math.MaxFloat32,
}

func eltwiseInput(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		if rng.IntN(4) == 0 {
			v[i] = eltwiseSpecials[rng.IntN(len(eltwiseSpecials))]
		} else {
			v[i] = float32(rng.NormFloat64() * 4)
		}
	}
	return v
}

// eltwiseSizes covers the empty tensor, every tail length around the 8-
// and 32-element blocks, and a size with a large body.
func eltwiseSizes() []int {
	s := []int{0}
	for n := 1; n <= 70; n++ {
		s = append(s, n)
	}
	return append(s, 1000, 1003)
}

// eltwiseRun builds a RELU-family kernel (act != ActNone) or an ADD with
// fused act over n elements (shape [2, n/2] when n is even, to cover a
// batch), evaluates it over a poisoned output and returns the output.
func eltwiseRun(t *testing.T, add bool, act Activation, x, z []float32) []float32 {
	t.Helper()
	n := len(x)
	shape := []int{n}
	if n%2 == 0 && n > 0 {
		shape = []int{2, n / 2}
	}
	in := convT("x", tensor.Float32, shape, nil, x)
	out := convT("y", tensor.Float32, shape, nil, nil)
	for j := range out.Data {
		out.Data[j] = 0x5a
	}
	var k Kernel
	var err error
	if add {
		k, err = Add(&Config{Threads: 1}, BinaryParams{Activation: act}, in, convT("z", tensor.Float32, shape, nil, z), out)
	} else {
		k, err = ReluX(&Config{Threads: 1}, act, in, out)
	}
	if err != nil {
		t.Fatalf("building (add %v, %s, n %d): %v", add, act, n, err)
	}
	if err := k.Eval(); err != nil {
		t.Fatalf("Eval(add %v, %s, n %d): %v", add, act, n, err)
	}
	return append([]float32(nil), out.Float32s()[:n]...)
}

// TestEltwiseFloatVariants checks RELU, RELU6, RELU_N1_TO_1 and ADD (with
// every fused activation) bit for bit against the portable variant.
func TestEltwiseFloatVariants(t *testing.T) {
	t.Logf("variants: %v", Variants())
	type tc struct {
		name string
		add  bool
		act  Activation
		x, z []float32
	}
	var cases []tc
	rng := rand.New(rand.NewPCG(7, 11))
	for _, n := range eltwiseSizes() {
		for _, act := range []Activation{ActRelu, ActRelu6, ActReluN1To1} {
			cases = append(cases, tc{name: fmt.Sprintf("%s/n%d", act, n), act: act, x: eltwiseInput(rng, n)})
		}
		for _, act := range []Activation{ActNone, ActRelu, ActRelu6, ActReluN1To1} {
			cases = append(cases, tc{name: fmt.Sprintf("ADD/%s/n%d", act, n), add: true, act: act,
				x: eltwiseInput(rng, n), z: eltwiseInput(rng, n)})
		}
	}
	useVariant(t, VariantPortable)
	want := make([][]float32, len(cases))
	for i, c := range cases {
		want[i] = eltwiseRun(t, c.add, c.act, c.x, c.z)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for i, c := range cases {
			got := eltwiseRun(t, c.add, c.act, c.x, c.z)
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("%s: %s[%d] = %v (%#08x); want %v (%#08x) as portable", v, c.name, j,
						got[j], math.Float32bits(got[j]), want[i][j], math.Float32bits(want[i][j]))
				}
			}
		}
	})
}

// TestEltwiseFloatValues checks hand-worked results under every variant,
// over 17 elements so the SIMD body and its scalar tail both see them.
func TestEltwiseFloatValues(t *testing.T) {
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	inf := float32(math.Inf(1))
	x := []float32{-3, -0.5, negZero, 0, 0.5, 1, 5.5, 6, 7, inf, -inf, nan, 2, -2, 1.5, -1.5, 100}
	z := []float32{1, 1, 0, negZero, 1, -2, 1, 0.25, -1, 1, 1, 0, 4.5, 1.5, -1.5, 0, -101}
	tests := []struct {
		name string
		add  bool
		act  Activation
		want []float32
	}{
		{"RELU", false, ActRelu, []float32{0, 0, negZero, 0, 0.5, 1, 5.5, 6, 7, inf, 0, nan, 2, 0, 1.5, 0, 100}},
		{"RELU6", false, ActRelu6, []float32{0, 0, negZero, 0, 0.5, 1, 5.5, 6, 6, 6, 0, nan, 2, 0, 1.5, 0, 6}},
		{"RELU_N1_TO_1", false, ActReluN1To1, []float32{-1, -0.5, negZero, 0, 0.5, 1, 1, 1, 1, 1, -1, nan, 1, -1, 1, -1, 1}},
		// -0 + 0 is +0 under round to nearest.
		{"ADD", true, ActNone, []float32{-2, 0.5, 0, 0, 1.5, -1, 6.5, 6.25, 6, inf, -inf, nan, 6.5, -0.5, 0, -1.5, -1}},
		{"ADD/RELU6", true, ActRelu6, []float32{0, 0.5, 0, 0, 1.5, 0, 6, 6, 6, 6, 0, nan, 6, 0, 0, 0, 0}},
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for _, tt := range tests {
			got := eltwiseRun(t, tt.add, tt.act, x, z)
			for j, w := range tt.want {
				if math.Float32bits(got[j]) != math.Float32bits(w) {
					t.Errorf("%s: %s(%v) [%d] = %v; want %v", v, tt.name, x[j], j, got[j], w)
				}
			}
		}
	})
}

// TestMaxPoolFloatVariants checks float MAX_POOL_2D bit for bit against
// the portable variant over odd and SIMD-sized depths, both paddings,
// strides 1 and 2, widths 1..9, batch 2 and inputs with NaN and zeros.
func TestMaxPoolFloatVariants(t *testing.T) {
	type tc struct {
		name  string
		p     PoolParams
		shape []int
		x     []float32
	}
	var cases []tc
	rng := rand.New(rand.NewPCG(3, 5))
	for _, depth := range []int{1, 3, 8, 9, 24, 33, 64} {
		for _, w := range []int{1, 2, 3, 5, 8, 9, 17} {
			for _, pad := range []Padding{PaddingSame, PaddingValid} {
				for _, stride := range []int{1, 2} {
					for i, act := range []Activation{ActNone, ActRelu6, ActNone, ActRelu6} {
						// The average pool sums window rows with the
						// vector row sum (sumRowsF32).
						kind := []PoolKind{PoolMax, PoolAverage}[i/2]
						shape := []int{2, 4, w, depth}
						p := PoolParams{Kind: kind, Padding: pad, StrideW: stride, StrideH: stride, FilterW: 2, FilterH: 3, Activation: act}
						if w == 1 && pad == PaddingValid {
							p.FilterW = 1
						}
						cases = append(cases, tc{
							name:  fmt.Sprintf("%v/d%d/w%d/%v/s%d/%s", kind, depth, w, pad, stride, act),
							p:     p,
							shape: shape,
							x:     eltwiseInput(rng, tensor.NumElements(shape)),
						})
					}
				}
			}
		}
	}
	run := func(t *testing.T, c tc) []float32 {
		t.Helper()
		in := convT("x", tensor.Float32, c.shape, nil, c.x)
		out := convT("y", tensor.Float32, c.shape, nil, nil)
		for j := range out.Data {
			out.Data[j] = 0x5a
		}
		k, err := Pool2D(&Config{Threads: 1}, c.p, in, out)
		if err != nil {
			t.Fatalf("Pool2D(%s): %v", c.name, err)
		}
		if err := k.Eval(); err != nil {
			t.Fatalf("Eval(%s): %v", c.name, err)
		}
		return append([]float32(nil), out.Float32s()[:out.NumElements()]...)
	}
	useVariant(t, VariantPortable)
	want := make([][]float32, len(cases))
	for i, c := range cases {
		want[i] = run(t, c)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for i, c := range cases {
			got := run(t, c)
			if len(got) != len(want[i]) {
				t.Fatalf("%s: %s has %d elements; want %d", v, c.name, len(got), len(want[i]))
			}
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("%s: %s[%d] = %v; want %v as portable", v, c.name, j, got[j], want[i][j])
				}
			}
		}
	})
}

// TestMaxPoolFloatValues checks a hand-worked 2x2/2 MAX_POOL_2D over one
// row of 2x2 windows with 9 channels (one SIMD block and a tail): window
// maxima, NaN skipped (std::max keeps the running maximum) and -0 kept
// when it is first.
func TestMaxPoolFloatValues(t *testing.T) {
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	// [1, 2, 2, 9]: pixel (0,0), (0,1), (1,0), (1,1).
	px := [4][9]float32{
		{1, -5, nan, negZero, 7, -1, 2, 3, nan},
		{2, -6, 1, 0, 8, -2, 2, 3, -1},
		{3, -7, nan, 0, -9, -3, 2, 3, -2},
		{-4, -8, -1, 0, 1, -4, 2, 3, -3},
	}
	var x []float32
	for _, p := range px {
		x = append(x, p[:]...)
	}
	want := []float32{3, -5, 1, negZero, 8, -1, 2, 3, -1}
	forEachVariant(t, func(t *testing.T, v string) {
		in := convT("x", tensor.Float32, []int{1, 2, 2, 9}, nil, x)
		out := convT("y", tensor.Float32, []int{1, 1, 1, 9}, nil, nil)
		p := PoolParams{Kind: PoolMax, Padding: PaddingValid, StrideW: 2, StrideH: 2, FilterW: 2, FilterH: 2}
		k, err := Pool2D(&Config{Threads: 1}, p, in, out)
		if err != nil {
			t.Fatalf("Pool2D: %v", err)
		}
		if err := k.Eval(); err != nil {
			t.Fatalf("Eval: %v", err)
		}
		got := out.Float32s()
		for c, w := range want {
			if math.Float32bits(got[c]) != math.Float32bits(w) {
				t.Errorf("%s: MaxPool channel %d = %v; want %v", v, c, got[c], w)
			}
		}
	})
}
