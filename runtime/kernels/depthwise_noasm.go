//go:build !amd64 && !arm64

package kernels

func dwCall(a *dwArgs, kind int) { panic("kernels: no SIMD depthwise kernel on this architecture") }

func dwPackQ(w9 [][9]int32, rq *gemmRequantParams, c int) ([]int32, int, bool) {
	return nil, 0, false
}

func dwPackF(w9 [][9]float32, bias []float32, lo, hi float32, c int) ([]float32, int) {
	return nil, 0
}
