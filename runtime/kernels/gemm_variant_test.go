package kernels

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The kernel variants (assembly micro-kernels) must give the same output
// bytes as the portable Go path, which the other tests check against the
// reference loops.

// eachVariant builds and runs a kernel once per available variant and
// returns the output bytes of each, the portable one first. It restores
// the variant in use.
func eachVariant(t *testing.T, name string, build func() (Kernel, *tensor.Tensor, error)) (variants []string, outs [][]byte) {
	t.Helper()
	start := Variant()
	defer func() {
		if _, err := SetVariant(start); err != nil {
			t.Errorf("restoring variant %q: %v", start, err)
		}
	}()
	for _, v := range Variants() {
		if _, err := SetVariant(v); err != nil {
			t.Fatalf("SetVariant(%q): %v", v, err)
		}
		k, out, err := build()
		if err != nil {
			t.Fatalf("%s with variant %s: %v", name, v, err)
		}
		if err := k.Eval(); err != nil {
			t.Fatalf("%s with variant %s: Eval: %v", name, v, err)
		}
		variants = append(variants, v)
		outs = append(outs, bytes.Clone(out.Data))
	}
	return variants, outs
}

func compareVariants(t *testing.T, op, name string, variants []string, outs [][]byte) {
	t.Helper()
	for i := 1; i < len(outs); i++ {
		if bytes.Equal(outs[i], outs[0]) {
			continue
		}
		for j := range outs[0] {
			if outs[i][j] != outs[0][j] {
				t.Fatalf("%s(%s) variant %s output[%d] = %d; want %d (portable)", op, name, variants[i], j, outs[i][j], outs[0][j])
			}
		}
		t.Fatalf("%s(%s) variant %s: %d output bytes; want %d", op, name, variants[i], len(outs[i]), len(outs[0]))
	}
}

// gemmFill is how a test operand is filled.
type gemmFill int

const (
	fillRandom gemmFill = iota
	fillMin             // every value the type's minimum
	fillMax             // every value the type's maximum
	fillEnds            // each value the minimum or the maximum
)

func gemmVals(r *rand.Rand, dt tensor.DType, n int, f gemmFill) []byte {
	lo, hi := -128, 127
	if dt == tensor.UInt8 {
		lo, hi = 0, 255
	}
	b := make([]byte, n)
	for i := range b {
		v := lo + r.IntN(hi-lo+1)
		switch f {
		case fillMin:
			v = lo
		case fillMax:
			v = hi
		case fillEnds:
			v = []int{lo, hi}[r.IntN(2)]
		}
		b[i] = byte(v)
	}
	return b
}

// gemmAccRange is the largest |accumulator| of the reference sums of
// x ([m][k]) by w ([n][k]), so that the test can pick an output scale
// that does not clamp everything.
func gemmAccRange(dt tensor.DType, x, w []byte, m, n, k int, inZP, fZP int32) float64 {
	val := func(b byte) int32 {
		if dt == tensor.Int8 {
			return int32(int8(b))
		}
		return int32(b)
	}
	var big float64
	for r := 0; r < m; r++ {
		for c := 0; c < n; c++ {
			var acc int64
			for d := 0; d < k; d++ {
				acc += int64(val(w[c*k+d])-fZP) * int64(val(x[r*k+d])-inZP)
			}
			big = max(big, math.Abs(float64(acc)))
		}
	}
	return max(big, 1)
}

type gemmVariantCase struct {
	name       string
	dt         tensor.DType
	m, n, k    int
	inZP, fZP  int32
	outZP      int32
	perChannel bool
	fx, fw     gemmFill
	act        Activation
}

func gemmVariantCases() []gemmVariantCase {
	cases := []gemmVariantCase{
		{name: "k=1", dt: tensor.Int8, m: 1, n: 1, k: 1},
		{name: "k=1 wide", dt: tensor.Int8, m: 5, n: 37, k: 1, inZP: -128, outZP: 127},
		{name: "k=2", dt: tensor.UInt8, m: 3, n: 3, k: 2, inZP: 255, fZP: 0},
		{name: "k=3 tail only", dt: tensor.Int8, m: 6, n: 33, k: 3, inZP: 127, outZP: -128, perChannel: true},
		{name: "one block", dt: tensor.Int8, m: 4, n: 16, k: 16, perChannel: true},
		{name: "one pair", dt: tensor.UInt8, m: 4, n: 32, k: 64, inZP: 128, fZP: 128},
		{name: "odd all", dt: tensor.Int8, m: 7, n: 45, k: 27, inZP: -3, outZP: 5, perChannel: true, act: ActRelu},
		{name: "odd all uint8", dt: tensor.UInt8, m: 7, n: 45, k: 27, inZP: 0, fZP: 255, outZP: 0, act: ActRelu6},
		{name: "fc batch 1", dt: tensor.Int8, m: 1, n: 1001, k: 1280, inZP: -128, outZP: -7, perChannel: true},
		{name: "fc batch 1 uint8", dt: tensor.UInt8, m: 1, n: 1001, k: 1280, inZP: 0, fZP: 134, outZP: 60},
		{name: "rows 4n+3", dt: tensor.Int8, m: 11, n: 70, k: 99, inZP: 17, outZP: 3, perChannel: true},
		{name: "rows 4n+3 uint8", dt: tensor.UInt8, m: 11, n: 70, k: 99, inZP: 200, fZP: 33, outZP: 100},
		{name: "deep", dt: tensor.Int8, m: 6, n: 50, k: 4608, inZP: -128, outZP: 0, perChannel: true},
		{name: "deep uint8", dt: tensor.UInt8, m: 6, n: 50, k: 4608, inZP: 255, fZP: 255, outZP: 128},
		{name: "deep ends", dt: tensor.Int8, m: 5, n: 19, k: 4608, fx: fillEnds, fw: fillEnds, perChannel: true},
		{name: "deep -128·-128", dt: tensor.Int8, m: 5, n: 19, k: 4611, fx: fillMin, fw: fillMin, outZP: -128},
		{name: "deep 127·-128", dt: tensor.Int8, m: 5, n: 19, k: 4608, inZP: -128, fx: fillMax, fw: fillMin},
		{name: "deep uint8 255·255", dt: tensor.UInt8, m: 5, n: 19, k: 4609, fx: fillMax, fw: fillMax},
		{name: "deep uint8 0·255", dt: tensor.UInt8, m: 5, n: 19, k: 4608, inZP: 255, fZP: 0, fx: fillMin, fw: fillMax},
		{name: "deep uint8 ends", dt: tensor.UInt8, m: 9, n: 33, k: 4608, inZP: 128, fZP: 128, fx: fillEnds, fw: fillEnds},
	}
	// Random shapes around the block sizes.
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 40 {
		dt := tensor.Int8
		c := gemmVariantCase{m: 1 + r.IntN(13), n: 1 + r.IntN(70), k: 1 + r.IntN(300), act: Activation(r.IntN(2))}
		if i%2 == 1 {
			dt = tensor.UInt8
			c.inZP, c.fZP, c.outZP = int32(r.IntN(256)), int32(r.IntN(256)), int32(r.IntN(256))
		} else {
			c.inZP, c.outZP, c.perChannel = int32(r.IntN(256)-128), int32(r.IntN(256)-128), r.IntN(2) == 0
		}
		c.dt = dt
		c.name = fmt.Sprintf("random #%d", i)
		cases = append(cases, c)
	}
	return cases
}

// build returns the FULLY_CONNECTED kernel of the case on the given data.
func (c gemmVariantCase) build(cfg *Config, x, w []byte, bias []int32) (Kernel, *tensor.Tensor, error) {
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
	k, err := FullyConnected(cfg, FullyConnectedParams{Activation: c.act}, in, f, b, out)
	return k, out, err
}

// arithmetics: every variant test runs in both, against the portable
// path in the same one.
var arithmetics = []Arithmetic{Reference, LiteRT}

func TestGemmVariants(t *testing.T) {
	splitSmallWork(t)
	t.Logf("variants on this CPU: %v", Variants())
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range gemmVariantCases() {
		x := gemmVals(r, c.dt, c.m*c.k, c.fx)
		w := gemmVals(r, c.dt, c.n*c.k, c.fw)
		var bias []int32
		if c.fx == fillRandom {
			bias = randVals[int32](r, c.n, -50000, 50000)
		}
		for _, threads := range []int{1, 2} {
			for _, arith := range arithmetics {
				name := fmt.Sprintf("%s %s m=%d n=%d k=%d threads=%d %s", c.name, c.dt, c.m, c.n, c.k, threads, arith)
				cfg := &Config{Threads: threads, Arithmetic: arith}
				vs, outs := eachVariant(t, name, func() (Kernel, *tensor.Tensor, error) { return c.build(cfg, x, w, bias) })
				compareVariants(t, "FullyConnected", name, vs, outs)
			}
		}
	}
}

// TestGemmVariantsConv runs CONV_2D through both GEMM paths (im2col and
// direct 1×1) on every variant, in both arithmetics.
func TestGemmVariantsConv(t *testing.T) {
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
			for _, tc := range []struct {
				threads int
				act     Activation
				arith   Arithmetic
			}{{1, ActNone, Reference}, {2, ActNone, Reference}, {1, ActNone, LiteRT}, {2, ActRelu6, LiteRT}, {1, ActRelu6, LiteRT}} {
				threads := tc.threads
				name := fmt.Sprintf("#%d %v %s %s threads=%d %s", i, cv, dt, tc.act, threads, tc.arith)
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
					k, err := cv.build(&Config{Threads: threads, Arithmetic: tc.arith}, in, f, b, out, tc.act)
					return k, out, err
				})
				compareVariants(t, "Conv2D", name, vs, outs)
			}
		}
	}
}

func randScales(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 0.005 + 0.015*r.Float32()
	}
	return s
}

// TestGemmVariantPicked checks that each variant packs for its own
// micro-kernels, so that TestGemmVariants compares what it claims to.
func TestGemmVariantPicked(t *testing.T) {
	start := Variant()
	defer SetVariant(start)
	for _, v := range Variants() {
		if _, err := SetVariant(v); err != nil {
			t.Fatal(err)
		}
		g := newGemmQ(make([]int8, 3*5), nil, 3, 5, 0, 0, []int32{1 << 30, 1 << 30, 1 << 30}, []int{0, 0, 0}, 0, -128, 127)
		got := VariantPortable
		if g.v != nil {
			got = g.v.kern.name
		}
		if got != v {
			t.Errorf("newGemmQ with variant %s uses the %s kernels", v, got)
		}
	}
}
