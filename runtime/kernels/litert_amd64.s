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

// func litertAdd8AVX2(dst, a, b *byte, n int, p *litertAddParams, u8 int)
//
// XNNPACK's 8-bit ADD on 8 elements per step (n a multiple of 8): each
// input widened to int32 (sign or zero extension, by u8), (ma·a + mb·b +
// c) >> shift in wrapping int32 arithmetic (VPMULLD keeps the low 32
// bits, as Go's int32 multiplication does), clamped to [lo, hi] relative
// to the zero point, plus the zero point, packed to bytes (in range: the
// saturation never acts). See litertAddParams for the layout of p.
TEXT ·litertAdd8AVX2(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         a+8(FP), SI
	MOVQ         b+16(FP), DX
	MOVQ         n+24(FP), CX
	MOVQ         p+32(FP), AX
	MOVQ         u8+40(FP), BX
	VPBROADCASTD 0(AX), Y8  // ma
	VPBROADCASTD 4(AX), Y9  // mb
	VPBROADCASTD 8(AX), Y10 // c
	MOVL         12(AX), R8
	MOVQ         R8, X11    // shift
	VPBROADCASTD 16(AX), Y12 // lo
	VPBROADCASTD 20(AX), Y13 // hi
	VPBROADCASTD 24(AX), Y14 // zp
	SHRQ         $3, CX
	JZ           adddone
	TESTQ        BX, BX
	JNZ          addu8

addi8:
	VPMOVSXBD    (SI), Y0
	VPMOVSXBD    (DX), Y1
	VPMULLD      Y8, Y0, Y0
	VPMULLD      Y9, Y1, Y1
	VPADDD       Y1, Y0, Y0
	VPADDD       Y10, Y0, Y0
	VPSRAD       X11, Y0, Y0
	VPMAXSD      Y12, Y0, Y0
	VPMINSD      Y13, Y0, Y0
	VPADDD       Y14, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW    X1, X0, X0
	VPACKSSWB    X0, X0, X0
	VMOVQ        X0, (DI)
	ADDQ         $8, SI
	ADDQ         $8, DX
	ADDQ         $8, DI
	DECQ         CX
	JNZ          addi8
	JMP          adddone

addu8:
	VPMOVZXBD    (SI), Y0
	VPMOVZXBD    (DX), Y1
	VPMULLD      Y8, Y0, Y0
	VPMULLD      Y9, Y1, Y1
	VPADDD       Y1, Y0, Y0
	VPADDD       Y10, Y0, Y0
	VPSRAD       X11, Y0, Y0
	VPMAXSD      Y12, Y0, Y0
	VPMINSD      Y13, Y0, Y0
	VPADDD       Y14, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW    X1, X0, X0
	VPACKUSWB    X0, X0, X0
	VMOVQ        X0, (DI)
	ADDQ         $8, SI
	ADDQ         $8, DX
	ADDQ         $8, DI
	DECQ         CX
	JNZ          addu8

adddone:
	VZEROUPPER
	RET
