#include "textflag.h"

// func inOrderAVX2(a *float32, k int, w *float32, bias *float32, lo, hi float32, out *[4][8]float32)
// Four rows of A (k floats each, one after another from a) by one block
// of 8 output channels (w: k groups of 8 weights): out[r][c] = clamp of
// bias[c] + a[r][0]·w[0][c] + a[r][1]·w[1][c] + … added one product at a
// time, each product and each sum rounded (VMULPS, then VADDPS: no fused
// multiply-add), k > 0. The clamp keeps v unless v < lo or v > hi (NaN
// and −0 pass as they are).
TEXT ·inOrderAVX2(SB), NOSPLIT, $0-48
	MOVQ    a+0(FP), SI
	MOVQ    k+8(FP), CX
	MOVQ    w+16(FP), DI
	MOVQ    bias+24(FP), AX
	VMOVUPS (AX), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	LEAQ    (SI)(CX*4), R8
	LEAQ    (R8)(CX*4), R9
	LEAQ    (R9)(CX*4), R10

loop:
	VMOVUPS      (DI), Y4
	VBROADCASTSS (SI), Y5
	VBROADCASTSS (R8), Y6
	VBROADCASTSS (R9), Y7
	VBROADCASTSS (R10), Y8
	VMULPS       Y4, Y5, Y5
	VMULPS       Y4, Y6, Y6
	VMULPS       Y4, Y7, Y7
	VMULPS       Y4, Y8, Y8
	VADDPS       Y5, Y0, Y0
	VADDPS       Y6, Y1, Y1
	VADDPS       Y7, Y2, Y2
	VADDPS       Y8, Y3, Y3
	ADDQ         $4, SI
	ADDQ         $4, R8
	ADDQ         $4, R9
	ADDQ         $4, R10
	ADDQ         $32, DI
	DECQ         CX
	JNZ          loop

	// max(lo, v) with lo first returns v when they compare equal or v
	// is a NaN; likewise min(hi, v).
	VBROADCASTSS lo+32(FP), Y9
	VBROADCASTSS hi+36(FP), Y10
	VMAXPS       Y0, Y9, Y0
	VMAXPS       Y1, Y9, Y1
	VMAXPS       Y2, Y9, Y2
	VMAXPS       Y3, Y9, Y3
	VMINPS       Y0, Y10, Y0
	VMINPS       Y1, Y10, Y1
	VMINPS       Y2, Y10, Y2
	VMINPS       Y3, Y10, Y3
	MOVQ         out+40(FP), DX
	VMOVUPS      Y0, (DX)
	VMOVUPS      Y1, 32(DX)
	VMOVUPS      Y2, 64(DX)
	VMOVUPS      Y3, 96(DX)
	VZEROUPPER
	RET
