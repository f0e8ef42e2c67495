package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The hybrid kernels on layers of the hybrid models (float activations,
// int8 weights), in the default arithmetic: a 3×3 convolution of
// yolov8n_int8 (80×80×64 → 64), a pointwise one (80×80×64 → 64), a
// depthwise 3×3 of the MobileNet v2 embedder (12×12×144, stride 2) and a
// fully connected layer of ToyCar (640 → 128).

func benchHybridConv(b *testing.B, h, c, oc, f, stride int, depthwise bool) {
	b.Helper()
	k, _, err := hybridBenchConv(h, c, oc, f, stride, depthwise)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := k.Eval(); err != nil {
			b.Fatal(err)
		}
	}
}

func hybridBenchConv(h, c, oc, f, stride int, depthwise bool) (Kernel, *tensor.Tensor, error) {
	x := make([]float32, h*h*c)
	for i := range x {
		x[i] = float32(i%97)/50 - 0.6
	}
	wShape := []int{oc, f, f, c}
	if depthwise {
		wShape = []int{1, f, f, c}
		oc = c
	}
	w := make([]int8, tensor.NumElements(wShape))
	for i := range w {
		w[i] = int8(i%251 - 125)
	}
	scales := make([]float32, oc)
	for i := range scales {
		scales[i] = 0.01 + float32(i%7)/1000
	}
	axis := 0
	if depthwise {
		axis = 3
	}
	in := convT("x", tensor.Float32, []int{1, h, h, c}, nil, x)
	filt := constT("w", tensor.Int8, wShape, convPCQ(axis, scales...), w)
	bias := constT("b", tensor.Float32, []int{oc}, nil, make([]float32, oc))
	o := (h + stride - 1) / stride
	out := convT("y", tensor.Float32, []int{1, o, o, oc}, nil, nil)
	p := ConvParams{Padding: PaddingSame, StrideH: stride, StrideW: stride, DilationH: 1, DilationW: 1, Activation: ActNone}
	cfg := &Config{Arithmetic: LiteRT}
	if depthwise {
		k, err := DepthwiseConv2D(cfg, p, in, filt, bias, out)
		return k, out, err
	}
	k, err := Conv2D(cfg, p, in, filt, bias, out)
	return k, out, err
}

func BenchmarkHybridConv3x3(b *testing.B)      { benchHybridConv(b, 80, 64, 64, 3, 1, false) }
func BenchmarkHybridConv1x1(b *testing.B)      { benchHybridConv(b, 80, 64, 64, 1, 1, false) }
func BenchmarkHybridDepthwise3x3(b *testing.B) { benchHybridConv(b, 12, 144, 144, 3, 2, true) }

func BenchmarkHybridFC(b *testing.B) {
	x := make([]float32, 640)
	for i := range x {
		x[i] = float32(i%37)/10 - 1
	}
	w := make([]int8, 128*640)
	for i := range w {
		w[i] = int8(i%251 - 125)
	}
	in := convT("x", tensor.Float32, []int{1, 640}, nil, x)
	f := constT("w", tensor.Int8, []int{128, 640}, convQ(0.01, 0), w)
	bias := constT("b", tensor.Float32, []int{128}, nil, make([]float32, 128))
	out := convT("y", tensor.Float32, []int{1, 128}, nil, nil)
	k, err := FullyConnected(&Config{Arithmetic: LiteRT}, FullyConnectedParams{Activation: ActRelu}, in, f, bias, out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := k.Eval(); err != nil {
			b.Fatal(err)
		}
	}
}
