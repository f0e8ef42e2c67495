#include "textflag.h"

// Float32 GEMM micro-kernels, AVX2 + FMA: rows of A times a panel of 16
// output channels ([k][16] floats, see newGemmFSIMD), then bias and clamp.
// The argument block is gemmFArgs (float_gemm.go):
//	0 a, 8 lda (bytes), 16 b, 24 k (>= 1), 32 y, 40 ldy (bytes),
//	48 bias (16 floats), 56 lo, 60 hi
//
// The clamp keeps NaN as ClampF does: VMAXPS/VMINPS return their second
// source when either is NaN.

#define EPILOGUE(ACC0, ACC1, DST) \
	VADDPS Y12, ACC0, ACC0 \
	VADDPS Y13, ACC1, ACC1 \
	VMAXPS ACC0, Y14, ACC0 \
	VMAXPS ACC1, Y14, ACC1 \
	VMINPS ACC0, Y15, ACC0 \
	VMINPS ACC1, Y15, ACC1 \
	VMOVUPS ACC0, (DST) \
	VMOVUPS ACC1, 32(DST)

// func gemmF4x16(p *gemmFArgs)
TEXT ·gemmF4x16(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), DI
	MOVQ 0(DI), SI
	MOVQ 8(DI), AX
	LEAQ (SI)(AX*1), R8
	LEAQ (R8)(AX*1), R9
	LEAQ (R9)(AX*1), R10
	MOVQ 16(DI), BX
	MOVQ 24(DI), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

loop4:
	VMOVUPS (BX), Y8
	VMOVUPS 32(BX), Y9
	VBROADCASTSS (SI), Y10
	VBROADCASTSS (R8), Y11
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y10, Y1
	VFMADD231PS Y8, Y11, Y2
	VFMADD231PS Y9, Y11, Y3
	VBROADCASTSS (R9), Y10
	VBROADCASTSS (R10), Y11
	VFMADD231PS Y8, Y10, Y4
	VFMADD231PS Y9, Y10, Y5
	VFMADD231PS Y8, Y11, Y6
	VFMADD231PS Y9, Y11, Y7
	ADDQ $4, SI
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $64, BX
	DECQ CX
	JNZ loop4

	MOVQ 48(DI), AX
	VMOVUPS (AX), Y12
	VMOVUPS 32(AX), Y13
	VBROADCASTSS 56(DI), Y14
	VBROADCASTSS 60(DI), Y15
	MOVQ 32(DI), DX
	MOVQ 40(DI), AX
	EPILOGUE(Y0, Y1, DX)
	ADDQ AX, DX
	EPILOGUE(Y2, Y3, DX)
	ADDQ AX, DX
	EPILOGUE(Y4, Y5, DX)
	ADDQ AX, DX
	EPILOGUE(Y6, Y7, DX)
	VZEROUPPER
	RET

// func gemmF1x16(p *gemmFArgs)
//
// One row, with the same sequence of FMAs per output as gemmF4x16, so
// that a row's result does not depend on how rows are grouped (a batch
// gives the same outputs as single runs).
TEXT ·gemmF1x16(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), DI
	MOVQ 0(DI), SI
	MOVQ 16(DI), BX
	MOVQ 24(DI), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

loop1:
	VBROADCASTSS (SI), Y10
	VFMADD231PS (BX), Y10, Y0
	VFMADD231PS 32(BX), Y10, Y1
	ADDQ $4, SI
	ADDQ $64, BX
	DECQ CX
	JNZ loop1

	MOVQ 48(DI), AX
	VMOVUPS (AX), Y12
	VMOVUPS 32(AX), Y13
	VBROADCASTSS 56(DI), Y14
	VBROADCASTSS 60(DI), Y15
	MOVQ 32(DI), DX
	EPILOGUE(Y0, Y1, DX)
	VZEROUPPER
	RET

#define EPILOGUEZ(ACC, DST) \
	VADDPS Z12, ACC, ACC \
	VMAXPS ACC, Z14, ACC \
	VMINPS ACC, Z15, ACC \
	VMOVUPS ACC, (DST)

// func gemmF8x16Z(p *gemmFArgs)
//
// Eight rows with AVX-512: one 16-float register per row, the A value
// broadcast from memory into each FMA. Each output gets the same sequence
// of FMAs as in gemmF4x16 and gemmF1x16.
TEXT ·gemmF8x16Z(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), DI
	MOVQ 0(DI), SI
	MOVQ 8(DI), AX
	LEAQ (SI)(AX*2), R8
	ADDQ AX, R8              // row 3
	LEAQ (R8)(AX*2), R9
	ADDQ AX, R9              // row 6
	MOVQ 16(DI), BX
	MOVQ 24(DI), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

loop8z:
	VMOVUPS (BX), Z8
	VFMADD231PS.BCST (SI), Z8, Z0
	VFMADD231PS.BCST (SI)(AX*1), Z8, Z1
	VFMADD231PS.BCST (SI)(AX*2), Z8, Z2
	VFMADD231PS.BCST (R8), Z8, Z3
	VFMADD231PS.BCST (R8)(AX*1), Z8, Z4
	VFMADD231PS.BCST (R8)(AX*2), Z8, Z5
	VFMADD231PS.BCST (R9), Z8, Z6
	VFMADD231PS.BCST (R9)(AX*1), Z8, Z7
	ADDQ $4, SI
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ $64, BX
	DECQ CX
	JNZ loop8z

	MOVQ 48(DI), AX
	VMOVUPS (AX), Z12
	VBROADCASTSS 56(DI), Z14
	VBROADCASTSS 60(DI), Z15
	MOVQ 32(DI), DX
	MOVQ 40(DI), AX
	EPILOGUEZ(Z0, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z1, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z2, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z3, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z4, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z5, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z6, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z7, DX)
	VZEROUPPER
	RET

// func gemmF8x16ZInd(p *gemmFIndArgs)
//
// gemmF8x16Z with each row of A given as nseg segments of seglen floats
// anywhere in memory (an implicit im2col: a convolution's input rows,
// see convIndirect): ptrs holds, segment by segment, the eight rows'
// pointers. The FMAs run in the same order as over the im2col row.
// gemmFIndArgs: 0 ptrs, 8 nseg, 16 seglen (bytes), 24 b, 32 y, 40 ldy
// (bytes), 48 bias, 56 lo, 60 hi.
TEXT ·gemmF8x16ZInd(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), DI
	MOVQ 0(DI), SI
	MOVQ 8(DI), AX
	MOVQ 16(DI), DX
	MOVQ 24(DI), BX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

segz:
	MOVQ 0(SI), R8
	MOVQ 8(SI), R9
	MOVQ 16(SI), R10
	MOVQ 24(SI), R11
	MOVQ 32(SI), R12
	MOVQ 40(SI), R13
	MOVQ 48(SI), R14
	MOVQ 56(SI), R15
	XORQ CX, CX

kz:
	VMOVUPS (BX), Z8
	VFMADD231PS.BCST (R8)(CX*1), Z8, Z0
	VFMADD231PS.BCST (R9)(CX*1), Z8, Z1
	VFMADD231PS.BCST (R10)(CX*1), Z8, Z2
	VFMADD231PS.BCST (R11)(CX*1), Z8, Z3
	VFMADD231PS.BCST (R12)(CX*1), Z8, Z4
	VFMADD231PS.BCST (R13)(CX*1), Z8, Z5
	VFMADD231PS.BCST (R14)(CX*1), Z8, Z6
	VFMADD231PS.BCST (R15)(CX*1), Z8, Z7
	ADDQ $64, BX
	ADDQ $4, CX
	CMPQ CX, DX
	JLT  kz

	ADDQ $64, SI
	DECQ AX
	JNZ  segz

	MOVQ 48(DI), AX
	VMOVUPS (AX), Z12
	VBROADCASTSS 56(DI), Z14
	VBROADCASTSS 60(DI), Z15
	MOVQ 32(DI), DX
	MOVQ 40(DI), AX
	EPILOGUEZ(Z0, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z1, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z2, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z3, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z4, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z5, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z6, DX)
	ADDQ AX, DX
	EPILOGUEZ(Z7, DX)
	VZEROUPPER
	RET
