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

//go:noescape
func hybridStoreAVX2(t *int32, y *float32, cst, wsum *int32, mul, bias *float32, n8 int, zp int32, r float32, two bool, lo, hi float32)

//go:noescape
func hybridDWAccAVX2(acc *int32, q *int16, w *int8, n int)

// hybridStoreAsm is hybridStore for the first n channels it handles (a
// multiple of 8), returning n.
func hybridStoreAsm(t []int32, y []float32, cst, wsum []int32, mul, bias []float32, two bool, zp int32, r, lo, hi float32) int {
	n := len(y) &^ 7
	if !features.avx2 || n == 0 {
		return 0
	}
	_, _, _, _, _ = t[n-1], cst[n-1], wsum[n-1], mul[n-1], bias[n-1]
	hybridStoreAVX2(&t[0], &y[0], &cst[0], &wsum[0], &mul[0], &bias[0], n/8, zp, r, two, lo, hi)
	return n
}

// hybridDWAccAsm adds w[i]·q[i] to acc[i] for the first n channels it
// handles (a multiple of 8) and returns n.
func hybridDWAccAsm(acc []int32, q []int16, w []int8) int {
	n := len(acc) &^ 7
	if !features.avx2 || n == 0 {
		return 0
	}
	_, _ = q[n-1], w[n-1]
	hybridDWAccAVX2(&acc[0], &q[0], &w[0], n)
	return n
}

//go:noescape
func hybridStoreRowsAVX2(t *[gemmVMR][gemmVNR]int32, rows int, y *float32, ldy int, cst, wsum *int32, mul, bias *float32, n8 int, zp *[gemmVMR]int32, r *[gemmVMR]float32, two bool, lo, hi float32)

// hybridStoreRowsAsm is hybridStore for rows rows of t (row i into
// y[i·ldy:]) over the first n channels it handles (a multiple of 8 up to
// nv), returning n.
func hybridStoreRowsAsm(t *[gemmVMR][gemmVNR]int32, rows int, y []float32, ldy, nv int, cst, wsum []int32, mul, bias []float32, zp *[gemmVMR]int32, r *[gemmVMR]float32, two bool, lo, hi float32) int {
	n := nv &^ 7
	if !features.avx2 || n == 0 {
		return 0
	}
	_, _, _, _, _ = y[(rows-1)*ldy+n-1], cst[n-1], wsum[n-1], mul[n-1], bias[n-1]
	hybridStoreRowsAVX2(t, rows, &y[0], ldy*4, &cst[0], &wsum[0], &mul[0], &bias[0], n/8, zp, r, two, lo, hi)
	return n
}

//go:noescape
func hybridQD8RowsAVX2(x *float32, q *int8, rows, n int, inv *float32, zp *int32) (done int)

// hybridQD8RowsAsm runs hybridQD8 on len(inv) rows of n values from the
// first, stopping at a row it cannot quantize, and returns the number of
// rows done.
func hybridQD8RowsAsm(x []float32, q []int8, n int, inv []float32, zp []int32) int {
	rows := len(inv)
	if !features.avx2 || n%8 != 0 || n == 0 || rows == 0 {
		return 0
	}
	_, _, _ = x[rows*n-1], q[rows*n-1], zp[rows-1]
	return hybridQD8RowsAVX2(&x[0], &q[0], rows, n, &inv[0], &zp[0])
}
