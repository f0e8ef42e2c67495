package kernels

import "unsafe"

// The SIMD float GEMM packs the weights a second time, in panels of
// gemmFPanel output channels ([k][16] floats, zero past the last channel),
// and runs micro-kernels of 4 or 1 rows by one panel with fused
// multiply-adds. Fusing rounds each product-sum once instead of twice, so
// results differ from the portable (reference-order) path in the last
// bits; they stay well within the float tolerance the golden tests allow
// against TFLite (1e-4 + 1e-4·|want|), and TestGemmFloatVariants checks
// that against the portable path. In the LiteRT arithmetic (gemmF.fromBias)
// the kernels with the suffix U sum as XNNPACK does instead, from the bias
// with separate multiplications and additions, and agree bit for bit with
// the portable path summing likewise.

const gemmFPanel = 16

// gemmFArgs is the argument block of the float micro-kernels; the
// assembly reads it by offset (TestGemmFArgsLayout).
type gemmFArgs struct {
	a      unsafe.Pointer // row 0 of A
	lda    int            // bytes between rows of A
	b      unsafe.Pointer // panel
	k      int            // depth, at least 1
	y      unsafe.Pointer // row 0, first channel of the panel
	ldy    int            // bytes between output rows
	bias   unsafe.Pointer // gemmFPanel floats
	lo, hi float32
}

// gemmFSIMD is gemmF's second packing.
type gemmFSIMD struct {
	b    []float32 // panel p, depth d, lane i at (p·k+d)·16+i
	bias []float32 // padded to whole panels, 0 if none
}

// newGemmFSIMD packs w ([n][k]) for the SIMD kernels, or returns nil if
// the CPU has none.
func newGemmFSIMD(w, bias []float32, n, k int) *gemmFSIMD {
	if !gemmFHaveSIMD() || k < 1 || n < 1 {
		return nil
	}
	np := (n + gemmFPanel - 1) / gemmFPanel
	s := &gemmFSIMD{b: make([]float32, np*k*gemmFPanel), bias: make([]float32, np*gemmFPanel)}
	for c := 0; c < n; c++ {
		p, i := c/gemmFPanel, c%gemmFPanel
		for d := 0; d < k; d++ {
			s.b[(p*k+d)*gemmFPanel+i] = w[c*k+d]
		}
	}
	copy(s.bias, bias)
	return s
}

// gemmFRunSIMD is gemmFRun on the SIMD kernels. Every channel goes
// through the same kernel whatever the range: panels that the range cuts
// are computed whole into a scratch tile and only the range is copied, so
// that outputs do not depend on how threads split the channels.
func gemmFRunSIMD(g *gemmF, a []float32, rows, j0, j1 int, y []float32, ldy int) {
	k, n := g.k, g.n
	c0, c1 := j0*gemmNR, min(j1*gemmNR, n)
	s := g.simd
	var tmp [8 * gemmFPanel]float32
	args := gemmFArgs{k: k, lda: k * 4, lo: g.lo, hi: g.hi}
	wide := gemmFHaveWide()
	u := g.fromBias
	// With every channel to compute, a narrower last panel runs first and
	// its 8-row groups store whole 16-float rows, each spilling into the
	// next row's first channels, which the next store or the other panels
	// rewrite (see gemmFRunInd); the last group uses the scratch tile.
	p0, p1 := c0/gemmFPanel, (c1+gemmFPanel-1)/gemmFPanel
	spill := c0 == 0 && c1 == n && ldy == n && n >= 8 && n%gemmFPanel != 0
	for i := p0; i < p1; i++ {
		p := i
		if spill {
			p = p0 + (i-p0+p1-p0-1)%(p1-p0)
		}
		c := p * gemmFPanel
		// The channels [w0, w1) of this panel are wanted.
		w0, w1 := max(c0, c)-c, min(c1, c+gemmFPanel)-c
		whole := w0 == 0 && w1 == gemmFPanel
		args.b = unsafe.Pointer(unsafe.SliceData(s.b[p*k*gemmFPanel : (p+1)*k*gemmFPanel]))
		args.bias = unsafe.Pointer(unsafe.SliceData(s.bias[c : c+gemmFPanel]))
		r := 0
		for ; wide && r+8 <= rows; r += 8 {
			args.a = unsafe.Pointer(unsafe.SliceData(a[r*k : (r+8)*k]))
			if whole || (spill && r+8 < rows) {
				args.y = unsafe.Pointer(unsafe.SliceData(y[r*ldy+c : (r+7)*ldy+c+gemmFPanel]))
				args.ldy = ldy * 4
				gemmF8(u, &args)
				continue
			}
			args.y, args.ldy = unsafe.Pointer(&tmp[0]), gemmFPanel*4
			gemmF8(u, &args)
			for i := 0; i < 8; i++ {
				copy(y[(r+i)*ldy+c+w0:(r+i)*ldy+c+w1], tmp[i*gemmFPanel+w0:])
			}
		}
		for ; r+4 <= rows; r += 4 {
			args.a = unsafe.Pointer(unsafe.SliceData(a[r*k : (r+4)*k]))
			if whole {
				args.y = unsafe.Pointer(unsafe.SliceData(y[r*ldy+c : (r+3)*ldy+c+gemmFPanel]))
				args.ldy = ldy * 4
				gemmF4(u, &args)
				continue
			}
			args.y, args.ldy = unsafe.Pointer(&tmp[0]), gemmFPanel*4
			gemmF4(u, &args)
			for i := 0; i < 4; i++ {
				copy(y[(r+i)*ldy+c+w0:(r+i)*ldy+c+w1], tmp[i*gemmFPanel+w0:])
			}
		}
		for ; r < rows; r++ {
			args.a = unsafe.Pointer(unsafe.SliceData(a[r*k : (r+1)*k]))
			if whole {
				args.y = unsafe.Pointer(unsafe.SliceData(y[r*ldy+c : r*ldy+c+gemmFPanel]))
				gemmF1(u, &args)
				continue
			}
			args.y = unsafe.Pointer(&tmp[0])
			gemmF1(u, &args)
			copy(y[r*ldy+c+w0:r*ldy+c+w1], tmp[w0:])
		}
	}
}

// gemmFRunPortable is gemmFRun's portable loop over blocks [j0, j1).
func gemmFRunPortable(g *gemmF, a []float32, rows, j0, j1 int, y []float32, ldy int) {
	k, n := g.k, g.n
	for j := j0; j < j1; j++ {
		bj := g.b[j*k : j*k+k]
		c := j * gemmNR
		nv := min(gemmNR, n-c)
		if g.fromBias {
			var init [gemmNR]float32
			if g.bias != nil {
				init = [gemmNR]float32(g.bias[c : c+gemmNR])
			}
			for r := 0; r < rows; r++ {
				acc := gemmFDot1From(a[r*k:r*k+k], bj, init)
				g.clamp(y[r*ldy+c:], nv, &acc)
			}
			continue
		}
		for r := 0; r < rows; r++ {
			acc := gemmFDot1(a[r*k:r*k+k], bj)
			g.store(y[r*ldy+c:], nv, c, &acc)
		}
	}
}

// gemmFIndArgs is the argument block of gemmF8x16ZInd; the assembly
// reads it by offset (TestGemmFIndArgsLayout).
type gemmFIndArgs struct {
	ptrs   unsafe.Pointer // per segment, the eight rows' pointers
	nseg   int
	seglen int // bytes per segment
	b      unsafe.Pointer
	y      unsafe.Pointer
	ldy    int
	bias   unsafe.Pointer
	lo, hi float32
}

// gemmFRunInd computes groups of eight rows of A given by addresses
// (each row nseg segments of seglen floats; ptrs holds, per group and
// segment, the eight rows' addresses) times every panel, as gemmFRunSIMD
// does for rows in memory, with the same FMA sequence per output. With a
// single panel narrower than 16 channels, the kernel stores whole
// 16-float rows: each spills into the start of the next row, which the
// next store (the same call's next row, or the next group) rewrites;
// only the last group goes through a scratch tile. A narrower last panel
// of several runs first and spills likewise into the next row's first
// channels, which the other panels then write.
func gemmFRunInd(g *gemmF, ptrs []uintptr, groups, nseg, seglen int, y []float32, ldy int) {
	k, n := g.k, g.n
	s := g.simd
	var tmp [8 * gemmFPanel]float32
	args := gemmFIndArgs{nseg: nseg, seglen: seglen * 4, lo: g.lo, hi: g.hi}
	np := (n + gemmFPanel - 1) / gemmFPanel
	spill := n >= 8 && n%gemmFPanel != 0
	u := g.fromBias
	for i := 0; i < np; i++ {
		p := (i + np - 1) % np // the last panel first
		c := p * gemmFPanel
		w1 := min(n, c+gemmFPanel) - c
		args.b = unsafe.Pointer(unsafe.SliceData(s.b[p*k*gemmFPanel : (p+1)*k*gemmFPanel]))
		args.bias = unsafe.Pointer(unsafe.SliceData(s.bias[c : c+gemmFPanel]))
		for gr := 0; gr < groups; gr++ {
			args.ptrs = unsafe.Pointer(&ptrs[gr*nseg*8])
			r := gr * 8
			if w1 == gemmFPanel || (spill && gr+1 < groups) {
				args.y = unsafe.Pointer(unsafe.SliceData(y[r*ldy+c : (r+8)*ldy]))
				args.ldy = ldy * 4
				gemmF8Ind(u, &args)
				continue
			}
			args.y, args.ldy = unsafe.Pointer(&tmp[0]), gemmFPanel*4
			gemmF8Ind(u, &args)
			for i := 0; i < 8; i++ {
				copy(y[(r+i)*ldy+c:(r+i)*ldy+c+w1], tmp[i*gemmFPanel:])
			}
		}
	}
}

// gemmF8, gemmF4, gemmF1 and gemmF8Ind call the kernel of the order in
// use (direct calls: the argument block stays on the stack).
func gemmF8(u bool, p *gemmFArgs) {
	if u {
		gemmF8x16ZU(p)
		return
	}
	gemmF8x16Z(p)
}

func gemmF4(u bool, p *gemmFArgs) {
	if u {
		gemmF4x16U(p)
		return
	}
	gemmF4x16(p)
}

func gemmF1(u bool, p *gemmFArgs) {
	if u {
		gemmF1x16U(p)
		return
	}
	gemmF1x16(p)
}

func gemmF8Ind(u bool, p *gemmFIndArgs) {
	if u {
		gemmF8x16ZIndU(p)
		return
	}
	gemmF8x16ZInd(p)
}
