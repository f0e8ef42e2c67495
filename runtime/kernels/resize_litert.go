package kernels

import (
	"math"
)

// xnnBilinearAxis holds, per output coordinate, the two source
// coordinates and the weight of the second in 11-bit fixed point, as
// XNNPACK's indirection setup for 8-bit bilinear resizing computes them
// (xnn_indirection_init_resize_bilinear2d_hwc_q11): the source
// coordinate in float32, clamped to the image, and its fraction rounded
// to a multiple of 2^-11, ties to even.
type xnnBilinearAxis struct {
	lo, hi []int
	w      []int32 // 0..2048, the weight of hi
}

func newXNNBilinearAxis(in, out int, p ResizeParams) xnnBilinearAxis {
	adj := 0
	if p.AlignCorners && out != 1 {
		adj = 1
	}
	scale := float32(float32(in-adj) / float32(out-adj))
	maxIn := float32(in - 1)
	a := xnnBilinearAxis{lo: make([]int, out), hi: make([]int, out), w: make([]int32, out)}
	offset := float32(float32(0.5*scale) - 0.5)
	for i := 0; i < out; i++ {
		var v float32
		if p.AlignCorners || !p.HalfPixelCenters {
			// Align-corners and TensorFlow's legacy mode.
			v = min(float32(float32(i)*scale), maxIn)
		} else {
			v = float32(float32(float32(i)*scale) + offset)
			v = min(max(v, 0), maxIn)
		}
		lo := int(v)
		a.lo[i] = lo
		a.hi[i] = min(lo+1, in-1)
		a.w[i] = int32(math.RoundToEven(float64(float32(v-float32(lo)) * 0x1p11)))
	}
	return a
}

// bilinearXNN is XNNPACK's 8-bit bilinear interpolation (the s8/u8
// ibilinear micro-kernels) on raw values, with horizontal weight h and
// vertical weight v in 11-bit fixed point:
//
//	t = tl·2^11 + (tr−tl)·h,  b = bl·2^11 + (br−bl)·h
//	y = (t·2^11 + (b−t)·v + 2^21) >> 22
func bilinearXNN[T int8 | uint8](x, y []T, batch, inH, inW, depth int, ya, xa xnnBilinearAxis) {
	o := 0
	for b := 0; b < batch; b++ {
		base := b * inH * inW * depth
		for oy := range ya.lo {
			r0 := base + ya.lo[oy]*inW*depth
			r1 := base + ya.hi[oy]*inW*depth
			av := ya.w[oy]
			for ox := range xa.lo {
				c0, c1 := xa.lo[ox]*depth, xa.hi[ox]*depth
				ah := xa.w[ox]
				tl, tr := x[r0+c0:r0+c0+depth], x[r0+c1:r0+c1+depth]
				bl, br := x[r1+c0:r1+c0+depth], x[r1+c1:r1+c1+depth]
				out := y[o : o+depth]
				for c := range out {
					vtl, vbl := int32(tl[c]), int32(bl[c])
					t := vtl<<11 + (int32(tr[c])-vtl)*ah
					bt := vbl<<11 + (int32(br[c])-vbl)*ah
					out[c] = T((t<<11 + (bt-t)*av + 1<<21) >> 22)
				}
				o += depth
			}
		}
	}
}
