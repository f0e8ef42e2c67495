#include "textflag.h"

// func f32RowAsm(op int, a *float32, sa int, b *float32, sb int, y *float32, n int, lo, hi float32)
// y[i] = clamp(op(a[i], b[i])) for n a positive multiple of 8, AVX2. a and
// b advance by sa and sb bytes per 8 elements: 32, or 0 for a scalar the
// caller has written 8 times. The clamp is clampF32sAsm's (exact, NaN
// passes, lo = -Inf and hi = +Inf leave every value as it is).
// Operators (f32RowOp*): 0 ADD, 1 SUB, 2 MUL, 3 DIV, 4 MAXIMUM (a > b ?
// a : b), 5 MINIMUM (a < b ? a : b), 6 SQUARED_DIFFERENCE ((a-b)²), 7
// PRELU (a >= 0 ? a : a·b).
TEXT ·f32RowAsm(SB), NOSPLIT, $0-64
	MOVQ op+0(FP), AX
	MOVQ a+8(FP), SI
	MOVQ sa+16(FP), R8
	MOVQ b+24(FP), DX
	MOVQ sb+32(FP), R9
	MOVQ y+40(FP), DI
	MOVQ n+48(FP), CX
	VBROADCASTSS lo+56(FP), Y14
	VBROADCASTSS hi+60(FP), Y15
	VXORPS Y13, Y13, Y13
	CMPQ AX, $0
	JEQ  add
	CMPQ AX, $1
	JEQ  sub
	CMPQ AX, $2
	JEQ  mul
	CMPQ AX, $3
	JEQ  div
	CMPQ AX, $4
	JEQ  max
	CMPQ AX, $5
	JEQ  min
	CMPQ AX, $6
	JEQ  sqd
	JMP  prelu

#define STEP \
	VMAXPS Y0, Y14, Y0; \
	VMINPS Y0, Y15, Y0; \
	VMOVUPS Y0, (DI); \
	ADDQ R8, SI; \
	ADDQ R9, DX; \
	ADDQ $32, DI; \
	SUBQ $8, CX

add:
	VMOVUPS (SI), Y0
	VADDPS  (DX), Y0, Y0
	STEP
	JNZ add
	JMP done

sub:
	VMOVUPS (SI), Y0
	VSUBPS  (DX), Y0, Y0
	STEP
	JNZ sub
	JMP done

mul:
	VMOVUPS (SI), Y0
	VMULPS  (DX), Y0, Y0
	STEP
	JNZ mul
	JMP done

div:
	VMOVUPS (SI), Y0
	VDIVPS  (DX), Y0, Y0
	STEP
	JNZ div
	JMP done

max:
	VMOVUPS (SI), Y1
	VMAXPS  (DX), Y1, Y0
	STEP
	JNZ max
	JMP done

min:
	VMOVUPS (SI), Y1
	VMINPS  (DX), Y1, Y0
	STEP
	JNZ min
	JMP done

sqd:
	VMOVUPS (SI), Y0
	VSUBPS  (DX), Y0, Y0
	VMULPS  Y0, Y0, Y0
	STEP
	JNZ sqd
	JMP done

prelu:
	VMOVUPS (SI), Y1
	VMULPS  (DX), Y1, Y2
	VCMPPS  $0x1d, Y13, Y1, Y3 // a >= 0, ordered (false for NaN)
	VBLENDVPS Y3, Y1, Y2, Y0  // a where the mask is set, else a·b
	STEP
	JNZ prelu

done:
	VZEROUPPER
	RET
