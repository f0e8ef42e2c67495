#include "textflag.h"

// func dot16Asm(x, w *int16, n int) int64
// Σ x[i]·w[i] for n a positive multiple of 16, n <= dot16Chunk: VPMADDWD
// sums pairs of products into int32 lanes (two accumulators), which are
// then widened to int64 and added (dot16.go).
TEXT ·dot16Asm(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1

loop32:
	CMPQ CX, $32
	JLT  tail16
	VMOVDQU (SI), Y2
	VPMADDWD (DI), Y2, Y2
	VPADDD Y2, Y0, Y0
	VMOVDQU 32(SI), Y3
	VPMADDWD 32(DI), Y3, Y3
	VPADDD Y3, Y1, Y1
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $32, CX
	JMP  loop32

tail16:
	TESTQ CX, CX
	JZ    sum
	VMOVDQU (SI), Y2
	VPMADDWD (DI), Y2, Y2
	VPADDD Y2, Y0, Y0

sum:
	VPADDD Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMOVSXDQ X0, Y2
	VPMOVSXDQ X1, Y3
	VPADDQ Y3, Y2, Y2
	VEXTRACTI128 $1, Y2, X3
	VPADDQ X3, X2, X2
	VPSHUFD $0x4E, X2, X3
	VPADDQ X3, X2, X2
	VMOVQ X2, AX
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET
