package kernels

import "unsafe"

// Float MAX_POOL_2D with the vector kernel: per output row, the pixels
// whose window lies inside the input horizontally run in poolMaxFAsm over
// the window's rows inside the input, in the portable loop's order; the
// edge pixels run the portable loop.

// poolTapsF is the scratch of the vector kernel.
type poolTapsF struct {
	taps [][2]unsafe.Pointer // filter height × width
}

// maxPoolFloatRows is maxPoolFloat with the vector kernel on the interior.
func maxPoolFloatRows(g *poolGeom, t *poolTapsF, x, y []float32, lo, hi float32, maxInto maxF32sFunc, clamp clampF32sFunc) {
	p := &g.p
	cg := convGeom{inW: g.inW, outW: g.outW, fW: p.FilterW, strideW: p.StrideW, dilW: 1, padW: g.padW}
	ox0, ox1 := dwInterior(&cg)
	d := g.depth
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			iy := oy*p.StrideH - g.padH
			y0, y1 := max(iy, 0), min(iy+p.FilterH, g.inH)
			done0, done1 := 0, 0
			if y0 < y1 && ox0 < ox1 {
				taps := t.taps[:0]
				for r := y0; r < y1; r++ {
					for fx := 0; fx < p.FilterW; fx++ {
						xi := ((b*g.inH+r)*g.inW + ox0*p.StrideW - g.padW + fx) * d
						taps = append(taps, [2]unsafe.Pointer{unsafe.Pointer(&x[xi]), nil})
					}
				}
				a := dwFArgs{
					taps: unsafe.Pointer(&taps[0]), ntaps: len(taps),
					y: unsafe.Pointer(&y[((b*g.outH+oy)*g.outW+ox0)*d]), npix: ox1 - ox0,
					xstep: p.StrideW * d * 4, ystep: d * 4, c: d, lo: lo, hi: hi,
				}
				poolMaxFAsm(&a)
				done0, done1 = ox0, ox1
			}
			for ox := 0; ox < g.outW; ox++ {
				if ox == done0 && done1 > done0 {
					ox = done1 - 1
					continue
				}
				maxPoolFloatPixel(g, x, y, b, oy, ox, maxInto)
				o := ((b*g.outH+oy)*g.outW + ox) * d
				clamp(y[o:o+d], y[o:o+d], lo, hi)
			}
		}
	}
}
