package kernels

// XNNPACK's float bilinear resizing (the f32 ibilinear micro-kernels, which
// the official runtime's delegate uses for float RESIZE_BILINEAR): with the
// source coordinates and float weights of its indirection setup
// (newXNNBilinearAxis before rounding to 11 bits), each output is
//
//	t = tl + (tr−tl)·h,  b = bl + (br−bl)·h,  y = t + (b−t)·v
//
// every product and sum rounded to float32 (no fused multiply-add, as in
// its WebAssembly SIMD kernel). The horizontal pass of an input row is the
// same for every output row that reads it, so it is computed once per input
// row (two rows kept); the vertical pass runs over the output row as one
// contiguous loop. Both passes are lerpF32: the same values as XNNPACK's
// per-pixel kernel, bit for bit.
type bilinearF32Rows struct {
	ylo, yhi []int
	yw       []float32
	xlo, xhi []int
	xw       []float32
	inH, inW int
	depth    int
	rows     [2][]float32 // horizontal passes of two input rows
	tags     [2]int       // which input row (batch·inH + row) each holds, -1: none
}

func newBilinearF32Rows(inH, inW, outH, outW, depth int, p ResizeParams) *bilinearF32Rows {
	r := &bilinearF32Rows{inH: inH, inW: inW, depth: depth}
	r.ylo, r.yhi, r.yw = xnnBilinearFloatAxis(inH, outH, p)
	r.xlo, r.xhi, r.xw = xnnBilinearFloatAxis(inW, outW, p)
	r.rows[0], r.rows[1] = make([]float32, outW*depth), make([]float32, outW*depth)
	return r
}

// xnnBilinearFloatAxis is xnn_indirection_init_resize_bilinear2d_hwc_f32
// along one axis: per output coordinate the two source coordinates and the
// weight of the second.
func xnnBilinearFloatAxis(in, out int, p ResizeParams) (lo, hi []int, w []float32) {
	adj := 0
	if p.AlignCorners && out != 1 {
		adj = 1
	}
	scale := float32(float32(in-adj) / float32(out-adj))
	maxIn := float32(in - 1)
	offset := float32(float32(0.5*scale) - 0.5)
	lo, hi, w = make([]int, out), make([]int, out), make([]float32, out)
	for i := 0; i < out; i++ {
		var v float32
		if p.AlignCorners || !p.HalfPixelCenters {
			v = min(float32(float32(i)*scale), maxIn)
		} else {
			v = float32(float32(float32(i)*scale) + offset)
			v = min(max(v, 0), maxIn)
		}
		l := int(v)
		lo[i], hi[i], w[i] = l, min(l+1, in-1), float32(v-float32(l))
	}
	return lo, hi, w
}

// horizontal returns the horizontal pass of input row r (batch·inH + row),
// computing it into the buffer not holding row keep unless it is cached.
func (p *bilinearF32Rows) horizontal(x []float32, r, keep int) []float32 {
	for i := range p.tags {
		if p.tags[i] == r {
			return p.rows[i]
		}
	}
	i := 0
	if p.tags[0] == keep {
		i = 1
	}
	p.tags[i] = r
	h := p.rows[i]
	d := p.depth
	row := x[r*p.inW*d : (r+1)*p.inW*d]
	if d == 1 {
		for ox, lo := range p.xlo {
			l := row[lo]
			h[ox] = float32(l + float32(float32(row[p.xhi[ox]]-l)*p.xw[ox]))
		}
		return h
	}
	for ox, lo := range p.xlo {
		hi := p.xhi[ox]
		lerpF32(row[lo*d:lo*d+d], row[hi*d:hi*d+d], p.xw[ox], h[ox*d:ox*d+d])
	}
	return h
}

// run resizes x into y.
func (p *bilinearF32Rows) run(x, y []float32, batch int) {
	p.tags = [2]int{-1, -1}
	n := len(p.xlo) * p.depth
	o := 0
	for b := 0; b < batch; b++ {
		for oy, lo := range p.ylo {
			r0, r1 := b*p.inH+lo, b*p.inH+p.yhi[oy]
			t := p.horizontal(x, r0, r1)
			bt := p.horizontal(x, r1, r0)
			lerpF32(t, bt, p.yw[oy], y[o:o+n])
			o += n
		}
	}
}

// lerpF32 sets y[i] = a[i] + (b[i]−a[i])·w, the difference, product and
// sum each rounded to float32.
func lerpF32(a, b []float32, w float32, y []float32) {
	n := len(y)
	i := 0
	if lerpF32HaveSIMD() && n >= 8 {
		i = n &^ 7
		lerpF32Asm(&a[0], &b[0], w, &y[0], i)
	}
	a, b = a[:n], b[:n]
	for ; i < n; i++ {
		y[i] = float32(a[i] + float32(float32(b[i]-a[i])*w))
	}
}
