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

// func unpoolWinAsm(x *float32, idx *uint32, y *float32, offs *int, win int, n int)
// One input pixel of XNNPACK's unpooling over a window that tiles the
// output, 8 channels at a time (AVX2): window position k (at byte offset
// offs[k] from y) gets x where idx = k and +0 elsewhere, so every output
// element is written once. n is a positive multiple of 8; win at least 1.
TEXT ·unpoolWinAsm(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ idx+8(FP), DX
	MOVQ y+16(FP), DI
	MOVQ offs+24(FP), R8
	MOVQ win+32(FP), R9
	MOVQ n+40(FP), R11
	XORQ BX, BX

upwin:
	MOVQ (R8)(BX*8), R10
	ADDQ DI, R10
	VMOVD BX, X15
	VPBROADCASTD X15, Y15
	MOVQ SI, R12
	MOVQ DX, R13
	MOVQ R11, CX

upblock:
	VMOVDQU (R13), Y0
	VPCMPEQD Y15, Y0, Y0
	VANDPS  (R12), Y0, Y0
	VMOVUPS Y0, (R10)
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, R10
	SUBQ $8, CX
	JNZ  upblock
	INCQ BX
	CMPQ BX, R9
	JLT  upwin
	VZEROUPPER
	RET
