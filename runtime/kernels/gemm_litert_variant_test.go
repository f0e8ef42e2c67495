package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The variants' LiteRT (fp32) requantization epilogues must give the
// same bytes as the portable path's Go store, on the shapes of
// gemm_variant_test.go.

var litertCfg = func(threads int) *Config { return &Config{Threads: threads, Arithmetic: LiteRT} }

// TestGemmLiteRTTies checks the rounding and clamping of every variant on
// hand-worked values: FULLY_CONNECTED with depth 1, weights 1, input
// scale 0.5 and output scale 1, so that output channel c is x·s[c]
// rounded half to even and clamped to int8, s[c] being its filter scale:
// 1 on even channels (x/2, ties for odd x), 4 on odd ones (2x, clamped).
func TestGemmLiteRTTies(t *testing.T) {
	xs := []int8{1, 3, 5, 7, -1, -3, -5, -7, 127, -128, 0, 2, 9}
	// want[i] = {even channels, odd channels} for xs[i].
	want := [][2]int8{
		{0, 2}, {2, 6}, {2, 10}, {4, 14}, // 0.5→0, 1.5→2, 2.5→2, 3.5→4
		{0, -2}, {-2, -6}, {-2, -10}, {-4, -14},
		{64, 127}, {-64, -128}, // 63.5→64 and 254 clamped; -64 and -256 clamped
		{0, 0}, {1, 4}, {4, 18}, // 4.5→4
	}
	const n = 45 // a pair, a block and a partial block of channels
	scales := make([]float32, n)
	for c := range scales {
		scales[c] = []float32{1, 4}[c%2]
	}
	w := make([]int8, n)
	for c := range w {
		w[c] = 1
	}
	start := Variant()
	defer SetVariant(start)
	for _, v := range Variants() {
		if _, err := SetVariant(v); err != nil {
			t.Fatalf("SetVariant(%q): %v", v, err)
		}
		in := convT("in", tensor.Int8, []int{len(xs), 1}, convQ(0.5, 0), xs)
		f := convT("w", tensor.Int8, []int{n, 1}, convPCQ(0, scales...), w)
		out := convT("out", tensor.Int8, []int{len(xs), n}, convQ(1, 0), nil)
		k, err := FullyConnected(litertCfg(1), FullyConnectedParams{}, in, f, nil, out)
		if err != nil {
			t.Fatalf("FullyConnected with variant %s: %v", v, err)
		}
		if err := k.Eval(); err != nil {
			t.Fatalf("Eval with variant %s: %v", v, err)
		}
		got := out.Int8s()
		for i, x := range xs {
			for c := range n {
				if g := got[i*n+c]; g != want[i][c%2] {
					t.Errorf("variant %s: FullyConnected(x=%d, scale %v)[%d] = %d; want %d", v, x, scales[c], c, g, want[i][c%2])
				}
			}
		}
	}
}

// TestGemmLiteRTEpiloguePicked checks that the SIMD variants requantize
// in their assembly epilogue in the LiteRT arithmetic, so that the tests
// above compare what they claim to.
func TestGemmLiteRTEpiloguePicked(t *testing.T) {
	start := Variant()
	defer SetVariant(start)
	for _, v := range Variants() {
		if _, err := SetVariant(v); err != nil {
			t.Fatal(err)
		}
		g := newGemmQ(make([]int8, 3*5), nil, 3, 5, 0, 0, []int32{1 << 30, 1 << 30, 1 << 30}, []int{0, 0, 0}, 0, -128, 127)
		g.setLiteRT([]float32{0.5, 0.25, 2})
		if g.v == nil {
			continue
		}
		if got, want := g.v.f32, g.v.kern.f32Requant; got != want {
			t.Errorf("gemmQ.setLiteRT with variant %s: assembly epilogue %v; want %v", v, got, want)
		}
	}
}

// BenchmarkConv2DPointwiseInt8LiteRT is BenchmarkConv2DPointwiseInt8 in
// the LiteRT arithmetic (the assembly fp32 epilogue on SIMD variants).
func BenchmarkConv2DPointwiseInt8LiteRT(b *testing.B) {
	p := ConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	in := convT("in", tensor.Int8, []int{1, 56, 56, 64}, convQ(0.05, -3), make([]int8, 56*56*64))
	scales := make([]float32, 64)
	for i := range scales {
		scales[i] = 0.01
	}
	f := convT("w", tensor.Int8, []int{64, 1, 1, 64}, convPCQ(0, scales...), make([]int8, 64*64))
	out := convT("out", tensor.Int8, []int{1, 56, 56, 64}, convQ(0.1, 2), nil)
	k, err := Conv2D(litertCfg(1), p, in, f, nil, out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(56*56*64*64), "MACs/op")
	for b.Loop() {
		_ = k.Eval()
	}
}
