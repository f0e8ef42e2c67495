package kernels

import "testing"

// Micro-benchmarks of the GEMM inner kernels on L1-resident data (K=256).

var gemmSink int64

func BenchmarkGemmQDot2x2(b *testing.B) {
	const k = 256
	a := make([]int8, 2*k)
	w := make([][2]int64, 2*k)
	b.ReportMetric(2*12*k, "MACs/op")
	var t [2][2 * gemmQNR]int32
	for b.Loop() {
		gemmQDot2x2(a[:k], a[k:2*k], w[:k], w[k:], false, &t)
	}
	gemmSink += int64(t[0][0])
}

func BenchmarkGemmFDot1(b *testing.B) {
	const k = 256
	a := make([]float32, k)
	w := make([][gemmNR]float32, k)
	b.ReportMetric(4*k, "MACs/op")
	for b.Loop() {
		c := gemmFDot1(a, w)
		gemmSink += int64(c[0])
	}
}

func BenchmarkGemmQStore(b *testing.B) {
	n := 144
	mult := make([]int32, n)
	shift := make([]int, n)
	for i := range mult {
		mult[i], shift[i] = QuantizeMultiplier(0.0123)
	}
	g := newGemmQ(make([]uint8, n*16), nil, n, 16, -3, -120, mult, shift, 5, 0, 255)
	y := make([]uint8, n)
	var t [2 * gemmQNR]int32
	for i := range t {
		t[i] = int32(i * 12345)
	}
	b.ReportMetric(float64(n), "outputs/op")
	for b.Loop() {
		for c := 0; c < n; c += 2 * gemmQNR {
			gemmQStore(g, y, c, 77, &t, true)
		}
	}
}
