#include "textflag.h"

// func litertStore4(dst *byte, t, cst *int32, scale *float32, n int, off, zp int32, lo, hi float32, u8 int)
//
// Four channels per step, SSE2 only (every amd64 CPU): the accumulator
// plus its constants to float (CVTDQ2PS), times the channel's scale,
// clamped to [lo, hi] (relative to the zero point), rounded half to even
// (CVTPS2DQ in the default MXCSR mode, which the Go runtime keeps), plus
// the zero point, packed to bytes (in range already: the saturation never
// acts).
TEXT ·litertStore4(SB), NOSPLIT, $0-64
	MOVQ   dst+0(FP), DI
	MOVQ   t+8(FP), SI
	MOVQ   cst+16(FP), DX
	MOVQ   scale+24(FP), R8
	MOVQ   n+32(FP), CX
	MOVL   off+40(FP), AX
	MOVQ   AX, X7
	PSHUFL $0, X7, X7
	MOVL   zp+44(FP), AX
	MOVQ   AX, X6
	PSHUFL $0, X6, X6
	MOVSS  lo+48(FP), X5
	SHUFPS $0, X5, X5
	MOVSS  hi+52(FP), X4
	SHUFPS $0, X4, X4
	MOVQ   u8+56(FP), BX
	SHRQ   $2, CX
	JZ     done

loop:
	MOVOU    (SI), X0
	MOVOU    (DX), X1
	PADDL    X1, X0
	PADDL    X7, X0
	CVTPL2PS X0, X0
	MOVUPS   (R8), X1
	MULPS    X1, X0
	MAXPS    X5, X0
	MINPS    X4, X0
	CVTPS2PL X0, X0
	PADDL    X6, X0
	PACKSSLW X0, X0
	TESTQ    BX, BX
	JNZ      unsigned
	PACKSSWB X0, X0
	JMP      store

unsigned:
	PACKUSWB X0, X0

store:
	MOVQ X0, AX
	MOVL AX, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, R8
	ADDQ $4, DI
	DECQ CX
	JNZ  loop

done:
	RET
