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
