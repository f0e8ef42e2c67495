#include "textflag.h"

// 3×3 depthwise convolution, depth multiplier 1, AVX2. See dwPackQ for
// the block layout and dwArgs (depthwise_rows.go) for the argument block;
// the offsets below are those layouts'.
//
// Per 16 channels: the taps are widened to int16 and interleaved in
// pairs, so that VPMADDWD adds two products per int32 lane; the sums are
// exact (|w'·x| <= 255·255). The lanes hold channels 0-3,8-11 (low) and
// 4-7,12-15 (high), the order VPUNPCK*WD leaves them in; the packed
// parameters follow it, and VPACKSSDW restores the channel order.

// REQUANT is gemmChan.requant plus offset and clamp, on 8 int32 lanes:
// SaturatingRoundingDoublingHighMul as floor((x<<left)·mult + 2³⁰) / 2³¹)
// (which fits in int32, so bits 31-62 of the 64-bit sum are the result),
// then RoundingDivideByPOT as TFLite writes it: (h>>r) + (h&mask >
// mask>>1 + [h<0]). Uses Y6-Y8; Y12 holds 2³⁰ in each quadword.
#define REQUANT(ACC, MULT, LEFT, RIGHT, MASK, HALF) \
	VPSLLVD LEFT(BX), ACC, ACC \
	VMOVDQU MULT(BX), Y6 \
	VPMULDQ Y6, ACC, Y7 \
	VPSRLQ $32, ACC, Y8 \
	VPSRLQ $32, Y6, Y6 \
	VPMULDQ Y6, Y8, Y8 \
	VPADDQ Y12, Y7, Y7 \
	VPADDQ Y12, Y8, Y8 \
	VPSRLQ $31, Y7, Y7 \
	VPSLLQ $1, Y8, Y8 \
	VPBLENDD $0xAA, Y8, Y7, ACC \
	VPAND MASK(BX), ACC, Y7 \
	VPSRAD $31, ACC, Y8 \
	VMOVDQU HALF(BX), Y6 \
	VPSUBD Y8, Y6, Y6 \
	VPSRAVD RIGHT(BX), ACC, ACC \
	VPCMPGTD Y6, Y7, Y7 \
	VPSUBD Y7, ACC, ACC \
	VPADDD 736(BX), ACC, ACC \
	VPMAXSD 768(BX), ACC, ACC \
	VPMINSD 800(BX), ACC, ACC

// REQUANTF is the LiteRT arithmetic's fp32 requantization (litertClamp.
// requant) on 8 int32 lanes, with dwPackQ's LiteRT record: the sum to
// float32, times the channel's scale (its lanes where REQUANT has mult),
// clamped to [lo, hi] relative to the zero point (float32, at 768 and
// 800), rounded half to even (VCVTPS2DQ in the default MXCSR mode, which
// the Go runtime keeps; the magic-bias addition of the Go path rounds the
// same way for the clamped range), plus the zero point (736). The other
// arguments are REQUANT's, unused.
#define REQUANTF(ACC, SCALE, LEFT, RIGHT, MASK, HALF) \
	VCVTDQ2PS ACC, ACC \
	VMULPS SCALE(BX), ACC, ACC \
	VMAXPS 768(BX), ACC, ACC \
	VMINPS 800(BX), ACC, ACC \
	VCVTPS2DQ ACC, ACC \
	VPADDD 736(BX), ACC, ACC

// DW16 is the body of the 16-channel kernels: LOAD widens 16 bytes to
// int16, PACK packs int16 to bytes, REQ requantizes 8 lanes (REQUANT or
// REQUANTF). Channels 0-3,8-11 end in Y4 and 4-7,12-15 in Y5; VPACKSSDW
// puts them back in order.
#define DW16(LOAD, PACK, REQ) \
	MOVQ a+0(FP), DI \
	MOVQ 0(DI), R8 \
	MOVQ 8(DI), R9 \
	MOVQ 16(DI), R10 \
	MOVQ 24(DI), R11 \
	MOVQ 32(DI), R12 \
	MOVQ 40(DI), R13 \
	MOVQ 48(DI), R14 \
	MOVQ 56(DI), R15 \
	MOVQ 64(DI), SI \
	MOVQ 144(DI), DX \
	MOVQ $0x40000000, AX \
	MOVQ AX, X12 \
	VPBROADCASTQ X12, Y12 \
	VPXOR Y11, Y11, Y11 \
pixel: \
	MOVQ 168(DI), BX \
	MOVQ 176(DI), AX \
block: \
	MOVQ 0(BX), CX \
	LOAD (R8)(CX*1), Y0 \
	LOAD (R9)(CX*1), Y1 \
	VPUNPCKLWD Y1, Y0, Y2 \
	VPUNPCKHWD Y1, Y0, Y3 \
	VPMADDWD 32(BX), Y2, Y2 \
	VPMADDWD 64(BX), Y3, Y3 \
	VPADDD 352(BX), Y2, Y4 \
	VPADDD 384(BX), Y3, Y5 \
	LOAD (R10)(CX*1), Y0 \
	LOAD (R11)(CX*1), Y1 \
	VPUNPCKLWD Y1, Y0, Y2 \
	VPUNPCKHWD Y1, Y0, Y3 \
	VPMADDWD 96(BX), Y2, Y2 \
	VPMADDWD 128(BX), Y3, Y3 \
	VPADDD Y2, Y4, Y4 \
	VPADDD Y3, Y5, Y5 \
	LOAD (R12)(CX*1), Y0 \
	LOAD (R13)(CX*1), Y1 \
	VPUNPCKLWD Y1, Y0, Y2 \
	VPUNPCKHWD Y1, Y0, Y3 \
	VPMADDWD 160(BX), Y2, Y2 \
	VPMADDWD 192(BX), Y3, Y3 \
	VPADDD Y2, Y4, Y4 \
	VPADDD Y3, Y5, Y5 \
	LOAD (R14)(CX*1), Y0 \
	LOAD (R15)(CX*1), Y1 \
	VPUNPCKLWD Y1, Y0, Y2 \
	VPUNPCKHWD Y1, Y0, Y3 \
	VPMADDWD 224(BX), Y2, Y2 \
	VPMADDWD 256(BX), Y3, Y3 \
	VPADDD Y2, Y4, Y4 \
	VPADDD Y3, Y5, Y5 \
	LOAD (SI)(CX*1), Y0 \
	VPUNPCKLWD Y11, Y0, Y2 \
	VPUNPCKHWD Y11, Y0, Y3 \
	VPMADDWD 288(BX), Y2, Y2 \
	VPMADDWD 320(BX), Y3, Y3 \
	VPADDD Y2, Y4, Y4 \
	VPADDD Y3, Y5, Y5 \
	REQ(Y4, 416, 480, 544, 608, 672) \
	REQ(Y5, 448, 512, 576, 640, 704) \
	VPACKSSDW Y5, Y4, Y4 \
	VEXTRACTI128 $1, Y4, X5 \
	PACK X5, X4, X4 \
	VMOVDQU X4, (DX)(CX*1) \
	ADDQ $832, BX \
	DECQ AX \
	JNZ block \
	ADDQ 72(DI), R8 \
	ADDQ 80(DI), R9 \
	ADDQ 88(DI), R10 \
	ADDQ 96(DI), R11 \
	ADDQ 104(DI), R12 \
	ADDQ 112(DI), R13 \
	ADDQ 120(DI), R14 \
	ADDQ 128(DI), R15 \
	ADDQ 136(DI), SI \
	ADDQ 152(DI), DX \
	DECQ 160(DI) \
	JNZ pixel \
	VZEROUPPER \
	RET

// func dwQ3x3I8AVX2(a *dwArgs)
TEXT ·dwQ3x3I8AVX2(SB), NOSPLIT, $0-8
	DW16(VPMOVSXBW, VPACKSSWB, REQUANT)

// func dwQ3x3U8AVX2(a *dwArgs)
TEXT ·dwQ3x3U8AVX2(SB), NOSPLIT, $0-8
	DW16(VPMOVZXBW, VPACKUSWB, REQUANT)

// func dwQ3x3I8F32AVX2(a *dwArgs)
TEXT ·dwQ3x3I8F32AVX2(SB), NOSPLIT, $0-8
	DW16(VPMOVSXBW, VPACKSSWB, REQUANTF)

// func dwQ3x3U8F32AVX2(a *dwArgs)
TEXT ·dwQ3x3U8F32AVX2(SB), NOSPLIT, $0-8
	DW16(VPMOVZXBW, VPACKUSWB, REQUANTF)

// func dwF3x3AVX2(a *dwArgs)
//
// Float32, 8 channels per block: the products are added one by one to 0
// in tap order, then the bias, with separate VMULPS and VADDPS (no FMA),
// so that the sums round exactly as the portable Go loop's do. The clamp
// keeps NaN as ClampF does: VMAXPS and VMINPS return their second source
// when either is NaN.
TEXT ·dwF3x3AVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), DI
	MOVQ 0(DI), R8
	MOVQ 8(DI), R9
	MOVQ 16(DI), R10
	MOVQ 24(DI), R11
	MOVQ 32(DI), R12
	MOVQ 40(DI), R13
	MOVQ 48(DI), R14
	MOVQ 56(DI), R15
	MOVQ 64(DI), SI
	MOVQ 144(DI), DX

fpixel:
	MOVQ 168(DI), BX
	MOVQ 176(DI), AX

fblock:
	MOVQ 0(BX), CX
	VXORPS Y0, Y0, Y0
	VMOVUPS (R8)(CX*1), Y1
	VMULPS 32(BX), Y1, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS (R9)(CX*1), Y2
	VMULPS 64(BX), Y2, Y2
	VADDPS Y2, Y0, Y0
	VMOVUPS (R10)(CX*1), Y3
	VMULPS 96(BX), Y3, Y3
	VADDPS Y3, Y0, Y0
	VMOVUPS (R11)(CX*1), Y1
	VMULPS 128(BX), Y1, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS (R12)(CX*1), Y2
	VMULPS 160(BX), Y2, Y2
	VADDPS Y2, Y0, Y0
	VMOVUPS (R13)(CX*1), Y3
	VMULPS 192(BX), Y3, Y3
	VADDPS Y3, Y0, Y0
	VMOVUPS (R14)(CX*1), Y1
	VMULPS 224(BX), Y1, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS (R15)(CX*1), Y2
	VMULPS 256(BX), Y2, Y2
	VADDPS Y2, Y0, Y0
	VMOVUPS (SI)(CX*1), Y3
	VMULPS 288(BX), Y3, Y3
	VADDPS Y3, Y0, Y0
	VADDPS 320(BX), Y0, Y0
	VMOVUPS 352(BX), Y1
	VMAXPS Y0, Y1, Y0
	VMOVUPS 384(BX), Y1
	VMINPS Y0, Y1, Y0
	VMOVUPS Y0, (DX)(CX*1)
	ADDQ $416, BX
	DECQ AX
	JNZ fblock

	ADDQ 72(DI), R8
	ADDQ 80(DI), R9
	ADDQ 88(DI), R10
	ADDQ 96(DI), R11
	ADDQ 104(DI), R12
	ADDQ 112(DI), R13
	ADDQ 120(DI), R14
	ADDQ 128(DI), R15
	ADDQ 136(DI), SI
	ADDQ 152(DI), DX
	DECQ 160(DI)
	JNZ fpixel
	VZEROUPPER
	RET

// Narrow quantized kernels: 8 channels per block (dwPackQ8), for 8 to 15
// channels. Each tap is widened to int32 in channel order and multiplied
// by its weights with VPMULLD; the requantization is REQUANT's with the
// narrow record's offsets.

// REQUANT8 is REQUANT on the narrow record; it clobbers Y6-Y8.
#define REQUANT8(ACC) \
	VPSLLVD 384(BX), ACC, ACC \
	VMOVDQU 352(BX), Y6 \
	VPMULDQ Y6, ACC, Y7 \
	VPSRLQ $32, ACC, Y8 \
	VPSRLQ $32, Y6, Y6 \
	VPMULDQ Y6, Y8, Y8 \
	VPADDQ Y12, Y7, Y7 \
	VPADDQ Y12, Y8, Y8 \
	VPSRLQ $31, Y7, Y7 \
	VPSLLQ $1, Y8, Y8 \
	VPBLENDD $0xAA, Y8, Y7, ACC \
	VPAND 448(BX), ACC, Y7 \
	VPSRAD $31, ACC, Y8 \
	VMOVDQU 480(BX), Y6 \
	VPSUBD Y8, Y6, Y6 \
	VPSRAVD 416(BX), ACC, ACC \
	VPCMPGTD Y6, Y7, Y7 \
	VPSUBD Y7, ACC, ACC \
	VPADDD 512(BX), ACC, ACC \
	VPMAXSD 544(BX), ACC, ACC \
	VPMINSD 576(BX), ACC, ACC

// REQUANT8F is REQUANTF on the narrow LiteRT record: scales at 352,
// zero point at 512, lo and hi (float32) at 544 and 576.
#define REQUANT8F(ACC) \
	VCVTDQ2PS ACC, ACC \
	VMULPS 352(BX), ACC, ACC \
	VMAXPS 544(BX), ACC, ACC \
	VMINPS 576(BX), ACC, ACC \
	VCVTPS2DQ ACC, ACC \
	VPADDD 512(BX), ACC, ACC

// TAP8 adds tap PTR times its weights at W(BX) to Y4; TMP is scratch.
#define TAP8(LOAD, PTR, W, TMP) \
	LOAD (PTR)(CX*1), TMP \
	VPMULLD W(BX), TMP, TMP \
	VPADDD TMP, Y4, Y4

// NARROW8 is the body of the narrow kernels: LOAD widens 8 bytes to
// int32, PACK packs int16 to bytes, REQ requantizes (REQUANT8 or
// REQUANT8F).
#define NARROW8(LOAD, PACK, REQ) \
	MOVQ a+0(FP), DI \
	MOVQ 0(DI), R8 \
	MOVQ 8(DI), R9 \
	MOVQ 16(DI), R10 \
	MOVQ 24(DI), R11 \
	MOVQ 32(DI), R12 \
	MOVQ 40(DI), R13 \
	MOVQ 48(DI), R14 \
	MOVQ 56(DI), R15 \
	MOVQ 64(DI), SI \
	MOVQ 144(DI), DX \
	MOVQ $0x40000000, AX \
	MOVQ AX, X12 \
	VPBROADCASTQ X12, Y12 \
npixel: \
	MOVQ 168(DI), BX \
	MOVQ 176(DI), AX \
nblock: \
	MOVQ 0(BX), CX \
	LOAD (R8)(CX*1), Y4 \
	VPMULLD 32(BX), Y4, Y4 \
	VPADDD 320(BX), Y4, Y4 \
	TAP8(LOAD, R9, 64, Y0) \
	TAP8(LOAD, R10, 96, Y1) \
	TAP8(LOAD, R11, 128, Y2) \
	TAP8(LOAD, R12, 160, Y3) \
	TAP8(LOAD, R13, 192, Y0) \
	TAP8(LOAD, R14, 224, Y1) \
	TAP8(LOAD, R15, 256, Y2) \
	TAP8(LOAD, SI, 288, Y3) \
	REQ(Y4) \
	VEXTRACTI128 $1, Y4, X5 \
	VPACKSSDW X5, X4, X4 \
	PACK X4, X4, X4 \
	VMOVQ X4, (DX)(CX*1) \
	ADDQ $608, BX \
	DECQ AX \
	JNZ nblock \
	ADDQ 72(DI), R8 \
	ADDQ 80(DI), R9 \
	ADDQ 88(DI), R10 \
	ADDQ 96(DI), R11 \
	ADDQ 104(DI), R12 \
	ADDQ 112(DI), R13 \
	ADDQ 120(DI), R14 \
	ADDQ 128(DI), R15 \
	ADDQ 136(DI), SI \
	ADDQ 152(DI), DX \
	DECQ 160(DI) \
	JNZ npixel \
	VZEROUPPER \
	RET

// func dwQ3x3I8x8AVX2(a *dwArgs)
TEXT ·dwQ3x3I8x8AVX2(SB), NOSPLIT, $0-8
	NARROW8(VPMOVSXBD, VPACKSSWB, REQUANT8)

// func dwQ3x3U8x8AVX2(a *dwArgs)
TEXT ·dwQ3x3U8x8AVX2(SB), NOSPLIT, $0-8
	NARROW8(VPMOVZXBD, VPACKUSWB, REQUANT8)

// func dwQ3x3I8x8F32AVX2(a *dwArgs)
TEXT ·dwQ3x3I8x8F32AVX2(SB), NOSPLIT, $0-8
	NARROW8(VPMOVSXBD, VPACKSSWB, REQUANT8F)

// func dwQ3x3U8x8F32AVX2(a *dwArgs)
TEXT ·dwQ3x3U8x8F32AVX2(SB), NOSPLIT, $0-8
	NARROW8(VPMOVZXBD, VPACKUSWB, REQUANT8F)
