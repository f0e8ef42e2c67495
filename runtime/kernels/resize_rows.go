package kernels

import "unsafe"

// XNNPACK's 8-bit bilinear interpolation (bilinearXNN) computed
// separably: the horizontal pass t = l·2^11 + (r−l)·h of an input row is
// the same for every output row that reads it (an upscale by 15 reads each
// input row for some 30 output rows), so it is kept, one row of outW·C
// int32 per input row in use; the vertical pass
// y = (t·2^11 + (b−t)·v + 2^21) >> 22 then runs over the output row as one
// contiguous loop (vector code where there is some). Integer arithmetic:
// the same values as bilinearXNN, bit for bit.
type xnnBilinearRows struct {
	ya, xa   xnnBilinearAxis
	inH, inW int
	depth    int
	rows     [2][]int32 // horizontal passes of two input rows
	tags     [2]int     // which input row (batch·inH + row) each holds, -1: none
}

func newXNNBilinearRows(inH, inW, depth int, ya, xa xnnBilinearAxis) *xnnBilinearRows {
	n := len(xa.lo) * depth
	r := &xnnBilinearRows{ya: ya, xa: xa, inH: inH, inW: inW, depth: depth}
	r.rows[0], r.rows[1] = make([]int32, n), make([]int32, n)
	return r
}

// horizontal returns the horizontal pass of input row r (batch·inH + row),
// computing it into a buffer not holding keep unless it is cached.
func horizontalXNN[T int8 | uint8](p *xnnBilinearRows, x []T, r, keep int) []int32 {
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
	o := 0
	for ox, lo := range p.xa.lo {
		l, rr := row[lo*d:lo*d+d], row[p.xa.hi[ox]*d:p.xa.hi[ox]*d+d]
		w := p.xa.w[ox]
		out := h[o : o+d]
		for c := range out {
			v := int32(l[c])
			out[c] = v<<11 + (int32(rr[c])-v)*w
		}
		o += d
	}
	return h
}

// runXNNRows is bilinearXNN over p's rows.
func runXNNRows[T int8 | uint8](p *xnnBilinearRows, x, y []T, batch int) {
	p.tags = [2]int{-1, -1}
	n := len(p.xa.lo) * p.depth
	yb := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(y))), len(y))
	o := 0
	for b := 0; b < batch; b++ {
		for oy, lo := range p.ya.lo {
			r0, r1 := b*p.inH+lo, b*p.inH+p.ya.hi[oy]
			t := horizontalXNN(p, x, r0, r1)
			bt := horizontalXNN(p, x, r1, r0)
			blendXNN(t, bt, p.ya.w[oy], yb[o:o+n])
			o += n
		}
	}
}

// blendXNN sets y[i] = (t[i]·2^11 + (b[i]−t[i])·v + 2^21) >> 22, the low
// byte of the (in range) result.
func blendXNN(t, b []int32, v int32, y []byte) {
	n := len(y)
	i := 0
	if blendXNNHaveSIMD() && n >= 8 {
		i = n &^ 7
		blendXNNAsm(&t[0], &b[0], v, &y[0], i)
	}
	t, b = t[:n], b[:n]
	for ; i < n; i++ {
		y[i] = byte((t[i]<<11 + (b[i]-t[i])*v + 1<<21) >> 22)
	}
}
