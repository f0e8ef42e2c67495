package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// BenchmarkSoftmaxInt8 times YOLOv8n's int8 SOFTMAX over the 16 bins of
// its box distributions: [1, 4, 8400, 16].
func BenchmarkSoftmaxInt8(b *testing.B) {
	shape := []int{1, 4, 8400, 16}
	n := tensor.NumElements(shape)
	x := make([]int8, n)
	for i := range x {
		x[i] = int8(i*37 + i/16)
	}
	in := convT("x", tensor.Int8, shape, &tensor.Quant{Scale: []float32{0.1}, ZeroPoint: []int32{-10}}, x)
	out := convT("y", tensor.Int8, shape, &tensor.Quant{Scale: []float32{1.0 / 256}, ZeroPoint: []int32{-128}}, nil)
	k, err := Softmax(&Config{Threads: 1}, SoftmaxParams{Beta: 1}, in, out)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := k.Eval(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
}
