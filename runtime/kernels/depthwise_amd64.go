package kernels

import (
	"math"
	"unsafe"
)

//go:noescape
func dwQ3x3I8AVX2(a *dwArgs)

//go:noescape
func dwQ3x3U8AVX2(a *dwArgs)

//go:noescape
func dwF3x3AVX2(a *dwArgs)

//go:noescape
func dwQ3x3I8x8AVX2(a *dwArgs)

//go:noescape
func dwQ3x3U8x8AVX2(a *dwArgs)

//go:noescape
func dwQ3x3I8F32AVX2(a *dwArgs)

//go:noescape
func dwQ3x3U8F32AVX2(a *dwArgs)

//go:noescape
func dwQ3x3I8x8F32AVX2(a *dwArgs)

//go:noescape
func dwQ3x3U8x8F32AVX2(a *dwArgs)

func dwCall(a *dwArgs, kind int) {
	switch kind {
	case dwInt8:
		dwQ3x3I8AVX2(a)
	case dwUInt8:
		dwQ3x3U8AVX2(a)
	case dwFloat32:
		dwF3x3AVX2(a)
	case dwInt8Narrow:
		dwQ3x3I8x8AVX2(a)
	case dwUInt8Narrow:
		dwQ3x3U8x8AVX2(a)
	case dwInt8 + dwLiteRT:
		dwQ3x3I8F32AVX2(a)
	case dwUInt8 + dwLiteRT:
		dwQ3x3U8F32AVX2(a)
	case dwInt8Narrow + dwLiteRT:
		dwQ3x3I8x8F32AVX2(a)
	case dwUInt8Narrow + dwLiteRT:
		dwQ3x3U8x8F32AVX2(a)
	}
}

// Quantized blocks of 16 channels, 208 int32 (832 bytes) each, at these
// int32 indices:
//
//	0      the block's first channel (int64, also its byte offset)
//	8+16p  weights of taps 2p and 2p+1 (p = 0..4; tap 9 is 0) as int16
//	       pairs, 8 lanes for channels 0-3,8-11 then 8 for 4-7,12-15
//	88     cst, 104 mult, 120 left shift, 136 right shift,
//	152    2^right-1, 168 (2^right-1)>>1: 16 lanes each, same order
//	184    output offset, 192 lo, 200 hi: 8 copies each
//
// In the LiteRT arithmetic (rq.scale set) the records hold the float32
// bits of each channel's scale where mult is and of lo and hi relative to
// the zero point (litertClamp) where lo and hi are; the shift and mask
// lanes stay 0 (REQUANTF reads neither).
const (
	dwQBlock  = 16
	dwQRecord = 208
)

// dwLane is the channel (within a block) of int32 lane j of half h.
func dwLane(h, j int) int {
	if j < 4 {
		return j + 4*h
	}
	return j + 4 + 4*h
}

// dwPackQ lays out the 3×3 weights w9 (w+fOff, per channel) and the
// requantization parameters for the AVX2 kernels: blocks of 16 channels,
// or narrow ones of 8 (dwPackQ8) when c is below 16. It returns nil when
// they are not available or c is below 8.
func dwPackQ(w9 [][9]int32, rq *gemmRequantParams, c int) (blocks []int32, nb int, narrow bool) {
	if !features.avx2 || c < dwQ8Block {
		return nil, 0, false
	}
	if c < dwQBlock {
		blocks, nb = dwPackQ8(w9, rq, c)
		return blocks, nb, true
	}
	starts := dwBlockStarts(c, dwQBlock)
	blocks = make([]int32, len(starts)*dwQRecord)
	for bi, o := range starts {
		r := blocks[bi*dwQRecord:][:dwQRecord]
		r[0] = int32(o)
		for h := 0; h < 2; h++ {
			for j := 0; j < 8; j++ {
				ch := o + dwLane(h, j)
				w := &w9[ch]
				for p := 0; p < 5; p++ {
					lo := uint16(int16(w[2*p]))
					var hi uint16
					if 2*p+1 < 9 {
						hi = uint16(int16(w[2*p+1]))
					}
					r[8+16*p+8*h+j] = int32(uint32(lo) | uint32(hi)<<16)
				}
				q := &rq.ch[ch]
				l := 8*h + j
				r[88+l] = q.cst
				if rq.scale != nil {
					r[104+l] = int32(math.Float32bits(rq.scale[ch]))
					continue
				}
				mask := int32(1)<<q.right - 1
				r[104+l] = q.mult
				r[120+l] = int32(q.left)
				r[136+l] = int32(q.right)
				r[152+l] = mask
				r[168+l] = mask >> 1
			}
		}
		lo, hi := dwClampBits(rq)
		for j := 0; j < 8; j++ {
			r[184+j], r[192+j], r[200+j] = rq.outOff, lo, hi
		}
	}
	return blocks, len(starts), false
}

// Narrow quantized blocks of 8 channels, 152 int32 (608 bytes) each, in
// channel order (the kernel widens each tap to int32 and multiplies with
// VPMULLD, exact in wrapping int32 as the Go loop is), at int32 indices:
//
//	0      the block's first channel (int64, also its byte offset)
//	8+8t   weights of tap t (t = 0..8)
//	80     cst, 88 mult, 96 left shift, 104 right shift,
//	112    2^right-1, 120 (2^right-1)>>1,
//	128    output offset, 136 lo, 144 hi: 8 lanes each
//
// with the LiteRT scales, lo and hi as in dwPackQ's records.
const (
	dwQ8Block  = 8
	dwQ8Record = 152
)

func dwPackQ8(w9 [][9]int32, rq *gemmRequantParams, c int) (blocks []int32, nb int) {
	starts := dwBlockStarts(c, dwQ8Block)
	blocks = make([]int32, len(starts)*dwQ8Record)
	for bi, o := range starts {
		r := blocks[bi*dwQ8Record:][:dwQ8Record]
		r[0] = int32(o)
		for j := 0; j < dwQ8Block; j++ {
			ch := o + j
			for t := 0; t < 9; t++ {
				r[8+8*t+j] = w9[ch][t]
			}
			q := &rq.ch[ch]
			r[80+j] = q.cst
			if rq.scale != nil {
				r[88+j] = int32(math.Float32bits(rq.scale[ch]))
			} else {
				mask := int32(1)<<q.right - 1
				r[88+j] = q.mult
				r[96+j] = int32(q.left)
				r[104+j] = int32(q.right)
				r[112+j] = mask
				r[120+j] = mask >> 1
			}
			lo, hi := dwClampBits(rq)
			r[128+j], r[136+j], r[144+j] = rq.outOff, lo, hi
		}
	}
	return blocks, len(starts)
}

// Float blocks of 8 channels, 104 float32 (416 bytes) each: the byte
// offset of the first channel (int64) at 0, the weights of tap t at
// 8+8t, then bias (0 if none), lo and hi at 80, 88 and 96.
const (
	dwFBlock  = 8
	dwFRecord = 104
)

// dwPackF lays out the 3×3 float weights for the AVX2 kernel, or returns
// nil. A missing bias becomes 0: the sum it is added to is never -0 (it
// starts at +0 and x+y is -0 only if both are), so adding +0 changes no
// bit.
func dwPackF(w9 [][9]float32, bias []float32, lo, hi float32, c int) (blocks []float32, nb int) {
	if !features.avx2 || c < dwFBlock {
		return nil, 0
	}
	starts := dwBlockStarts(c, dwFBlock)
	blocks = make([]float32, len(starts)*dwFRecord)
	for bi, o := range starts {
		r := blocks[bi*dwFRecord:][:dwFRecord]
		*(*int64)(unsafe.Pointer(&r[0])) = int64(o * 4)
		for j := 0; j < 8; j++ {
			for t := 0; t < 9; t++ {
				r[8+8*t+j] = w9[o+j][t]
			}
			if bias != nil {
				r[80+j] = bias[o+j]
			}
			r[88+j], r[96+j] = lo, hi
		}
	}
	return blocks, len(starts)
}
