package kernels

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// hybridConvCase is one hybrid CONV_2D for the variant test.
type hybridConvCase struct {
	arith              Arithmetic
	batch, h, w, c, oc int
	fh, fw             int
	stride, dil        int
	pad                Padding
	perChannel, bias   bool
	act                Activation
	// input: 0 random around an offset, 1 all zeros, 2 all positive,
	// 3 the extremes ±1e3 only.
	input int
}

func (tc hybridConvCase) String() string {
	return fmt.Sprintf("%s b%d %dx%dx%d→%d f%dx%d s%d d%d pad%d perChannel=%v bias=%v act%d input%d",
		tc.arith, tc.batch, tc.h, tc.w, tc.c, tc.oc, tc.fh, tc.fw, tc.stride, tc.dil, tc.pad, tc.perChannel, tc.bias, tc.act, tc.input)
}

func hybridConvCases() []hybridConvCase {
	r := rand.New(rand.NewPCG(16, 2))
	var cases []hybridConvCase
	// Hand-picked shapes: pointwise (the per-pixel quantization of
	// LiteRT), 3×3 SAME and strided (im2col with padding), depths not a
	// multiple of 4 (the micro-kernels' tail words), channel counts
	// around the 32-channel tile, rows around the 4-row tile.
	fixed := []hybridConvCase{
		{h: 5, w: 3, c: 16, oc: 32, fh: 1, fw: 1, stride: 1, dil: 1},
		{h: 7, w: 7, c: 8, oc: 33, fh: 3, fw: 3, stride: 1, dil: 1, pad: PaddingSame},
		{h: 9, w: 8, c: 3, oc: 16, fh: 3, fw: 3, stride: 2, dil: 1, pad: PaddingSame},
		{h: 6, w: 6, c: 5, oc: 7, fh: 2, fw: 3, stride: 1, dil: 2},
		{h: 1, w: 1, c: 1, oc: 1, fh: 1, fw: 1, stride: 1, dil: 1},
		{h: 4, w: 4, c: 64, oc: 96, fh: 1, fw: 1, stride: 2, dil: 1},
		{h: 11, w: 13, c: 24, oc: 65, fh: 3, fw: 3, stride: 1, dil: 1, pad: PaddingSame},
	}
	for _, arith := range []Arithmetic{Reference, LiteRT} {
		for i, f := range fixed {
			for input := range 4 {
				tc := f
				tc.arith, tc.batch, tc.input = arith, 1+i%2, input
				tc.perChannel, tc.bias, tc.act = i%2 == 0, i%3 != 0, Activation(i%3)
				cases = append(cases, tc)
			}
		}
		for range 40 {
			tc := hybridConvCase{arith: arith, batch: 1 + r.IntN(2), h: 1 + r.IntN(12), w: 1 + r.IntN(12),
				c: 1 + r.IntN(40), oc: 1 + r.IntN(70), fh: 1 + r.IntN(4), fw: 1 + r.IntN(4),
				stride: 1 + r.IntN(3), dil: 1 + r.IntN(2), pad: Padding(r.IntN(2)),
				perChannel: r.IntN(2) == 0, bias: r.IntN(3) != 0, act: Activation(r.IntN(3))}
			if tc.pad == PaddingValid {
				tc.h += (tc.fh - 1) * tc.dil
				tc.w += (tc.fw - 1) * tc.dil
			}
			cases = append(cases, tc)
		}
	}
	return cases
}

// build makes the kernel and its output; seed fixes the operands.
func (tc hybridConvCase) build(seed uint64) (Kernel, *tensor.Tensor, error) {
	r := rand.New(rand.NewPCG(seed, 7))
	n := tc.batch * tc.h * tc.w * tc.c
	x := make([]float32, n)
	off, spread := float32(r.NormFloat64()), float32(0.1+3*r.Float64())
	for i := range x {
		switch tc.input {
		case 0:
			x[i] = off + spread*float32(r.NormFloat64())
		case 2:
			x[i] = spread * r.Float32()
		case 3:
			x[i] = float32(1000 * (2*r.IntN(2) - 1))
		}
	}
	w := make([]int8, tc.oc*tc.fh*tc.fw*tc.c)
	for i := range w {
		w[i] = int8(r.IntN(255) - 127)
	}
	scales := make([]float32, tc.oc)
	for i := range scales {
		scales[i] = 0.002 + 0.02*r.Float32()
		if !tc.perChannel {
			scales[i] = scales[0]
		}
	}
	q := convPCQ(0, scales...)
	if !tc.perChannel {
		q = convQ(scales[0], 0)
	}
	in := convT("x", tensor.Float32, []int{tc.batch, tc.h, tc.w, tc.c}, nil, x)
	f := constT("w", tensor.Int8, []int{tc.oc, tc.fh, tc.fw, tc.c}, q, w)
	var bias *tensor.Tensor
	if tc.bias {
		b := make([]float32, tc.oc)
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		bias = constT("b", tensor.Float32, []int{tc.oc}, nil, b)
	}
	p := ConvParams{Padding: tc.pad, StrideH: tc.stride, StrideW: tc.stride, DilationH: tc.dil, DilationW: tc.dil, Activation: tc.act}
	outH, err := convOutSize(tc.pad, tc.h, tc.fh, tc.stride, tc.dil)
	if err != nil {
		return nil, nil, err
	}
	outW, err := convOutSize(tc.pad, tc.w, tc.fw, tc.stride, tc.dil)
	if err != nil {
		return nil, nil, err
	}
	out := convT("y", tensor.Float32, []int{tc.batch, outH, outW, tc.oc}, nil, nil)
	k, err := Conv2D(&Config{Arithmetic: tc.arith}, p, in, f, bias, out)
	return k, out, err
}

// TestHybridConvVariants: every variant's hybrid CONV_2D (the packed
// GEMM on SIMD variants) gives the portable direct loop's output bytes,
// in both arithmetics, and writes every output.
func TestHybridConvVariants(t *testing.T) {
	cases := hybridConvCases()
	want := make([][]byte, len(cases))
	useVariant(t, VariantPortable)
	zeros := 0
	for i, tc := range cases {
		k, out, err := tc.build(uint64(i))
		if err != nil {
			t.Fatalf("%v: %v", tc, err)
		}
		if err := k.Eval(); err != nil {
			t.Fatalf("%v: Eval: %v", tc, err)
		}
		want[i] = bytes.Clone(out.Data)
		ys := out.Float32s()
		if !slicesHaveNonzero(ys) {
			zeros++
		}
	}
	// All-zero inputs give the bias alone; beyond those few cases, the
	// outputs must carry the products.
	if zeros > len(cases)/4 {
		t.Fatalf("%d of %d cases give all-zero outputs: the cases test nothing", zeros, len(cases))
	}
	forEachVariant(t, func(t *testing.T, v string) {
		gemm := 0
		for i, tc := range cases {
			k, out, err := tc.build(uint64(i))
			if err != nil {
				t.Fatalf("%s: %v: %v", v, tc, err)
			}
			if Description(k) != "" && bytes.Contains([]byte(Description(k)), []byte("gemm hybrid")) {
				gemm++
			}
			for j := range out.Data {
				out.Data[j] = 0x5a
			}
			if err := k.Eval(); err != nil {
				t.Fatalf("%s: %v: Eval: %v", v, tc, err)
			}
			if i%10 == 0 {
				if a := testing.AllocsPerRun(2, func() { _ = k.Eval() }); a != 0 {
					t.Errorf("%s: %v: Eval allocates %v times", v, tc, a)
				}
			}
			if bytes.Equal(out.Data, want[i]) {
				continue
			}
			g, w := out.Float32s(), convAs[float32](want[i])
			for j := range g {
				if math.Float32bits(g[j]) != math.Float32bits(w[j]) {
					t.Errorf("%s: %v: output %d = %g (%#x); want %g (%#x, portable)", v, tc, j, g[j], math.Float32bits(g[j]), w[j], math.Float32bits(w[j]))
					break
				}
			}
		}
		t.Logf("%s: %d of %d cases on the hybrid GEMM", v, gemm, len(cases))
		if v != VariantPortable && gemmVPick() != nil && gemm == 0 {
			t.Errorf("%s: no case ran on the hybrid GEMM", v)
		}
	})
}

func slicesHaveNonzero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return true
		}
	}
	return false
}

// hybridQD8Vectors are rows for the dynamic quantization: random ones of
// every length around the vector widths, ties (x·scale = k + ½, which
// round to even), constant rows, and rows with zeros, infinities, NaNs
// and subnormals.
func hybridQD8Vectors() [][]float32 {
	r := rand.New(rand.NewPCG(8, 16))
	var vs [][]float32
	for n := range 80 {
		v := make([]float32, n)
		off, spread := float32(r.NormFloat64()*3), float32(0.01+10*r.Float64())
		for i := range v {
			v[i] = off + spread*float32(r.NormFloat64())
		}
		vs = append(vs, v)
	}
	// The range [0, 255] has scale 1: every k + ½ is a tie.
	ties := make([]float32, 256)
	for i := range ties {
		ties[i] = float32(i%255) + 0.5
	}
	ties[0], ties[1] = 0, 255
	vs = append(vs, ties)
	// ±127 gives TFLite's symmetric quantization the multiplier 1: ties
	// at every k + ½, which round away from zero.
	symTies := make([]float32, 64)
	for i := range symTies {
		symTies[i] = float32(i%126-63) + 0.5
	}
	symTies[0], symTies[1] = 127, -127
	vs = append(vs, symTies)
	neg := make([]float32, 64)
	for i := range neg {
		neg[i] = -float32(i%128) - 0.5
	}
	neg[0] = -127.5 - 0.5
	vs = append(vs, neg)
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.SmallestNonzeroFloat32, -math.MaxFloat32, math.MaxFloat32, 1, -1}
	for _, s := range special {
		for _, at := range []int{0, 5, 17, 31} {
			v := make([]float32, 32)
			for i := range v {
				v[i] = float32(r.NormFloat64())
			}
			v[at] = s
			vs = append(vs, v)
		}
		c := make([]float32, 48)
		for i := range c {
			c[i] = s
		}
		vs = append(vs, c)
	}
	return vs
}

// TestHybridQD8Variants: the vector min/max and quantization loops give
// the portable loops' scale, zero point and bytes, for XNNPACK's qd8 and
// TFLite's symmetric and asymmetric quantizations.
func TestHybridQD8Variants(t *testing.T) {
	vs := hybridQD8Vectors()
	type res struct {
		scale float32
		zp    int32
		q     []int8
	}
	quantizers := []struct {
		name string
		f    func(v []float32, q []int8) (float32, int32)
	}{
		{"qd8", hybridQD8},
		{"symmetric", func(v []float32, q []int8) (float32, int32) { return hybridQuantizeSymmetric(v, q), 0 }},
		{"asymmetric", hybridQuantizeAsymmetric},
	}
	useVariant(t, VariantPortable)
	want := make([][]res, len(quantizers))
	for j, qz := range quantizers {
		for _, v := range vs {
			q := make([]int8, len(v))
			s, zp := qz.f(v, q)
			want[j] = append(want[j], res{s, zp, q})
		}
	}
	// Hand-worked: [0, 255] has scale 1 and zero point −128 in qd8; 2.5
	// rounds to 2 and 3.5 to 4 (even), so q = −126 and −124. TFLite's
	// symmetric quantization maps 255 to 127: 2.5·127/255 = 1.245… → 1.
	if w := want[0][80]; w.zp != -128 || w.q[2] != -126 || w.q[3] != -124 {
		t.Fatalf("qd8 ties: zero point %d, q[2] %d, q[3] %d; want −128, −126, −124", w.zp, w.q[2], w.q[3])
	}
	if w := want[1][80]; w.q[1] != 127 || w.q[2] != 1 {
		t.Fatalf("symmetric: q[1] %d, q[2] %d; want 127, 1", w.q[1], w.q[2])
	}
	// symTies[2] = −60.5 → −61, symTies[3] = −59.5 → −60.
	if w := want[1][81]; w.q[0] != 127 || w.q[1] != -127 || w.q[2] != -61 || w.q[3] != -60 {
		t.Fatalf("symmetric ties: q[:4] = %v; want 127 −127 −61 −60", w.q[:4])
	}
	forEachVariant(t, func(t *testing.T, variant string) {
		for j, qz := range quantizers {
			for i, v := range vs {
				q := make([]int8, len(v))
				s, zp := qz.f(v, q)
				w := want[j][i]
				if math.Float32bits(s) != math.Float32bits(w.scale) || zp != w.zp || !bytes.Equal(convAs[byte](q), convAs[byte](w.q)) {
					t.Errorf("%s %s: vector %d (%d values): scale %g zero point %d q %v; want %g %d %v (portable)", variant, qz.name, i, len(v), s, zp, q, w.scale, w.zp, w.q)
				}
			}
		}
	})
}

type hybridFCCase struct {
	arith                  Arithmetic
	batch, depth, units    int
	perChannel, asym, bias bool
	act                    Activation
}

func (tc hybridFCCase) build(seed uint64) (Kernel, *tensor.Tensor, error) {
	r := rand.New(rand.NewPCG(seed, 9))
	x := make([]float32, tc.batch*tc.depth)
	off, spread := float32(r.NormFloat64()), float32(0.1+3*r.Float64())
	for i := range x {
		x[i] = off + spread*float32(r.NormFloat64())
	}
	w := make([]int8, tc.units*tc.depth)
	for i := range w {
		w[i] = int8(r.IntN(255) - 127)
	}
	scales := make([]float32, tc.units)
	for i := range scales {
		scales[i] = 0.002 + 0.02*r.Float32()
	}
	q := convPCQ(0, scales...)
	if !tc.perChannel {
		q = convQ(scales[0], 0)
	}
	in := convT("x", tensor.Float32, []int{tc.batch, tc.depth}, nil, x)
	f := constT("w", tensor.Int8, []int{tc.units, tc.depth}, q, w)
	var bias *tensor.Tensor
	if tc.bias {
		b := make([]float32, tc.units)
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		bias = constT("b", tensor.Float32, []int{tc.units}, nil, b)
	}
	out := convT("y", tensor.Float32, []int{tc.batch, tc.units}, nil, nil)
	k, err := FullyConnected(&Config{Arithmetic: tc.arith}, FullyConnectedParams{Activation: tc.act, AsymmetricQuantizeInputs: tc.asym}, in, f, bias, out)
	return k, out, err
}

// TestHybridFCVariants: every variant's hybrid FULLY_CONNECTED (the
// packed GEMM on SIMD variants) gives the portable loop's output bytes,
// and Eval allocates nothing.
func TestHybridFCVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	var cases []hybridFCCase
	for _, arith := range []Arithmetic{Reference, LiteRT} {
		for _, d := range []int{1, 3, 4, 15, 16, 17, 64, 127, 640} {
			for _, u := range []int{1, 8, 31, 32, 33, 128} {
				cases = append(cases, hybridFCCase{arith: arith, batch: 1 + r.IntN(3), depth: d, units: u,
					perChannel: r.IntN(2) == 0, asym: r.IntN(2) == 0, bias: r.IntN(3) != 0, act: Activation(r.IntN(3))})
			}
		}
	}
	useVariant(t, VariantPortable)
	want := make([][]byte, len(cases))
	for i, tc := range cases {
		k, out, err := tc.build(uint64(i))
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if err := k.Eval(); err != nil {
			t.Fatal(err)
		}
		want[i] = bytes.Clone(out.Data)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		gemm := 0
		for i, tc := range cases {
			k, out, err := tc.build(uint64(i))
			if err != nil {
				t.Fatalf("%+v: %v", tc, err)
			}
			if bytes.Contains([]byte(Description(k)), []byte("gemm hybrid")) {
				gemm++
			}
			for j := range out.Data {
				out.Data[j] = 0x5a
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Data, want[i]) {
				g, w := out.Float32s(), convAs[float32](want[i])
				for j := range g {
					if math.Float32bits(g[j]) != math.Float32bits(w[j]) {
						t.Errorf("%s: %+v: output %d = %g; want %g (portable)", v, tc, j, g[j], w[j])
						break
					}
				}
			}
			if i%20 == 0 {
				if a := testing.AllocsPerRun(3, func() { _ = k.Eval() }); a != 0 {
					t.Errorf("%s: %+v: Eval allocates %v times", v, tc, a)
				}
			}
		}
		t.Logf("%s: %d of %d cases on the hybrid GEMM", v, gemm, len(cases))
		if v != VariantPortable && gemmVPick() != nil && gemm == 0 {
			t.Errorf("%s: no case ran on the hybrid GEMM", v)
		}
	})
}

// TestHybridDepthwiseSums: the depthwise hybrid convolution with one
// output per channel (sums over all channels at once) gives the
// per-output loop's bytes, in both arithmetics.
func TestHybridDepthwiseSums(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for i := range 60 {
		arith := Arithmetic(i % 2)
		h, w, c := 1+r.IntN(12), 1+r.IntN(12), 1+r.IntN(40)
		fh, fw, stride, dil := 1+r.IntN(4), 1+r.IntN(4), 1+r.IntN(3), 1+r.IntN(2)
		pad := Padding(r.IntN(2))
		if pad == PaddingValid {
			h += (fh - 1) * dil
			w += (fw - 1) * dil
		}
		x := make([]float32, h*w*c)
		off, spread := float32(r.NormFloat64()), float32(0.1+3*r.Float64())
		for j := range x {
			x[j] = off + spread*float32(r.NormFloat64())
		}
		wt := make([]int8, fh*fw*c)
		for j := range wt {
			wt[j] = int8(r.IntN(255) - 127)
		}
		scales := make([]float32, c)
		for j := range scales {
			scales[j] = 0.002 + 0.02*r.Float32()
		}
		b := make([]float32, c)
		for j := range b {
			b[j] = float32(r.NormFloat64())
		}
		outH, _ := convOutSize(pad, h, fh, stride, dil)
		outW, _ := convOutSize(pad, w, fw, stride, dil)
		in := convT("x", tensor.Float32, []int{1, h, w, c}, nil, x)
		f := constT("w", tensor.Int8, []int{1, fh, fw, c}, convPCQ(3, scales...), wt)
		var bias *tensor.Tensor
		if i%3 != 0 {
			bias = constT("b", tensor.Float32, []int{c}, nil, b)
		}
		out := convT("y", tensor.Float32, []int{1, outH, outW, c}, nil, nil)
		p := DepthwiseConvParams{Padding: pad, StrideH: stride, StrideW: stride, DilationH: dil, DilationW: dil, Activation: Activation(i % 3)}
		kern, err := DepthwiseConv2D(&Config{Arithmetic: arith}, p, in, f, bias, out)
		if err != nil {
			t.Fatal(err)
		}
		k, ok := kern.(*convHybrid)
		if !ok || k.qz == nil {
			t.Fatalf("case %d: kernel %T does not sum over all channels", i, kern)
		}
		if err := k.Eval(); err != nil {
			t.Fatal(err)
		}
		got := bytes.Clone(out.Data)
		if a := testing.AllocsPerRun(2, func() { _ = k.Eval() }); a != 0 {
			t.Errorf("case %d: Eval allocates %v times", i, a)
		}
		k.qz = nil
		if err := k.Eval(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, out.Data) {
			t.Errorf("case %d (%s %dx%dx%d f%dx%d s%d d%d pad%d): outputs differ from the per-output loop", i, arith, h, w, c, fh, fw, stride, dil, pad)
		}
	}
}

// TestHybridQD8Rows: quantizing the rows of an image at once (XNNPACK's
// per-pixel quantization of a pointwise convolution) gives each row's
// hybridQD8, with rows holding infinities, NaNs, a range so small that
// the scale is infinite, constant rows, and row lengths of 8, 16, 24, 40.
func TestHybridQD8Rows(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{8, 16, 24, 40, 7} {
		var x []float32
		rows := 0
		add := func(row []float32) {
			x = append(x, row...)
			rows++
		}
		for i := range 40 {
			row := make([]float32, n)
			off, spread := float32(r.NormFloat64()*3), float32(0.01+10*r.Float64())
			for j := range row {
				row[j] = off + spread*float32(r.NormFloat64())
			}
			switch i % 8 {
			case 1:
				row[r.IntN(n)] = float32(math.Inf(1 - 2*r.IntN(2)))
			case 3:
				row[r.IntN(n)] = float32(math.NaN())
			case 5:
				// Range 1.4e−45: the scale 255/range is infinite.
				for j := range row {
					row[j] = 0
				}
				row[0] = math.SmallestNonzeroFloat32
			case 6:
				for j := range row {
					row[j] = 2.5
				}
			}
			add(row)
		}
		q := make([]int8, len(x))
		inv, zp := make([]float32, rows), make([]int32, rows)
		hybridQD8Rows(x, q, n, inv, zp)
		for i := range rows {
			wq := make([]int8, n)
			winv, wzp := hybridQD8(x[i*n:(i+1)*n], wq)
			if math.Float32bits(inv[i]) != math.Float32bits(winv) || zp[i] != wzp || !bytes.Equal(convAs[byte](q[i*n:(i+1)*n]), convAs[byte](wq)) {
				t.Errorf("n %d row %d %v: scale %g zero point %d q %v; want %g %d %v", n, i, x[i*n:(i+1)*n], inv[i], zp[i], q[i*n:(i+1)*n], winv, wzp, wq)
			}
		}
	}
}
