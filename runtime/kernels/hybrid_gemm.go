package kernels

import "unsafe"

// The hybrid GEMM: XNNPACK's qd8-f32-qc8w scheme on the int8 SIMD
// micro-kernels. The input is quantized once per image (or per row, as
// each arithmetic says; see hybrid.go), an im2col copy of the quantized
// image gives A's rows (1×1 stride-1 convolutions and FULLY_CONNECTED
// read it in place; taps outside the image hold the zero point, which
// adds exactly nothing to Σ(q − zero point)·w), the weights are packed
// once (newGemmV), the micro-kernels give the raw int32 sums Σq·w of 4
// rows × 32 channels, and a float epilogue turns them into outputs:
//
//	acc = Σq·w + kernel correction − zero point·Σw   (wrapping int32, exact)
//	y   = clamp(scaled(acc) + bias)
//
// where scaled is (acc·row scale)·channel scale (XNNPACK, and TFLite's
// per-channel depthwise) or acc·multiplier with the multiplier computed
// per image and channel as the direct loops do (TFLite's CONV_2D and
// FULLY_CONNECTED). The int32 sum is the direct loops' sum modulo 2³²
// whatever its order; the float steps are theirs, one rounding each, so
// the outputs are bit-identical to the portable path.

// hybridGemm is the packed weights and the per-channel constants of one
// hybrid operator on the SIMD path.
type hybridGemm struct {
	v    *gemmV
	n, k int
	// cst is the kernel's correction per channel (−128·Σw if it reads A
	// as unsigned bytes), wsum each channel's Σw.
	cst, wsum []int32
	// bias per channel; a missing bias is −0 (x + −0 = x for every x,
	// −0 included) where the direct loop adds nothing, +0 where it adds
	// zero.
	bias   []float32
	lo, hi float32
}

// newHybridGemm packs w ([n][k]) for the SIMD variant in use; nil if
// there is none. zeroBias is the bias to use without one (see bias).
func newHybridGemm(w []int8, n, k int, bias []float32, zeroBias float32, lo, hi float32) *hybridGemm {
	v, corr := newGemmV(w[:n*k], n, k, false)
	if v == nil {
		return nil
	}
	h := &hybridGemm{v: v, n: n, k: k, cst: corr, wsum: make([]int32, n), bias: make([]float32, n), lo: lo, hi: hi}
	for c := range n {
		var s int32
		for _, x := range w[c*k : c*k+k] {
			s += int32(x)
		}
		h.wsum[c] = s
		if bias != nil {
			h.bias[c] = bias[c]
		} else {
			h.bias[c] = zeroBias
		}
	}
	return h
}

// run computes rows [0, rows) of A (row i at a[i·k:]) into y (row i at
// y[i·n:]): row i's sums, less zp[i]·Σw, become (acc·r[i])·mul[c] if two,
// else acc·mul[c], plus the bias. zp and r hold one value per row, or
// one for all rows.
func (h *hybridGemm) run(a []int8, rows int, y []float32, mul []float32, two bool, zp []int32, r []float32) {
	v, k, n := h.v, h.k, h.n
	if rows == 0 {
		return
	}
	_, _ = a[rows*k-1], y[rows*n-1]
	var ptrs [gemmVMR]*int8
	var tails [gemmVMR]uint32
	var t [gemmVMR][gemmVNR]int32
	var zps [gemmVMR]int32
	var rs [gemmVMR]float32
	uniform := len(zp) == 1
	if uniform {
		zps = [gemmVMR]int32{zp[0], zp[0], zp[0], zp[0]}
		rs = [gemmVMR]float32{r[0], r[0], r[0], r[0]}
	}
	for c := 0; c < n; c += gemmVNR {
		b := &v.b[c/gemmVNR*v.stride]
		nv := min(gemmVNR, n-c)
		cst, wsum, m, bias := h.cst[c:c+nv], h.wsum[c:c+nv], mul[c:c+nv], h.bias[c:c+nv]
		for r0 := 0; r0 < rows; {
			four := r0+gemmVMR <= rows
			nr := 1
			if four {
				nr = gemmVMR
			}
			for i := range nr {
				// In bounds: checked above.
				ptrs[i] = (*int8)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(a)), (r0+i)*k))
				if v.tail != 0 {
					tails[i] = gemmVTail(a[(r0+i)*k+4*v.k4 : (r0+i)*k+k])
				}
				if !uniform {
					zps[i], rs[i] = zp[r0+i], r[r0+i]
				}
			}
			v.kern.run(four, &ptrs, &tails, v.k4, v.tail, b, &t, v.xor)
			yt := y[r0*n+c:]
			done := hybridStoreRowsAsm(&t, nr, yt, n, nv, cst, wsum, m, bias, &zps, &rs, two, h.lo, h.hi)
			if done < nv {
				for i := range nr {
					hybridStore(t[i][done:nv], yt[i*n+done:i*n+nv], cst[done:], wsum[done:], m[done:], bias[done:], two, zps[i], rs[i], h.lo, h.hi)
				}
			}
			r0 += nr
		}
	}
}

// hybridStore is the float epilogue of one row's sums t[:len(y)] (see
// run).
func hybridStore(t []int32, y []float32, cst, wsum []int32, mul, bias []float32, two bool, zp int32, r, lo, hi float32) {
	ts := t[:len(y)]
	cst, wsum, mul, bias = cst[:len(y)], wsum[:len(y)], mul[:len(y)], bias[:len(y)]
	if n := hybridStoreAsm(ts, y, cst, wsum, mul, bias, two, zp, r, lo, hi); n > 0 {
		ts, y, cst, wsum, mul, bias = ts[n:], y[n:], cst[n:], wsum[n:], mul[n:], bias[n:]
	}
	if two {
		for i := range y {
			acc := ts[i] + cst[i] - zp*wsum[i]
			v := float32(float32(float32(acc)*r) * mul[i])
			y[i] = ClampF(float32(v+bias[i]), lo, hi)
		}
		return
	}
	for i := range y {
		acc := ts[i] + cst[i] - zp*wsum[i]
		v := float32(float32(acc) * mul[i])
		y[i] = ClampF(float32(v+bias[i]), lo, hi)
	}
}
