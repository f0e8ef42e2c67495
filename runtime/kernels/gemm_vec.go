package kernels

import "unsafe"

// SIMD GEMM driver, shared by the amd64 and arm64 assembly micro-kernels.
//
// Weights are packed for kernels that multiply four depth values of one
// channel at a time (VPDPBUSD, SDOT, or VPMADDWD / SMULL+SADALP on the
// widened bytes): in pairs of 16-channel blocks, then groups of 4 depth
// values, then 32 channels of 4 bytes each:
//
//	b[((p·K4 + g)·32 + c)·4 + d] = w[32p+c][4g+d]
//
// with K4 = ⌈K/4⌉ and zeros for missing channels and depth (as int16,
// little-endian, for kernels that want them widened). A kernel
// computes the raw int32 dot products of 4 (or 1) rows of A with one pair
// of blocks (32 channels) in wrapping int32 arithmetic; the last depth
// group, when K is not a multiple of 4, comes from tail words assembled
// by the driver so that no kernel reads past a row. An assembly epilogue
// (the kernels' requant method) then requantizes the 4×32 sums exactly as
// gemmChan.requant does, 8 or 16 lanes at a time; gemmVStore is the Go
// fallback for kernels without one. Each thread's scratch is on its
// stack: Eval allocates nothing.
//
// Kernels that read A as unsigned bytes (VPDPBUSD) see x+128 instead of
// the int8 value x; their sums exceed the signed ones by 128·Σw, which
// the driver subtracts through the channel constants.

// gemmVMR and gemmVNR are the micro-tile: rows of A by channels.
const (
	gemmVMR = 4
	gemmVNR = 32
	gemmVNB = 16 // channels per block, gemmQ.nb's unit on this path
)

// gemmVKernels is one variant's pair of micro-kernels, called through
// its run method (gemm_$GOARCH.go): t[r][c] = Σ_d x[r][d]·b[c][d] for
// rows r < 4 (or r = 0 if not four) over k4 groups from the row
// pointers, then one more group from tails if tail is 1. Each byte of A
// is XORed with xor (a repeated byte) before use. A switch in run rather
// than func values: calls through those would make the arguments escape.
type gemmVKernels struct {
	name     string
	id       int
	unsigned bool // A is read as unsigned bytes (see above)
	// vecRequant: the requant method is implemented (else gemmVStore, in
	// Go), and so is gemmVRowSumsAsm.
	vecRequant bool
	// f32Requant: the requantF32 method (LiteRT arithmetic) is
	// implemented, else the Go store does it.
	f32Requant bool
	wide       bool // weights packed as int16, not bytes
}

// gemmV is gemmQ's weights packed for a SIMD variant.
type gemmV struct {
	kern   *gemmVKernels
	b      []byte
	k4     int // whole depth groups in A's rows
	tail   int // 1 if K is not a multiple of 4
	stride int // bytes per pair of blocks
	xor    uint32
	// The requantization parameters for the requant method: seven arrays
	// of npad channels (the constant, multiplier, left shift, right shift,
	// 2^right-1, its half, -right; see gemm_amd64.s and gemm_arm64.s), nil
	// if it is not used.
	epi  []int32
	npad int
	// f32: epi holds the LiteRT layout (gemmV.setLiteRT) for requantF32,
	// with the clamp bounds relative to the zero point.
	f32          bool
	f32lo, f32hi float32
}

// newGemmV packs ws ([n][k], int8 or shifted uint8) for the variant in
// use and returns each channel's correction to add to its constant, or
// nil if no SIMD variant applies.
func newGemmV(ws []int8, n, k int, flip bool) (*gemmV, []int32) {
	kern := gemmVPick()
	if kern == nil {
		return nil, nil
	}
	g4 := (k + 3) / 4
	pairs := (n + gemmVNR - 1) / gemmVNR
	size := 1
	if kern.wide {
		size = 2
	}
	v := &gemmV{kern: kern, k4: k / 4, stride: g4 * gemmVNR * 4 * size}
	if k%4 != 0 {
		v.tail = 1
	}
	v.b = make([]byte, pairs*v.stride)
	for c := 0; c < n; c++ {
		p, cc := c/gemmVNR, c%gemmVNR
		row := ws[c*k : c*k+k]
		for d, w := range row {
			i := p*v.stride + (((d/4)*gemmVNR+cc)*4+d%4)*size
			v.b[i] = byte(w)
			if size == 2 {
				v.b[i+1] = byte(w >> 7) // sign extension, little-endian
			}
		}
	}
	// The kernel should see the signed value x, or x+128 if it reads
	// unsigned bytes: uint8 data viewed as int8 is x^0x80 already.
	if flip != kern.unsigned {
		v.xor = 0x80808080
	}
	corr := make([]int32, n)
	if kern.unsigned {
		for c := range corr {
			var s int32
			for _, w := range ws[c*k : c*k+k] {
				s += int32(w)
			}
			corr[c] = -128 * s
		}
	}
	return v, corr
}

// setRequant lays out rq's channels for the requant method.
func (v *gemmV) setRequant(rq *gemmRequantParams, n int) {
	if !v.kern.vecRequant {
		return
	}
	v.npad = (n + gemmVNR - 1) / gemmVNR * gemmVNR
	v.epi = make([]int32, 7*v.npad)
	for c := 0; c < n; c++ {
		ch := &rq.ch[c]
		mask := int32(1)<<ch.right - 1
		for i, x := range [7]int32{ch.cst, ch.mult, int32(ch.left), int32(ch.right), mask, mask >> 1, -int32(ch.right)} {
			v.epi[i*v.npad+c] = x
		}
	}
}

// gemmVTail is the little-endian word of a row's last len(x) < 4 bytes.
func gemmVTail(x []int8) uint32 {
	var w uint32
	for i, v := range x {
		w |= uint32(uint8(v)) << (8 * i)
	}
	return w
}

// gemmVRun is gemmQRun for the SIMD kernels; j0 and j1 count 16-channel
// blocks and j0 is even.
func gemmVRun[T int8 | uint8](g *gemmQ, a []int8, rows int, asum []int32, j0, j1 int, y []T, ldy int) {
	v := g.v
	k := g.k
	k4 := v.k4
	cEnd := min(j1*gemmVNB, g.n)
	var ptrs [gemmVMR]*int8
	var tails [gemmVMR]uint32
	var t [gemmVMR][gemmVNR]int32
	var scratch [gemmVMR][gemmVNR]byte
	for j := j0; j < j1; j += 2 {
		b := &v.b[j/2*v.stride]
		c := j * gemmVNB
		nv := min(gemmVNR, cEnd-c)
		r := 0
		for ; r+gemmVMR <= rows; r += gemmVMR {
			for i := range gemmVMR {
				row := a[(r+i)*k : (r+i)*k+k]
				ptrs[i] = &row[0]
				if v.tail != 0 {
					tails[i] = gemmVTail(row[4*k4:])
				}
			}
			v.kern.run(true, &ptrs, &tails, k4, v.tail, b, &t, v.xor)
			gemmVOut(g, &t, gemmVMR, asum[min(r, len(asum)):], y[r*ldy:], ldy, c, nv, &scratch)
		}
		for ; r < rows; r++ {
			row := a[r*k : r*k+k]
			ptrs[0] = &row[0]
			if v.tail != 0 {
				tails[0] = gemmVTail(row[4*k4:])
			}
			v.kern.run(false, &ptrs, &tails, k4, v.tail, b, &t, v.xor)
			gemmVOut(g, &t, 1, asum[min(r, len(asum)):], y[r*ldy:], ldy, c, nv, &scratch)
		}
	}
}

// gemmVOut requantizes rows of t (channels c..c+nv-1) into y, row i at
// y[i·ldy:]; asum[i] is row i's input sum if the filter has an offset.
func gemmVOut[T int8 | uint8](g *gemmQ, t *[gemmVMR][gemmVNR]int32, rows int, asum []int32, y []T, ldy, c, nv int, scratch *[gemmVMR][gemmVNR]byte) {
	v := g.v
	if v.epi == nil {
		for i := range rows {
			var s int32
			if g.fOff != 0 {
				s = asum[i]
			}
			gemmVStore(g, y[i*ldy:], c, nv, s, &t[i])
		}
		return
	}
	var offs [gemmVMR]int32
	var dst [gemmVMR]*byte
	// The kernel writes whole pairs of blocks: partial ones go through a
	// scratch row.
	for i := range rows {
		if g.fOff != 0 {
			offs[i] = g.fOff * asum[i]
		}
		if nv == gemmVNR {
			dst[i] = (*byte)(unsafe.Pointer(&y[i*ldy+c : i*ldy+c+gemmVNR][0]))
		} else {
			dst[i] = &scratch[i][0]
		}
	}
	rq := &g.rq
	if v.f32 {
		v.kern.requantF32(t, rows, &v.epi[c], v.npad*4, &offs, &dst, rq.outOff, v.f32lo, v.f32hi)
	} else {
		v.kern.requant(t, rows, &v.epi[c], v.npad*4, &offs, &dst, rq.outOff, rq.lo, rq.hi)
	}
	if nv != gemmVNR {
		for i := range rows {
			copy(y[i*ldy+c:i*ldy+c+nv], convAs[T](scratch[i][:nv]))
		}
	}
}

// gemmVStore requantizes and writes channels c..c+nv-1 of one row.
func gemmVStore[T int8 | uint8](g *gemmQ, y []T, c, nv int, asum int32, t *[gemmVNR]int32) {
	rq := &g.rq
	chans := rq.ch[c : c+nv]
	off := g.fOff * asum
	outOff, lo, hi := rq.outOff, rq.lo, rq.hi
	y = y[c : c+nv]
	ts := t[:len(y)]
	if rq.scale != nil {
		litertStoreRow(y, ts, rq.cst[c:], rq.scale[c:], off, newLiteRTClamp(outOff, lo, hi))
		return
	}
	for i := range y {
		ch := &chans[i]
		v := ch.requant(ts[i]+ch.cst+off) + outOff
		y[i] = T(min(max(v, lo), hi))
	}
}
