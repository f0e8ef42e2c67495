#include "textflag.h"

// func blendXNNAsm(t, b *int32, v int32, y *byte, n int)
// y[i] = low byte of (t[i]<<11 + (b[i]-t[i])*v + 2^21) >> 22, 8 at a
// time (AVX2): VPSHUFB gathers byte 0 of each dword into the low dword of
// each 128-bit lane, VPERMD puts those two dwords side by side.
TEXT ·blendXNNAsm(SB), NOSPLIT, $0-40
	MOVQ t+0(FP), SI
	MOVQ b+8(FP), DX
	MOVL v+16(FP), AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVQ y+24(FP), DI
	MOVQ n+32(FP), CX
	VPBROADCASTD ·blendXNNRound(SB), Y14
	VMOVDQU ·blendXNNShuf(SB), Y13
	VMOVDQU ·blendXNNPerm(SB), Y12

loop:
	VMOVDQU (SI), Y0
	VMOVDQU (DX), Y1
	VPSUBD  Y0, Y1, Y1
	VPMULLD Y15, Y1, Y1
	VPSLLD  $11, Y0, Y0
	VPADDD  Y1, Y0, Y0
	VPADDD  Y14, Y0, Y0
	VPSRAD  $22, Y0, Y0
	VPSHUFB Y13, Y0, Y0
	VPERMD  Y0, Y12, Y0
	MOVQ    X0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $8, DI
	SUBQ    $8, CX
	JNZ     loop
	VZEROUPPER
	RET

DATA ·blendXNNRound+0(SB)/4, $0x200000
GLOBL ·blendXNNRound(SB), RODATA, $4

// Per 128-bit lane: bytes 0, 4, 8, 12 to bytes 0-3, the rest zero.
DATA ·blendXNNShuf+0(SB)/8, $0x808080800c080400
DATA ·blendXNNShuf+8(SB)/8, $0x8080808080808080
DATA ·blendXNNShuf+16(SB)/8, $0x808080800c080400
DATA ·blendXNNShuf+24(SB)/8, $0x8080808080808080
GLOBL ·blendXNNShuf(SB), RODATA, $32

// Dwords 0 and 4 (the low dword of each lane) to dwords 0 and 1.
DATA ·blendXNNPerm+0(SB)/8, $0x0000000400000000
DATA ·blendXNNPerm+8(SB)/8, $0x0000000000000000
DATA ·blendXNNPerm+16(SB)/8, $0x0000000000000000
DATA ·blendXNNPerm+24(SB)/8, $0x0000000000000000
GLOBL ·blendXNNPerm(SB), RODATA, $32

// func lerpF32Asm(a, b *float32, w float32, y *float32, n int)
// y[i] = a[i] + (b[i]-a[i])*w, 8 at a time, each operation rounded.
TEXT ·lerpF32Asm(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DX
	VBROADCASTSS w+16(FP), Y15
	MOVQ y+24(FP), DI
	MOVQ n+32(FP), CX

lerploop:
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y1
	VSUBPS  Y0, Y1, Y1
	VMULPS  Y15, Y1, Y1
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     lerploop
	VZEROUPPER
	RET
