package kernels

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

type inOrderCase struct {
	batch, h, w, c, oc int
	fh, fw             int
	stride, dil        int
	pad                Padding
	bias               bool
	act                Activation
	// negZero: the input all −0, weights positive, the bias −0: the
	// sums stay −0, which the clamp must keep.
	negZero bool
}

func (tc inOrderCase) String() string {
	return fmt.Sprintf("b%d %dx%dx%d→%d f%dx%d s%d d%d pad%d bias=%v act%d", tc.batch, tc.h, tc.w, tc.c, tc.oc, tc.fh, tc.fw, tc.stride, tc.dil, tc.pad, tc.bias, tc.act)
}

func (tc inOrderCase) build(seed uint64) (Kernel, *tensor.Tensor, error) {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, tc.batch*tc.h*tc.w*tc.c)
	for i := range x {
		switch r.IntN(10) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(math.Copysign(0, -1))
		default:
			x[i] = float32(r.NormFloat64())
		}
		if tc.negZero {
			x[i] = float32(math.Copysign(0, -1))
		}
	}
	w := make([]float32, tc.oc*tc.fh*tc.fw*tc.c)
	for i := range w {
		w[i] = float32(r.NormFloat64()) * 0.3
		if tc.negZero {
			w[i] = float32(math.Abs(float64(w[i])))
		}
	}
	in := convT("x", tensor.Float32, []int{tc.batch, tc.h, tc.w, tc.c}, nil, x)
	f := constT("w", tensor.Float32, []int{tc.oc, tc.fh, tc.fw, tc.c}, nil, w)
	var bias *tensor.Tensor
	if tc.bias {
		b := make([]float32, tc.oc)
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		b[0] = 0
		if tc.negZero {
			for i := range b {
				b[i] = float32(math.Copysign(0, -1))
			}
		}
		bias = constT("b", tensor.Float32, []int{tc.oc}, nil, b)
	}
	outH, err := convOutSize(tc.pad, tc.h, tc.fh, tc.stride, tc.dil)
	if err != nil {
		return nil, nil, err
	}
	outW, err := convOutSize(tc.pad, tc.w, tc.fw, tc.stride, tc.dil)
	if err != nil {
		return nil, nil, err
	}
	out := convT("y", tensor.Float32, []int{tc.batch, outH, outW, tc.oc}, nil, nil)
	p := ConvParams{Padding: tc.pad, StrideH: tc.stride, StrideW: tc.stride, DilationH: tc.dil, DilationW: tc.dil, Activation: tc.act, InOrder: true}
	k, err := Conv2D(&Config{Arithmetic: LiteRT}, p, in, f, bias, out)
	return k, out, err
}

// TestConvInOrderVariants: the in-order float convolution (the float
// GEMM summing from the bias where XNNPACK sums one product at a time)
// gives the portable variant's output bits, zeros' signs included, and
// writes every output.
func TestConvInOrderVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	cases := []inOrderCase{
		{batch: 1, h: 9, w: 9, c: 3, oc: 16, fh: 3, fw: 3, stride: 2, dil: 1, pad: PaddingSame, bias: true, act: ActNone},
		{batch: 2, h: 7, w: 6, c: 8, oc: 9, fh: 3, fw: 3, stride: 1, dil: 1, pad: PaddingSame, act: ActRelu},
		{batch: 1, h: 5, w: 5, c: 16, oc: 24, fh: 1, fw: 1, stride: 1, dil: 1, bias: true, act: ActRelu6},
		{batch: 1, h: 3, w: 3, c: 1, oc: 8, fh: 1, fw: 1, stride: 1, dil: 1},
		{batch: 1, h: 4, w: 4, c: 4, oc: 8, fh: 3, fw: 3, stride: 1, dil: 1, pad: PaddingValid, bias: true, act: ActRelu, negZero: true},
		{batch: 1, h: 4, w: 4, c: 4, oc: 8, fh: 3, fw: 3, stride: 1, dil: 1, pad: PaddingValid, bias: true, act: ActRelu6, negZero: true},
	}
	for range 30 {
		tc := inOrderCase{batch: 1 + r.IntN(2), h: 1 + r.IntN(10), w: 1 + r.IntN(10), c: 1 + r.IntN(20), oc: 8 + r.IntN(30),
			fh: 1 + r.IntN(4), fw: 1 + r.IntN(4), stride: 1 + r.IntN(3), dil: 1 + r.IntN(2), pad: Padding(r.IntN(2)),
			bias: r.IntN(2) == 0, act: Activation(r.IntN(3))}
		if tc.fh == 1 && tc.fw == 1 && tc.stride == 1 {
			tc.oc = (tc.oc + 7) &^ 7
		}
		if tc.pad == PaddingValid {
			tc.h += (tc.fh - 1) * tc.dil
			tc.w += (tc.fw - 1) * tc.dil
		}
		cases = append(cases, tc)
	}
	useVariant(t, VariantPortable)
	want := make([][]byte, len(cases))
	for i, tc := range cases {
		k, out, err := tc.build(uint64(i))
		if err != nil {
			t.Fatalf("%v: %v", tc, err)
		}
		if err := k.Eval(); err != nil {
			t.Fatal(err)
		}
		want[i] = bytes.Clone(out.Data)
		if tc.negZero && math.Float32bits(out.Float32s()[0]) != 0x80000000 {
			t.Fatalf("%v: output 0 = %g; want −0 (a sum of −0 products from a −0 bias)", tc, out.Float32s()[0])
		}
	}
	forEachVariant(t, func(t *testing.T, v string) {
		fast := 0
		for i, tc := range cases {
			k, out, err := tc.build(uint64(i))
			if err != nil {
				t.Fatalf("%v: %v", tc, err)
			}
			if _, ok := k.(described); ok {
				fast++
			}
			for j := range out.Data {
				out.Data[j] = 0x5a
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
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
		t.Logf("%s: %d of %d cases on the GEMM", v, fast, len(cases))
		if fast == 0 {
			t.Errorf("%s: no case on the GEMM", v)
		}
		k, _, _ := cases[0].build(0)
		if a := testing.AllocsPerRun(3, func() { _ = k.Eval() }); a != 0 {
			t.Errorf("%s: Eval allocates %v times", v, a)
		}
	})
}
