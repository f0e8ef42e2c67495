package kernels

import (
	"bytes"
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The SIMD depthwise kernels' LiteRT (fp32) requantization must give the
// portable path's bytes: the shapes of TestDepthwiseVariants and
// TestDepthwiseSmallVariants again in the LiteRT arithmetic, plus
// power-of-two scales that put many values exactly halfway between two
// integers (where rounding half to even differs from the other rules).
func TestDepthwiseVariantsLiteRT(t *testing.T) {
	old := parallelMinWork
	parallelMinWork = 1
	t.Cleanup(func() { parallelMinWork = old })
	var cases []dwCase
	for _, tc := range dwCases() {
		if tc.dt == tensor.Float32 {
			continue
		}
		tc.litert = true
		cases = append(cases, tc)
	}
	i := 0
	for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8} {
		for _, c := range []int{1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 33, 48} {
			for _, dm := range []int{1, 2, 3, 8} {
				for _, ties := range []bool{false, true} {
					i++
					tc := dwCase{dt: dt, h: 3 + i%5, w: []int{1, 4, 9, 17}[i%4], c: c, dm: dm, stride: 1 + i%2, dil: 1,
						pad:  []Padding{PaddingSame, PaddingValid}[(i/2)%2],
						act:  []Activation{ActNone, ActRelu, ActRelu6, ActReluN1To1}[i%4],
						bias: i%3 != 0, perTensor: i%4 == 1, threads: i%5 == 0, litert: true, ties: ties}
					if tc.pad == PaddingValid && tc.w < 3 {
						tc.pad = PaddingSame
					}
					switch dt {
					case tensor.Int8:
						tc.inZP = []int32{-128, 127, 0, -3, 50}[i%5]
					case tensor.UInt8:
						tc.inZP = []int32{0, 255, 128, 7}[i%4]
						tc.filZP = []int32{128, 0, 255, 90}[(i/4)%4]
					}
					cases = append(cases, tc)
				}
			}
		}
	}
	// MobileNet-sized layers and dilation.
	cases = append(cases,
		dwCase{dt: tensor.UInt8, h: 56, w: 56, c: 144, dm: 1, stride: 2, dil: 1, pad: PaddingSame, act: ActRelu6, filZP: 120, bias: true, threads: true, litert: true},
		dwCase{dt: tensor.Int8, h: 96, w: 96, c: 1, dm: 8, stride: 2, dil: 1, pad: PaddingSame, act: ActRelu6, inZP: -128, bias: true, litert: true},
		dwCase{dt: tensor.Int8, h: 9, w: 9, c: 40, dm: 1, stride: 1, dil: 2, pad: PaddingSame, inZP: 9, bias: true, litert: true, ties: true},
	)
	checkDWVariants(t, cases)
}

// checkDWVariants runs the quantized cases under the portable path and
// then under every other variant, comparing the outputs byte for byte.
func checkDWVariants(t *testing.T, cases []dwCase) {
	t.Helper()
	useVariant(t, VariantPortable)
	want := make([][]byte, len(cases))
	for i, tc := range cases {
		k, out := dwBuild(t, tc, uint64(i))
		if err := k.Eval(); err != nil {
			t.Fatalf("Eval(%v): %v", tc, err)
		}
		want[i] = append([]byte(nil), out.Data[:out.NumElements()*tc.dt.Size()]...)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for i, tc := range cases {
			k, out := dwBuild(t, tc, uint64(i))
			// Poison the output: every element must be written.
			for j := range out.Data {
				out.Data[j] = 0x5a
			}
			if err := k.Eval(); err != nil {
				t.Fatalf("%s: Eval(%v): %v", v, tc, err)
			}
			got := out.Data[:len(want[i])]
			if bytes.Equal(got, want[i]) {
				continue
			}
			for j := range got {
				if got[j] != want[i][j] {
					t.Errorf("%s: DepthwiseConv2D(%v) output byte %d = %d; want %d (portable)", v, tc, j, got[j], want[i][j])
					break
				}
			}
		}
	})
}

// TestDWClampBits checks the clamp bounds packed for the kernels: the
// integer bounds in the reference arithmetic, litertClamp's float32 bits
// (bounds minus the zero point) in the LiteRT one.
func TestDWClampBits(t *testing.T) {
	bits := func(v float32) int32 { return int32(math.Float32bits(v)) }
	tests := []struct {
		name           string
		scale          []float32
		zp, lo, hi     int32
		wantLo, wantHi int32
	}{
		{"reference", nil, -3, -128, 127, -128, 127},
		{"litert int8", []float32{0.5}, -3, -128, 127, bits(-125), bits(130)},
		{"litert uint8 relu6", []float32{0.5}, 128, 128, 255, bits(0), bits(127)},
	}
	for _, tt := range tests {
		rq := gemmRequantParams{outOff: tt.zp, lo: tt.lo, hi: tt.hi, scale: tt.scale}
		lo, hi := dwClampBits(&rq)
		if lo != tt.wantLo || hi != tt.wantHi {
			t.Errorf("dwClampBits(%s) = %#x, %#x; want %#x, %#x", tt.name, lo, hi, tt.wantLo, tt.wantHi)
		}
	}
}

// TestDepthwiseLiteRTKernelPicked checks that 3×3 quantized layers take
// the SIMD kernels in the LiteRT arithmetic too, on every variant that
// has them (the comparison tests pass on the Go fallback as well).
func TestDepthwiseLiteRTKernelPicked(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v string) {
		if v == VariantPortable {
			return
		}
		for _, tc := range []dwCase{
			{dt: tensor.Int8, h: 6, w: 6, c: 16, dm: 1, stride: 1, dil: 1, pad: PaddingSame, litert: true},
			{dt: tensor.UInt8, h: 6, w: 6, c: 24, dm: 1, stride: 2, dil: 1, pad: PaddingSame, litert: true},
			{dt: tensor.Int8, h: 6, w: 6, c: 1, dm: 8, stride: 1, dil: 1, pad: PaddingSame, litert: true},
		} {
			k, _ := dwBuild(t, tc, 1)
			dw, ok := k.(*dwFast)
			if !ok {
				t.Fatalf("%s: DepthwiseConv2D(%v) is a %T; want *dwFast", v, tc, k)
			}
			if dw.qblk == nil || dw.rq.scale == nil {
				t.Errorf("%s: DepthwiseConv2D(%v) SIMD blocks %v, LiteRT scales %v; want both", v, tc, dw.qblk != nil, dw.rq.scale != nil)
			}
		}
	})
}
