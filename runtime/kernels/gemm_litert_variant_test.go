package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The variants' LiteRT (fp32) requantization epilogues must give the
// same bytes as the portable path's Go store, on the shapes of
// gemm_variant_test.go.

var litertCfg = func(threads int) *Config { return &Config{Threads: threads, Arithmetic: LiteRT} }

// buildLiteRT is gemmVariantCase.build in the LiteRT arithmetic.
func (c gemmVariantCase) buildLiteRT(threads int, x, w []byte, bias []int32) (Kernel, *tensor.Tensor, error) {
	inS, fS := float32(0.05), float32(0.01)
	big := gemmAccRange(c.dt, x, w, c.m, c.n, c.k, c.inZP, c.fZP)
	outS := float32(big * float64(inS) * float64(fS) / 100)
	fq := convQ(fS, c.fZP)
	if c.perChannel {
		scales := make([]float32, c.n)
		for i := range scales {
			scales[i] = fS * (0.5 + float32(i%7)/6)
		}
		fq = convPCQ(0, scales...)
	}
	in := convT("in", c.dt, []int{c.m, c.k}, convQ(inS, c.inZP), x)
	f := convT("w", c.dt, []int{c.n, c.k}, fq, w)
	var b *tensor.Tensor
	if bias != nil {
		b = convT("b", tensor.Int32, []int{c.n}, nil, bias)
	}
	out := convT("out", c.dt, []int{c.m, c.n}, convQ(outS, c.outZP), nil)
	k, err := FullyConnected(litertCfg(threads), FullyConnectedParams{Activation: c.act}, in, f, b, out)
	return k, out, err
}

func TestGemmVariantsLiteRT(t *testing.T) {
	splitSmallWork(t)
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range gemmVariantCases() {
		x := gemmVals(r, c.dt, c.m*c.k, c.fx)
		w := gemmVals(r, c.dt, c.n*c.k, c.fw)
		var bias []int32
		if c.fx == fillRandom {
			bias = randVals[int32](r, c.n, -50000, 50000)
		}
		for _, threads := range []int{1, 2} {
			name := fmt.Sprintf("%s %s m=%d n=%d k=%d threads=%d litert", c.name, c.dt, c.m, c.n, c.k, threads)
			vs, outs := eachVariant(t, name, func() (Kernel, *tensor.Tensor, error) { return c.buildLiteRT(threads, x, w, bias) })
			compareVariants(t, "FullyConnected", name, vs, outs)
		}
	}
}

// TestGemmVariantsConvLiteRT is TestGemmVariantsConv in the LiteRT
// arithmetic.
func TestGemmVariantsConvLiteRT(t *testing.T) {
	splitSmallWork(t)
	r := rand.New(rand.NewPCG(9, 10))
	convs := []refConv{
		{batch: 1, inH: 15, inW: 13, inC: 3, outC: 32, fH: 3, fW: 3, sH: 2, sW: 2, dH: 1, dW: 1, pad: PaddingSame},
		{batch: 2, inH: 9, inW: 9, inC: 16, outC: 24, fH: 1, fW: 1, sH: 1, sW: 1, dH: 1, dW: 1, pad: PaddingValid},
		{batch: 1, inH: 7, inW: 11, inC: 37, outC: 19, fH: 1, fW: 1, sH: 1, sW: 1, dH: 1, dW: 1, pad: PaddingValid},
		{batch: 1, inH: 10, inW: 10, inC: 8, outC: 40, fH: 3, fW: 3, sH: 1, sW: 1, dH: 2, dW: 2, pad: PaddingSame},
		{batch: 1, inH: 6, inW: 6, inC: 64, outC: 16, fH: 3, fW: 3, sH: 1, sW: 1, dH: 1, dW: 1, pad: PaddingValid},
	}
	for i, cv := range convs {
		for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8} {
			for _, act := range []Activation{ActNone, ActRelu6} {
				for _, threads := range []int{1, 2} {
					name := fmt.Sprintf("#%d %v %s %s threads=%d litert", i, cv, dt, act, threads)
					kk := cv.fH * cv.fW * cv.inC
					x := gemmVals(r, dt, cv.batch*cv.inH*cv.inW*cv.inC, fillRandom)
					w := gemmVals(r, dt, cv.outC*kk, fillRandom)
					bias := randVals[int32](r, cv.outC, -20000, 20000)
					inZP, fZP, outZP := int32(r.IntN(256)-128), int32(0), int32(r.IntN(256)-128)
					fq := convPCQ(0, randScales(r, cv.outC)...)
					if dt == tensor.UInt8 {
						inZP, fZP, outZP = int32(r.IntN(256)), int32(r.IntN(256)), int32(r.IntN(256))
						fq = convQ(0.01, fZP)
					}
					outS := float32(0.05 * 0.01 * math.Sqrt(float64(kk)) * 60000 / 100)
					vs, outs := eachVariant(t, name, func() (Kernel, *tensor.Tensor, error) {
						in, f, b, out := cv.tensors(dt, dt, x, w, bias, convQ(0.05, inZP), fq, convQ(outS, outZP))
						k, err := cv.build(litertCfg(threads), in, f, b, out, act)
						return k, out, err
					})
					compareVariants(t, "Conv2D", name, vs, outs)
				}
			}
		}
	}
}

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
