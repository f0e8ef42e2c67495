package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The SIMD float GEMM fuses multiply-adds, so its results may differ from
// the portable path's in the last bits: it is compared with a tolerance,
// the one the golden tests use against TFLite (1e-4 + 1e-4·|want|), not
// bit for bit.

func floatRand(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// floatClose reports the first element of got not within the tolerance
// of want, or -1.
func floatClose(got, want []float32) int {
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-4+1e-4*math.Abs(float64(want[i]))) {
			return i
		}
	}
	return -1
}

type floatGemmCase struct {
	name  string
	build func(rng *rand.Rand) (Kernel, *tensor.Tensor, error)
}

func floatGemmCases(ar Arithmetic) []floatGemmCase {
	var cases []floatGemmCase
	for _, units := range []int{1, 5, 16, 17, 37, 100} {
		for _, batch := range []int{1, 3, 4, 9} {
			for _, depth := range []int{1, 3, 64, 301} {
				for _, threads := range []int{1, 3} {
					units, batch, depth, threads := units, batch, depth, threads
					cases = append(cases, floatGemmCase{
						name: fmt.Sprintf("FC/u%d/b%d/d%d/t%d", units, batch, depth, threads),
						build: func(rng *rand.Rand) (Kernel, *tensor.Tensor, error) {
							in := convT("in", tensor.Float32, []int{batch, depth}, nil, floatRand(rng, batch*depth))
							f := convT("w", tensor.Float32, []int{units, depth}, nil, floatRand(rng, units*depth))
							var bias *tensor.Tensor
							if units%2 == 1 {
								bias = convT("b", tensor.Float32, []int{units}, nil, floatRand(rng, units))
							}
							out := convT("out", tensor.Float32, []int{batch, units}, nil, nil)
							k, err := FullyConnected(&Config{Threads: threads, Arithmetic: ar}, FullyConnectedParams{Activation: Activation(units % 4)}, in, f, bias, out)
							return k, out, err
						},
					})
				}
			}
		}
	}
	for _, c := range [][4]int{{1, 1, 3, 8}, {3, 3, 3, 16}, {3, 3, 8, 17}, {1, 1, 32, 24}, {3, 3, 16, 40}, {5, 5, 3, 7}, {1, 1, 17, 64}, {1, 1, 1100, 24}, {3, 3, 130, 20}} {
		for _, stride := range []int{1, 2} {
			for _, hw := range [][2]int{{1, 1}, {7, 5}, {12, 12}} {
				fh, fw, ci, co := c[0], c[1], c[2], c[3]
				stride, h, w := stride, hw[0], hw[1]
				cases = append(cases, floatGemmCase{
					name: fmt.Sprintf("Conv/%dx%dx%d->%d/s%d/%dx%d", fh, fw, ci, co, stride, h, w),
					build: func(rng *rand.Rand) (Kernel, *tensor.Tensor, error) {
						in := convT("in", tensor.Float32, []int{2, h, w, ci}, nil, floatRand(rng, 2*h*w*ci))
						f := convT("w", tensor.Float32, []int{co, fh, fw, ci}, nil, floatRand(rng, co*fh*fw*ci))
						bias := convT("b", tensor.Float32, []int{co}, nil, floatRand(rng, co))
						out := convT("out", tensor.Float32, []int{2, h, w, co}, nil, nil)
						p := ConvParams{Padding: PaddingSame, StrideH: stride, StrideW: stride, DilationH: 1, DilationW: 1, Activation: ActRelu6}
						k, err := Conv2D(&Config{Threads: 2, Arithmetic: ar}, p, in, f, bias, out)
						return k, out, err
					},
				})
			}
		}
	}
	return cases
}

func TestGemmFloatVariants(t *testing.T) {
	old := parallelMinWork
	parallelMinWork = 1
	t.Cleanup(func() { parallelMinWork = old })
	cases := floatGemmCases(Reference)
	run := func(i int, tc floatGemmCase) []float32 {
		k, out, err := tc.build(rand.New(rand.NewPCG(uint64(i), 3)))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for j := range out.Data {
			out.Data[j] = 0xff // NaN: every element must be written
		}
		if err := k.Eval(); err != nil {
			t.Fatalf("%s: Eval: %v", tc.name, err)
		}
		return append([]float32(nil), out.Float32s()[:out.NumElements()]...)
	}
	useVariant(t, VariantPortable)
	want := make([][]float32, len(cases))
	for i, tc := range cases {
		want[i] = run(i, tc)
	}
	// The SIMD variants (4, 1 and, with AVX-512, 8 rows at a time) give
	// every output the same sequence of fused multiply-adds: they agree
	// bit for bit.
	var simd [][]float32
	simdName := ""
	forEachVariant(t, func(t *testing.T, v string) {
		for i, tc := range cases {
			got := run(i, tc)
			if j := floatClose(got, want[i]); j >= 0 {
				t.Errorf("%s: %s output %d = %g; want %g (portable) within 1e-4+1e-4|want|", v, tc.name, j, got[j], want[i][j])
			}
			if !gemmFHaveSIMD() {
				continue
			}
			if simdName == "" || simdName == v {
				simdName = v
				simd = append(simd, got)
				continue
			}
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(simd[i][j]) {
					t.Errorf("%s: %s output %d = %g; %s gives %g", v, tc.name, j, got[j], simdName, simd[i][j])
					break
				}
			}
		}
	})
}

// In the LiteRT arithmetic every path sums from the bias without fused
// multiply-adds: every variant agrees with the portable path bit for bit.
func TestGemmFloatVariantsLiteRT(t *testing.T) {
	old := parallelMinWork
	parallelMinWork = 1
	t.Cleanup(func() { parallelMinWork = old })
	cases := floatGemmCases(LiteRT)
	run := func(i int, tc floatGemmCase) []float32 {
		k, out, err := tc.build(rand.New(rand.NewPCG(uint64(i), 3)))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for j := range out.Data {
			out.Data[j] = 0xff
		}
		if err := k.Eval(); err != nil {
			t.Fatalf("%s: Eval: %v", tc.name, err)
		}
		return append([]float32(nil), out.Float32s()[:out.NumElements()]...)
	}
	useVariant(t, VariantPortable)
	want := make([][]float32, len(cases))
	for i, tc := range cases {
		want[i] = run(i, tc)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for i, tc := range cases {
			got := run(i, tc)
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[i][j]) {
					t.Errorf("%s: %s output %d = %g; want %g (portable)", v, tc.name, j, got[j], want[i][j])
					break
				}
			}
		}
	})
}

// The LiteRT float GEMM sums as XNNPACK: bias first, then each product
// rounded before it is added. Hand-worked, on 9 rows × 17 units (the
// 8-, 4- and 1-row SIMD kernels and a partial panel):
//   - x = (1, 1), w = (1e8, -1e8), bias 1: (1 + 1e8) rounds to 1e8, minus
//     1e8 is 0; summed from 0 with the bias last it would be 1.
//   - x = w = 1+2⁻¹², bias -(1+2⁻¹¹): x·w = 1+2⁻¹¹+2⁻²⁴ rounds (a tie, to
//     even) to 1+2⁻¹¹, so the sum is 0; a fused multiply-add gives 2⁻²⁴.
func TestGemmFloatLiteRTOrder(t *testing.T) {
	e := float32(1.0 / 4096)
	for _, c := range []struct {
		name string
		x, w []float32
		bias float32
		ref  float32 // the reference arithmetic's sum
	}{
		{"cancelling products", []float32{1, 1}, []float32{1e8, -1e8}, 1, 1},
		{"rounded product", []float32{1 + e}, []float32{1 + e}, -(1 + 2*e), 0},
	} {
		const batch, units = 9, 17
		depth := len(c.x)
		x := make([]float32, batch*depth)
		for r := range batch {
			copy(x[r*depth:], c.x)
		}
		w := make([]float32, units*depth)
		bias := make([]float32, units)
		for u := range units {
			copy(w[u*depth:], c.w)
			bias[u] = c.bias
		}
		forEachVariant(t, func(t *testing.T, v string) {
			in := convT("in", tensor.Float32, []int{batch, depth}, nil, x)
			f := convT("w", tensor.Float32, []int{units, depth}, nil, w)
			b := convT("b", tensor.Float32, []int{units}, nil, bias)
			out := convT("out", tensor.Float32, []int{batch, units}, nil, nil)
			k, err := FullyConnected(&Config{Threads: 1, Arithmetic: LiteRT}, FullyConnectedParams{}, in, f, b, out)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			for i, got := range out.Float32s()[:batch*units] {
				if got != 0 {
					t.Fatalf("%s: %s: output %d = %g; want 0", v, c.name, i, got)
				}
			}
			// The reference arithmetic sums from 0, the bias last.
			out = convT("out", tensor.Float32, []int{batch, units}, nil, nil)
			if k, err = FullyConnected(&Config{Threads: 1}, FullyConnectedParams{}, in, f, b, out); err != nil {
				t.Fatal(err)
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			if got := out.Float32s()[0]; got != c.ref {
				t.Fatalf("%s: %s: reference output 0 = %g; want %g", v, c.name, got, c.ref)
			}
		})
	}
}

func TestGemmFArgsLayout(t *testing.T) {
	var a gemmFArgs
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"lda", unsafe.Offsetof(a.lda), 8},
		{"b", unsafe.Offsetof(a.b), 16},
		{"k", unsafe.Offsetof(a.k), 24},
		{"y", unsafe.Offsetof(a.y), 32},
		{"ldy", unsafe.Offsetof(a.ldy), 40},
		{"bias", unsafe.Offsetof(a.bias), 48},
		{"lo", unsafe.Offsetof(a.lo), 56},
		{"hi", unsafe.Offsetof(a.hi), 60},
	}
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the assembly kernels are 64-bit only")
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Offsetof(gemmFArgs.%s) = %d; want %d (the assembly's)", tt.name, tt.got, tt.want)
		}
	}
}

func TestGemmFIndArgsLayout(t *testing.T) {
	var a gemmFIndArgs
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"ptrs", unsafe.Offsetof(a.ptrs), 0},
		{"nseg", unsafe.Offsetof(a.nseg), 8},
		{"seglen", unsafe.Offsetof(a.seglen), 16},
		{"b", unsafe.Offsetof(a.b), 24},
		{"y", unsafe.Offsetof(a.y), 32},
		{"ldy", unsafe.Offsetof(a.ldy), 40},
		{"bias", unsafe.Offsetof(a.bias), 48},
		{"lo", unsafe.Offsetof(a.lo), 56},
		{"hi", unsafe.Offsetof(a.hi), 60},
	}
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the assembly kernels are 64-bit only")
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Offsetof(gemmFIndArgs.%s) = %d; want %d (the assembly's)", tt.name, tt.got, tt.want)
		}
	}
}

// A float convolution summed in XNNPACK's order (ConvParams.InOrder) runs
// the GEMM summing from the bias where XNNPACK sums one product at a time:
// it must give the Go loop's (evalFloatInOrder) results bit for bit, on
// every variant, with padding, strides, dilation and threads.
func TestConv2DInOrderFast(t *testing.T) {
	splitSmallWork(t)
	type shape struct{ h, w, ci, co, fh, fw, stride, dil int }
	shapes := []shape{
		{9, 11, 3, 8, 3, 3, 2, 1}, {7, 7, 16, 24, 3, 3, 1, 1}, {12, 11, 8, 17, 5, 5, 1, 2},
		{6, 6, 33, 16, 1, 1, 1, 1}, {10, 10, 5, 9, 1, 1, 2, 1}, {4, 13, 12, 40, 2, 3, 1, 1},
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for i, s := range shapes {
			for _, pad := range []Padding{PaddingSame, PaddingValid} {
				rng := rand.New(rand.NewPCG(uint64(i), 9))
				in := convT("in", tensor.Float32, []int{2, s.h, s.w, s.ci}, nil, floatRand(rng, 2*s.h*s.w*s.ci))
				f := convT("w", tensor.Float32, []int{s.co, s.fh, s.fw, s.ci}, nil, floatRand(rng, s.co*s.fh*s.fw*s.ci))
				bias := convT("b", tensor.Float32, []int{s.co}, nil, floatRand(rng, s.co))
				p := ConvParams{Padding: pad, StrideH: s.stride, StrideW: s.stride, DilationH: s.dil, DilationW: s.dil, Activation: ActRelu6, InOrder: true}
				out := convT("out", tensor.Float32, []int{2, s.h, s.w, s.co}, nil, nil)
				k, err := Conv2D(&Config{Threads: 1 + i%3}, p, in, f, bias, out)
				if err != nil {
					t.Fatalf("%+v: %v", s, err)
				}
				if err := k.Eval(); err != nil {
					t.Fatal(err)
				}
				// The Go loop on the same operands.
				g, err := newConvGeom("CONV_2D", p, in, s.fh, s.fw, s.co)
				if err != nil {
					t.Fatal(err)
				}
				want := convT("want", tensor.Float32, []int{2, s.h, s.w, s.co}, nil, nil)
				want.Shape = out.Shape
				ref := &convKernel{g: g, fC: s.ci, perGroup: s.co, in: in, filter: f, bias: bias, out: want,
					rows: make([][]float32, s.fh*s.fw), zeros: make([]float32, s.ci)}
				ref.flo, ref.fhi, _ = FloatActivationRange(p.Activation)
				if err := ref.evalFloatInOrder(); err != nil {
					t.Fatal(err)
				}
				got, w := out.Float32s()[:out.NumElements()], want.Float32s()[:out.NumElements()]
				for j := range w {
					if math.Float32bits(got[j]) != math.Float32bits(w[j]) {
						t.Fatalf("%s: %+v pad %d: output %d = %g; want %g (the Go loop)", v, s, pad, j, got[j], w[j])
					}
				}
			}
		}
	})
}

// A float BATCH_MATMUL on the packed GEMM (a computed rhs with 4 or more
// lhs rows, or a constant rhs) in the LiteRT arithmetic sums as XNNPACK:
// Σ_d L[r][d]·R[d][c] from 0 in increasing d, each product and sum rounded
// — bit for bit with a hand loop on every variant, with adj_x/adj_y,
// broadcast batches, widths across panels and a second invoke on new
// values, without allocating.
func TestBatchMatMulGemmLiteRT(t *testing.T) {
	type bcase struct {
		lb, rb, rows, depth, cols int
		adjX, adjY, constRHS      bool
	}
	cases := []bcase{
		{2, 2, 9, 20, 17, false, false, false}, {3, 1, 5, 7, 33, true, false, false},
		{1, 4, 16, 64, 5, false, true, false}, {4, 4, 13, 40, 40, false, true, false},
		{2, 1, 6, 30, 19, false, false, true}, {1, 1, 4, 8, 16, true, true, true},
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for i, c := range cases {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			ls, rs := []int{c.lb, c.rows, c.depth}, []int{c.rb, c.depth, c.cols}
			if c.adjX {
				ls = []int{c.lb, c.depth, c.rows}
			}
			if c.adjY {
				rs = []int{c.rb, c.cols, c.depth}
			}
			nb := max(c.lb, c.rb)
			l := convT("l", tensor.Float32, ls, nil, floatRand(rng, c.lb*c.rows*c.depth))
			r := convT("r", tensor.Float32, rs, nil, floatRand(rng, c.rb*c.depth*c.cols))
			r.Const = c.constRHS
			out := convT("out", tensor.Float32, []int{nb, c.rows, c.cols}, nil, nil)
			k, err := BatchMatMul(&Config{Arithmetic: LiteRT}, BatchMatMulParams{AdjX: c.adjX, AdjY: c.adjY}, l, r, out)
			if err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(3, func() { _ = k.Eval() }); n != 0 {
				t.Errorf("%s: %+v: Eval allocates %v times; want 0", v, c, n)
			}
			for round := range 2 {
				if round == 1 {
					copy(l.Float32s(), floatRand(rng, c.lb*c.rows*c.depth))
					if !c.constRHS {
						copy(r.Float32s(), floatRand(rng, c.rb*c.depth*c.cols))
					}
				}
				if err := k.Eval(); err != nil {
					t.Fatal(err)
				}
				lv, rv, got := l.Float32s(), r.Float32s(), out.Float32s()
				for b := range nb {
					lb, rb := b%c.lb, b%c.rb
					for row := range c.rows {
						for col := range c.cols {
							var acc float32
							for d := range c.depth {
								li := lb*c.rows*c.depth + row*c.depth + d
								if c.adjX {
									li = lb*c.rows*c.depth + d*c.rows + row
								}
								ri := rb*c.depth*c.cols + d*c.cols + col
								if c.adjY {
									ri = rb*c.depth*c.cols + col*c.depth + d
								}
								acc = acc + float32(lv[li]*rv[ri])
							}
							o := (b*c.rows+row)*c.cols + col
							if math.Float32bits(got[o]) != math.Float32bits(acc) {
								t.Fatalf("%s: %+v round %d: output [%d][%d][%d] = %g; want %g", v, c, round, b, row, col, got[o], acc)
							}
						}
					}
				}
			}
		}
	})
}
