#include "textflag.h"

// Micro-kernels for gemmVRun (see gemm_vec.go for the packing). All take
//
//	a *[4]*int8, tails *[4]uint32, k4, tail int, b *byte, t *[4][32]int32, xor uint32
//
// and write raw int32 dot products of 4 (x4) or 1 (x1) rows of A with 32
// channels to t. Every depth group is 4 bytes of each row, broadcast to
// all lanes, against 32 channels × 4 bytes of weights.

// ---- AVX-512 VNNI: VPDPBUSD sums four u8×s8 products into each int32
// lane, wrapping like the reference's int32 sums. Z0-Z7 accumulate: Z(2r)
// channels 0-15 of row r, Z(2r+1) channels 16-31; Z31 holds the XOR mask.

#define VNNI4_LOAD(p0, p1, p2, p3) \
	VPBROADCASTD p0, Z8; \
	VPBROADCASTD p1, Z9; \
	VPBROADCASTD p2, Z10; \
	VPBROADCASTD p3, Z11

#define VNNI4_XOR \
	VPXORD Z31, Z8, Z8; \
	VPXORD Z31, Z9, Z9; \
	VPXORD Z31, Z10, Z10; \
	VPXORD Z31, Z11, Z11

#define VNNI4_MAC \
	VMOVDQU32 (BX), Z12; \
	VMOVDQU32 64(BX), Z13; \
	VPDPBUSD Z12, Z8, Z0; \
	VPDPBUSD Z13, Z8, Z1; \
	VPDPBUSD Z12, Z9, Z2; \
	VPDPBUSD Z13, Z9, Z3; \
	VPDPBUSD Z12, Z10, Z4; \
	VPDPBUSD Z13, Z10, Z5; \
	VPDPBUSD Z12, Z11, Z6; \
	VPDPBUSD Z13, Z11, Z7

// func gemmVNNI4(a *[4]*int8, tails *[4]uint32, k4, tail int, b *byte, t *[4][32]int32, xor uint32)
TEXT ·gemmVNNI4(SB), NOSPLIT, $0-52
	MOVQ a+0(FP), AX
	MOVQ 0(AX), R8
	MOVQ 8(AX), R9
	MOVQ 16(AX), R10
	MOVQ 24(AX), R11
	MOVQ tails+8(FP), R12
	MOVQ k4+16(FP), CX
	MOVQ b+32(FP), BX
	MOVQ t+40(FP), DI
	MOVL xor+48(FP), AX
	VPBROADCASTD AX, Z31
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	TESTQ CX, CX
	JZ vnni4tail
	TESTL AX, AX
	JZ vnni4plain

vnni4xor:
	VNNI4_LOAD((R8), (R9), (R10), (R11))
	VNNI4_XOR
	VNNI4_MAC
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $128, BX
	DECQ CX
	JNZ vnni4xor
	JMP vnni4tail

vnni4plain:
	VNNI4_LOAD((R8), (R9), (R10), (R11))
	VNNI4_MAC
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $128, BX
	DECQ CX
	JNZ vnni4plain

vnni4tail:
	CMPQ tail+24(FP), $0
	JEQ vnni4store
	VNNI4_LOAD(0(R12), 4(R12), 8(R12), 12(R12))
	VNNI4_XOR
	VNNI4_MAC

vnni4store:
	VMOVDQU32 Z0, 0(DI)
	VMOVDQU32 Z1, 64(DI)
	VMOVDQU32 Z2, 128(DI)
	VMOVDQU32 Z3, 192(DI)
	VMOVDQU32 Z4, 256(DI)
	VMOVDQU32 Z5, 320(DI)
	VMOVDQU32 Z6, 384(DI)
	VMOVDQU32 Z7, 448(DI)
	VZEROUPPER
	RET

// func gemmVNNI1(a *[4]*int8, tails *[4]uint32, k4, tail int, b *byte, t *[4][32]int32, xor uint32)
// One row: two depth groups per iteration into separate accumulators
// (Z0, Z1 and Z2, Z3) to hide VPDPBUSD's latency.
TEXT ·gemmVNNI1(SB), NOSPLIT, $0-52
	MOVQ a+0(FP), AX
	MOVQ 0(AX), R8
	MOVQ tails+8(FP), R12
	MOVQ k4+16(FP), CX
	MOVQ b+32(FP), BX
	MOVQ t+40(FP), DI
	MOVL xor+48(FP), DX
	VPBROADCASTD DX, Z31
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	MOVQ CX, DX
	SHRQ $1, DX
	JZ vnni1odd

vnni1loop:
	VPBROADCASTD (R8), Z8
	VPBROADCASTD 4(R8), Z9
	VPXORD Z31, Z8, Z8
	VPXORD Z31, Z9, Z9
	VPDPBUSD (BX), Z8, Z0
	VPDPBUSD 64(BX), Z8, Z1
	VPDPBUSD 128(BX), Z9, Z2
	VPDPBUSD 192(BX), Z9, Z3
	ADDQ $8, R8
	ADDQ $256, BX
	DECQ DX
	JNZ vnni1loop

vnni1odd:
	TESTQ $1, CX
	JZ vnni1tail
	VPBROADCASTD (R8), Z8
	VPXORD Z31, Z8, Z8
	VPDPBUSD (BX), Z8, Z0
	VPDPBUSD 64(BX), Z8, Z1
	ADDQ $128, BX

vnni1tail:
	CMPQ tail+24(FP), $0
	JEQ vnni1store
	VPBROADCASTD (R12), Z8
	VPXORD Z31, Z8, Z8
	VPDPBUSD (BX), Z8, Z0
	VPDPBUSD 64(BX), Z8, Z1

vnni1store:
	VPADDD Z2, Z0, Z0
	VPADDD Z3, Z1, Z1
	VMOVDQU32 Z0, 0(DI)
	VMOVDQU32 Z1, 64(DI)
	VZEROUPPER
	RET

// ---- AVX2: VPMADDWD sums pairs of exact int16 products (|x·w| ≤ 2¹⁴)
// into int32 lanes. The weights are packed widened to int16 (gemmV.wide):
// 4 channels × 4 depth fill one ymm, read straight from memory by
// VPMADDWD; the row's 4 bytes are broadcast and sign-extended once per
// group. VPMADDWD leaves two partial sums per channel, which VPHADDD adds
// at the end; VPERMQ $0xD8 restores channel order after VPHADDD's in-lane
// interleave.

// AVX2_MAC(off, acc, tmp) multiplies Y8 (the widened row bytes) by the 4
// channels at off(BX), accumulating into acc.
#define AVX2_MAC(off, acc, tmp) \
	VPMADDWD off(BX), Y8, tmp; \
	VPADDD tmp, acc, acc

#define AVX2_GROUP(p) \
	VPBROADCASTD p, X8; \
	VPXOR X15, X8, X8; \
	VPMOVSXBW X8, Y8; \
	AVX2_MAC(0, Y0, Y9); \
	AVX2_MAC(32, Y1, Y10); \
	AVX2_MAC(64, Y2, Y11); \
	AVX2_MAC(96, Y3, Y12); \
	AVX2_MAC(128, Y4, Y9); \
	AVX2_MAC(160, Y5, Y10); \
	AVX2_MAC(192, Y6, Y11); \
	AVX2_MAC(224, Y7, Y12)

// AVX2_SUM8 turns accumulators lo (channels c..c+3) and hi (c+4..c+7)
// into 8 channel sums in lo.
#define AVX2_SUM8(lo, hi) \
	VPHADDD hi, lo, lo; \
	VPERMQ $0xD8, lo, lo

// func gemmAVX2Rows(a *[4]*int8, tails *[4]uint32, k4, tail int, b *byte, t *[4][32]int32, xor uint32, rows int)
// Each row in turn against 32 channels: Y0-Y7 hold 4 channels each.
TEXT ·gemmAVX2Rows(SB), NOSPLIT, $0-64
	MOVQ a+0(FP), AX
	MOVQ tails+8(FP), R12
	MOVQ b+32(FP), SI
	MOVQ t+40(FP), DI
	MOVL xor+48(FP), DX
	MOVQ DX, X15
	VPBROADCASTD X15, X15
	MOVQ rows+56(FP), DX

avx2row:
	MOVQ (AX), R8
	MOVQ SI, BX
	MOVQ k4+16(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	TESTQ CX, CX
	JZ avx2tail

avx2loop:
	AVX2_GROUP((R8))
	ADDQ $4, R8
	ADDQ $256, BX
	DECQ CX
	JNZ avx2loop

avx2tail:
	CMPQ tail+24(FP), $0
	JEQ avx2store
	AVX2_GROUP((R12))

avx2store:
	AVX2_SUM8(Y0, Y1)
	AVX2_SUM8(Y2, Y3)
	AVX2_SUM8(Y4, Y5)
	AVX2_SUM8(Y6, Y7)
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y4, 64(DI)
	VMOVDQU Y6, 96(DI)
	ADDQ $8, AX
	ADDQ $4, R12
	ADDQ $128, DI
	DECQ DX
	JNZ avx2row
	VZEROUPPER
	RET

// ---- Requantization of t (gemmRequantParams.out, vectorised with AVX2
// for both variants): 8 channels per ymm, TFLite's arithmetic in int32
// lanes, the 64-bit products on even and odd lanes separately.
//
// func gemmVRequantAVX2(t *[4][32]int32, rows int, p *int32, stride int, offs *[4]int32, dst *[4]*byte, outOff, lo, hi int32)
//
// p points at channel c of six parameter arrays stride bytes apart: the
// constant, the multiplier, the left shift, the right shift, its mask
// 2^right-1 and mask>>1 (a seventh, -right, is for arm64). 32 bytes go
// to each dst[r].

// REQ8 requantizes t row at SI, channels at off, into Y0; row offset in
// Y9. Uses Y1-Y5; Y10 = 2^30 (qwords), Y11 = outOff, Y12 = lo, Y13 = hi.
#define REQ8(off) \
	VMOVDQU off(SI), Y0; \
	VPADDD off(BX), Y0, Y0; \
	VPADDD Y9, Y0, Y0; \
	VPSLLVD off(BX)(R8*2), Y0, Y0; \
	VMOVDQU off(BX)(R8*1), Y1; \
	VPMULDQ Y1, Y0, Y2; \
	VPADDQ Y10, Y2, Y2; \
	VPSRLQ $31, Y2, Y2; \
	VPSHUFD $0xF5, Y0, Y3; \
	VPSHUFD $0xF5, Y1, Y1; \
	VPMULDQ Y1, Y3, Y3; \
	VPADDQ Y10, Y3, Y3; \
	VPSLLQ $1, Y3, Y3; \
	VPBLENDD $0xAA, Y3, Y2, Y0; \
	VPAND off(BX)(R9*1), Y0, Y1; \
	VPSRAD $31, Y0, Y2; \
	VMOVDQU off(BX)(R10*1), Y3; \
	VPSUBD Y2, Y3, Y3; \
	VPSRAVD off(BX)(R11*1), Y0, Y0; \
	VPCMPGTD Y3, Y1, Y1; \
	VPSUBD Y1, Y0, Y0; \
	VPADDD Y11, Y0, Y0; \
	VPMAXSD Y12, Y0, Y0; \
	VPMINSD Y13, Y0, Y0

// PACK16 packs Y6 (8 channels) and Y7 (the next 8), clamped to a byte's
// range, into 16 bytes at off(DI).
#define PACK16(off) \
	VPACKSSDW Y7, Y6, Y6; \
	VPERMQ $0xD8, Y6, Y6; \
	VPAND Y14, Y6, Y6; \
	VEXTRACTI128 $1, Y6, X7; \
	VPACKUSWB X7, X6, X6; \
	VMOVDQU X6, off(DI)

TEXT ·gemmVRequantAVX2(SB), NOSPLIT, $0-60
	MOVQ t+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ p+16(FP), BX
	MOVQ stride+24(FP), R8
	MOVQ offs+32(FP), R12
	MOVQ dst+40(FP), R13
	// R8: mult (1·stride); left at 2·stride via (R8*2); R9: mask (4·stride),
	// R10: mask>>1 (5·stride), R11: right (3·stride).
	LEAQ (R8)(R8*2), R11
	MOVQ R8, R9
	SHLQ $2, R9
	LEAQ (R9)(R8*1), R10
	MOVQ $0x40000000, AX
	MOVQ AX, X10
	VPBROADCASTQ X10, Y10
	MOVL outOff+48(FP), AX
	MOVQ AX, X11
	VPBROADCASTD X11, Y11
	MOVL lo+52(FP), AX
	MOVQ AX, X12
	VPBROADCASTD X12, Y12
	MOVL hi+56(FP), AX
	MOVQ AX, X13
	VPBROADCASTD X13, Y13
	MOVL $0x00ff00ff, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14

reqrow:
	VPBROADCASTD (R12), Y9
	MOVQ (R13), DI
	REQ8(0)
	VMOVDQA Y0, Y6
	REQ8(32)
	VMOVDQA Y0, Y7
	PACK16(0)
	REQ8(64)
	VMOVDQA Y0, Y6
	REQ8(96)
	VMOVDQA Y0, Y7
	PACK16(16)
	ADDQ $128, SI
	ADDQ $4, R12
	ADDQ $8, R13
	DECQ CX
	JNZ reqrow
	VZEROUPPER
	RET

// func gemmRowSumsAVX2(a *int8, k, rows int, xor uint32, sums *int32)
// sums[r] = Σ_d (a[r·k+d] ^ xor) as unsigned bytes, minus 128·k: the sum
// of the row's int8 values after the shift gemmQRowSums describes.
// VPSADBW against zero adds 8 bytes into each qword.
TEXT ·gemmRowSumsAVX2(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ k+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVL xor+24(FP), R9
	MOVQ sums+32(FP), DI
	MOVQ R9, X15
	VPBROADCASTD X15, Y15
	VPXOR Y14, Y14, Y14
	MOVQ R8, R10
	SHLQ $7, R10 // 128·k
	ANDL $0xff, R9

rsrow:
	VPXOR Y0, Y0, Y0
	MOVQ R8, DX
	CMPQ DX, $32
	JLT rstail

rsloop:
	VPXOR (SI), Y15, Y1
	VPSADBW Y14, Y1, Y1
	VPADDQ Y1, Y0, Y0
	ADDQ $32, SI
	SUBQ $32, DX
	CMPQ DX, $32
	JGE rsloop

rstail:
	VEXTRACTI128 $1, Y0, X1
	VPADDQ X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VPADDQ X1, X0, X0
	MOVQ X0, AX
	TESTQ DX, DX
	JZ rsdone

rsbyte:
	MOVBLZX (SI), BX
	XORL R9, BX
	ADDQ BX, AX
	INCQ SI
	DECQ DX
	JNZ rsbyte

rsdone:
	SUBQ R10, AX
	MOVL AX, (DI)
	ADDQ $4, DI
	DECQ CX
	JNZ rsrow
	VZEROUPPER
	RET

// func gemmVRequantAVX512(t *[4][32]int32, rows int, p *int32, stride int, offs *[4]int32, dst *[4]*byte, outOff, lo, hi int32)
// gemmVRequantAVX2 on 16 lanes: K1 selects odd lanes for the blend,
// VPCMPGTD's mask adds the rounding 1, VPMOVDB narrows (after the clamp,
// truncation is exact for int8 and uint8 alike).

// REQ16 requantizes 16 channels at off into Z0; row offset in Z9, 2^30
// in Z10 (qwords), outOff, lo, hi in Z11-Z13, ones in Z14.
#define REQ16(off) \
	VMOVDQU32 off(SI), Z0; \
	VPADDD off(BX), Z0, Z0; \
	VPADDD Z9, Z0, Z0; \
	VPSLLVD off(BX)(R8*2), Z0, Z0; \
	VMOVDQU32 off(BX)(R8*1), Z1; \
	VPMULDQ Z1, Z0, Z2; \
	VPADDQ Z10, Z2, Z2; \
	VPSRLQ $31, Z2, Z2; \
	VPSHUFD $0xF5, Z0, Z3; \
	VPSHUFD $0xF5, Z1, Z1; \
	VPMULDQ Z1, Z3, Z3; \
	VPADDQ Z10, Z3, Z3; \
	VPSLLQ $1, Z3, Z3; \
	VPBLENDMD Z3, Z2, K1, Z0; \
	VPANDD off(BX)(R9*1), Z0, Z1; \
	VPSRAD $31, Z0, Z2; \
	VMOVDQU32 off(BX)(R10*1), Z3; \
	VPSUBD Z2, Z3, Z3; \
	VPSRAVD off(BX)(R11*1), Z0, Z0; \
	VPCMPGTD Z3, Z1, K2; \
	VPADDD Z14, Z0, K2, Z0; \
	VPADDD Z11, Z0, Z0; \
	VPMAXSD Z12, Z0, Z0; \
	VPMINSD Z13, Z0, Z0

TEXT ·gemmVRequantAVX512(SB), NOSPLIT, $0-60
	MOVQ t+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ p+16(FP), BX
	MOVQ stride+24(FP), R8
	MOVQ offs+32(FP), R12
	MOVQ dst+40(FP), R13
	LEAQ (R8)(R8*2), R11
	MOVQ R8, R9
	SHLQ $2, R9
	LEAQ (R9)(R8*1), R10
	MOVQ $0x40000000, AX
	VPBROADCASTQ AX, Z10
	MOVL outOff+48(FP), AX
	VPBROADCASTD AX, Z11
	MOVL lo+52(FP), AX
	VPBROADCASTD AX, Z12
	MOVL hi+56(FP), AX
	VPBROADCASTD AX, Z13
	MOVL $1, AX
	VPBROADCASTD AX, Z14
	MOVL $0xAAAA, AX
	KMOVW AX, K1

req16row:
	VPBROADCASTD (R12), Z9
	MOVQ (R13), DI
	REQ16(0)
	VPMOVDB Z0, X6
	VMOVDQU X6, 0(DI)
	REQ16(64)
	VPMOVDB Z0, X6
	VMOVDQU X6, 16(DI)
	ADDQ $128, SI
	ADDQ $4, R12
	ADDQ $8, R13
	DECQ CX
	JNZ req16row
	VZEROUPPER
	RET

// ---- LiteRT (XNNPACK fp32) requantization of t, see litertClamp.requant:
// the sum plus constant and row offset to float (VCVTDQ2PS), times the
// channel's float32 scale (one VMULPS: no fused multiply-add, as in Go),
// clamped to [lo, hi] relative to the zero point, rounded half to even
// (VCVTPS2DQ in the default MXCSR mode, which the Go runtime keeps), plus
// the zero point. The float clamp comes first so that the conversion
// never sees an out-of-range value.
//
// func gemmVRequantF32AVX2(t *[4][32]int32, rows int, p *int32, stride int, offs *[4]int32, dst *[4]*byte, zp int32, lo, hi float32)
//
// p points at channel c of two arrays stride bytes apart: the constant
// and the scale (float32 bits). 32 bytes go to each dst[r].

// REQF8 requantizes t row at SI, channels at off, into Y0; row offset in
// Y9, zp in Y11, lo and hi in Y12, Y13.
#define REQF8(off) \
	VMOVDQU off(SI), Y0; \
	VPADDD off(BX), Y0, Y0; \
	VPADDD Y9, Y0, Y0; \
	VCVTDQ2PS Y0, Y0; \
	VMULPS off(BX)(R8*1), Y0, Y0; \
	VMAXPS Y12, Y0, Y0; \
	VMINPS Y13, Y0, Y0; \
	VCVTPS2DQ Y0, Y0; \
	VPADDD Y11, Y0, Y0

TEXT ·gemmVRequantF32AVX2(SB), NOSPLIT, $0-60
	MOVQ t+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ p+16(FP), BX
	MOVQ stride+24(FP), R8
	MOVQ offs+32(FP), R12
	MOVQ dst+40(FP), R13
	MOVL zp+48(FP), AX
	MOVQ AX, X11
	VPBROADCASTD X11, Y11
	VBROADCASTSS lo+52(FP), Y12
	VBROADCASTSS hi+56(FP), Y13
	MOVL $0x00ff00ff, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14

reqfrow:
	VPBROADCASTD (R12), Y9
	MOVQ (R13), DI
	REQF8(0)
	VMOVDQA Y0, Y6
	REQF8(32)
	VMOVDQA Y0, Y7
	PACK16(0)
	REQF8(64)
	VMOVDQA Y0, Y6
	REQF8(96)
	VMOVDQA Y0, Y7
	PACK16(16)
	ADDQ $128, SI
	ADDQ $4, R12
	ADDQ $8, R13
	DECQ CX
	JNZ reqfrow
	VZEROUPPER
	RET

// func gemmVRequantF32AVX512(t *[4][32]int32, rows int, p *int32, stride int, offs *[4]int32, dst *[4]*byte, zp int32, lo, hi float32)
// gemmVRequantF32AVX2 on 16 lanes; VPMOVDB narrows (after the clamp,
// truncation is exact for int8 and uint8 alike).

// REQF16 requantizes 16 channels at off into Z0; row offset in Z9, zp in
// Z11, lo and hi in Z12, Z13.
#define REQF16(off) \
	VMOVDQU32 off(SI), Z0; \
	VPADDD off(BX), Z0, Z0; \
	VPADDD Z9, Z0, Z0; \
	VCVTDQ2PS Z0, Z0; \
	VMULPS off(BX)(R8*1), Z0, Z0; \
	VMAXPS Z12, Z0, Z0; \
	VMINPS Z13, Z0, Z0; \
	VCVTPS2DQ Z0, Z0; \
	VPADDD Z11, Z0, Z0

TEXT ·gemmVRequantF32AVX512(SB), NOSPLIT, $0-60
	MOVQ t+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ p+16(FP), BX
	MOVQ stride+24(FP), R8
	MOVQ offs+32(FP), R12
	MOVQ dst+40(FP), R13
	MOVL zp+48(FP), AX
	VPBROADCASTD AX, Z11
	VBROADCASTSS lo+52(FP), Z12
	VBROADCASTSS hi+56(FP), Z13

reqf16row:
	VPBROADCASTD (R12), Z9
	MOVQ (R13), DI
	REQF16(0)
	VPMOVDB Z0, X6
	VMOVDQU X6, 0(DI)
	REQF16(64)
	VPMOVDB Z0, X6
	VMOVDQU X6, 16(DI)
	ADDQ $128, SI
	ADDQ $4, R12
	ADDQ $8, R13
	DECQ CX
	JNZ reqf16row
	VZEROUPPER
	RET
