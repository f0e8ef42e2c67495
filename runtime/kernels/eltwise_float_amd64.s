#include "textflag.h"

// Element-wise float32 clamp and add-then-clamp, AVX2, n a positive
// multiple of 8. The clamp is VMAXPS(lo, v) then VMINPS(hi, t) with the
// data as the second source operand (Go's first), which MAXPS/MINPS return
// when either operand is NaN or both are zeros: this is ClampF exactly
// (v < lo ? lo : v > hi ? hi : v), NaN and -0 included, given lo <= hi.

// func clampF32sAsm(x, y *float32, n int, lo, hi float32)
TEXT ·clampF32sAsm(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSS lo+24(FP), Y14
	VBROADCASTSS hi+28(FP), Y15

clamp32:
	CMPQ CX, $32
	JLT  clamp8
	VMAXPS (SI), Y14, Y0
	VMAXPS 32(SI), Y14, Y1
	VMAXPS 64(SI), Y14, Y2
	VMAXPS 96(SI), Y14, Y3
	VMINPS Y0, Y15, Y0
	VMINPS Y1, Y15, Y1
	VMINPS Y2, Y15, Y2
	VMINPS Y3, Y15, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  clamp32

clamp8:
	TESTQ CX, CX
	JZ    clampdone
	VMAXPS (SI), Y14, Y0
	VMINPS Y0, Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  clamp8

clampdone:
	VZEROUPPER
	RET

// func addClampF32sAsm(a, b, y *float32, n int, lo, hi float32)
TEXT ·addClampF32sAsm(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DX
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	VBROADCASTSS lo+32(FP), Y14
	VBROADCASTSS hi+36(FP), Y15

add32:
	CMPQ CX, $32
	JLT  add8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y1, Y1
	VADDPS 64(DX), Y2, Y2
	VADDPS 96(DX), Y3, Y3
	VMAXPS Y0, Y14, Y0
	VMAXPS Y1, Y14, Y1
	VMAXPS Y2, Y14, Y2
	VMAXPS Y3, Y14, Y3
	VMINPS Y0, Y15, Y0
	VMINPS Y1, Y15, Y1
	VMINPS Y2, Y15, Y2
	VMINPS Y3, Y15, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  add32

add8:
	TESTQ CX, CX
	JZ    adddone
	VMOVUPS (SI), Y0
	VADDPS (DX), Y0, Y0
	VMAXPS Y0, Y14, Y0
	VMINPS Y0, Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  add8

adddone:
	VZEROUPPER
	RET

// func maxF32sAsm(acc, x *float32, n int)
// acc = VMAXPS(x, acc) with x as the first source: x > acc ? x : acc,
// which keeps acc when x is NaN or both are zeros, as maxF32sGo does.
TEXT ·maxF32sAsm(SB), NOSPLIT, $0-24
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX

max32:
	CMPQ CX, $32
	JLT  max8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMAXPS (DI), Y0, Y0
	VMAXPS 32(DI), Y1, Y1
	VMAXPS 64(DI), Y2, Y2
	VMAXPS 96(DI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  max32

max8:
	TESTQ CX, CX
	JZ    maxdone
	VMOVUPS (SI), Y0
	VMAXPS (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  max8

maxdone:
	VZEROUPPER
	RET

// Float32 LOGISTIC (sigmoid_float.go), AVX2 without FMA, n a positive
// multiple of 8: the operations of sigmoidF32 in the same order, each
// rounded on its own.
DATA ·sigK+0(SB)/4, $0x4b40007f  // magic bias
DATA ·sigK+4(SB)/4, $0xbfb8aa3b  // -log2(e)
DATA ·sigK+8(SB)/4, $0x3f317200  // ln 2, high part
DATA ·sigK+12(SB)/4, $0x35bfbe8e // ln 2, low part
DATA ·sigK+16(SB)/4, $0xbc07cfce // c5
DATA ·sigK+20(SB)/4, $0x3d2b9d0d // c4
DATA ·sigK+24(SB)/4, $0xbe2aad40 // c3
DATA ·sigK+28(SB)/4, $0x3efffee3 // c2
DATA ·sigK+32(SB)/4, $0xbf7ffffb // c1
DATA ·sigK+36(SB)/4, $0x3f800000 // 1
DATA ·sigK+40(SB)/4, $0x42aeac4f // denormal cutoff
DATA ·sigK+44(SB)/4, $0x7fffffff // absolute value mask
GLOBL ·sigK(SB), RODATA|NOPTR, $48

// func sigmoidF32sAsm(x, y *float32, n int)
TEXT ·sigmoidF32sAsm(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	LEAQ ·sigK(SB), R8
	VBROADCASTSS 0(R8), Y15  // magic bias
	VBROADCASTSS 4(R8), Y14  // -log2(e)
	VBROADCASTSS 8(R8), Y13  // ln2 hi
	VBROADCASTSS 12(R8), Y12 // ln2 lo
	VBROADCASTSS 16(R8), Y11 // c5
	VBROADCASTSS 20(R8), Y10 // c4
	VBROADCASTSS 24(R8), Y9  // c3
	VBROADCASTSS 28(R8), Y8  // c2
	VBROADCASTSS 32(R8), Y7  // c1

sig8:
	VMOVUPS (SI), Y0             // x
	VBROADCASTSS 44(R8), Y6
	VANDPS  Y6, Y0, Y1           // z = |x|
	VMULPS  Y14, Y1, Y2
	VADDPS  Y15, Y2, Y2          // n = z·(-log2 e) + magic
	VPSLLD  $23, Y2, Y3          // s = 2^n
	VSUBPS  Y15, Y2, Y2          // n -= magic
	VMULPS  Y13, Y2, Y4
	VADDPS  Y1, Y4, Y4           // t = n·ln2hi + z
	VMULPS  Y12, Y2, Y5
	VADDPS  Y4, Y5, Y4           // t = n·ln2lo + t
	VMULPS  Y11, Y4, Y5
	VADDPS  Y10, Y5, Y5          // p = t·c5 + c4
	VMULPS  Y4, Y5, Y5
	VADDPS  Y9, Y5, Y5           // p = t·p + c3
	VMULPS  Y4, Y5, Y5
	VADDPS  Y8, Y5, Y5           // p = t·p + c2
	VMULPS  Y4, Y5, Y5
	VADDPS  Y7, Y5, Y5           // p = t·p + c1
	VMULPS  Y3, Y4, Y4           // t *= s
	VMULPS  Y5, Y4, Y4
	VADDPS  Y3, Y4, Y4           // e = t·p + s
	VBROADCASTSS 36(R8), Y6      // 1
	VADDPS  Y6, Y4, Y5           // e + 1
	VDIVPS  Y5, Y4, Y4           // f = e / (e+1)
	VBROADCASTSS 40(R8), Y5
	VCMPPS  $0x1e, Y5, Y1, Y5    // z > cutoff (ordered)
	VANDNPS Y4, Y5, Y4           // f = 0 there
	VSUBPS  Y4, Y6, Y5           // 1 - f
	VBLENDVPS Y0, Y4, Y5, Y4     // f where x has its sign bit set, else 1-f
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  sig8
	VZEROUPPER
	RET

DATA ·expK+0(SB)/4, $0x4b40007f  // magic bias
DATA ·expK+4(SB)/4, $0x3fb8aa3b  // log2(e)
DATA ·expK+8(SB)/4, $0xbf317200  // -ln 2, high part
DATA ·expK+12(SB)/4, $0xb5bfbe8e // -ln 2, low part
DATA ·expK+16(SB)/4, $0x3c07cfce // c5
DATA ·expK+20(SB)/4, $0x3d2b9d0d // c4
DATA ·expK+24(SB)/4, $0x3e2aad40 // c3
DATA ·expK+28(SB)/4, $0x3efffee3 // c2
DATA ·expK+32(SB)/4, $0x3f7ffffb // c1
DATA ·expK+36(SB)/4, $0xc2aeac4f // denormal cutoff
GLOBL ·expK(SB), RODATA|NOPTR, $40

// func expMinusMaxF32sAsm(x, y *float32, n int, mx float32)
// y = exp(x - mx) as expMinusMaxF32 computes it, 8 at a time.
TEXT ·expMinusMaxF32sAsm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSS mx+24(FP), Y0
	LEAQ ·expK(SB), R8
	VBROADCASTSS 0(R8), Y15  // magic bias
	VBROADCASTSS 4(R8), Y14  // log2(e)
	VBROADCASTSS 8(R8), Y13  // -ln2 hi
	VBROADCASTSS 12(R8), Y12 // -ln2 lo
	VBROADCASTSS 16(R8), Y11 // c5
	VBROADCASTSS 20(R8), Y10 // c4
	VBROADCASTSS 24(R8), Y9  // c3
	VBROADCASTSS 28(R8), Y8  // c2
	VBROADCASTSS 32(R8), Y7  // c1
	VBROADCASTSS 36(R8), Y6  // cutoff

exp8:
	VMOVUPS (SI), Y1
	VSUBPS  Y0, Y1, Y1           // d = x - mx
	VMULPS  Y14, Y1, Y2
	VADDPS  Y15, Y2, Y2          // n = d·log2 e + magic
	VPSLLD  $23, Y2, Y3          // s = 2^n
	VSUBPS  Y15, Y2, Y2          // n -= magic
	VMULPS  Y13, Y2, Y4
	VADDPS  Y1, Y4, Y4           // t = n·(-ln2 hi) + d
	VMULPS  Y12, Y2, Y5
	VADDPS  Y4, Y5, Y4           // t = n·(-ln2 lo) + t
	VMULPS  Y11, Y4, Y5
	VADDPS  Y10, Y5, Y5          // p = t·c5 + c4
	VMULPS  Y4, Y5, Y5
	VADDPS  Y9, Y5, Y5           // p = t·p + c3
	VMULPS  Y4, Y5, Y5
	VADDPS  Y8, Y5, Y5           // p = t·p + c2
	VMULPS  Y4, Y5, Y5
	VADDPS  Y7, Y5, Y5           // p = t·p + c1
	VMULPS  Y3, Y4, Y4           // t *= s
	VMULPS  Y5, Y4, Y4
	VADDPS  Y3, Y4, Y4           // f = t·p + s
	VCMPPS  $0x11, Y6, Y1, Y5    // d < cutoff (ordered, quiet)
	VANDNPS Y4, Y5, Y4           // f = 0 there
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  exp8
	VZEROUPPER
	RET

DATA ·hswishK+0(SB)/4, $0x40400000 // 3
DATA ·hswishK+4(SB)/4, $0x40c00000 // 6
GLOBL ·hswishK(SB), RODATA|NOPTR, $8

// func hardSwishF32sAsm(x, y *float32, n int)
// y = x·min(6, max(0, x+3)) / 6 as hardSwishF32 computes it: each step
// rounded, the clamp with the data as MAXPS/MINPS's returned operand so
// NaN propagates as Go's min and max do (x+3 is never -0).
TEXT ·hardSwishF32sAsm(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSS ·hswishK+0(SB), Y15
	VBROADCASTSS ·hswishK+4(SB), Y14
	VXORPS Y13, Y13, Y13

hswish16:
	CMPQ CX, $16
	JLT  hswish8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VADDPS  Y15, Y0, Y2
	VADDPS  Y15, Y1, Y3
	VMAXPS  Y2, Y13, Y2
	VMAXPS  Y3, Y13, Y3
	VMINPS  Y2, Y14, Y2
	VMINPS  Y3, Y14, Y3
	VMULPS  Y2, Y0, Y0
	VMULPS  Y3, Y1, Y1
	VDIVPS  Y14, Y0, Y0
	VDIVPS  Y14, Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  hswish16

hswish8:
	TESTQ CX, CX
	JZ    hswishdone
	VMOVUPS (SI), Y0
	VADDPS  Y15, Y0, Y2
	VMAXPS  Y2, Y13, Y2
	VMINPS  Y2, Y14, Y2
	VMULPS  Y2, Y0, Y0
	VDIVPS  Y14, Y0, Y0
	VMOVUPS Y0, (DI)

hswishdone:
	VZEROUPPER
	RET

// func sumRowsF32Asm(x *float32, stride int, rows int, acc *float32, n int)
// acc[j] += row r's element j for r = 0, 1, ... rows-1 in order (rows
// stride bytes apart from x), every sum rounded, 32, 16 or 8 channels at a
// time with the running sums in registers. n is a positive multiple of 8,
// rows at least 1. The row's value is ADDPS's first source, as in the Go
// loop's compiled ADDSS: where both are NaN, the row's NaN is kept.
TEXT ·sumRowsF32Asm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ stride+8(FP), AX
	MOVQ rows+16(FP), R9
	MOVQ acc+24(FP), DI
	MOVQ n+32(FP), CX

sr32:
	CMPQ CX, $32
	JLT  sr16
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	MOVQ SI, R10
	MOVQ R9, BX

sr32row:
	VMOVUPS (R10), Y4
	VMOVUPS 32(R10), Y5
	VMOVUPS 64(R10), Y6
	VMOVUPS 96(R10), Y7
	VADDPS Y0, Y4, Y0
	VADDPS Y1, Y5, Y1
	VADDPS Y2, Y6, Y2
	VADDPS Y3, Y7, Y3
	ADDQ AX, R10
	DECQ BX
	JNZ  sr32row
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  sr32

sr16:
	CMPQ CX, $16
	JLT  sr8
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	MOVQ SI, R10
	MOVQ R9, BX

sr16row:
	VMOVUPS (R10), Y4
	VMOVUPS 32(R10), Y5
	VADDPS Y0, Y4, Y0
	VADDPS Y1, Y5, Y1
	ADDQ AX, R10
	DECQ BX
	JNZ  sr16row
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  sr16

sr8:
	TESTQ CX, CX
	JZ    srdone
	VMOVUPS (DI), Y0
	MOVQ SI, R10
	MOVQ R9, BX

sr8row:
	VMOVUPS (R10), Y4
	VADDPS Y0, Y4, Y0
	ADDQ AX, R10
	DECQ BX
	JNZ  sr8row
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  sr8

srdone:
	VZEROUPPER
	RET
