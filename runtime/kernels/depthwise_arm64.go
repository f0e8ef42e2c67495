package kernels

import (
	"math"
	"unsafe"
)

//go:noescape
func dwQ3x3I8NEON(a *dwArgs)

//go:noescape
func dwQ3x3U8NEON(a *dwArgs)

//go:noescape
func dwF3x3NEON(a *dwArgs)

//go:noescape
func dwQ3x3I8F32NEON(a *dwArgs)

//go:noescape
func dwQ3x3U8F32NEON(a *dwArgs)

func dwCall(a *dwArgs, kind int) {
	switch kind {
	case dwInt8:
		dwQ3x3I8NEON(a)
	case dwUInt8:
		dwQ3x3U8NEON(a)
	case dwFloat32:
		dwF3x3NEON(a)
	case dwInt8 + dwLiteRT:
		dwQ3x3I8F32NEON(a)
	case dwUInt8 + dwLiteRT:
		dwQ3x3U8F32NEON(a)
	}
}

// Quantized blocks of 8 channels, 84 int32 (336 bytes) each, at these
// byte offsets:
//
//	0    the block's first channel (int64, also its byte offset)
//	16   weights w+fOff as int16, tap t at 16+16t
//	160  cst, 192 mult, 224 left shift, 256 -right shift (8 int32 each)
//	288  output offset, 304 lo, 320 hi (4 copies each)
//
// In the LiteRT arithmetic (rq.scale set) the float32 bits of each
// channel's scale are where mult is and those of lo and hi relative to
// the zero point (litertClamp) where lo and hi are; the shifts stay 0.
const (
	dwQBlock  = 8
	dwQRecord = 84
)

// dwPackQ lays out the 3×3 weights w9 (w+fOff, per channel) and the
// requantization parameters for the NEON kernels. It returns nil when
// they are not available or c is below one block.
func dwPackQ(w9 [][9]int32, rq *gemmRequantParams, c int) (blocks []int32, nb int, narrow bool) {
	if !features.neon || c < dwQBlock {
		return nil, 0, false
	}
	starts := dwBlockStarts(c, dwQBlock)
	blocks = make([]int32, len(starts)*dwQRecord)
	for bi, o := range starts {
		r := blocks[bi*dwQRecord:][:dwQRecord]
		r[0] = int32(o)
		w16 := unsafe.Slice((*int16)(unsafe.Pointer(&r[4])), 72)
		for j := 0; j < 8; j++ {
			for t := 0; t < 9; t++ {
				w16[8*t+j] = int16(w9[o+j][t])
			}
			q := &rq.ch[o+j]
			r[40+j] = q.cst
			if rq.scale != nil {
				r[48+j] = int32(math.Float32bits(rq.scale[o+j]))
				continue
			}
			r[48+j] = q.mult
			r[56+j] = int32(q.left)
			r[64+j] = -int32(q.right)
		}
		lo, hi := dwClampBits(rq)
		for j := 0; j < 4; j++ {
			r[72+j], r[76+j], r[80+j] = rq.outOff, lo, hi
		}
	}
	return blocks, len(starts), false
}

// Float blocks of 8 channels, 92 float32 (368 bytes) each, at these
// byte offsets: the first channel's byte offset (int64) at 0, the weights
// of tap t at 16+32t, bias (0 if none) at 304, then 4 copies each of lo
// and hi at 336 and 352.
const (
	dwFBlock  = 8
	dwFRecord = 92
)

// dwPackF lays out the 3×3 float weights for the NEON kernel, or returns
// nil. A missing bias becomes 0: the sum it is added to is never -0 (it
// starts at +0 and x+y is -0 only if both are), so adding +0 changes no
// bit.
func dwPackF(w9 [][9]float32, bias []float32, lo, hi float32, c int) (blocks []float32, nb int) {
	if !features.neon || c < dwFBlock {
		return nil, 0
	}
	starts := dwBlockStarts(c, dwFBlock)
	blocks = make([]float32, len(starts)*dwFRecord)
	for bi, o := range starts {
		r := blocks[bi*dwFRecord:][:dwFRecord]
		*(*int64)(unsafe.Pointer(&r[0])) = int64(o * 4)
		for j := 0; j < 8; j++ {
			for t := 0; t < 9; t++ {
				r[4+8*t+j] = w9[o+j][t]
			}
			if bias != nil {
				r[76+j] = bias[o+j]
			}
		}
		for j := 0; j < 4; j++ {
			r[84+j], r[88+j] = lo, hi
		}
	}
	return blocks, len(starts)
}
