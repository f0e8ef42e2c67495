package kernels

// AVX2 loops of the hybrid kernels' dynamic quantization (hybridq_amd64.s).

//go:noescape
func hybridMinMaxAVX2(x *float32, n int) (lo, hi float32, nan bool)

//go:noescape
func hybridQuantAVX2(x *float32, q *int8, n int, scale float32, zp int32)

//go:noescape
func hybridQuantAwayAVX2(x *float32, q *int8, n int, mul, add float32, lo int32)

// hybridMinMaxAsm returns the minimum and maximum of v[:n] for the
// largest n it handles (a multiple of 8), with ok false if it handles
// none or finds a NaN.
func hybridMinMaxAsm(v []float32) (lo, hi float32, n int, ok bool) {
	n = len(v) &^ 7
	if !features.avx2 || n == 0 {
		return 0, 0, 0, false
	}
	lo, hi, nan := hybridMinMaxAVX2(&v[0], n)
	return lo, hi, n, !nan
}

// hybridQuantAsm quantizes v[:n] into q as hybridQD8 does for the largest
// n it handles (a multiple of 16) and returns n.
func hybridQuantAsm(v []float32, q []int8, scale float32, zp int32) int {
	n := len(v) &^ 15
	if !features.avx2 || n == 0 {
		return 0
	}
	_ = q[n-1]
	hybridQuantAVX2(&v[0], &q[0], n, scale, zp)
	return n
}

// hybridQuantAwayAsm sets q[i] = clamp(round(add + v[i]·mul), lo, 127),
// rounding half away from zero, for the largest n it handles (a
// multiple of 16) and returns n.
func hybridQuantAwayAsm(v []float32, q []int8, mul, add float32, lo int32) int {
	n := len(v) &^ 15
	if !features.avx2 || n == 0 {
		return 0
	}
	_ = q[n-1]
	hybridQuantAwayAVX2(&v[0], &q[0], n, mul, add, lo)
	return n
}
