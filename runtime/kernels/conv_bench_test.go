package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Benchmarks of typical MobileNet layers (56x56, 64 channels).

func BenchmarkConv2DPointwiseInt8(b *testing.B) {
	p := ConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	in := convT("in", tensor.Int8, []int{1, 56, 56, 64}, convQ(0.05, -3), make([]int8, 56*56*64))
	scales := make([]float32, 64)
	for i := range scales {
		scales[i] = 0.01
	}
	f := convT("w", tensor.Int8, []int{64, 1, 1, 64}, convPCQ(0, scales...), make([]int8, 64*64))
	out := convT("out", tensor.Int8, []int{1, 56, 56, 64}, convQ(0.1, 2), nil)
	k, err := Conv2D(&Config{}, p, in, f, nil, out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(56*56*64*64), "MACs/op")
	for b.Loop() {
		_ = k.Eval()
	}
}

func BenchmarkDepthwiseConv2DInt8(b *testing.B) {
	p := ConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	in := convT("in", tensor.Int8, []int{1, 56, 56, 64}, convQ(0.05, -3), make([]int8, 56*56*64))
	scales := make([]float32, 64)
	for i := range scales {
		scales[i] = 0.01
	}
	f := convT("w", tensor.Int8, []int{1, 3, 3, 64}, convPCQ(3, scales...), make([]int8, 9*64))
	out := convT("out", tensor.Int8, []int{1, 56, 56, 64}, convQ(0.1, 2), nil)
	k, err := DepthwiseConv2D(&Config{}, p, in, f, nil, out)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = k.Eval()
	}
}

func BenchmarkConv2DFloat3x3(b *testing.B) {
	p := ConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	in := convT("in", tensor.Float32, []int{1, 28, 28, 32}, nil, make([]float32, 28*28*32))
	f := convT("w", tensor.Float32, []int{32, 3, 3, 32}, nil, make([]float32, 32*9*32))
	out := convT("out", tensor.Float32, []int{1, 28, 28, 32}, nil, nil)
	k, err := Conv2D(&Config{}, p, in, f, nil, out)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = k.Eval()
	}
}

// BenchmarkConv2DFloat3x3InOrder is BenchmarkConv2DFloat3x3 summed in
// XNNPACK's order (ConvParams.InOrder), the price of float results
// identical to the official runtime's.
func BenchmarkConv2DFloat3x3InOrder(b *testing.B) {
	p := ConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, InOrder: true}
	in := convT("in", tensor.Float32, []int{1, 28, 28, 32}, nil, make([]float32, 28*28*32))
	f := convT("w", tensor.Float32, []int{32, 3, 3, 32}, nil, make([]float32, 32*9*32))
	out := convT("out", tensor.Float32, []int{1, 28, 28, 32}, nil, nil)
	k, err := Conv2D(&Config{}, p, in, f, nil, out)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = k.Eval()
	}
}

func BenchmarkConv2DPointwiseUInt8(b *testing.B) {
	p := ConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	in := convT("in", tensor.UInt8, []int{1, 56, 56, 24}, convQ(0.05, 128), make([]uint8, 56*56*24))
	f := convT("w", tensor.UInt8, []int{144, 1, 1, 24}, convQ(0.01, 120), make([]uint8, 144*24))
	out := convT("out", tensor.UInt8, []int{1, 56, 56, 144}, convQ(0.1, 2), nil)
	k, err := Conv2D(&Config{}, p, in, f, nil, out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(56*56*24*144), "MACs/op")
	for b.Loop() {
		_ = k.Eval()
	}
}

func BenchmarkFullyConnectedUInt8(b *testing.B) {
	in := convT("in", tensor.UInt8, []int{1, 1280}, convQ(0.05, 3), make([]uint8, 1280))
	f := convT("w", tensor.UInt8, []int{1001, 1280}, convQ(0.01, 120), make([]uint8, 1001*1280))
	out := convT("out", tensor.UInt8, []int{1, 1001}, convQ(0.1, 2), nil)
	k, err := FullyConnected(&Config{}, FullyConnectedParams{}, in, f, nil, out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(1280*1001), "MACs/op")
	for b.Loop() {
		_ = k.Eval()
	}
}

// BenchmarkConv2DFloatShapes times the float convolutions of the MediaPipe
// models (hand re-crop, face detection) and reports GMAC/s.
func BenchmarkConv2DFloatShapes(b *testing.B) {
	for _, c := range []struct {
		name                     string
		h, w, ci, fh, fw, co, st int
	}{
		{"first3x3s2_256x256x3to8", 256, 256, 3, 3, 3, 8, 2},
		{"first5x5s2_128x128x3to24", 128, 128, 3, 5, 5, 24, 2},
		{"2x2s2_128x128x8to8", 128, 128, 8, 2, 2, 8, 2},
		{"1x1_64x64x24to24", 64, 64, 24, 1, 1, 24, 1},
		{"1x1_32x32x36to42", 32, 32, 36, 1, 1, 42, 1},
		{"1x1_16x16x88to96", 16, 16, 88, 1, 1, 96, 1},
		{"1x1_8x8x96to96", 8, 8, 96, 1, 1, 96, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := ConvParams{Padding: PaddingSame, StrideH: c.st, StrideW: c.st, DilationH: 1, DilationW: 1, Activation: ActRelu}
			if c.fh == 2 {
				p.Padding = PaddingValid
			}
			in := convT("in", tensor.Float32, []int{1, c.h, c.w, c.ci}, nil, make([]float32, c.h*c.w*c.ci))
			f := convT("w", tensor.Float32, []int{c.co, c.fh, c.fw, c.ci}, nil, make([]float32, c.co*c.fh*c.fw*c.ci))
			bias := convT("b", tensor.Float32, []int{c.co}, nil, make([]float32, c.co))
			out := convT("out", tensor.Float32, []int{1, c.h, c.w, c.co}, nil, nil)
			k, err := Conv2D(&Config{}, p, in, f, bias, out)
			if err != nil {
				b.Fatal(err)
			}
			per := benchCPU(b, func() { _ = k.Eval() })
			macs := float64(out.NumElements()) * float64(c.fh*c.fw*c.ci)
			b.ReportMetric(macs/float64(per.Nanoseconds()), "GMAC/s(cpu)")
		})
	}
}

// BenchmarkConv2DInt16 is the int16×int8 convolution of an audio U-Net
// encoder (conv10: a 3×4 filter over [1,3,12,64], 64 outputs, stride 1×2)
// in CPU time (benchCPU).
func BenchmarkConv2DInt16(b *testing.B) {
	p := ConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 2, DilationH: 1, DilationW: 1}
	x := make([]int16, 3*12*64)
	for i := range x {
		x[i] = int16(i*7919%4001 - 2000)
	}
	w := make([]int8, 64*3*4*64)
	for i := range w {
		w[i] = int8(i*31%255 - 127)
	}
	scales := make([]float32, 64)
	for i := range scales {
		scales[i] = 0.002
	}
	in := convT("in", tensor.Int16, []int{1, 3, 12, 64}, convQ(0.0016, 0), x)
	f := convT("w", tensor.Int8, []int{64, 3, 4, 64}, convPCQ(0, scales...), w)
	out := convT("out", tensor.Int16, []int{1, 1, 5, 64}, convQ(0.0008, 0), nil)
	k, err := Conv2D(&Config{}, p, in, f, nil, out)
	if err != nil {
		b.Fatal(err)
	}
	macs := float64(5 * 64 * 3 * 4 * 64)
	per := benchCPU(b, func() { _ = k.Eval() })
	b.ReportMetric(macs/float64(per.Nanoseconds()), "GMAC/s(cpu)")
}
