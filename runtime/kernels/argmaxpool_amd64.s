#include "textflag.h"

// func argmaxWinAsm(x *float32, offs *int, win int, y *float32, idx *uint32, n int)
// XNNPACK's argmax over one pooling window, 8 channels at a time (AVX2):
// the maximum starts at the window's first element (offs[0] = 0) with
// index 0, and each later element k (at byte offset offs[k] from x) that
// is greater (ordered: a NaN never is) replaces it and sets the index to
// k. n is a positive multiple of 8; win is at least 1.
TEXT ·argmaxWinAsm(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ offs+8(FP), R8
	MOVQ win+16(FP), R9
	MOVQ y+24(FP), DI
	MOVQ idx+32(FP), DX
	MOVQ n+40(FP), CX
	MOVL $1, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14

amblock:
	VMOVUPS (SI), Y0
	VPXOR   Y1, Y1, Y1
	VPXOR   Y2, Y2, Y2
	MOVQ    $1, BX

amwin:
	CMPQ BX, R9
	JGE  amstore
	MOVQ (R8)(BX*8), R10
	VPADDD  Y14, Y2, Y2
	VMOVUPS (SI)(R10*1), Y3
	VCMPPS  $0x1e, Y0, Y3, Y4
	VBLENDVPS Y4, Y3, Y0, Y0
	VBLENDVPS Y4, Y2, Y1, Y1
	INCQ BX
	JMP  amwin

amstore:
	VMOVUPS Y0, (DI)
	VMOVDQU Y1, (DX)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ  amblock
	VZEROUPPER
	RET
