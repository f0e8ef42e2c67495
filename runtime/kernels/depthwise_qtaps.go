package kernels

import "unsafe"

// General quantized depthwise convolution with a vector kernel (depth
// multiplier 1, any filter size other than the 3×3 of depthwise_rows.go,
// any stride and dilation): tall keyword-spotting filters (5×1, 10×1,
// 15×1), 5×5 and the like. Per output row, the pixels whose every tap
// column lies inside the input go to the kernel in tiles of up to 4
// pixels by 32 channels; tap rows above or below the input read a row of
// the input zero point (its product with w' cancels the inOff·w' that the
// channel constant holds, exactly as the portable loop's pad pixel). The
// kernel sums w'·x over the taps in wrapping int32 arithmetic (exact:
// |w'·x| ≤ 255·255), and the GEMM's assembly epilogue (gemmVKernels'
// requant or requantF32) adds the channel constant (bias + inOff·Σw') and
// requantizes in the arithmetic in use: the same int32 sum and the same
// requantization as the portable loop, so the outputs agree byte for
// byte. The pixels at the left and right edges run the portable loop.
// A one-pixel-wide output (a column of frames) runs down the column
// instead, in runs of the rows whose taps all lie inside the input, so
// that its tiles hold 4 pixels too.

// dwQArgs is the argument block of dwQTapsAsm; the assembly reads it by
// offset (TestDWQArgsLayout).
type dwQArgs struct {
	taps  unsafe.Pointer // ntaps input pointers, at the row's first interior pixel
	ntaps int
	off   int            // bytes from those pointers to the tile's first pixel and block's first channel
	w     unsafe.Pointer // the block's weights for tap 0 (dwQW); tap i at w + i·wstep
	wstep int
	xstep int            // input bytes between the tile's pixels
	rows  int            // pixels in the tile, 1..gemmVMR
	t     unsafe.Pointer // *[gemmVMR][gemmVNR]int32
	u8    int            // 1: the input is uint8, else int8
}

// dwTapsQ is dwFast's state for the quantized vector kernel.
type dwTapsQ struct {
	v    *gemmV // its epilogue only: kern, epi, npad, f32
	w    []dwQW // [tap][cPad] w', zero past the channels
	cPad int
	// padRow is one input row of the zero point, with room for a whole
	// block read past its last pixel.
	padRow []byte
	// Per part: the taps' pointers, and their offsets in the input (or
	// in padRow, as -1-offset) for the Go fallback.
	taps [][]unsafe.Pointer
	offs [][]int
}

// newDWTapsQ prepares the vector kernel for a quantized dwFast, or
// returns nil where it does not apply: no SIMD GEMM epilogue for the
// arithmetic in use, a depth multiplier above 1, weights past int16.
func newDWTapsQ(k *dwFast, zp byte) *dwTapsQ {
	g := &k.g
	kern := gemmVPick()
	if kern == nil || g.outC != g.inC || !dwQTapsHaveSIMD() {
		return nil
	}
	c, taps := g.outC, g.fH*g.fW
	t := &dwTapsQ{v: &gemmV{kern: kern}, cPad: (c + gemmVNR - 1) / gemmVNR * gemmVNR}
	if k.rq.scale != nil {
		rq := k.rq
		rq.cst = make([]int32, c)
		for ch := range rq.cst {
			rq.cst[ch] = rq.ch[ch].cst
		}
		rq.scale = rq.scale[:c]
		t.v.setLiteRT(&rq)
	} else {
		t.v.setRequant(&k.rq, c)
	}
	if t.v.epi == nil {
		return nil
	}
	t.w = make([]dwQW, taps*t.cPad)
	for i := 0; i < taps; i++ {
		for ch := 0; ch < c; ch++ {
			w := k.wq[i*c+ch]
			if w < -32768 || w > 32767 {
				return nil
			}
			t.w[i*t.cPad+ch] = dwQW(w)
		}
	}
	t.padRow = make([]byte, g.inW*c+gemmVNR)
	for i := range t.padRow {
		t.padRow[i] = zp
	}
	t.taps = make([][]unsafe.Pointer, k.nparts)
	t.offs = make([][]int, k.nparts)
	for i := range t.taps {
		t.taps[i] = make([]unsafe.Pointer, taps)
		t.offs[i] = make([]int, taps)
	}
	return t
}

// runTapsQ runs npix output pixels from (b, oy, ox0) with the vector
// kernel: along the row (xstep strideW·c) for columns whose tap columns
// all lie inside the input, or down a one-pixel-wide output (xstep
// strideH·inW·c) for rows whose taps all lie inside it; consecutive
// pixels are c bytes apart in the output either way. x and y are the
// input and output bytes.
func (k *dwFast) runTapsQ(part int, x, y []byte, u8 int, b, oy, ox0, npix, xstep int) {
	g, t := &k.g, k.qtaps
	if npix <= 0 {
		return
	}
	c := g.outC
	iy0 := oy*g.strideH - g.padH
	taps, offs := t.taps[part], t.offs[part]
	lastX := -1 // the largest offset of a tap in x
	for fy := 0; fy < g.fH; fy++ {
		iy := iy0 + fy*g.dilH
		for fx := 0; fx < g.fW; fx++ {
			i := fy*g.fW + fx
			col := (ox0*g.strideW - g.padW + fx*g.dilW) * c
			if iy < 0 || iy >= g.inH {
				taps[i], offs[i] = unsafe.Pointer(&t.padRow[col]), -1-col
				continue
			}
			o := (b*g.inH+iy)*g.inW*c + col
			taps[i], offs[i] = unsafe.Pointer(&x[o]), o
			lastX = max(lastX, o)
		}
	}
	a := dwQArgs{taps: unsafe.Pointer(&taps[0]), ntaps: len(taps), wstep: t.cPad * int(unsafe.Sizeof(dwQW(0))), xstep: xstep, u8: u8}
	var tile [gemmVMR][gemmVNR]int32
	var scratch [gemmVMR][gemmVNR]byte
	var zero [gemmVMR]int32
	var dst [gemmVMR]*byte
	rq, v := &k.rq, t.v
	y0 := ((b*g.outH+oy)*g.outW + ox0) * c
	for p := 0; p < npix; p += gemmVMR {
		rows := min(gemmVMR, npix-p)
		for cb := 0; cb < c; cb += gemmVNR {
			nv := min(gemmVNR, c-cb)
			off := p*xstep + cb
			if lastX >= 0 && lastX+off+(rows-1)*xstep+gemmVNR > len(x) {
				// A whole block would read past the input.
				dwQTapsGo(&tile, x, t.padRow, offs, t.w[cb:], t.cPad, off, xstep, rows, nv, u8)
			} else {
				a.off, a.w, a.rows, a.t = off, unsafe.Pointer(&t.w[cb]), rows, unsafe.Pointer(&tile)
				dwQTapsAsm(&a)
			}
			for r := range rows {
				if nv == gemmVNR {
					dst[r] = &y[y0+(p+r)*c+cb]
				} else {
					dst[r] = &scratch[r][0]
				}
			}
			if v.f32 {
				v.kern.requantF32(&tile, rows, &v.epi[cb], v.npad*4, &zero, &dst, rq.outOff, v.f32lo, v.f32hi)
			} else {
				v.kern.requant(&tile, rows, &v.epi[cb], v.npad*4, &zero, &dst, rq.outOff, rq.lo, rq.hi)
			}
			if nv != gemmVNR {
				for r := range rows {
					copy(y[y0+(p+r)*c+cb:][:nv], scratch[r][:nv])
				}
			}
		}
	}
}

// dwQTapsGo is the kernel in Go, for tiles whose whole-block reads would
// pass the end of the input: tile[r][j] = Σ_i w[i][j]·x_i[r][j] for the
// first nv channels, the others 0.
func dwQTapsGo(tile *[gemmVMR][gemmVNR]int32, x, padRow []byte, offs []int, w []dwQW, wstep, off, xstep, rows, nv, u8 int) {
	for r := range rows {
		acc := &tile[r]
		clear(acc[:])
		for i, o := range offs {
			src := x
			if o < 0 {
				src, o = padRow, -1-o
			}
			s := src[o+off+r*xstep:][:nv]
			ws := w[i*wstep:][:nv]
			for j, b := range s {
				xv := int32(int8(b))
				if u8 != 0 {
					xv = int32(b)
				}
				acc[j] += int32(ws[j]) * xv
			}
		}
	}
}
