package kernels

import "unsafe"

// General float depthwise convolution with the vector kernel (depth
// multiplier 1, any filter size, stride and dilation; the 3×3 kernel of
// depthwise_rows.go takes 3×3 filters over 8 channels or more). Per
// output row, the pixels whose every tap lies inside the input run in the
// kernel together, with the taps of the rows inside the input listed in
// the portable loop's order; a pixel at the left or right edge runs alone
// with its own taps (those inside the input, which the portable loop also
// keeps). Both add the products one by one from 0, then the bias, with
// separate multiplications and additions, so they agree bit for bit.

// dwFArgs is the argument block of dwFTapsAsm; the assembly reads it by
// offset (TestDWFArgsLayout).
type dwFArgs struct {
	taps   unsafe.Pointer // ntaps pairs: input at the run's first pixel, weights
	ntaps  int
	bias   unsafe.Pointer // cPad floats, zeros if the operator has no bias
	y      unsafe.Pointer // output of the run's first pixel
	npix   int
	xstep  int // input bytes between consecutive output pixels
	ystep  int // output bytes between pixels (c·4)
	c      int
	lo, hi float32
}

// dwTapsF is dwFast's state for the general float kernel.
type dwTapsF struct {
	w    []float32 // [tap][cPad], channels past c zero (cPad: 16s)
	bias []float32 // cPad
	cPad int
	taps [][][2]unsafe.Pointer // per part: fH·fW entries
}

// newDWTapsF packs the weights (taps·c, tap-major) and bias (or nil).
func newDWTapsF(w, bias []float32, taps, c, nparts int) *dwTapsF {
	t := &dwTapsF{cPad: (c + 15) &^ 15}
	t.w = make([]float32, taps*t.cPad)
	for i := 0; i < taps; i++ {
		copy(t.w[i*t.cPad:i*t.cPad+c], w[i*c:i*c+c])
	}
	t.bias = make([]float32, t.cPad)
	copy(t.bias, bias)
	t.taps = make([][][2]unsafe.Pointer, nparts)
	for i := range t.taps {
		t.taps[i] = make([][2]unsafe.Pointer, taps)
	}
	return t
}

// dwInterior is the range [ox0, ox1) of output columns whose taps all lie
// inside the input.
func dwInterior(g *convGeom) (ox0, ox1 int) {
	return convInterior(g.padW, g.strideW, g.inW, g.fW, g.dilW, g.outW)
}

// convInterior is the range [o0, o1) of output positions along one axis
// whose taps all lie inside the input.
func convInterior(pad, stride, in, f, dil, out int) (o0, o1 int) {
	o0 = (pad + stride - 1) / stride
	last := in - 1 - (f-1)*dil + pad // largest o·stride allowed
	if last < 0 {
		return 0, 0
	}
	o1 = min(last/stride+1, out)
	return min(o0, o1), o1
}

// rowTapsF runs output row (b, oy) of the float kernel for columns
// [ox0, ox1) with the filter columns [fx0, fx1) (all the taps of the row
// inside the input for interior columns; an edge pixel's own range);
// it reports false (nothing done) when no tap lies inside the input.
func (k *dwFast) rowTapsF(part int, x, y []float32, b, oy, ox0, ox1, fx0, fx1 int) bool {
	g, t := &k.g, k.ftaps
	iy0 := oy*g.strideH - g.padH
	fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
	if fy0 >= fy1 || fx0 >= fx1 || ox0 >= ox1 {
		return false
	}
	c := g.outC
	taps := t.taps[part][:0]
	for fy := fy0; fy < fy1; fy++ {
		row := (b*g.inH + iy0 + fy*g.dilH) * g.inW
		for fx := fx0; fx < fx1; fx++ {
			xi := (row + ox0*g.strideW - g.padW + fx*g.dilW) * c
			taps = append(taps, [2]unsafe.Pointer{unsafe.Pointer(&x[xi]), unsafe.Pointer(&t.w[(fy*g.fW+fx)*t.cPad])})
		}
	}
	a := dwFArgs{
		taps: unsafe.Pointer(&taps[0]), ntaps: len(taps), bias: unsafe.Pointer(&t.bias[0]),
		y: unsafe.Pointer(&y[((b*g.outH+oy)*g.outW+ox0)*c]), npix: ox1 - ox0,
		xstep: g.strideW * c * 4, ystep: c * 4, c: c, lo: k.flo, hi: k.fhi,
	}
	dwFTaps(&a)
	return true
}
