package kernels

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// dwSwarRef computes the quantized depthwise convolution of in by f
// straightforwardly, pixel by pixel and tap by tap with the reference
// formula Σ(w+fOff)(x+inOff) + bias, then requantizes as the kernels do
// (requantOut: the reference or LiteRT arithmetic). It shares nothing with
// dwSwar but the requantization.
func dwSwarRef[T int8 | uint8](g *convGeom, x, w []T, bias []int32, inOff, fOff int32, mult []int32, shift []int, scale []float32, outOff, lo, hi int32) []T {
	c := g.outC
	dm := c / g.inC
	y := make([]T, g.batch*g.outH*g.outW*c)
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			for ox := 0; ox < g.outW; ox++ {
				for oc := 0; oc < c; oc++ {
					var acc int32
					for fy := 0; fy < g.fH; fy++ {
						for fx := 0; fx < g.fW; fx++ {
							iy := oy*g.strideH - g.padH + fy*g.dilH
							ix := ox*g.strideW - g.padW + fx*g.dilW
							if iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW {
								continue
							}
							xv := int32(x[((b*g.inH+iy)*g.inW+ix)*g.inC+oc/dm])
							wv := int32(w[(fy*g.fW+fx)*c+oc])
							acc += (wv + fOff) * (xv + inOff)
						}
					}
					if bias != nil {
						acc += bias[oc]
					}
					y[((b*g.outH+oy)*g.outW+ox)*c+oc] = T(requantOut(acc, oc, mult, shift, scale, outOff, lo, hi))
				}
			}
		}
	}
	return y
}

// dwSwarCase is one random quantized depthwise convolution; fill says
// which values the input and weights take.
type dwSwarCase struct {
	dt          tensor.DType
	h, w, c, dm int
	stride, dil int
	pad         Padding
	act         Activation
	perTensor   bool
	litert      bool
	bias        bool
	fill        string // "rand", "min", "max", "zero", "mixed": extremes
	inZP, fZP   int32
}

func (tc dwSwarCase) String() string {
	return fmt.Sprintf("%s/%dx%dx%d/dm%d/s%d/d%d/pad%d/act%d/pt%v/litert%v/bias%v/%s/zp%d,%d",
		tc.dt, tc.h, tc.w, tc.c, tc.dm, tc.stride, tc.dil, tc.pad, tc.act, tc.perTensor, tc.litert, tc.bias, tc.fill, tc.inZP, tc.fZP)
}

func dwSwarCases(n int) []dwSwarCase {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := make([]dwSwarCase, 0, n)
	for i := 0; i < n; i++ {
		tc := dwSwarCase{
			dt:        []tensor.DType{tensor.Int8, tensor.UInt8}[i%2],
			h:         1 + rng.IntN(9),
			w:         1 + rng.IntN(11),
			c:         1 + rng.IntN(48),
			dm:        []int{1, 1, 2, 3}[rng.IntN(4)],
			stride:    []int{1, 1, 1, 2}[rng.IntN(4)],
			dil:       []int{1, 1, 1, 1, 2}[rng.IntN(5)],
			pad:       []Padding{PaddingSame, PaddingValid}[rng.IntN(2)],
			act:       []Activation{ActNone, ActRelu, ActRelu6, ActReluN1To1}[rng.IntN(4)],
			perTensor: rng.IntN(3) == 0,
			litert:    (i/2)%2 == 1,
			bias:      rng.IntN(4) != 0,
			fill:      []string{"rand", "rand", "min", "max", "zero", "mixed"}[rng.IntN(6)],
		}
		if tc.pad == PaddingValid {
			tc.h += 2 * tc.dil
			tc.w += 2 * tc.dil
		}
		if tc.dt == tensor.Int8 {
			tc.inZP = []int32{-128, 127, 0, int32(rng.IntN(256) - 128)}[rng.IntN(4)]
		} else {
			tc.inZP = []int32{0, 255, 128, int32(rng.IntN(256))}[rng.IntN(4)]
			tc.fZP = []int32{0, 255, 128, int32(rng.IntN(256))}[rng.IntN(4)]
		}
		cases = append(cases, tc)
	}
	return cases
}

// dwSwarValue is the i-th value of a fill, as a uint8 bit pattern.
func dwSwarValue(rng *rand.Rand, fill string, signed bool) uint8 {
	lo, hi := uint8(0), uint8(255)
	if signed {
		lo, hi = 0x80, 0x7f
	}
	switch fill {
	case "min":
		return lo
	case "max":
		return hi
	case "zero":
		return 0
	case "mixed":
		return []uint8{lo, hi, 0, 255}[rng.IntN(4)]
	}
	return uint8(rng.IntN(256))
}

func TestDepthwisePortableSWAR(t *testing.T) {
	start := Variant()
	if _, err := SetVariant(VariantPortable); err != nil {
		t.Fatalf("SetVariant(portable): %v", err)
	}
	old := parallelMinWork
	parallelMinWork = 1 // split even small layers across the threads
	t.Cleanup(func() {
		parallelMinWork = old
		if _, err := SetVariant(start); err != nil {
			t.Errorf("restoring variant %q: %v", start, err)
		}
	})
	n := 600
	if testing.Short() {
		n = 150
	}
	swar := 0
	for ci, tc := range dwSwarCases(n) {
		rng := rand.New(rand.NewPCG(uint64(ci), 9))
		oc := tc.c * tc.dm
		signed := tc.dt == tensor.Int8
		xb := make([]uint8, tc.h*tc.w*tc.c)
		for i := range xb {
			xb[i] = dwSwarValue(rng, tc.fill, signed)
		}
		wb := make([]uint8, 9*oc)
		for i := range wb {
			wb[i] = dwSwarValue(rng, tc.fill, signed)
		}
		var bias *tensor.Tensor
		var bs []int32
		if tc.bias {
			bs = make([]int32, oc)
			for i := range bs {
				bs[i] = int32(rng.IntN(1<<17) - 1<<16)
			}
			bias = convT("b", tensor.Int32, []int{oc}, nil, bs)
		}
		var in, f, out *tensor.Tensor
		inShape, fShape := []int{1, tc.h, tc.w, tc.c}, []int{1, 3, 3, oc}
		outQ := convQ(float32(math.Exp2(-3+4*rng.Float64())), int32(rng.IntN(256)))
		if signed {
			outQ.ZeroPoint[0] -= 128
			scales := make([]float32, oc)
			for i := range scales {
				scales[i] = float32(math.Exp2(-12 + 14*rng.Float64()))
			}
			fq := convPCQ(3, scales...)
			if tc.perTensor {
				fq = convQ(scales[0], 0)
			}
			in = convT("in", tc.dt, inShape, convQ(0.5, tc.inZP), convAs[int8](xb))
			f = convT("w", tc.dt, fShape, fq, convAs[int8](wb))
			out = convT("out", tc.dt, []int{1, tc.h, tc.w, oc}, outQ, nil)
		} else {
			in = convT("in", tc.dt, inShape, convQ(0.02, tc.inZP), xb)
			f = convT("w", tc.dt, fShape, convQ(float32(math.Exp2(-10+6*rng.Float64())), tc.fZP), wb)
			out = convT("out", tc.dt, []int{1, tc.h, tc.w, oc}, outQ, nil)
		}
		p := ConvParams{Padding: tc.pad, StrideH: tc.stride, StrideW: tc.stride, DilationH: tc.dil, DilationW: tc.dil, Activation: tc.act}
		cfg := &Config{Threads: 1 + rng.IntN(3)}
		if tc.litert {
			cfg.Arithmetic = LiteRT
		}
		k, err := DepthwiseConv2D(cfg, p, in, f, bias, out)
		if err != nil {
			t.Fatalf("DepthwiseConv2D(%v): %v", tc, err)
		}
		fast, ok := k.(*dwFast)
		if !ok {
			t.Fatalf("DepthwiseConv2D(%v) = %T; want *dwFast", tc, k)
		}
		if fast.sw != nil {
			swar++
		}
		if err := k.Eval(); err != nil {
			t.Fatalf("Eval(%v): %v", tc, err)
		}
		got := bytes.Clone(out.Data)

		mult, shift, lo, hi, err := convQuantSetup(cfg, "DEPTHWISE_CONV_2D", tc.act, in, f, bias, out, oc, in.Type, tensor.Int32)
		if err != nil {
			t.Fatalf("convQuantSetup(%v): %v", tc, err)
		}
		scale, err := litertScales(cfg, in, f, out, oc)
		if err != nil {
			t.Fatalf("litertScales(%v): %v", tc, err)
		}
		g := fast.g
		inOff, fOff, outOff := -in.ZeroPoint(), -f.ZeroPoint(), out.ZeroPoint()
		var want []byte
		if signed {
			want = convAs[uint8](dwSwarRef(&g, convAs[int8](xb), convAs[int8](wb), bs, inOff, fOff, mult, shift, scale, outOff, lo, hi))
		} else {
			want = dwSwarRef(&g, xb, wb, bs, inOff, fOff, mult, shift, scale, outOff, lo, hi)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("DepthwiseConv2D(%v) output[%d] = %d; want %d (swar %v)", tc, i, got[i], want[i], fast.sw != nil)
			}
		}

		// The per-pixel 3×3 path, which the SWAR path replaces.
		if fast.sw != nil {
			fast.sw = nil
			clear(out.Data)
			if err := k.Eval(); err != nil {
				t.Fatalf("Eval(%v): %v", tc, err)
			}
			if !bytes.Equal(out.Data, got) {
				t.Fatalf("DepthwiseConv2D(%v): SWAR and per-pixel outputs differ", tc)
			}
		}
	}
	if swar == 0 && dwSwarFast {
		t.Errorf("no case took the SWAR path")
	}
	t.Logf("%d of %d cases on the SWAR path", swar, n)
}
