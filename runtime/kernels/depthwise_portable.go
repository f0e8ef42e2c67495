package kernels

// Portable 3×3 quantized depthwise convolution with stride 1 or 2 and no
// dilation, one output row at a time, one channel at a time along the row
// (stride 2: see dwSwarRow2).
//
// Each filter row fy is packed into one int64 with 21-bit signed lanes,
// reversed: W_fy = w'[fy][2] + w'[fy][1]·2²¹ + w'[fy][0]·2⁴². Multiplying
// the input at column col by W_fy adds x·w'[fy][2] to the output ending at
// col (lane 0), x·w'[fy][1] to the next one (lane 1) and x·w'[fy][0] to
// the one after (lane 2). The accumulator walks along the row: after each
// input column (three multiplies, one per filter row) lane 0 holds a
// complete 9-tap sum, which is taken out, and the other lanes shift down.
// That is 3 multiplies per output instead of 9, and each input value is
// loaded once per channel instead of three times.
//
// The lanes are exact: |x| ≤ 255 and |w'| ≤ 255, so a lane never holds
// more than 9·255·255 < 2²⁰ in magnitude (newDWSwar declines weights
// outside ±255, from zero points out of range), and the whole accumulator stays
// far inside int64. The extracted sum is therefore Σ w'·x exactly, the
// same int32 the tap-by-tap loop computes, and the channel constant
// (bias + inOff·Σw', see dwFast) is added as there. Taps outside the
// input read the input zero point, as the tap-by-tap loop's pad pixel.

// dwSwar holds the packed weights of a dwFast that takes this path.
type dwSwar struct {
	w      [][3]int64 // [output channel][filter row]
	wsum   []int64    // [output channel] W_0+W_1+W_2: a column of ones
	wo     [][3]int64 // stride 2: the middle column's weights
	wosum  []int64
	padRow []byte    // one input row of the zero point
	acc    [][]int32 // per part: one channel's outputs along a row
	win    [][]byte  // per part: three input rows, for the edges
}

// dwSwarLane is the lane width in bits.
const dwSwarLane = 21

// newDWSwar packs w9 ([channel][tap], w+fOff) for dwSwarRow, or returns
// nil if g is not an undilated 3×3 convolution of stride 1 or 2.
func newDWSwar(g *convGeom, w9 [][9]int32, zp byte, nparts int) *dwSwar {
	if g.fH != 3 || g.fW != 3 || g.strideH > 2 || g.strideW > 2 || g.dilH != 1 || g.dilW != 1 || !dwSwarFast {
		return nil
	}
	for _, w := range w9 {
		for _, v := range w {
			if v < -255 || v > 255 {
				return nil
			}
		}
	}
	s := &dwSwar{w: make([][3]int64, g.outC), wsum: make([]int64, g.outC)}
	if g.strideW == 2 {
		s.wo, s.wosum = make([][3]int64, g.outC), make([]int64, g.outC)
	}
	for c := range s.w {
		for fy := 0; fy < 3; fy++ {
			t := w9[c][fy*3:]
			if g.strideW == 2 {
				// Even columns end one window (lane 0) and start
				// the next (lane 1); odd ones are in one window.
				s.w[c][fy] = int64(t[2]) + int64(t[0])<<dwSwarLane
				s.wo[c][fy] = int64(t[1])
				s.wosum[c] += s.wo[c][fy]
			} else {
				s.w[c][fy] = int64(t[2]) + int64(t[1])<<dwSwarLane + int64(t[0])<<(2*dwSwarLane)
			}
			s.wsum[c] += s.w[c][fy]
		}
	}
	s.padRow = make([]byte, g.inW*g.inC)
	for i := range s.padRow {
		s.padRow[i] = zp
	}
	s.acc = make([][]int32, nparts)
	s.win = make([][]byte, nparts)
	for i := range s.acc {
		s.acc[i] = make([]int32, g.outW)
		s.win[i] = make([]byte, 3*g.inW*g.inC)
	}
	return s
}

// dwSwarRows computes output rows [r0, r1) (batch·outH + oy) of k.
func dwSwarRows[T int8 | uint8](k *dwFast, part, r0, r1 int) {
	g, s := &k.g, k.sw
	x, y := convView[T](k.in.Data), convView[T](k.out.Data)
	rl := g.inW * g.inC
	pad := convView[T](s.padRow)[:rl]
	win := convView[T](s.win[part])[:3*rl]
	yLen := g.outW * g.outC
	for row := r0; row < r1; row++ {
		b, oy := row/g.outH, row%g.outH
		// The three input rows, contiguous: in place, or copied with
		// the rows outside the input as the zero point.
		iy0 := oy*g.strideH - g.padH
		x3 := win
		if iy0 >= 0 && iy0+3 <= g.inH {
			o := (b*g.inH + iy0) * rl
			x3 = x[o : o+3*rl]
		} else {
			for fy := 0; fy < 3; fy++ {
				src := pad
				if iy := iy0 + fy; iy >= 0 && iy < g.inH {
					src = x[(b*g.inH+iy)*rl:][:rl]
				}
				copy(win[fy*rl:], src)
			}
		}
		yr := y[row*yLen:][:yLen]
		if g.strideW == 2 {
			dwSwarRow2(s, g, &k.rq, x3, pad[0], yr, s.acc[part])
		} else {
			dwSwarRow(s, g, &k.rq, x3, pad[0], yr, s.acc[part])
		}
	}
}

// dwSwarCol is input column col's contribution through packed weights
// w (one per filter row), zw (the zero point's) if col is outside the
// input. x3 holds three rows of rl values; ic is the input channel.
func dwSwarCol[T int8 | uint8](x3 []T, rl, ci, ic, inW, col int, w *[3]int64, zw int64) int64 {
	if col < 0 || col >= inW {
		return zw
	}
	i := col*ci + ic
	return int64(x3[i])*w[0] + int64(x3[i+rl])*w[1] + int64(x3[i+2*rl])*w[2]
}

// dwSwarShift drops lane 0 of a and shifts the others down: the floor
// shift, plus one when lane 0 was negative, is the exact quotient.
func dwSwarShift(a int64) int64 { return a>>dwSwarLane + (a>>(dwSwarLane-1))&1 }

// dwSwarLane0 is lane 0 of a.
func dwSwarLane0(a int64) int32 { return int32(a << (64 - dwSwarLane) >> (64 - dwSwarLane)) }

// dwSwarRow computes one output row y ([outW][outC]) from its three input
// rows x3 ([3][inW][inC]); z is the input zero point, acc scratch of
// outW.
func dwSwarRow[T int8 | uint8](s *dwSwar, g *convGeom, rq *gemmRequantParams, x3 []T, z T, y []T, acc []int32) {
	ci, co, inW, outW := g.inC, g.outC, g.inW, g.outW
	rl := inW * ci
	dm := co / ci
	acc = acc[:outW]
	// Output ox ends at input column ox-padW+2: the columns run from
	// c0 = -padW, the first two only filling lanes.
	c0 := -g.padW
	// Outputs [oLo, oHi) end at columns inside the input.
	oLo := min(max(-c0-2, 0), outW)
	oHi := max(min(inW-c0-2, outW), oLo)
	for oc := 0; oc < co; oc++ {
		w := &s.w[oc]
		wz := int64(z) * s.wsum[oc]
		cst := rq.ch[oc].cst
		ic := oc / dm
		a := dwSwarShift(dwSwarCol(x3, rl, ci, ic, inW, c0, w, wz))
		a = dwSwarShift(a + dwSwarCol(x3, rl, ci, ic, inW, c0+1, w, wz))
		for ox := 0; ox < oLo; ox++ {
			a += dwSwarCol(x3, rl, ci, ic, inW, c0+2+ox, w, wz)
			acc[ox] = cst + dwSwarLane0(a)
			a = dwSwarShift(a)
		}
		a = dwSwarRun(x3, (c0+2+oLo)*ci+ic, rl, ci, w, a, acc[oLo:oHi], cst)
		for ox := oHi; ox < outW; ox++ {
			a += dwSwarCol(x3, rl, ci, ic, inW, c0+2+ox, w, wz)
			acc[ox] = cst + dwSwarLane0(a)
			a = dwSwarShift(a)
		}
		dwSwarStore(rq, acc, y[oc:], co, oc)
	}
}

// dwSwarRun is dwSwarRow's loop over the columns inside the input,
// starting at index i of x3. Apart so that its few values stay in
// registers.
//
//go:noinline
func dwSwarRun[T int8 | uint8](x3 []T, i, rl, ci int, w *[3]int64, a int64, acc []int32, cst int32) int64 {
	w0, w1, w2 := w[0], w[1], w[2]
	for k := range acc {
		a += int64(x3[i])*w0 + int64(x3[i+rl])*w1 + int64(x3[i+2*rl])*w2
		acc[k] = cst + dwSwarLane0(a)
		a = dwSwarShift(a)
		i += ci
	}
	return a
}

// dwSwarRow2 is dwSwarRow for stride 2. Output ox reads columns
// 2ox-padW+{0,1,2}: the accumulator has two lanes, the window ending at
// the even column and the one starting there; each output takes one odd
// and one even column, 2 multiplies per filter row instead of 3.
func dwSwarRow2[T int8 | uint8](s *dwSwar, g *convGeom, rq *gemmRequantParams, x3 []T, z T, y []T, acc []int32) {
	ci, co, inW, outW := g.inC, g.outC, g.inW, g.outW
	rl := inW * ci
	dm := co / ci
	acc = acc[:outW]
	c0 := -g.padW
	// Outputs [oLo, oHi) read only columns inside the input.
	oLo := 0
	for oLo < outW && c0+2*oLo+1 < 0 {
		oLo++
	}
	oHi := outW
	for oHi > oLo && c0+2*oHi > inW-1 {
		oHi--
	}
	for oc := 0; oc < co; oc++ {
		we, wo := &s.w[oc], &s.wo[oc]
		ze, zo := int64(z)*s.wsum[oc], int64(z)*s.wosum[oc]
		cst := rq.ch[oc].cst
		ic := oc / dm
		// Lane 0 of the first column belongs to no window.
		a := dwSwarShift(dwSwarCol(x3, rl, ci, ic, inW, c0, we, ze))
		for ox := 0; ox < oLo; ox++ {
			a += dwSwarCol(x3, rl, ci, ic, inW, c0+2*ox+1, wo, zo) + dwSwarCol(x3, rl, ci, ic, inW, c0+2*ox+2, we, ze)
			acc[ox] = cst + dwSwarLane0(a)
			a = dwSwarShift(a)
		}
		a = dwSwarRun2(x3, (c0+2*oLo+1)*ci+ic, rl, ci, we, wo, a, acc[oLo:oHi], cst)
		for ox := oHi; ox < outW; ox++ {
			a += dwSwarCol(x3, rl, ci, ic, inW, c0+2*ox+1, wo, zo) + dwSwarCol(x3, rl, ci, ic, inW, c0+2*ox+2, we, ze)
			acc[ox] = cst + dwSwarLane0(a)
			a = dwSwarShift(a)
		}
		dwSwarStore(rq, acc, y[oc:], co, oc)
	}
}

// dwSwarRun2 is dwSwarRun for stride 2, i at the first odd column.
//
//go:noinline
func dwSwarRun2[T int8 | uint8](x3 []T, i, rl, ci int, we, wo *[3]int64, a int64, acc []int32, cst int32) int64 {
	we0, we1, we2 := we[0], we[1], we[2]
	wo0, wo1, wo2 := wo[0], wo[1], wo[2]
	for k := range acc {
		j := i + ci
		a += int64(x3[i])*wo0 + int64(x3[i+rl])*wo1 + int64(x3[i+2*rl])*wo2 +
			int64(x3[j])*we0 + int64(x3[j+rl])*we1 + int64(x3[j+2*rl])*we2
		acc[k] = cst + dwSwarLane0(a)
		a = dwSwarShift(a)
		i += 2 * ci
	}
	return a
}

// dwSwarStore requantizes one channel's row of accumulators (constant
// included) into y[0], y[stride], ….
func dwSwarStore[T int8 | uint8](rq *gemmRequantParams, acc []int32, y []T, stride, oc int) {
	outOff, lo, hi := rq.outOff, rq.lo, rq.hi
	if rq.scale != nil {
		lc := newLiteRTClamp(outOff, lo, hi)
		sc := rq.scale[oc]
		for ox, v := range acc {
			y[ox*stride] = T(lc.requant(v, sc))
		}
		return
	}
	ch := &rq.ch[oc]
	mult, rnd, neg := int64(ch.mult), int64(ch.rnd), int64(ch.neg)
	if ch.left == 0 && ch.right > 0 {
		dwSwarStoreR(acc, y, stride, mult, rnd, uint(ch.right), outOff, lo, hi)
		return
	}
	// gemmChan.requant with the channel's parameters in registers.
	left, right := ch.left&31, ch.right&63
	o := 0
	for _, v := range acc {
		h := (int64(v<<left)*mult + 1<<30) >> 31
		r := int32((h+rnd+(h>>63)&neg)>>right) + outOff
		y[o] = T(min(max(r, lo), hi))
		o += stride
	}
}

// dwSwarStoreR is dwSwarStore for a multiplier below one half (no left
// shift, a right one: the usual case), apart so that the loop keeps
// nearly everything in registers.
//
//go:noinline
func dwSwarStoreR[T int8 | uint8](acc []int32, y []T, stride int, mult, rnd int64, right uint, outOff, lo, hi int32) {
	o := 0
	for _, v := range acc {
		h := (int64(v)*mult + 1<<30) >> 31
		r := int32((h+rnd+h>>63)>>(right&63)) + outOff
		y[o] = T(min(max(r, lo), hi))
		o += stride
	}
}

// dwSwarFast enables the path on 64-bit targets only: 32-bit ARM has no
// 64-bit multiply, and under qemu-arm armv7 person_detect ran about 10%
// slower with it than with the per-pixel loop.
const dwSwarFast = ^uint(0)>>63 == 1
