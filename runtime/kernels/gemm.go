package kernels

// Portable GEMM micro-kernels shared by CONV_2D and FULLY_CONNECTED.
//
// C[m][n] = Σ_k A[m][k]·B[n][k]: A holds one row of K inputs per output
// pixel (the input itself for 1×1 convolutions and FC, an im2col copy
// otherwise), B the weights, packed once by the constructor in blocks of
// output channels.
//
// Quantized kernels multiply raw int8/uint8 values and add the zero-point
// corrections afterwards (see gemmQ). They compute three channels per
// 64-bit multiply (SWAR): the packed weight w0 + w1·2²¹ + w2·2⁴² times x
// accumulates S0 + S1·2²¹ + S2·2⁴² in one int64. Every gemmQChunkOf depth
// steps, before a 21-bit lane can overflow, the three sums are extracted
// exactly and added to int32 totals, so the totals are the same wrapping
// int32 sums as the reference's for any depth.
//
// uint8 weights are shifted to int8 (w-128, one XOR of the sign bit);
// uint8 inputs are multiplied as they are (0..255) in the portable
// kernels, so that a lane holds 32 products, and shifted to int8 for the
// SIMD ones. The shifts are folded into the zero-point corrections.

// gemmQNR is the number of output channels per packed quantized block: two
// int64 of three lanes each.
const gemmQNR = 6

// gemmNR is the number of output channels per packed float block.
const gemmNR = 4

// gemmQChunk is the number of depth steps whose int8 products fit a
// signed 21-bit lane: 63·128·128 < 2²⁰.
const gemmQChunk = (1<<20 - 1) / (128 * 128)

// gemmQPack packs n rows of k weights into blocks of gemmQNR channels:
// block j, depth d holds {w[6j][d] + w[6j+1][d]·2²¹ + w[6j+2][d]·2⁴², the
// same for channels 6j+3..6j+5}; missing channels are 0. It also returns
// each row's sum.
func gemmQPack(w []int8, n, k int) (packed [][2]int64, sums []int32) {
	nb := (n + gemmQNR - 1) / gemmQNR
	packed = make([][2]int64, nb*k)
	sums = make([]int32, nb*gemmQNR)
	at := func(c, d int) int64 {
		if c >= n {
			return 0
		}
		return int64(w[c*k+d])
	}
	for j := 0; j < nb; j++ {
		c := j * gemmQNR
		for d := 0; d < k; d++ {
			packed[j*k+d] = [2]int64{
				at(c, d) + at(c+1, d)<<21 + at(c+2, d)<<42,
				at(c+3, d) + at(c+4, d)<<21 + at(c+5, d)<<42,
			}
		}
	}
	for c := 0; c < n; c++ {
		var s int32
		for _, v := range w[c*k : c*k+k] {
			s += int32(v)
		}
		sums[c] = s
	}
	return packed, sums
}

// gemmQLanes adds the three lanes of a SWAR accumulator to t[0..2].
func gemmQLanes(acc int64, t []int32) {
	s0 := acc << 43 >> 43
	acc = (acc - s0) >> 21
	s1 := acc << 43 >> 43
	t = t[:3]
	t[0] += int32(s0)
	t[1] += int32(s1)
	t[2] += int32((acc - s1) >> 21)
}

// gemmQChunkOf is the number of depth steps one SWAR accumulator takes
// before its lanes must be extracted: uint8 inputs are multiplied
// unshifted (0..255), so that each byte is one zero-extending load, and
// their products with int8 weights reach 255·128, which halves the
// chunk (32·255·128 < 2²⁰).
func gemmQChunkOf[T int8 | uint8]() int {
	var z T
	if ^z > 0 {
		return (1<<20 - 1) / (255 * 128)
	}
	return gemmQChunk
}

// gemmQChunkFor is gemmQChunkOf for weights ws, one more for int8 when
// no weight is -128 (TFLite's int8 weights are symmetric): then products
// stay within 128·127 and 64 of them fit a lane, so that the usual
// power-of-two depths take whole chunks.
func gemmQChunkFor(ws []int8, flip bool) int {
	if flip {
		return gemmQChunkOf[uint8]()
	}
	for _, w := range ws {
		if w == -128 {
			return gemmQChunk
		}
	}
	return (1<<20 - 1) / (128 * 127)
}

// gemmQDot2x2 multiplies two rows of A by two blocks of B (12 channels),
// adding to t[row][channel]; flip says the bytes of A are uint8.
func gemmQDot2x2(a0, a1 []int8, b, b2 [][2]int64, flip bool, t *[2][2 * gemmQNR]int32) {
	if flip {
		u0, u1 := convAs[uint8](a0), convAs[uint8](a1)
		chunk := gemmQChunkOf[uint8]()
		gemmQDot2(u0, u1, b, t, 0, chunk)
		gemmQDot2(u0, u1, b2, t, gemmQNR, chunk)
		return
	}
	gemmQDot2(a0, a1, b, t, 0, gemmQChunk)
	gemmQDot2(a0, a1, b2, t, gemmQNR, gemmQChunk)
}

// gemmQDot2 multiplies two rows of A by one block of B, adding to
// t[row][c0:c0+6], extracting the lanes every chunk depth steps. With four accumulators the SWAR loop keeps everything
// in registers on amd64; two blocks at once (eight) made the compiler
// spill them and ran slower.
func gemmQDot2[T int8 | uint8](a0, a1 []T, b [][2]int64, t *[2][2 * gemmQNR]int32, c0, chunk int) {
	n := len(a0)
	a1, b = a1[:n], b[:n]
	for k0 := 0; k0 < n; k0 += chunk {
		k1 := min(k0+chunk, n)
		c00, c01, c10, c11 := gemmQSwar2(a0[k0:k1], a1[k0:k1], b[k0:k1])
		gemmQLanes(c00, t[0][c0:])
		gemmQLanes(c01, t[0][c0+3:])
		gemmQLanes(c10, t[1][c0:])
		gemmQLanes(c11, t[1][c0+3:])
	}
}

// gemmQSwar2 is gemmQDot2's inner loop over one chunk. int64(v) sign-
// or zero-extends each byte as its type says. Not inlined: in its
// caller's larger frame the compiler spills the accumulators.
//
//go:noinline
func gemmQSwar2[T int8 | uint8](a0, a1 []T, b [][2]int64) (c00, c01, c10, c11 int64) {
	b = b[:len(a0)]
	a1 = a1[:len(a0)]
	for k, v := range a0 {
		x := int64(v)
		y := int64(a1[k])
		bk := &b[k]
		c00 += bk[0] * x
		c10 += bk[0] * y
		c01 += bk[1] * x
		c11 += bk[1] * y
	}
	return
}

// gemmQDot1 multiplies one row of A by one block of B, adding to
// t[c0:c0+6].
func gemmQDot1[T int8 | uint8](a []T, b [][2]int64, t *[2 * gemmQNR]int32, c0, chunk int) {
	n := len(a)
	b = b[:n]
	for k0 := 0; k0 < n; k0 += chunk {
		k1 := min(k0+chunk, n)
		var c0a, c1a int64
		bs := b[k0:k1]
		for k, v := range a[k0:k1] {
			x := int64(v)
			c0a += bs[k][0] * x
			c1a += bs[k][1] * x
		}
		gemmQLanes(c0a, t[c0:])
		gemmQLanes(c1a, t[c0+3:])
	}
}

// gemmChan is one output channel's requantization: the constant added to
// its accumulator, then MultiplyByQuantizedMultiplier with the shift split
// into its left and right parts.
type gemmChan struct {
	cst         int32
	mult        int32
	rnd         int32 // 2^(right-1), 0 if right is 0
	left, right uint8
	neg         int8 // -1 if right > 0: negative values round one less
}

// gemmRequantParams turn int32 accumulators into clamped outputs.
type gemmRequantParams struct {
	ch     []gemmChan
	outOff int32
	lo, hi int32
	// scale, if set, replaces the multipliers with XNNPACK's float
	// requantization (LiteRT arithmetic, see litert.go); cst then holds
	// the channel constants contiguously.
	scale []float32
	cst   []int32
	// uniform: every channel has the same multiplier and shift
	// (per-tensor quantization).
	uniform bool
}

// newGemmRequantParams splits each channel's shift into its left and right
// parts; ch is padded to a whole number of gemmQNR blocks, cst left 0.
func newGemmRequantParams(mult []int32, shift []int, outOff, lo, hi int32) gemmRequantParams {
	nn := (len(mult) + gemmQNR - 1) / gemmQNR * gemmQNR
	p := gemmRequantParams{ch: make([]gemmChan, nn), outOff: outOff, lo: lo, hi: hi}
	for c, s := range shift {
		ch := &p.ch[c]
		ch.mult = mult[c]
		if s > 0 {
			ch.left = uint8(s)
		} else if s < 0 {
			ch.right = uint8(-s)
			ch.rnd = 1 << (ch.right - 1)
			ch.neg = -1
		}
	}
	p.uniform = true
	for c := range shift {
		if mult[c] != mult[0] || shift[c] != shift[0] {
			p.uniform = false
		}
	}
	return p
}

// out requantizes acc (without the channel constant) for channel c.
func (p *gemmRequantParams) out(acc int32, c int) int32 {
	if p.scale != nil {
		return litertRequant(acc, p.scale[c], p.outOff, p.lo, p.hi)
	}
	v := p.ch[c].requant(acc) + p.outOff
	return min(max(v, p.lo), p.hi)
}

// requant is MultiplyByQuantizedMultiplier(x, mult, shift) in fewer
// operations:
//
//   - SaturatingRoundingDoublingHighMul(a, m) rounds a·m/2³¹ to nearest,
//     ties up for positive and toward zero for negative products, which
//     is floor((a·m + 2³⁰) / 2³¹) in both cases. It never saturates here:
//     m is never math.MinInt32 (QuantizeMultiplier's significands are
//     non-negative).
//   - RoundingDivideByPOT(h, r) rounds h/2^r to nearest, ties away from
//     zero: floor((h + 2^(r-1) - [h<0]) / 2^r) for r > 0.
//
// The masks tell the compiler the shifts are in range (QuantizeMultiplier
// keeps them within [-31, 30]), sparing it the overflow handling.
func (ch *gemmChan) requant(x int32) int32 {
	h := (int64(x<<(ch.left&31))*int64(ch.mult) + 1<<30) >> 31
	return int32((h + int64(ch.rnd) + (h>>63)&int64(ch.neg)) >> (ch.right & 63))
}

// gemmQ is a packed quantized weight matrix with everything needed to turn
// raw dot products into requantized outputs bit-exactly as TFLite's
// reference kernels do:
//
//	Σ(w+fOff)(x+inOff) + bias = Σw·x + fOff·Σx + [bias + inOff·Σw + K·fOff·inOff]
//
// in wrapping int32 arithmetic, so the accumulator is the same value. The
// bracket is per channel (cst); Σx is per row and only needed when the
// filter has a zero point (legacy uint8). For uint8, w and x above are
// the shifted values w-128 and x-128, and the offsets grow by 128.
type gemmQ struct {
	k, n, nb int
	flip     bool // uint8 operands
	chunk    int  // depth steps between lane extractions (gemmQChunkFor)
	b        [][2]int64
	fOff     int32
	rq       gemmRequantParams // with the bracket above as cst
	v        *gemmV            // SIMD packing; then b is nil and nb counts 16-channel blocks
}

// variant names the kernels g runs on, for profiles.
func (g *gemmQ) variant() string {
	if g.v != nil {
		return Variant()
	}
	return VariantPortable
}

// newGemmQ packs w ([n][k]) and precomputes the per-channel constants.
// bias may be nil.
func newGemmQ[T int8 | uint8](w []T, bias []int32, n, k int, inOff, fOff int32, mult []int32, shift []int, outOff, lo, hi int32) *gemmQ {
	var z T
	g := &gemmQ{k: k, n: n, nb: (n + gemmQNR - 1) / gemmQNR, flip: ^z > 0}
	ws := make([]int8, n*k)
	for i, v := range w[:n*k] {
		if g.flip {
			ws[i] = int8(uint8(v) ^ 0x80)
		} else {
			ws[i] = int8(v)
		}
	}
	if g.flip {
		inOff += 128
		fOff += 128
	}
	g.fOff = fOff
	var sums, corr []int32
	if g.v, corr = newGemmV(ws, n, k, g.flip); g.v != nil {
		g.nb = (n + gemmVNB - 1) / gemmVNB
		sums = make([]int32, n)
		for c := range sums {
			for _, v := range ws[c*k : c*k+k] {
				sums[c] += int32(v)
			}
		}
	} else {
		g.b, sums = gemmQPack(ws, n, k)
		g.chunk = gemmQChunkFor(ws, g.flip)
		if g.flip {
			// The portable kernels multiply uint8 inputs unshifted
			// (see gemmQChunkOf): x = (x-128) + 128.
			corr = make([]int32, n)
			for c := range corr {
				corr[c] = -128 * sums[c]
			}
		}
	}
	g.rq = newGemmRequantParams(mult, shift, outOff, lo, hi)
	kk := int32(k) * fOff * inOff
	for c := 0; c < n; c++ {
		var bc int32
		if bias != nil {
			bc = bias[c]
		}
		g.rq.ch[c].cst = bc + inOff*sums[c] + kk
		if corr != nil {
			g.rq.ch[c].cst += corr[c]
		}
	}
	if g.v != nil {
		g.v.setRequant(&g.rq, n)
	}
	return g
}

// gemmQRowSums sets sums[r] to the sum of row r of a (row stride g.k),
// as shifted to int8 if g.flip.
func gemmQRowSums(g *gemmQ, a []int8, sums []int32) {
	k, flip := g.k, g.flip
	if g.v != nil && g.v.kern.vecRequant {
		gemmVRowSumsAsm(a, k, flip, sums)
		return
	}
	for r := range sums {
		var s int32
		if flip {
			for _, v := range a[r*k : r*k+k] {
				s += int32(uint8(v))
			}
			s -= int32(128 * k)
		} else {
			for _, v := range a[r*k : r*k+k] {
				s += int32(v)
			}
		}
		sums[r] = s
	}
}

// gemmQRun computes rows [0, rows) of a (row stride g.k) against channel
// blocks [j0, j1) and writes requantized results to y, row r at
// y[r·ldy:], channel c at offset c. asum holds the row sums when fOff≠0.
// The main kernel takes 2 rows × 2 blocks (12 channels): 8 multiplies per
// depth step keep the multiplier busy without spilling registers.
func gemmQRun[T int8 | uint8](g *gemmQ, a []int8, rows int, asum []int32, j0, j1 int, y []T, ldy int) {
	if g.v != nil {
		gemmVRun(g, a, rows, asum, j0, j1, y, ldy)
		return
	}
	if g.flip {
		gemmQRunP(g, convAs[uint8](a), rows, asum, j0, j1, y, ldy)
	} else {
		gemmQRunP(g, a, rows, asum, j0, j1, y, ldy)
	}
}

// gemmQRunP is gemmQRun's portable path, A's bytes typed as what they
// are (uint8 when g.flip).
func gemmQRunP[A int8 | uint8, T int8 | uint8](g *gemmQ, a []A, rows int, asum []int32, j0, j1 int, y []T, ldy int) {
	k, chunk := g.k, g.chunk
	var s0, s1 int32
	// Two blocks per pass: the same stores as one 12-channel kernel,
	// whose per-call costs dominate at small depths.
	for j := j0; j < j1; j += 2 {
		bj := g.b[j*k : j*k+k]
		c := j * gemmQNR
		two := j+1 < j1
		var bj2 [][2]int64
		if two {
			bj2 = g.b[(j+1)*k : (j+1)*k+k]
		}
		r := 0
		for ; r+2 <= rows; r += 2 {
			var t [2][2 * gemmQNR]int32
			a0, a1 := a[r*k:r*k+k], a[(r+1)*k:(r+1)*k+k]
			gemmQDot2(a0, a1, bj, &t, 0, chunk)
			if two {
				gemmQDot2(a0, a1, bj2, &t, gemmQNR, chunk)
			}
			if g.fOff != 0 {
				s0, s1 = asum[r], asum[r+1]
			}
			gemmQStore(g, y[r*ldy:], c, s0, &t[0], two)
			gemmQStore(g, y[(r+1)*ldy:], c, s1, &t[1], two)
		}
		if r < rows {
			var t [2 * gemmQNR]int32
			a0 := a[r*k : r*k+k]
			gemmQDot1(a0, bj, &t, 0, chunk)
			if two {
				gemmQDot1(a0, bj2, &t, gemmQNR, chunk)
			}
			if g.fOff != 0 {
				s0 = asum[r]
			}
			gemmQStore(g, y[r*ldy:], c, s0, &t, two)
		}
	}
}

// gemmQStore requantizes and writes the valid channels among c..c+5 (or
// c..c+11 if two) of one row.
func gemmQStore[T int8 | uint8](g *gemmQ, y []T, c int, asum int32, t *[2 * gemmQNR]int32, two bool) {
	nv := gemmQNR
	if two {
		nv *= 2
	}
	nv = min(nv, g.n-c)
	// The parameter slices are padded to whole blocks, but not to pairs.
	rq := &g.rq
	chans := rq.ch[c : c+nv]
	off := g.fOff * asum
	outOff, lo, hi := rq.outOff, rq.lo, rq.hi
	y = y[c : c+nv]
	if rq.scale != nil {
		litertStoreRow(y, t[:], rq.cst[c:], rq.scale[c:], off, newLiteRTClamp(outOff, lo, hi))
		return
	}
	ts := t[:len(y)]
	chans = chans[:len(y)]
	if rq.uniform {
		// Per-tensor quantization: only the constant varies, the rest
		// stays in registers.
		q := &rq.ch[0]
		left, right := q.left&31, q.right&63
		mult, rnd, neg := int64(q.mult), int64(q.rnd), int64(q.neg)
		for i := range y {
			// gemmChan.requant with the parameters in registers.
			h := (int64((ts[i]+chans[i].cst+off)<<left)*mult + 1<<30) >> 31
			v := int32((h+rnd+(h>>63)&neg)>>right) + outOff
			y[i] = T(min(max(v, lo), hi))
		}
		return
	}
	for i := range y {
		ch := &chans[i]
		v := ch.requant(ts[i]+ch.cst+off) + outOff
		y[i] = T(min(max(v, lo), hi))
	}
}

// gemmF is a packed float32 weight matrix: block j, depth d holds the
// weights of channels 4j..4j+3 (0 for missing channels). Each output is
// accumulated over k in order, then the bias is added, exactly as the
// reference loops do, so results are bit-identical to them. When the CPU
// has a SIMD kernel, simd holds its own packing instead of b, and results
// are no longer bit-identical (see float_gemm.go).
type gemmF struct {
	k, n, nb int
	b        [][gemmNR]float32
	bias     []float32 // nil: no bias
	lo, hi   float32
	simd     *gemmFSIMD
	// fromBias: each output is the bias plus the products in depth order,
	// each product and each sum rounded (see sumFromBias).
	fromBias bool
}

// sumFromBias makes g sum as XNNPACK's GEMM micro-kernels do in the
// official runtime's WebAssembly build (the LiteRT arithmetic): from the
// bias, adding the products one by one in depth order, with no fused
// multiply-add, on every path (portable and SIMD alike, bit for bit).
// Otherwise the products are summed from 0 and the bias added last, as
// TFLite's reference kernels do (fused on the SIMD paths).
func (g *gemmF) sumFromBias() { g.fromBias = true }

// variant names the kernels g runs on, for profiles.
func (g *gemmF) variant() string {
	if g.simd != nil && gemmFHaveWide() {
		return "avx512"
	}
	if g.simd != nil {
		return floatVariant()
	}
	return VariantPortable
}

func newGemmF(w, bias []float32, n, k int, lo, hi float32) *gemmF {
	g := &gemmF{k: k, n: n, nb: (n + gemmNR - 1) / gemmNR, lo: lo, hi: hi}
	g.b = make([][gemmNR]float32, g.nb*k)
	for c := 0; c < n; c++ {
		j, i := c/gemmNR, c%gemmNR
		for d := 0; d < k; d++ {
			g.b[j*k+d][i] = w[c*k+d]
		}
	}
	if bias != nil {
		g.bias = make([]float32, g.nb*gemmNR)
		copy(g.bias, bias)
	}
	if g.simd = newGemmFSIMD(w, bias, n, k); g.simd != nil {
		g.b = nil // not read: keep one copy of the weights
	}
	return g
}

// repack replaces the weights of g with w ([n][k], the shape g was made
// for) in place, without allocating: for a right-hand side computed at
// every invoke (BATCH_MATMUL of two activations).
func (g *gemmF) repack(w []float32) {
	n, k := g.n, g.k
	w = w[:n*k]
	if s := g.simd; s != nil {
		for c := 0; c < n; c++ {
			p, i := c/gemmFPanel, c%gemmFPanel
			row := w[c*k : c*k+k]
			for d, v := range row {
				s.b[(p*k+d)*gemmFPanel+i] = v
			}
		}
		return
	}
	for c := 0; c < n; c++ {
		j, i := c/gemmNR, c%gemmNR
		row := w[c*k : c*k+k]
		for d, v := range row {
			g.b[j*k+d][i] = v
		}
	}
}

// gemmFDot1 multiplies one row of A by one block of B. Unrolled by two
// depth steps; each sum still adds its products in depth order.
func gemmFDot1(a []float32, b [][gemmNR]float32) [gemmNR]float32 {
	b = b[:len(a)]
	var c0, c1, c2, c3 float32
	k := 0
	for ; k+2 <= len(a); k += 2 {
		x, y := a[k], a[k+1]
		bk := (*[2][gemmNR]float32)(b[k : k+2])
		c0 += x * bk[0][0]
		c1 += x * bk[0][1]
		c2 += x * bk[0][2]
		c3 += x * bk[0][3]
		c0 += y * bk[1][0]
		c1 += y * bk[1][1]
		c2 += y * bk[1][2]
		c3 += y * bk[1][3]
	}
	if k < len(a) {
		x := a[k]
		bk := &b[k]
		c0 += x * bk[0]
		c1 += x * bk[1]
		c2 += x * bk[2]
		c3 += x * bk[3]
	}
	return [gemmNR]float32{c0, c1, c2, c3}
}

// gemmFDot1From is gemmFDot1 summing from init, each product rounded
// before its addition (the conversions keep the compiler from fusing
// them where it would: arm64).
func gemmFDot1From(a []float32, b [][gemmNR]float32, init [gemmNR]float32) [gemmNR]float32 {
	b = b[:len(a)]
	c0, c1, c2, c3 := init[0], init[1], init[2], init[3]
	for k, x := range a {
		bk := &b[k]
		c0 += float32(x * bk[0])
		c1 += float32(x * bk[1])
		c2 += float32(x * bk[2])
		c3 += float32(x * bk[3])
	}
	return [gemmNR]float32{c0, c1, c2, c3}
}

// gemmFRun is gemmQRun for floats. Its kernel takes one row by 4
// channels: wider ones make the compiler spill accumulators.
func gemmFRun(g *gemmF, a []float32, rows int, j0, j1 int, y []float32, ldy int) {
	if g.simd != nil {
		gemmFRunSIMD(g, a, rows, j0, j1, y, ldy)
		return
	}
	gemmFRunPortable(g, a, rows, j0, j1, y, ldy)
}

// clamp stores the first nv sums of acc, clamped, to y.
func (g *gemmF) clamp(y []float32, nv int, acc *[gemmNR]float32) {
	y = y[:nv]
	for i := range y {
		y[i] = ClampF(acc[i], g.lo, g.hi)
	}
}

func (g *gemmF) store(y []float32, nv, c int, acc *[gemmNR]float32) {
	y = y[:nv]
	lo, hi := g.lo, g.hi
	if g.bias != nil {
		b := g.bias[c : c+nv]
		for i := range y {
			y[i] = ClampF(acc[i]+b[i], lo, hi)
		}
		return
	}
	for i := range y {
		y[i] = ClampF(acc[i], lo, hi)
	}
}
