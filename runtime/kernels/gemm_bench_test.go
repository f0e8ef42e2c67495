package kernels

import (
	"fmt"
	"testing"
)

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

// BenchmarkGemmVKernel times each variant's 4×32 micro-kernel alone on
// L1-resident data (K=256) and reports GMAC/s.
func BenchmarkGemmVKernel(b *testing.B) {
	const k = 256
	start := Variant()
	defer SetVariant(start)
	for _, v := range Variants() {
		if v == VariantPortable {
			continue
		}
		b.Run(v, func(b *testing.B) {
			if _, err := SetVariant(v); err != nil {
				b.Fatal(err)
			}
			g := newGemmQ(make([]int8, gemmVNR*k), nil, gemmVNR, k, 0, 0, make([]int32, gemmVNR), make([]int, gemmVNR), 0, -128, 127)
			a := make([]int8, gemmVMR*k)
			var ptrs [gemmVMR]*int8
			var tails [gemmVMR]uint32
			var t [gemmVMR][gemmVNR]int32
			for i := range ptrs {
				ptrs[i] = &a[i*k]
			}
			for b.Loop() {
				g.v.kern.run(true, &ptrs, &tails, k/4, 0, &g.v.b[0], &t, g.v.xor)
			}
			macs := float64(gemmVMR * gemmVNR * k)
			b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

// BenchmarkGemmQRun times whole GEMMs with requantization, single
// threaded, on shapes of MobileNetV2's 1×1 convolutions (one 64-row
// tile) and its classifier, for every variant.
func BenchmarkGemmQRun(b *testing.B) {
	shapes := []struct{ m, n, k int }{
		{64, 96, 16}, {64, 24, 144}, {64, 144, 24}, {64, 192, 32}, {64, 576, 96}, {64, 160, 960}, {1, 1001, 1280},
	}
	start := Variant()
	defer SetVariant(start)
	for _, v := range Variants() {
		if _, err := SetVariant(v); err != nil {
			b.Fatal(err)
		}
		for _, s := range shapes {
			w := make([]uint8, s.n*s.k)
			mult, shift := make([]int32, s.n), make([]int, s.n)
			for i := range w {
				w[i] = uint8(i * 7)
			}
			for i := range mult {
				mult[i], shift[i] = QuantizeMultiplier(0.0007)
			}
			g := newGemmQ(w, nil, s.n, s.k, -3, -120, mult, shift, 5, 0, 255)
			a := make([]int8, s.m*s.k)
			asum := make([]int32, s.m)
			y := make([]uint8, s.m*s.n)
			b.Run(fmt.Sprintf("%s/%dx%dx%d", v, s.m, s.n, s.k), func(b *testing.B) {
				for b.Loop() {
					gemmQRowSums(g, a, asum)
					gemmQRun(g, a, s.m, asum, 0, g.nb, y, s.n)
				}
				macs := float64(s.m * s.n * s.k)
				b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	}
}
