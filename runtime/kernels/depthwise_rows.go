package kernels

import (
	"math"
	"unsafe"
)

// The SIMD 3×3 depthwise kernels (depth multiplier 1; dwFast repeats the
// input channels for larger ones) are driven from Go one output row at a
// time: the pixels whose window lies inside the input
// columns go to the kernel in one call, each tap pointer advancing by the
// stride; border pixels go one by one, their outside taps pointing at the
// padding pixel (step 0). The kernel covers the channels in blocks of
// whole vectors; when the channel count is not a multiple of the block,
// the last block starts at c-block and overlaps its predecessor, writing
// the same values twice, so that no kernel reads or writes outside a
// pixel.

// dwArgs is the argument block of the assembly kernels. The assembly
// reads it by offset: keep the layout in step with depthwise_*.s
// (TestDWArgsLayout checks it).
type dwArgs struct {
	taps   [9]unsafe.Pointer // first pixel's taps, in filter (y, x) order
	steps  [9]int            // bytes added to each tap per pixel
	y      unsafe.Pointer    // first output pixel
	ystep  int               // bytes per output pixel
	n      int               // pixels, at least 1
	blocks unsafe.Pointer    // packed channel blocks (see dwPackQ, dwPackF)
	nb     int               // number of blocks, at least 1
}

// Kernel kinds for dwCall.
const (
	dwInt8 = iota
	dwUInt8
	dwFloat32
	// Narrow quantized blocks (dwPackQ's narrow result).
	dwInt8Narrow
	dwUInt8Narrow

	// dwLiteRT added to a quantized kind selects the kernel with the
	// LiteRT arithmetic's fp32 requantization (blocks packed from
	// parameters with scale set).
	dwLiteRT = 8
)

// dwClampBits returns the clamp bounds the kernels compare with: rq's lo
// and hi, or in the LiteRT arithmetic the float32 bits of litertClamp's.
func dwClampBits(rq *gemmRequantParams) (lo, hi int32) {
	if rq.scale == nil {
		return rq.lo, rq.hi
	}
	lc := newLiteRTClamp(rq.outOff, rq.lo, rq.hi)
	return int32(math.Float32bits(lc.lo)), int32(math.Float32bits(lc.hi))
}

// dwRows3x3 computes output rows [r0, r1) (batch × height) with the
// assembly kernel of the given kind. x, y and pad are the input, output
// and padding pixel as bytes; esize is the element size.
func dwRows3x3(g *convGeom, kind int, x, y, pad []byte, esize int, blocks unsafe.Pointer, nb, r0, r1 int) {
	pix := g.inC * esize
	var a dwArgs
	a.blocks, a.nb, a.ystep = blocks, nb, pix
	// Interior columns [oxA, oxB): ix0 >= 0 and ix0+2·dilW < inW.
	oxA := min((g.padW+g.strideW-1)/g.strideW, g.outW)
	oxB := 0
	if num := g.inW - 1 + g.padW - 2*g.dilW; num >= 0 {
		oxB = min(num/g.strideW+1, g.outW)
	}
	oxB = max(oxB, oxA)
	for row := r0; row < r1; row++ {
		b, oy := row/g.outH, row%g.outH
		iy0 := oy*g.strideH - g.padH
		for ox := 0; ox < oxA; ox++ {
			dwRun(g, &a, kind, x, y, pad, pix, b, iy0, row, ox, 1)
		}
		if oxB > oxA {
			dwRun(g, &a, kind, x, y, pad, pix, b, iy0, row, oxA, oxB-oxA)
		}
		for ox := oxB; ox < g.outW; ox++ {
			dwRun(g, &a, kind, x, y, pad, pix, b, iy0, row, ox, 1)
		}
	}
}

// dwRun sets up and runs n pixels of one row starting at column ox. The
// slicing checks that every tap of every pixel lies inside x.
func dwRun(g *convGeom, a *dwArgs, kind int, x, y, pad []byte, pix, b, iy0, row, ox, n int) {
	ix0 := ox*g.strideW - g.padW
	step := g.strideW * pix
	for fy := 0; fy < 3; fy++ {
		iy := iy0 + fy*g.dilH
		rowIn := iy >= 0 && iy < g.inH
		for fx := 0; fx < 3; fx++ {
			ix := ix0 + fx*g.dilW
			t := fy*3 + fx
			if rowIn && ix >= 0 && ix < g.inW {
				off := ((b*g.inH+iy)*g.inW + ix) * pix
				xs := x[off : off+(n-1)*step+pix]
				a.taps[t], a.steps[t] = unsafe.Pointer(unsafe.SliceData(xs)), step
			} else {
				a.taps[t], a.steps[t] = unsafe.Pointer(unsafe.SliceData(pad[:pix])), 0
			}
		}
	}
	o := (row*g.outW + ox) * pix
	ys := y[o : o+n*pix]
	a.y, a.n = unsafe.Pointer(unsafe.SliceData(ys)), n
	dwCall(a, kind)
}

// dwBlockStarts returns the first channel of each of the blocks of width
// bw covering c >= bw channels, the last one overlapping if needed.
func dwBlockStarts(c, bw int) []int {
	var s []int
	for o := 0; o+bw <= c; o += bw {
		s = append(s, o)
	}
	if c%bw != 0 {
		s = append(s, c-bw)
	}
	return s
}
