package kernels

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The SIMD depthwise kernels are checked against the portable Go path,
// the reference every variant must match: quantized outputs byte for
// byte, float outputs too (the float kernels add the products in the same
// order, fused where the Go compiler fuses them: on arm64, not on amd64),
// with the golden tolerance 1e-4+1e-4|want| only as a fallback for a build
// that fuses otherwise (GOAMD64=v3); the test logs such cases.

// dwCase is one random depthwise convolution.
type dwCase struct {
	name          string // benchmarks only
	dt            tensor.DType
	h, w, c, dm   int
	stride, dil   int
	pad           Padding
	act           Activation
	inZP, filZP   int32 // filZP: uint8 only
	bias, threads bool
	perTensor     bool // int8: one filter scale instead of one per channel
	litert        bool // the LiteRT arithmetic (fp32 requantization)
	ties          bool // power-of-two scales: many requantized values end in .5
	fh, fw        int  // filter size; 0 means 3
}

// filter returns the filter's height and width.
func (tc dwCase) filter() (int, int) {
	if tc.fh == 0 {
		return 3, 3
	}
	return tc.fh, tc.fw
}

func (tc dwCase) String() string {
	fh, fw := tc.filter()
	return fmt.Sprintf("%s/%dx%dx%d/f%dx%d/dm%d/s%d/d%d/pad%d/act%d/zp%d,%d/bias%v/thr%v/pt%v/litert%v/ties%v",
		tc.dt, tc.h, tc.w, tc.c, fh, fw, tc.dm, tc.stride, tc.dil, tc.pad, tc.act, tc.inZP, tc.filZP, tc.bias, tc.threads,
		tc.perTensor, tc.litert, tc.ties)
}

func dwCases() []dwCase {
	var cases []dwCase
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8, tensor.Float32} {
		for _, c := range []int{3, 8, 16, 17, 24, 32, 33, 40, 72} {
			for _, hw := range [][2]int{{1, 1}, {2, 2}, {5, 7}, {7, 1}, {1, 7}, {9, 6}} {
				for _, stride := range []int{1, 2} {
					for _, pad := range []Padding{PaddingSame, PaddingValid} {
						if pad == PaddingValid && (hw[0] < 3 || hw[1] < 3) {
							continue
						}
						tc := dwCase{dt: dt, h: hw[0], w: hw[1], c: c, dm: 1, stride: stride, dil: 1, pad: pad}
						tc.act = []Activation{ActNone, ActRelu, ActRelu6, ActReluN1To1}[rng.IntN(4)]
						tc.bias = rng.IntN(4) != 0
						tc.threads = rng.IntN(3) == 0
						switch dt {
						case tensor.Int8:
							tc.inZP = []int32{-128, 127, 0, int32(rng.IntN(256) - 128)}[rng.IntN(4)]
						case tensor.UInt8:
							tc.inZP = []int32{0, 255, 128, int32(rng.IntN(256))}[rng.IntN(4)]
							tc.filZP = []int32{0, 255, 128, int32(rng.IntN(256))}[rng.IntN(4)]
						}
						cases = append(cases, tc)
					}
				}
			}
		}
	}
	// Dilation, depth multipliers and a MobileNet-sized layer.
	cases = append(cases,
		dwCase{dt: tensor.Int8, h: 9, w: 9, c: 32, dm: 1, stride: 1, dil: 2, pad: PaddingSame, inZP: -5, bias: true},
		dwCase{dt: tensor.UInt8, h: 9, w: 9, c: 17, dm: 1, stride: 2, dil: 2, pad: PaddingSame, inZP: 200, filZP: 3},
		dwCase{dt: tensor.Float32, h: 9, w: 9, c: 20, dm: 1, stride: 1, dil: 2, pad: PaddingValid, bias: true},
		dwCase{dt: tensor.Int8, h: 5, w: 5, c: 16, dm: 2, stride: 1, dil: 1, pad: PaddingSame, inZP: 7, bias: true},
		dwCase{dt: tensor.UInt8, h: 5, w: 5, c: 9, dm: 3, stride: 2, dil: 1, pad: PaddingSame, inZP: 128, filZP: 128},
		dwCase{dt: tensor.Int8, h: 28, w: 28, c: 144, dm: 1, stride: 2, dil: 1, pad: PaddingSame, act: ActRelu6, inZP: -128, bias: true, threads: true},
		dwCase{dt: tensor.UInt8, h: 14, w: 14, c: 96, dm: 1, stride: 1, dil: 1, pad: PaddingSame, act: ActRelu6, inZP: 0, filZP: 160, bias: true, threads: true},
	)
	// Other filter sizes (the general kernels): 1×1 (MediaPipe's
	// per-channel scales), 5×5, uneven, strided and dilated, few and many
	// channels.
	for i, f := range [][2]int{{1, 1}, {5, 5}, {2, 3}, {7, 1}, {1, 1}, {5, 5}, {3, 3}, {4, 4}} {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8} {
			for _, c := range []int{1, 3, 8, 12, 20, 33} {
				tc := dwCase{dt: dt, h: 9, w: 11, c: c, dm: 1, stride: 1 + i%2, dil: 1 + (i/2)%2, fh: f[0], fw: f[1]}
				tc.pad = []Padding{PaddingSame, PaddingValid}[(i/4)%2]
				tc.act = []Activation{ActNone, ActRelu, ActRelu6, ActReluN1To1}[rng.IntN(4)]
				tc.bias = rng.IntN(4) != 0
				tc.threads = rng.IntN(3) == 0
				if dt == tensor.UInt8 {
					tc.inZP, tc.filZP = int32(rng.IntN(256)), int32(rng.IntN(256))
				} else if dt == tensor.Int8 {
					tc.inZP = int32(rng.IntN(256) - 128)
				}
				cases = append(cases, tc)
			}
		}
	}
	// Tall filters (keyword-spotting models: 3×1 to 15×1 over a column of
	// 30 pixels, 40 and 128 channels), with padding above and below, a
	// partial block of channels, strides, dilation and several columns.
	for i, f := range [][2]int{{3, 1}, {5, 1}, {10, 1}, {15, 1}, {4, 2}, {7, 3}} {
		for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8} {
			for j, c := range []int{40, 128, 33, 8, 3, 64} {
				tc := dwCase{dt: dt, h: 30, w: []int{1, 1, 3, 6}[(i+j)%4], c: c, dm: 1, stride: 1 + (i+j)%3/2, dil: 1 + j%4/3, fh: f[0], fw: f[1]}
				tc.pad = []Padding{PaddingValid, PaddingSame}[(i+j)%2]
				if tc.pad == PaddingValid {
					tc.w = max(tc.w, (f[1]-1)*tc.dil+1)
				}
				tc.act = []Activation{ActNone, ActRelu, ActRelu6, ActReluN1To1}[rng.IntN(4)]
				tc.bias = rng.IntN(4) != 0
				tc.threads = rng.IntN(3) == 0
				if dt == tensor.UInt8 {
					tc.inZP, tc.filZP = int32(rng.IntN(256)), int32(rng.IntN(256))
				} else {
					tc.inZP = []int32{-128, int32(rng.IntN(256) - 128)}[j%2]
				}
				cases = append(cases, tc)
			}
		}
	}
	// Float filters of real models (MediaPipe: 5×5 and 3×3, stride 1 and 2)
	// over rows wider than eight pixels, with many channels (whole and
	// partial blocks of 16) and small images where most pixels are at an
	// edge.
	for i, f := range [][2]int{{5, 5}, {3, 3}, {5, 5}, {7, 7}} {
		for j, hwc := range [][3]int{{14, 21, 64}, {12, 19, 47}, {7, 7, 120}, {6, 6, 16}, {3, 5, 33}, {24, 24, 8}} {
			tc := dwCase{dt: tensor.Float32, h: hwc[0], w: hwc[1], c: hwc[2], dm: 1, stride: 1 + (i+j)%2, dil: 1 + i/3, fh: f[0], fw: f[1]}
			tc.pad = []Padding{PaddingSame, PaddingValid}[j%3/2]
			if tc.pad == PaddingValid && (tc.h < 13 || tc.w < 13) {
				tc.pad = PaddingSame
			}
			tc.act = []Activation{ActNone, ActRelu, ActRelu6, ActReluN1To1}[rng.IntN(4)]
			tc.bias = rng.IntN(4) != 0
			tc.threads = rng.IntN(3) == 0
			cases = append(cases, tc)
		}
	}
	return cases
}

// dwBuild makes the tensors of tc from rng and constructs the kernel.
func dwBuild(t testing.TB, tc dwCase, seed uint64) (Kernel, *tensor.Tensor) {
	t.Helper()
	var k Kernel
	var out *tensor.Tensor
	dwBuildTensors(t, tc, seed, func(in, f, bias, o *tensor.Tensor) {
		p := ConvParams{Padding: tc.pad, StrideH: tc.stride, StrideW: tc.stride, DilationH: tc.dil, DilationW: tc.dil, Activation: tc.act}
		cfg := &Config{Threads: 1}
		if tc.litert {
			cfg.Arithmetic = LiteRT
		}
		if tc.threads {
			cfg.Threads = 3
		}
		var err error
		if k, err = DepthwiseConv2D(cfg, p, in, f, bias, o); err != nil {
			t.Fatalf("DepthwiseConv2D(%v): %v", tc, err)
		}
		out = o
	})
	return k, out
}

// dwBuildTensors makes the tensors of tc from rng and hands them to use.
func dwBuildTensors(t testing.TB, tc dwCase, seed uint64, use func(in, f, bias, out *tensor.Tensor)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	oc := tc.c * tc.dm
	fh, fw := tc.filter()
	taps := fh * fw
	inShape := []int{1, tc.h, tc.w, tc.c}
	n := tc.h * tc.w * tc.c
	var in, f, bias, out *tensor.Tensor
	switch tc.dt {
	case tensor.Float32:
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		w := make([]float32, taps*oc)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		in = convT("in", tc.dt, inShape, nil, x)
		f = convT("w", tc.dt, []int{1, fh, fw, oc}, nil, w)
		if tc.bias {
			b := make([]float32, oc)
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			bias = convT("b", tc.dt, []int{oc}, nil, b)
		}
		out = convT("out", tc.dt, []int{1, tc.h, tc.w, oc}, nil, nil)
	case tensor.Int8:
		x := make([]int8, n)
		for i := range x {
			x[i] = int8(rng.IntN(256) - 128)
		}
		w := make([]int8, taps*oc)
		for i := range w {
			w[i] = int8(rng.IntN(255) - 127)
		}
		scales := make([]float32, oc)
		for i := range scales {
			// Effective multipliers from about 2⁻¹⁴ to 4: right and left shifts.
			scales[i] = float32(math.Exp2(-12 + 14*rng.Float64()))
			if tc.ties {
				scales[i] = float32(math.Exp2(float64(-12 + rng.IntN(8))))
			}
		}
		in = convT("in", tc.dt, inShape, convQ(0.5, tc.inZP), x)
		fq := convPCQ(3, scales...)
		if tc.perTensor {
			fq = convQ(scales[0], 0)
		}
		f = convT("w", tc.dt, []int{1, fh, fw, oc}, fq, w)
		outS := float32(math.Exp2(-2 + 4*rng.Float64()))
		if tc.ties {
			outS = float32(math.Exp2(float64(-4 + rng.IntN(4))))
		}
		out = convT("out", tc.dt, []int{1, tc.h, tc.w, oc}, convQ(outS, int32(rng.IntN(256)-128)), nil)
	case tensor.UInt8:
		x := make([]uint8, n)
		for i := range x {
			x[i] = uint8(rng.IntN(256))
		}
		w := make([]uint8, taps*oc)
		for i := range w {
			w[i] = uint8(rng.IntN(256))
		}
		inS, fS, outS := float32(0.02), float32(math.Exp2(-10+6*rng.Float64())), float32(math.Exp2(-6+6*rng.Float64()))
		if tc.ties {
			inS, fS, outS = 0x1p-6, float32(math.Exp2(float64(-8+rng.IntN(4)))), float32(math.Exp2(float64(-4+rng.IntN(4))))
		}
		in = convT("in", tc.dt, inShape, convQ(inS, tc.inZP), x)
		f = convT("w", tc.dt, []int{1, fh, fw, oc}, convQ(fS, tc.filZP), w)
		out = convT("out", tc.dt, []int{1, tc.h, tc.w, oc}, convQ(outS, int32(rng.IntN(256))), nil)
	}
	if tc.dt != tensor.Float32 && tc.bias {
		b := make([]int32, oc)
		for i := range b {
			b[i] = int32(rng.IntN(1<<16) - 1<<15)
		}
		bias = convT("b", tensor.Int32, []int{oc}, nil, b)
	}
	use(in, f, bias, out)
}

// forEachVariant runs fn under every variant this CPU offers and restores
// the variant in use.
// useVariant selects the kernel variant v for the rest of the test and
// restores the one in use before when the test ends, so that no test
// leaves its variant to the tests run after it.
func useVariant(t testing.TB, v string) {
	t.Helper()
	prev, err := SetVariant(v)
	if err != nil {
		t.Fatalf("SetVariant(%q): %v", v, err)
	}
	t.Cleanup(func() {
		if _, err := SetVariant(prev); err != nil {
			t.Errorf("restoring variant %q: %v", prev, err)
		}
	})
}

func forEachVariant(t *testing.T, fn func(t *testing.T, v string)) {
	start := Variant()
	t.Cleanup(func() {
		if _, err := SetVariant(start); err != nil {
			t.Errorf("restoring variant %q: %v", start, err)
		}
	})
	for _, v := range Variants() {
		if _, err := SetVariant(v); err != nil {
			t.Fatalf("SetVariant(%q): %v", v, err)
		}
		fn(t, v)
	}
}

func TestDepthwiseVariants(t *testing.T) {
	old := parallelMinWork
	parallelMinWork = 1
	t.Cleanup(func() { parallelMinWork = old })
	t.Logf("variants: %v", Variants())
	cases := dwCases()
	want := make([][]byte, len(cases))
	useVariant(t, VariantPortable)
	for i, tc := range cases {
		k, out := dwBuild(t, tc, uint64(i))
		if err := k.Eval(); err != nil {
			t.Fatalf("Eval(%v): %v", tc, err)
		}
		want[i] = append([]byte(nil), out.Data[:out.NumElements()*tc.dt.Size()]...)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		inexact := 0
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
			if tc.dt != tensor.Float32 {
				for j := range got {
					if got[j] != want[i][j] {
						t.Errorf("%s: DepthwiseConv2D(%v) output byte %d = %d; want %d (portable)", v, tc, j, got[j], want[i][j])
						break
					}
				}
				continue
			}
			inexact++
			g := unsafe.Slice((*float32)(unsafe.Pointer(&got[0])), len(got)/4)
			w := unsafe.Slice((*float32)(unsafe.Pointer(&want[i][0])), len(got)/4)
			for j := range g {
				if d := math.Abs(float64(g[j] - w[j])); !(d <= 1e-4+1e-4*math.Abs(float64(w[j]))) {
					t.Errorf("%s: DepthwiseConv2D(%v) output %d = %g; want %g (portable) within 1e-4+1e-4|want|", v, tc, j, g[j], w[j])
					break
				}
			}
		}
		if inexact > 0 {
			t.Logf("%s: %d float cases within tolerance but not bit-identical to portable", v, inexact)
		}
	})
}

func TestDWArgsLayout(t *testing.T) {
	var a dwArgs
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"steps", unsafe.Offsetof(a.steps), 72},
		{"y", unsafe.Offsetof(a.y), 144},
		{"ystep", unsafe.Offsetof(a.ystep), 152},
		{"n", unsafe.Offsetof(a.n), 160},
		{"blocks", unsafe.Offsetof(a.blocks), 168},
		{"nb", unsafe.Offsetof(a.nb), 176},
	}
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the assembly kernels are 64-bit only")
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Offsetof(dwArgs.%s) = %d; want %d (the assembly's)", tt.name, tt.got, tt.want)
		}
	}
}

// Benchmarks of MobileNetV2-sized depthwise layers under the variant in
// use (EDGED_KERNELS selects it), reporting multiply-adds per second.
func BenchmarkDW(b *testing.B) {
	for _, tc := range []dwCase{
		{name: "int8/112x112x96/s2", dt: tensor.Int8, h: 112, w: 112, c: 96, dm: 1, stride: 2, dil: 1, pad: PaddingSame, act: ActRelu6, inZP: -128, bias: true},
		{name: "uint8/56x56x144/s1", dt: tensor.UInt8, h: 56, w: 56, c: 144, dm: 1, stride: 1, dil: 1, pad: PaddingSame, act: ActRelu6, inZP: 0, filZP: 120, bias: true},
		{name: "int8/112x112x96/s2/litert", dt: tensor.Int8, h: 112, w: 112, c: 96, dm: 1, stride: 2, dil: 1, pad: PaddingSame, act: ActRelu6, inZP: -128, bias: true, litert: true},
		{name: "uint8/56x56x144/s1/litert", dt: tensor.UInt8, h: 56, w: 56, c: 144, dm: 1, stride: 1, dil: 1, pad: PaddingSame, act: ActRelu6, inZP: 0, filZP: 120, bias: true, litert: true},
		{name: "float32/56x56x144/s1", dt: tensor.Float32, h: 56, w: 56, c: 144, dm: 1, stride: 1, dil: 1, pad: PaddingSame, act: ActRelu6, bias: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			k, out := dwBuild(b, tc, 1)
			macs := float64(out.NumElements() * 9)
			b.ResetTimer()
			for b.Loop() {
				_ = k.Eval()
			}
			b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

func TestDWFArgsLayout(t *testing.T) {
	var a dwFArgs
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"taps", unsafe.Offsetof(a.taps), 0},
		{"ntaps", unsafe.Offsetof(a.ntaps), 8},
		{"bias", unsafe.Offsetof(a.bias), 16},
		{"y", unsafe.Offsetof(a.y), 24},
		{"npix", unsafe.Offsetof(a.npix), 32},
		{"xstep", unsafe.Offsetof(a.xstep), 40},
		{"ystep", unsafe.Offsetof(a.ystep), 48},
		{"c", unsafe.Offsetof(a.c), 56},
		{"lo", unsafe.Offsetof(a.lo), 64},
		{"hi", unsafe.Offsetof(a.hi), 68},
	}
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the assembly kernels are 64-bit only")
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Offsetof(dwFArgs.%s) = %d; want %d (the assembly's)", tt.name, tt.got, tt.want)
		}
	}
}

// BenchmarkDWFloat times the float depthwise shapes of the MediaPipe
// models in CPU time (benchCPU).
func BenchmarkDWFloat(b *testing.B) {
	for _, tc := range []dwCase{
		{name: "64x64x24/3x3", dt: tensor.Float32, h: 64, w: 64, c: 24, dm: 1, stride: 1, dil: 1, pad: PaddingSame, act: ActNone, bias: true},
		{name: "64x64x28/3x3/s2", dt: tensor.Float32, h: 64, w: 64, c: 28, dm: 1, stride: 2, dil: 1, pad: PaddingSame, act: ActNone, bias: true},
		{name: "16x16x96/3x3", dt: tensor.Float32, h: 16, w: 16, c: 96, dm: 1, stride: 1, dil: 1, pad: PaddingSame, act: ActNone, bias: true},
		{name: "128x128x8/1x1", dt: tensor.Float32, h: 128, w: 128, c: 8, dm: 1, stride: 1, dil: 1, pad: PaddingSame, act: ActNone, bias: true, fh: 1, fw: 1},
		{name: "64x64x8/3x3", dt: tensor.Float32, h: 64, w: 64, c: 8, dm: 1, stride: 1, dil: 1, pad: PaddingSame, act: ActNone, bias: true},
		// KNIFT's first layer (batch 200 there): one channel, 16 outputs.
		{name: "32x32x1/3x3/dm16", dt: tensor.Float32, h: 32, w: 32, c: 1, dm: 16, stride: 1, dil: 1, pad: PaddingSame, act: ActRelu, bias: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			k, out := dwBuild(b, tc, 1)
			fh, fw := tc.filter()
			macs := float64(out.NumElements() * fh * fw)
			per := benchCPU(b, func() { _ = k.Eval() })
			b.ReportMetric(macs/float64(per.Nanoseconds()), "GMAC/s(cpu)")
		})
	}
}

// A one-channel input with a depth multiplier runs as a convolution
// (dwAsConv); it must give what the depthwise reference loop gives (the
// generic kernel, taken when the filter is not known at construction):
// quantized bytes exactly, floats within the golden tolerance (the GEMM
// fuses multiply-adds), in both arithmetics. Float 3×3 filters (KNIFT's
// first layer) take this path too; quantized ones keep dwFast.
func TestDepthwiseOneChannelAsConv(t *testing.T) {
	i := 0
	for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8, tensor.Float32} {
		for _, f := range [][2]int{{10, 8}, {5, 5}, {1, 3}, {3, 3}} {
			for _, dm := range []int{4, 8} {
				for _, litert := range []bool{false, true} {
					if litert && dt == tensor.Float32 || f == [2]int{3, 3} && dt != tensor.Float32 {
						continue
					}
					i++
					tc := dwCase{dt: dt, h: 15, w: 12, c: 1, dm: dm, stride: 1 + i%2, dil: 1, pad: []Padding{PaddingSame, PaddingValid}[i%2],
						fh: f[0], fw: f[1], bias: i%3 != 0, litert: litert, inZP: int32(i * 7 % 100), filZP: int32(i * 13 % 200)}
					if dt == tensor.Int8 {
						tc.inZP -= 50
					}
					got, gotOut := dwBuild(t, tc, uint64(i))
					if _, ok := got.(described); !ok {
						t.Fatalf("%v: kernel %T; want the convolution", tc, got)
					}
					want, wantOut := dwBuildGeneric(t, tc, uint64(i))
					if err := got.Eval(); err != nil {
						t.Fatal(err)
					}
					if err := want.Eval(); err != nil {
						t.Fatal(err)
					}
					n := wantOut.NumBytes()
					if dt != tensor.Float32 {
						if !bytes.Equal(gotOut.Data[:n], wantOut.Data[:n]) {
							t.Errorf("%v: output differs from the depthwise reference loop", tc)
						}
						continue
					}
					if j := floatClose(gotOut.Float32s()[:n/4], wantOut.Float32s()[:n/4]); j >= 0 {
						t.Errorf("%v: output %d = %g; want %g", tc, j, gotOut.Float32s()[j], wantOut.Float32s()[j])
					}
				}
			}
		}
	}
}

// dwBuildGeneric is dwBuild with the filter's data bound after
// construction, which leaves the generic depthwise loop.
func dwBuildGeneric(t *testing.T, tc dwCase, seed uint64) (Kernel, *tensor.Tensor) {
	t.Helper()
	var in, f, bias, out *tensor.Tensor
	capture := func(i, fl, b, o *tensor.Tensor) { in, f, bias, out = i, fl, b, o }
	dwBuildTensors(t, tc, seed, capture)
	data := f.Data
	f.Data = nil
	p := ConvParams{Padding: tc.pad, StrideH: tc.stride, StrideW: tc.stride, DilationH: tc.dil, DilationW: tc.dil, Activation: tc.act}
	cfg := &Config{Threads: 1}
	if tc.litert {
		cfg.Arithmetic = LiteRT
	}
	k, err := DepthwiseConv2D(cfg, p, in, f, bias, out)
	if err != nil {
		t.Fatalf("DepthwiseConv2D(%v): %v", tc, err)
	}
	f.Data = data
	return k, out
}

func TestDWQArgsLayout(t *testing.T) {
	var a dwQArgs
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"taps", unsafe.Offsetof(a.taps), 0},
		{"ntaps", unsafe.Offsetof(a.ntaps), 8},
		{"off", unsafe.Offsetof(a.off), 16},
		{"w", unsafe.Offsetof(a.w), 24},
		{"wstep", unsafe.Offsetof(a.wstep), 32},
		{"xstep", unsafe.Offsetof(a.xstep), 40},
		{"rows", unsafe.Offsetof(a.rows), 48},
		{"t", unsafe.Offsetof(a.t), 56},
		{"u8", unsafe.Offsetof(a.u8), 64},
	}
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the assembly kernels are 64-bit only")
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Offsetof(dwQArgs.%s) = %d; want %d (the assembly's)", tt.name, tt.got, tt.want)
		}
	}
}

// BenchmarkDWTall times the int8 depthwise layers of a keyword-spotting
// model (str_ww_ref_model: 3×1 over 30×40, then 5×1, 10×1 and 15×1 over
// 128 channels) in CPU time (benchCPU), in the LiteRT arithmetic.
func BenchmarkDWTall(b *testing.B) {
	for _, tc := range []dwCase{
		{name: "30x1x40/3x1", h: 30, c: 40, fh: 3},
		{name: "28x1x128/5x1", h: 28, c: 128, fh: 5},
		{name: "24x1x128/10x1", h: 24, c: 128, fh: 10},
		{name: "15x1x128/15x1", h: 15, c: 128, fh: 15},
	} {
		tc.dt, tc.w, tc.fw, tc.dm, tc.stride, tc.dil, tc.pad = tensor.Int8, 1, 1, 1, 1, 1, PaddingValid
		tc.act, tc.inZP, tc.bias, tc.litert = ActRelu, -128, true, true
		b.Run(tc.name, func(b *testing.B) {
			k, out := dwBuild(b, tc, 1)
			macs := float64((tc.h - tc.fh + 1) * tc.c * tc.fh)
			per := benchCPU(b, func() { _ = k.Eval() })
			b.ReportMetric(macs/float64(per.Nanoseconds()), "GMAC/s(cpu)")
			_ = out
		})
	}
}
