#include "textflag.h"

// Quantized depthwise taps kernel (depthwise_qtaps.go), AVX2: one tile of
// up to 4 pixels by 32 channels. Per pixel and tap, the 32 input bytes
// are widened to int32 (VPMOVSXBD, or VPMOVZXBD for uint8) and multiplied
// by the tap's int32 weights (VPMULLD); four accumulators of 8 channels
// sum the taps in wrapping int32 arithmetic, as the Go loop does.

// TAPS is the loop over the taps of one pixel; EXT widens bytes.
#define TAPS(EXT, label) \
label: \
	MOVQ (SI)(DX*8), R13; \
	ADDQ R8, R13; \
	EXT 0(R13), Y4; \
	EXT 8(R13), Y5; \
	EXT 16(R13), Y6; \
	EXT 24(R13), Y7; \
	VPMULLD 0(BX), Y4, Y4; \
	VPMULLD 32(BX), Y5, Y5; \
	VPMULLD 64(BX), Y6, Y6; \
	VPMULLD 96(BX), Y7, Y7; \
	VPADDD Y4, Y0, Y0; \
	VPADDD Y5, Y1, Y1; \
	VPADDD Y6, Y2, Y2; \
	VPADDD Y7, Y3, Y3; \
	ADDQ R9, BX; \
	INCQ DX; \
	CMPQ DX, CX; \
	JLT label

// func dwQTapsAsm(a *dwQArgs)
TEXT ·dwQTapsAsm(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), SI  // taps
	MOVQ 8(AX), CX  // ntaps
	MOVQ 16(AX), R8 // off, advanced by xstep per pixel
	MOVQ 32(AX), R9 // wstep
	MOVQ 40(AX), R10 // xstep
	MOVQ 48(AX), R11 // rows
	MOVQ 56(AX), DI  // tile
	MOVQ 64(AX), R12 // u8

pixel:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	MOVQ 24(AX), BX // w
	XORQ DX, DX
	TESTQ R12, R12
	JNZ unsigned
	TAPS(VPMOVSXBD, signedtaps)
	JMP store

unsigned:
	TAPS(VPMOVZXBD, unsignedtaps)

store:
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	ADDQ $128, DI
	ADDQ R10, R8
	DECQ R11
	JNZ pixel
	VZEROUPPER
	RET
