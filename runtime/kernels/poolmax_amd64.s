#include "textflag.h"

// func poolMaxFAsm(p *dwFArgs)
// Float MAX_POOL_2D of a run of output ppixels whose windows lie inside
// the input (pool_taps.go): dwFTapsAsm's loops with acc = -MaxFloat32,
// then acc = x > acc ? x : acc tap by tap (maxF32sGo's comparison, which
// keeps acc for a NaN x), clamped; no weights or bias.

#define TAPSETUP \
	MOVQ 0(AX), DI; \
	MOVQ 8(AX), CX

// EPI4: Y0..Y3 clamped; DI, DI+SI, DX, DX+SI
// the outputs of the group's four ppixels; then the group (R9, R15, R14)
// advances by four ppixels.
#define EPI4 \
	VMAXPS Y0, Y14, Y0; \
	VMAXPS Y1, Y14, Y1; \
	VMAXPS Y2, Y14, Y2; \
	VMAXPS Y3, Y14, Y3; \
	VMINPS Y0, Y15, Y0; \
	VMINPS Y1, Y15, Y1; \
	VMINPS Y2, Y15, Y2; \
	VMINPS Y3, Y15, Y3; \
	MOVQ 24(AX), DI; \
	ADDQ R15, DI; \
	ADDQ R10, DI; \
	MOVQ 48(AX), SI; \
	LEAQ (DI)(SI*2), DX; \
	LEAQ (R9)(R8*4), R9; \
	LEAQ (R15)(SI*4), R15; \
	SUBQ $4, R14

// EPI1 is EPI4 for Y0 and one pixel (DI).
#define EPI1 \
	VMAXPS Y0, Y14, Y0; \
	VMINPS Y0, Y15, Y0; \
	MOVQ 24(AX), DI; \
	ADDQ R15, DI; \
	ADDQ R10, DI; \
	ADDQ R8, R9; \
	ADDQ 48(AX), R15; \
	DECQ R14

TEXT ·poolMaxFAsm(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	VBROADCASTSS ·poolMaxFLowest(SB), Y13
	VBROADCASTSS 64(AX), Y14
	VBROADCASTSS 68(AX), Y15
	MOVQ 40(AX), R8          // xstep
	MOVQ 56(AX), R11
	SHLQ $2, R11             // c·4: bytes per pixel of channels
	XORQ R10, R10            // channel pblock offset, bytes

pblock:
	MOVQ R11, R12
	SUBQ R10, R12            // bytes of channels left
	JLE  pdone
	// Mask of the pblock's lanes: all, or the first R12/4.
	LEAQ ·dwFMask(SB), R13
	CMPQ R12, $32
	JGE  pfullmask
	ADDQ $32, R13
	SUBQ R12, R13
	VMOVDQU (R13), Y9
	JMP  ppixels
pfullmask:
	VPCMPEQD Y9, Y9, Y9

ppixels:
	MOVQ 32(AX), R14         // ppixels left
	XORQ R9, R9              // input offset of the group's pixel 0
	XORQ R15, R15            // output offset of the group's pixel 0
	CMPQ R12, $32
	JLT  pmasked4

pfull4:
	CMPQ R14, $4
	JLT  pfull1
	VMOVAPS Y13, Y0
	VMOVAPS Y13, Y1
	VMOVAPS Y13, Y2
	VMOVAPS Y13, Y3
	TAPSETUP
pfull4tap:
	MOVQ (DI), SI
	ADDQ R9, SI
	ADDQ R10, SI
	LEAQ (SI)(R8*2), DX
	VMOVUPS (SI), Y5
	VMAXPS Y0, Y5, Y0
	VMOVUPS (SI)(R8*1), Y6
	VMAXPS Y1, Y6, Y1
	VMOVUPS (DX), Y7
	VMAXPS Y2, Y7, Y2
	VMOVUPS (DX)(R8*1), Y8
	VMAXPS Y3, Y8, Y3
	ADDQ $16, DI
	DECQ CX
	JNZ  pfull4tap
	EPI4
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, (DI)(SI*1)
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, (DX)(SI*1)
	JMP  pfull4

pfull1:
	TESTQ R14, R14
	JZ    pnextblock
	VMOVAPS Y13, Y0
	TAPSETUP
pfull1tap:
	MOVQ (DI), SI
	ADDQ R9, SI
	ADDQ R10, SI
	VMOVUPS (SI), Y5
	VMAXPS Y0, Y5, Y0
	ADDQ $16, DI
	DECQ CX
	JNZ  pfull1tap
	EPI1
	VMOVUPS Y0, (DI)
	JMP  pfull1

pmasked4:
	CMPQ R14, $4
	JLT  pmasked1
	VMOVAPS Y13, Y0
	VMOVAPS Y13, Y1
	VMOVAPS Y13, Y2
	VMOVAPS Y13, Y3
	TAPSETUP
pmasked4tap:
	MOVQ (DI), SI
	ADDQ R9, SI
	ADDQ R10, SI
	LEAQ (SI)(R8*2), DX
	VMASKMOVPS (SI), Y9, Y5
	VMASKMOVPS (SI)(R8*1), Y9, Y6
	VMASKMOVPS (DX), Y9, Y7
	VMASKMOVPS (DX)(R8*1), Y9, Y8
	VMAXPS Y0, Y5, Y0
	VMAXPS Y1, Y6, Y1
	VMAXPS Y2, Y7, Y2
	VMAXPS Y3, Y8, Y3
	ADDQ $16, DI
	DECQ CX
	JNZ  pmasked4tap
	EPI4
	VMASKMOVPS Y0, Y9, (DI)
	VMASKMOVPS Y1, Y9, (DI)(SI*1)
	VMASKMOVPS Y2, Y9, (DX)
	VMASKMOVPS Y3, Y9, (DX)(SI*1)
	JMP  pmasked4

pmasked1:
	TESTQ R14, R14
	JZ    pnextblock
	VMOVAPS Y13, Y0
	TAPSETUP
pmasked1tap:
	MOVQ (DI), SI
	ADDQ R9, SI
	ADDQ R10, SI
	VMASKMOVPS (SI), Y9, Y5
	VMAXPS Y0, Y5, Y0
	ADDQ $16, DI
	DECQ CX
	JNZ  pmasked1tap
	EPI1
	VMASKMOVPS Y0, Y9, (DI)
	JMP  pmasked1

pnextblock:
	ADDQ $32, R10
	JMP  pblock

pdone:
	VZEROUPPER
	RET

DATA ·poolMaxFLowest+0(SB)/4, $0xff7fffff // -MaxFloat32
GLOBL ·poolMaxFLowest(SB), RODATA, $4
