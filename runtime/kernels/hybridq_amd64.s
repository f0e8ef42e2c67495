#include "textflag.h"

// func hybridMinMaxAVX2(x *float32, n int) (lo, hi float32, nan bool)
// The minimum and maximum of x[0:n], n a positive multiple of 8, and
// whether any element is a NaN (then lo and hi mean nothing).
TEXT ·hybridMinMaxAVX2(SB), NOSPLIT, $0-25
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5

loop16:
	CMPQ CX, $16
	JLT  tail8
	VMOVUPS (SI), Y6
	VMOVUPS 32(SI), Y7
	VMINPS  Y6, Y0, Y0
	VMAXPS  Y6, Y1, Y1
	VMINPS  Y7, Y2, Y2
	VMAXPS  Y7, Y3, Y3
	VCMPPS  $3, Y6, Y6, Y8
	VCMPPS  $3, Y7, Y7, Y9
	VORPS   Y8, Y4, Y4
	VORPS   Y9, Y5, Y5
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     loop16

tail8:
	TESTQ   CX, CX
	JZ      reduce
	VMOVUPS (SI), Y6
	VMINPS  Y6, Y0, Y0
	VMAXPS  Y6, Y1, Y1
	VCMPPS  $3, Y6, Y6, Y8
	VORPS   Y8, Y4, Y4

reduce:
	VMINPS       Y2, Y0, Y0
	VMAXPS       Y3, Y1, Y1
	VORPS        Y5, Y4, Y4
	VEXTRACTF128 $1, Y0, X2
	VMINPS       X2, X0, X0
	VEXTRACTF128 $1, Y1, X3
	VMAXPS       X3, X1, X1
	VPERMILPS    $0x4E, X0, X2
	VMINPS       X2, X0, X0
	VPERMILPS    $0x4E, X1, X3
	VMAXPS       X3, X1, X1
	VPERMILPS    $0xB1, X0, X2
	VMINPS       X2, X0, X0
	VPERMILPS    $0xB1, X1, X3
	VMAXPS       X3, X1, X1
	MOVSS        X0, lo+16(FP)
	MOVSS        X1, hi+20(FP)
	VMOVMSKPS    Y4, AX
	TESTL        AX, AX
	SETNE        nan+24(FP)
	VZEROUPPER
	RET

// func hybridQuantAVX2(x *float32, q *int8, n int, scale float32, zp int32)
// q[i] = clamp(round-to-even(x[i]·scale) + zp, −128, 127) for n a positive
// multiple of 16, x·scale finite and within ±2³¹ (hybrid.go).
TEXT ·hybridQuantAVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         q+8(FP), DI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y15
	MOVL         zp+28(FP), AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14

loop:
	VMULPS       (SI), Y15, Y0
	VMULPS       32(SI), Y15, Y1
	VROUNDPS     $0, Y0, Y0
	VROUNDPS     $0, Y1, Y1
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VPADDD       Y14, Y0, Y0
	VPADDD       Y14, Y1, Y1
	VPACKSSDW    Y1, Y0, Y0
	VPERMQ       $0xD8, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSWB    X1, X0, X0
	VMOVDQU      X0, (DI)
	ADDQ         $64, SI
	ADDQ         $16, DI
	SUBQ         $16, CX
	JNZ          loop
	VZEROUPPER
	RET

// func hybridQuantAwayAVX2(x *float32, q *int8, n int, mul, add float32, lo int32)
// q[i] = clamp(round-half-away-from-zero(add + x[i]·mul), lo, 127) for n a
// positive multiple of 16, each step rounded to float32 and every value
// finite and within ±2³¹ (hybrid.go). The rounding: t = trunc(v), exact
// d = v − t, and t ± 1 (v's sign) when |d| ≥ ½.
TEXT ·hybridQuantAwayAVX2(SB), NOSPLIT, $0-36
	MOVQ         x+0(FP), SI
	MOVQ         q+8(FP), DI
	MOVQ         n+16(FP), CX
	VBROADCASTSS mul+24(FP), Y15
	VBROADCASTSS add+28(FP), Y14
	MOVL         lo+32(FP), AX
	VMOVD        AX, X13
	VPBROADCASTD X13, Y13
	MOVL         $0x7fffffff, AX
	VMOVD        AX, X12
	VPBROADCASTD X12, Y12          // |v| mask
	MOVL         $0x3f000000, AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11          // 0.5
	MOVL         $0x3f800000, AX
	VMOVD        AX, X10
	VPBROADCASTD X10, Y10          // 1.0

loop:
	VMULPS       (SI), Y15, Y0
	VMULPS       32(SI), Y15, Y1
	VADDPS       Y0, Y14, Y0
	VADDPS       Y1, Y14, Y1
	VROUNDPS     $3, Y0, Y2
	VROUNDPS     $3, Y1, Y3
	VSUBPS       Y2, Y0, Y4
	VSUBPS       Y3, Y1, Y5
	VANDPS       Y12, Y4, Y4
	VANDPS       Y12, Y5, Y5
	VCMPPS       $13, Y11, Y4, Y4  // |d| >= 0.5
	VCMPPS       $13, Y11, Y5, Y5
	VANDNPS      Y0, Y12, Y6       // v's sign bit
	VANDNPS      Y1, Y12, Y7
	VORPS        Y10, Y6, Y6       // ±1
	VORPS        Y10, Y7, Y7
	VANDPS       Y4, Y6, Y6
	VANDPS       Y5, Y7, Y7
	VADDPS       Y6, Y2, Y2
	VADDPS       Y7, Y3, Y3
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3
	VPMAXSD      Y13, Y2, Y2
	VPMAXSD      Y13, Y3, Y3
	VPACKSSDW    Y3, Y2, Y2
	VPERMQ       $0xD8, Y2, Y2
	VEXTRACTI128 $1, Y2, X3
	VPACKSSWB    X3, X2, X2
	VMOVDQU      X2, (DI)
	ADDQ         $64, SI
	ADDQ         $16, DI
	SUBQ         $16, CX
	JNZ          loop
	VZEROUPPER
	RET

// func hybridStoreAVX2(t *int32, y *float32, cst, wsum *int32, mul, bias *float32, n8 int, zp int32, r float32, two bool, lo, hi float32)
// The hybrid GEMM's float epilogue (hybridStore) for 8·n8 channels, n8 > 0:
// acc = t + cst − zp·wsum (wrapping int32), v = float32(acc), then
// (v·r)·mul if two else v·mul, then + bias, each step rounded, then the
// clamp that keeps v unless v < lo or v > hi (see inOrderAVX2).
TEXT ·hybridStoreAVX2(SB), NOSPLIT, $0-76
	MOVQ         t+0(FP), SI
	MOVQ         y+8(FP), DI
	MOVQ         cst+16(FP), R8
	MOVQ         wsum+24(FP), R9
	MOVQ         mul+32(FP), R10
	MOVQ         bias+40(FP), R11
	MOVQ         n8+48(FP), CX
	MOVL         zp+56(FP), AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	VBROADCASTSS r+60(FP), Y14
	MOVBLZX      two+64(FP), DX
	VBROADCASTSS lo+68(FP), Y13
	VBROADCASTSS hi+72(FP), Y12

loop:
	VMOVDQU   (R9), Y0
	VPMULLD   Y15, Y0, Y0
	VMOVDQU   (SI), Y1
	VPADDD    (R8), Y1, Y1
	VPSUBD    Y0, Y1, Y1
	VCVTDQ2PS Y1, Y1
	TESTL     DX, DX
	JZ        one
	VMULPS    Y14, Y1, Y1

one:
	VMULPS  (R10), Y1, Y1
	VADDPS  (R11), Y1, Y1
	VMAXPS  Y1, Y13, Y1
	VMINPS  Y1, Y12, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, R8
	ADDQ    $32, R9
	ADDQ    $32, R10
	ADDQ    $32, R11
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

// func hybridDWAccAVX2(acc *int32, q *int16, w *int8, n int)
// acc[i] += w[i]·q[i] for n a positive multiple of 8 (wrapping int32).
TEXT ·hybridDWAccAVX2(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ n+24(FP), CX

dwloop:
	VPMOVSXBD (DX), Y0
	VPMOVSXWD (SI), Y1
	VPMULLD   Y1, Y0, Y0
	VPADDD    (DI), Y0, Y0
	VMOVDQU   Y0, (DI)
	ADDQ      $32, DI
	ADDQ      $16, SI
	ADDQ      $8, DX
	SUBQ      $8, CX
	JNZ       dwloop
	VZEROUPPER
	RET

// func hybridStoreRowsAVX2(t *[gemmVMR][gemmVNR]int32, rows int, y *float32, ldy int, cst, wsum *int32, mul, bias *float32, n8 int, zp *[gemmVMR]int32, r *[gemmVMR]float32, two bool, lo, hi float32)
// hybridStoreAVX2 for rows rows of t (row i's zero point zp[i] and scale
// r[i]), row i written at y + i·ldy bytes.
TEXT ·hybridStoreRowsAVX2(SB), NOSPLIT, $0-100
	MOVQ         t+0(FP), SI
	MOVQ         rows+8(FP), R12
	MOVQ         y+16(FP), DI
	MOVQ         zp+72(FP), R13
	MOVQ         r+80(FP), R14
	MOVBLZX      two+88(FP), DX
	VBROADCASTSS lo+92(FP), Y13
	VBROADCASTSS hi+96(FP), Y12

row:
	VPBROADCASTD (R13), Y15
	VBROADCASTSS (R14), Y14
	MOVQ         cst+32(FP), R8
	MOVQ         wsum+40(FP), R9
	MOVQ         mul+48(FP), R10
	MOVQ         bias+56(FP), R11
	MOVQ         n8+64(FP), CX
	MOVQ         SI, AX
	MOVQ         DI, BX

lanes:
	VMOVDQU   (R9), Y0
	VPMULLD   Y15, Y0, Y0
	VMOVDQU   (AX), Y1
	VPADDD    (R8), Y1, Y1
	VPSUBD    Y0, Y1, Y1
	VCVTDQ2PS Y1, Y1
	TESTL     DX, DX
	JZ        one
	VMULPS    Y14, Y1, Y1

one:
	VMULPS  (R10), Y1, Y1
	VADDPS  (R11), Y1, Y1
	VMAXPS  Y1, Y13, Y1
	VMINPS  Y1, Y12, Y1
	VMOVUPS Y1, (BX)
	ADDQ    $32, AX
	ADDQ    $32, BX
	ADDQ    $32, R8
	ADDQ    $32, R9
	ADDQ    $32, R10
	ADDQ    $32, R11
	DECQ    CX
	JNZ     lanes

	ADDQ $128, SI      // next row of t (gemmVNR int32)
	ADDQ ldy+24(FP), DI
	ADDQ $4, R13
	ADDQ $4, R14
	DECQ R12
	JNZ  row
	VZEROUPPER
	RET

// func hybridQD8RowsAVX2(x *float32, q *int8, rows, n int, inv *float32, zp *int32) (done int)
// hybridQD8 for rows rows of n floats (n a positive multiple of 8), one
// after another: row i's reciprocal scale to inv[i], its zero point to
// zp[i], its bytes to q[i·n:]. It stops at the first row holding an
// infinity or a NaN, or whose scale is infinite, and returns the number
// of rows done (the Go loop quantizes that row).
TEXT ·hybridQD8RowsAVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ rows+16(FP), R8
	MOVQ n+24(FP), R9
	MOVQ inv+32(FP), R10
	MOVQ zp+40(FP), R11
	XORQ R12, R12

rowloop:
	CMPQ R12, R8
	JGE  end
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	VXORPS  Y2, Y2, Y2
	MOVQ    R9, CX
	MOVQ    SI, AX

mm:
	VMOVUPS (AX), Y3
	VMINPS  Y3, Y0, Y0
	VMAXPS  Y3, Y1, Y1
	VSUBPS  Y3, Y3, Y4     // 0, or NaN for an infinity or a NaN
	VORPS   Y4, Y2, Y2
	ADDQ    $32, AX
	SUBQ    $8, CX
	JNZ     mm
	VPTEST  Y2, Y2
	JNZ     end

	VEXTRACTF128 $1, Y0, X2
	VMINPS       X2, X0, X0
	VEXTRACTF128 $1, Y1, X3
	VMAXPS       X3, X1, X1
	VPERMILPS    $0x4E, X0, X2
	VMINPS       X2, X0, X0
	VPERMILPS    $0x4E, X1, X3
	VMAXPS       X3, X1, X1
	VPERMILPS    $0xB1, X0, X2
	VMINPS       X2, X0, X0
	VPERMILPS    $0xB1, X1, X3
	VMAXPS       X3, X1, X1

	// rmin = min(0, lo), rmax = max(0, hi)
	VXORPS X2, X2, X2
	VMINSS X2, X0, X0
	VMAXSS X2, X1, X1
	MOVL   $0x3f800000, AX   // 1
	VMOVD  AX, X3
	VUCOMISS X1, X0
	JEQ    scaled
	VSUBSS X0, X1, X4        // rmax - rmin
	MOVL   $0x437f0000, AX   // 255
	VMOVD  AX, X3
	VDIVSS X4, X3, X3
	VSUBSS X3, X3, X4        // scale - scale: 0 unless infinite
	VUCOMISS X2, X4
	JNE    end
	JPS    end

scaled:
	VMULSS X3, X0, X5        // rmin·scale
	VMULSS X3, X1, X6        // rmax·scale
	MOVL   $0x42fe0000, AX   // 127
	VMOVD  AX, X7
	VSUBSS X6, X7, X7        // zpf = 127 − rmax·scale
	MOVL   $0xc3000000, AX   // −128
	VMOVD  AX, X8
	VADDSS X5, X8, X8        // −128 + rmin·scale
	MOVL   $0x42fe0000, AX
	VMOVD  AX, X9
	VADDSS X6, X9, X9        // 127 + rmax·scale
	VADDSS X9, X8, X8
	VUCOMISS X2, X8
	JLS    keep               // not above 0
	MOVL   $0xc3000000, AX
	VMOVD  AX, X7
	VSUBSS X5, X7, X7        // zpf = −128 − rmin·scale

keep:
	MOVL   $0xc3000000, AX
	VMOVD  AX, X8
	VMAXSS X8, X7, X7
	MOVL   $0x42fe0000, AX
	VMOVD  AX, X9
	VMINSS X9, X7, X7
	VCVTSS2SI X7, BX         // round to nearest even
	MOVL   BX, (R11)
	MOVL   $0x3f800000, AX
	VMOVD  AX, X9
	VDIVSS X3, X9, X9        // 1 / scale
	VMOVSS X9, (R10)

	VBROADCASTSS X3, Y15
	VMOVD        BX, X14
	VPBROADCASTD X14, Y14
	MOVQ         R9, CX
	MOVQ         SI, AX
	MOVQ         DI, DX

q16:
	CMPQ         CX, $16
	JLT          q8
	VMULPS       (AX), Y15, Y0
	VMULPS       32(AX), Y15, Y1
	VROUNDPS     $0, Y0, Y0
	VROUNDPS     $0, Y1, Y1
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VPADDD       Y14, Y0, Y0
	VPADDD       Y14, Y1, Y1
	VPACKSSDW    Y1, Y0, Y0
	VPERMQ       $0xD8, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSWB    X1, X0, X0
	VMOVDQU      X0, (DX)
	ADDQ         $64, AX
	ADDQ         $16, DX
	SUBQ         $16, CX
	JMP          q16

q8:
	TESTQ        CX, CX
	JZ           nextrow
	VMULPS       (AX), Y15, Y0
	VROUNDPS     $0, Y0, Y0
	VCVTPS2DQ    Y0, Y0
	VPADDD       Y14, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW    X1, X0, X0
	VPACKSSWB    X0, X0, X0
	VMOVQ        X0, (DX)

nextrow:
	LEAQ (SI)(R9*4), SI
	ADDQ R9, DI
	ADDQ $4, R10
	ADDQ $4, R11
	INCQ R12
	JMP  rowloop

end:
	MOVQ R12, done+48(FP)
	VZEROUPPER
	RET
