#include "textflag.h"

// Micro-kernels for gemmVRun (see gemm_vec.go for the packing):
//
//	a *[4]*int8, tails *[4]uint32, k4, tail int, b *byte, t *[4][32]int32, xor uint32, rows int
//
// Each row in turn is multiplied by 32 channels: per depth group, the
// row's 4 bytes are broadcast (LD1R) to every 32-bit lane and met by 8
// vectors of 4 channels × 4 bytes. The Go assembler lacks these
// mnemonics; they are encoded with WORD.

// SMULL Vd.8H, Vn.8B, Vm.8B
#define SMULL(d, n, m) WORD $(0x0E20C000 | ((m)<<16) | ((n)<<5) | (d))
// SMULL2 Vd.8H, Vn.16B, Vm.16B
#define SMULL2(d, n, m) WORD $(0x4E20C000 | ((m)<<16) | ((n)<<5) | (d))
// SADALP Vd.4S, Vn.8H
#define SADALP(d, n) WORD $(0x4E606800 | ((n)<<5) | (d))
// ADDP Vd.4S, Vn.4S, Vm.4S
#define ADDP4S(d, n, m) WORD $(0x4EA0BC00 | ((m)<<16) | ((n)<<5) | (d))
// SDOT Vd.4S, Vn.16B, Vm.16B
#define SDOT(d, n, m) WORD $(0x4E809400 | ((m)<<16) | ((n)<<5) | (d))

// ---- NEON: SMULL/SMULL2 make exact int16 products (|x·w| ≤ 2¹⁴) of 2
// channels × 4 depth each, SADALP adds them in pairs to int32 lanes:
// V(16+2i) holds channels 4i, 4i+1 (two partial sums each), V(17+2i)
// channels 4i+2, 4i+3; ADDP adds the pairs at the end.

// NEON_MAC4(w0..w3, acc) multiplies V4 (the broadcast row) by chunks
// V(w0)..V(w3), accumulating into V(acc)..V(acc+7).
#define NEON_MAC4(w0, w1, w2, w3, acc) \
	SMULL(5, w0, 4); \
	SMULL2(6, w0, 4); \
	SMULL(7, w1, 4); \
	SMULL2(9, w1, 4); \
	SADALP(acc, 5); \
	SADALP(acc+1, 6); \
	SADALP(acc+2, 7); \
	SADALP(acc+3, 9); \
	SMULL(5, w2, 4); \
	SMULL2(6, w2, 4); \
	SMULL(7, w3, 4); \
	SMULL2(9, w3, 4); \
	SADALP(acc+4, 5); \
	SADALP(acc+5, 6); \
	SADALP(acc+6, 7); \
	SADALP(acc+7, 9)

#define NEON_GROUP \
	VEOR V8.B16, V4.B16, V4.B16; \
	VLD1.P 64(R2), [V0.B16, V1.B16, V2.B16, V3.B16]; \
	VLD1.P 64(R2), [V10.B16, V11.B16, V12.B16, V13.B16]; \
	NEON_MAC4(0, 1, 2, 3, 16); \
	NEON_MAC4(10, 11, 12, 13, 24)

// func gemmNEONRows(a *[4]*int8, tails *[4]uint32, k4, tail int, b *byte, t *[4][32]int32, xor uint32, rows int)
TEXT ·gemmNEONRows(SB), NOSPLIT, $0-64
	MOVD a+0(FP), R0
	MOVD tails+8(FP), R8
	MOVD b+32(FP), R9
	MOVD t+40(FP), R5
	MOVWU xor+48(FP), R6
	MOVD rows+56(FP), R7
	VDUP R6, V8.S4

neonrow:
	MOVD.P 8(R0), R1
	MOVD R9, R2
	MOVD k4+16(FP), R3
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	VEOR V26.B16, V26.B16, V26.B16
	VEOR V27.B16, V27.B16, V27.B16
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16
	CBZ R3, neontail

neonloop:
	VLD1R.P 4(R1), [V4.S4]
	NEON_GROUP
	SUB $1, R3
	CBNZ R3, neonloop

neontail:
	MOVD tail+24(FP), R4
	CBZ R4, neonstore
	VLD1R (R8), [V4.S4]
	NEON_GROUP

neonstore:
	ADDP4S(0, 16, 17)
	ADDP4S(1, 18, 19)
	ADDP4S(2, 20, 21)
	ADDP4S(3, 22, 23)
	ADDP4S(10, 24, 25)
	ADDP4S(11, 26, 27)
	ADDP4S(12, 28, 29)
	ADDP4S(13, 30, 31)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R5)
	VST1.P [V10.S4, V11.S4, V12.S4, V13.S4], 64(R5)
	ADD $4, R8
	SUB $1, R7
	CBNZ R7, neonrow
	RET

// ---- Dot product: SDOT adds four int8 products to each int32 lane, so
// V16-V23 hold channels 4i..4i+3 directly.

#define SDOT_GROUP \
	VEOR V8.B16, V4.B16, V4.B16; \
	VLD1.P 64(R2), [V0.B16, V1.B16, V2.B16, V3.B16]; \
	VLD1.P 64(R2), [V10.B16, V11.B16, V12.B16, V13.B16]; \
	SDOT(16, 0, 4); \
	SDOT(17, 1, 4); \
	SDOT(18, 2, 4); \
	SDOT(19, 3, 4); \
	SDOT(20, 10, 4); \
	SDOT(21, 11, 4); \
	SDOT(22, 12, 4); \
	SDOT(23, 13, 4)

// func gemmSDOTRows(a *[4]*int8, tails *[4]uint32, k4, tail int, b *byte, t *[4][32]int32, xor uint32, rows int)
TEXT ·gemmSDOTRows(SB), NOSPLIT, $0-64
	MOVD a+0(FP), R0
	MOVD tails+8(FP), R8
	MOVD b+32(FP), R9
	MOVD t+40(FP), R5
	MOVWU xor+48(FP), R6
	MOVD rows+56(FP), R7
	VDUP R6, V8.S4

sdotrow:
	MOVD.P 8(R0), R1
	MOVD R9, R2
	MOVD k4+16(FP), R3
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	CBZ R3, sdottail

sdotloop:
	VLD1R.P 4(R1), [V4.S4]
	SDOT_GROUP
	SUB $1, R3
	CBNZ R3, sdotloop

sdottail:
	MOVD tail+24(FP), R4
	CBZ R4, sdotstore
	VLD1R (R8), [V4.S4]
	SDOT_GROUP

sdotstore:
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R5)
	VST1.P [V20.S4, V21.S4, V22.S4, V23.S4], 64(R5)
	ADD $4, R8
	SUB $1, R7
	CBNZ R7, sdotrow
	RET

// ---- Requantization of t, TFLite's NEON arithmetic (as in its
// optimized MultiplyByQuantizedMultiplier): SSHL by the left shift,
// SQRDMULH (exactly SaturatingRoundingDoublingHighMul), then
// RoundingDivideByPOT as SRSHL by -right after adding -1 to negative
// values (the sign bit of x & -right).

// SSHL Vd.4S, Vn.4S, Vm.4S
#define SSHL(d, n, m) WORD $(0x4EA04400 | ((m)<<16) | ((n)<<5) | (d))
// SRSHL Vd.4S, Vn.4S, Vm.4S
#define SRSHL(d, n, m) WORD $(0x4EA05400 | ((m)<<16) | ((n)<<5) | (d))
// SQRDMULH Vd.4S, Vn.4S, Vm.4S
#define SQRDMULH(d, n, m) WORD $(0x6EA0B400 | ((m)<<16) | ((n)<<5) | (d))
// SSHR Vd.4S, Vn.4S, #31
#define SSHR31(d, n) WORD $(0x4F210400 | ((n)<<5) | (d))
// SQADD Vd.4S, Vn.4S, Vm.4S
#define SQADD(d, n, m) WORD $(0x4EA00C00 | ((m)<<16) | ((n)<<5) | (d))
// SMAX Vd.4S, Vn.4S, Vm.4S
#define SMAX(d, n, m) WORD $(0x4EA06400 | ((m)<<16) | ((n)<<5) | (d))
// SMIN Vd.4S, Vn.4S, Vm.4S
#define SMIN(d, n, m) WORD $(0x4EA06C00 | ((m)<<16) | ((n)<<5) | (d))
// XTN Vd.4H, Vn.4S
#define XTN4H(d, n) WORD $(0x0E612800 | ((n)<<5) | (d))
// XTN2 Vd.8H, Vn.4S
#define XTN28H(d, n) WORD $(0x4E612800 | ((n)<<5) | (d))
// XTN Vd.8B, Vn.8H
#define XTN8B(d, n) WORD $(0x0E212800 | ((n)<<5) | (d))
// XTN2 Vd.16B, Vn.8H
#define XTN216B(d, n) WORD $(0x4E212800 | ((n)<<5) | (d))

// NREQ4 requantizes the next 4 channels of t (R0) into V(out). Parameter
// cursors: R7 constant, R8 multiplier, R9 left shift, R10 -right. V27
// holds the row offset, V28-V30 outOff, lo, hi.
#define NREQ4(out) \
	VLD1.P 16(R0), [V0.S4]; \
	VLD1.P 16(R7), [V1.S4]; \
	VADD V1.S4, V0.S4, V0.S4; \
	VADD V27.S4, V0.S4, V0.S4; \
	VLD1.P 16(R9), [V2.S4]; \
	SSHL(0, 0, 2); \
	VLD1.P 16(R8), [V3.S4]; \
	SQRDMULH(0, 0, 3); \
	VLD1.P 16(R10), [V4.S4]; \
	VAND V4.B16, V0.B16, V5.B16; \
	SSHR31(5, 5); \
	SQADD(0, 0, 5); \
	SRSHL(0, 0, 4); \
	VADD V28.S4, V0.S4, V0.S4; \
	SMAX(0, 0, 29); \
	SMIN(out, 0, 30)

// NPACK16 narrows V16-V19 (clamped to a byte's range) to 16 bytes at R6.
#define NPACK16 \
	XTN4H(20, 16); \
	XTN28H(20, 17); \
	XTN4H(21, 18); \
	XTN28H(21, 19); \
	XTN8B(22, 20); \
	XTN216B(22, 21); \
	VST1.P [V22.B16], 16(R6)

// func gemmVRequantNEON(t *[4][32]int32, rows int, p *int32, stride int, offs *[4]int32, dst *[4]*byte, outOff, lo, hi int32)
// p points at channel c of seven parameter arrays stride bytes apart (see
// gemmV.setRequant); this uses the constant (0), the multiplier (1), the
// left shift (2) and -right (6).
TEXT ·gemmVRequantNEON(SB), NOSPLIT, $0-60
	MOVD t+0(FP), R0
	MOVD rows+8(FP), R1
	MOVD p+16(FP), R2
	MOVD stride+24(FP), R3
	MOVD offs+32(FP), R4
	MOVD dst+40(FP), R5
	MOVW outOff+48(FP), R11
	VDUP R11, V28.S4
	MOVW lo+52(FP), R11
	VDUP R11, V29.S4
	MOVW hi+56(FP), R11
	VDUP R11, V30.S4

nreqrow:
	VLD1R.P 4(R4), [V27.S4]
	MOVD.P 8(R5), R6
	MOVD R2, R7
	ADD R3, R2, R8
	ADD R3, R8, R9
	LSL $2, R3, R10
	ADD R10, R9, R10
	NREQ4(16)
	NREQ4(17)
	NREQ4(18)
	NREQ4(19)
	NPACK16
	NREQ4(16)
	NREQ4(17)
	NREQ4(18)
	NREQ4(19)
	NPACK16
	SUB $1, R1
	CBNZ R1, nreqrow
	RET

// UADDLP Vd.8H, Vn.16B
#define UADDLP(d, n) WORD $(0x6E202800 | ((n)<<5) | (d))
// UADALP Vd.4S, Vn.8H
#define UADALP(d, n) WORD $(0x6E606800 | ((n)<<5) | (d))
// ADDV Sd, Vn.4S
#define ADDV4S(d, n) WORD $(0x4EB1B800 | ((n)<<5) | (d))

// func gemmRowSumsNEON(a *int8, k, rows int, xor uint32, sums *int32)
// sums[r] = Σ_d (a[r·k+d] ^ xor) as unsigned bytes, minus 128·k.
TEXT ·gemmRowSumsNEON(SB), NOSPLIT, $0-40
	MOVD a+0(FP), R0
	MOVD k+8(FP), R1
	MOVD rows+16(FP), R2
	MOVWU xor+24(FP), R3
	MOVD sums+32(FP), R4
	VDUP R3, V8.S4
	AND $0xff, R3, R3
	LSL $7, R1, R5

rsrow:
	VEOR V2.B16, V2.B16, V2.B16
	MOVD R1, R6
	CMP $16, R6
	BLT rstail

rsloop:
	VLD1.P 16(R0), [V0.B16]
	VEOR V8.B16, V0.B16, V0.B16
	UADDLP(1, 0)
	UADALP(2, 1)
	SUB $16, R6
	CMP $16, R6
	BGE rsloop

rstail:
	ADDV4S(2, 2)
	VMOV V2.S[0], R7
	CBZ R6, rsdone

rsbyte:
	MOVBU.P 1(R0), R8
	EOR R3, R8, R8
	ADD R8, R7, R7
	SUB $1, R6
	CBNZ R6, rsbyte

rsdone:
	SUB R5, R7, R7
	MOVW.P R7, 4(R4)
	SUB $1, R2
	CBNZ R2, rsrow
	RET

// ---- LiteRT (XNNPACK fp32) requantization, as gemmVRequantF32AVX2 on
// amd64 (see litertClamp.requant). FCVTNS rounds half to even whatever
// the FPCR mode; SCVTF and FMUL round to nearest, the mode Go keeps.

// SCVTF Vd.4S, Vn.4S
#define SCVTF4S(d, n) WORD $(0x4E21D800 | ((n)<<5) | (d))
// FMUL Vd.4S, Vn.4S, Vm.4S
#define FMUL4S(d, n, m) WORD $(0x6E20DC00 | ((m)<<16) | ((n)<<5) | (d))
// FMAX Vd.4S, Vn.4S, Vm.4S
#define FMAX4S(d, n, m) WORD $(0x4E20F400 | ((m)<<16) | ((n)<<5) | (d))
// FMIN Vd.4S, Vn.4S, Vm.4S
#define FMIN4S(d, n, m) WORD $(0x4EA0F400 | ((m)<<16) | ((n)<<5) | (d))
// FCVTNS Vd.4S, Vn.4S
#define FCVTNS4S(d, n) WORD $(0x4E21A800 | ((n)<<5) | (d))
// ADD Vd.4S, Vn.4S, Vm.4S
#define ADD4S(d, n, m) WORD $(0x4EA08400 | ((m)<<16) | ((n)<<5) | (d))

// NFREQ4 requantizes the next 4 channels of t (R0) into V(out). Parameter
// cursors: R7 constant, R8 scale. V27 holds the row offset, V28 the zero
// point, V29 and V30 lo and hi (float32, relative to the zero point).
#define NFREQ4(out) \
	VLD1.P 16(R0), [V0.S4]; \
	VLD1.P 16(R7), [V1.S4]; \
	VADD V1.S4, V0.S4, V0.S4; \
	VADD V27.S4, V0.S4, V0.S4; \
	SCVTF4S(0, 0); \
	VLD1.P 16(R8), [V3.S4]; \
	FMUL4S(0, 0, 3); \
	FMAX4S(0, 0, 29); \
	FMIN4S(0, 0, 30); \
	FCVTNS4S(0, 0); \
	ADD4S(out, 0, 28)

// func gemmVRequantF32NEON(t *[4][32]int32, rows int, p *int32, stride int, offs *[4]int32, dst *[4]*byte, zp int32, lo, hi float32)
// p points at channel c of two arrays stride bytes apart: the constant
// and the scale (see gemmV.setLiteRT).
TEXT ·gemmVRequantF32NEON(SB), NOSPLIT, $0-60
	MOVD t+0(FP), R0
	MOVD rows+8(FP), R1
	MOVD p+16(FP), R2
	MOVD stride+24(FP), R3
	MOVD offs+32(FP), R4
	MOVD dst+40(FP), R5
	MOVW zp+48(FP), R11
	VDUP R11, V28.S4
	MOVWU lo+52(FP), R11
	VDUP R11, V29.S4
	MOVWU hi+56(FP), R11
	VDUP R11, V30.S4

nfreqrow:
	VLD1R.P 4(R4), [V27.S4]
	MOVD.P 8(R5), R6
	MOVD R2, R7
	ADD R3, R2, R8
	NFREQ4(16)
	NFREQ4(17)
	NFREQ4(18)
	NFREQ4(19)
	NPACK16
	NFREQ4(16)
	NFREQ4(17)
	NFREQ4(18)
	NFREQ4(19)
	NPACK16
	SUB $1, R1
	CBNZ R1, nfreqrow
	RET
