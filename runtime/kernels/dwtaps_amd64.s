#include "textflag.h"

// func dwFTapsAsm(p *dwFArgs)
// Float depthwise convolution of a run of output pixels whose every tap
// lies inside the input (depthwise_taps.go). For each block of 8
// channels and each output pixel: acc = 0, then acc += x·w tap by tap with
// separate VMULPS and VADDPS (the portable loop's order and rounding),
// then + bias (zeros if none), clamp as clampF32sAsm, store. Four pixels at a
// time, then one; the last block of channels, if short, is loaded and
// stored under a mask (zero-padded weights and bias).
//
// dwFArgs offsets: taps 0, ntaps 8, bias 16, y 24, npix 32, xstep 40,
// ystep 48, c 56, lo 64, hi 68. taps holds ntaps pairs of pointers: the
// tap's input at the run's first pixel, its weights (padded channels).

#define TAPSETUP \
	MOVQ 0(AX), DI; \
	MOVQ 8(AX), CX

// EPI4: Y0..Y3 plus the bias (zeros where there is none: the sums never
// hold -0, so adding +0 changes nothing), clamped; DI, DI+SI, DX, DX+SI
// the outputs of the group's four pixels; then the group (R9, R15, R14)
// advances by four pixels.
#define EPI4 \
	MOVQ 16(AX), BX; \
	VMOVUPS (BX)(R10*1), Y4; \
	VADDPS Y4, Y0, Y0; \
	VADDPS Y4, Y1, Y1; \
	VADDPS Y4, Y2, Y2; \
	VADDPS Y4, Y3, Y3; \
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
	MOVQ 16(AX), BX; \
	VMOVUPS (BX)(R10*1), Y4; \
	VADDPS Y4, Y0, Y0; \
	VMAXPS Y0, Y14, Y0; \
	VMINPS Y0, Y15, Y0; \
	MOVQ 24(AX), DI; \
	ADDQ R15, DI; \
	ADDQ R10, DI; \
	ADDQ R8, R9; \
	ADDQ 48(AX), R15; \
	DECQ R14

TEXT ·dwFTapsAsm(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	VBROADCASTSS 64(AX), Y14
	VBROADCASTSS 68(AX), Y15
	MOVQ 40(AX), R8          // xstep
	MOVQ 56(AX), R11
	SHLQ $2, R11             // c·4: bytes per pixel of channels
	XORQ R10, R10            // channel block offset, bytes

block:
	MOVQ R11, R12
	SUBQ R10, R12            // bytes of channels left
	JLE  done
	// Mask of the block's lanes: all, or the first R12/4.
	LEAQ ·dwFMask(SB), R13
	CMPQ R12, $32
	JGE  fullmask
	ADDQ $32, R13
	SUBQ R12, R13
	VMOVDQU (R13), Y9
	JMP  pixels
fullmask:
	VPCMPEQD Y9, Y9, Y9

pixels:
	MOVQ 32(AX), R14         // pixels left
	XORQ R9, R9              // input offset of the group's pixel 0
	XORQ R15, R15            // output offset of the group's pixel 0
	CMPQ R12, $32
	JLT  masked4

full4:
	CMPQ R14, $4
	JLT  full1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TAPSETUP
full4tap:
	MOVQ (DI), SI
	MOVQ 8(DI), BX
	ADDQ R9, SI
	ADDQ R10, SI
	LEAQ (SI)(R8*2), DX
	VMOVUPS (BX)(R10*1), Y4
	VMULPS (SI), Y4, Y5
	VADDPS Y5, Y0, Y0
	VMULPS (SI)(R8*1), Y4, Y6
	VADDPS Y6, Y1, Y1
	VMULPS (DX), Y4, Y7
	VADDPS Y7, Y2, Y2
	VMULPS (DX)(R8*1), Y4, Y8
	VADDPS Y8, Y3, Y3
	ADDQ $16, DI
	DECQ CX
	JNZ  full4tap
	EPI4
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, (DI)(SI*1)
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, (DX)(SI*1)
	JMP  full4

full1:
	TESTQ R14, R14
	JZ    nextblock
	VXORPS Y0, Y0, Y0
	TAPSETUP
full1tap:
	MOVQ (DI), SI
	MOVQ 8(DI), BX
	ADDQ R9, SI
	ADDQ R10, SI
	VMOVUPS (BX)(R10*1), Y4
	VMULPS (SI), Y4, Y5
	VADDPS Y5, Y0, Y0
	ADDQ $16, DI
	DECQ CX
	JNZ  full1tap
	EPI1
	VMOVUPS Y0, (DI)
	JMP  full1

masked4:
	CMPQ R14, $4
	JLT  masked1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TAPSETUP
masked4tap:
	MOVQ (DI), SI
	MOVQ 8(DI), BX
	ADDQ R9, SI
	ADDQ R10, SI
	LEAQ (SI)(R8*2), DX
	VMASKMOVPS (SI), Y9, Y5
	VMASKMOVPS (SI)(R8*1), Y9, Y6
	VMASKMOVPS (DX), Y9, Y7
	VMASKMOVPS (DX)(R8*1), Y9, Y8
	VMOVUPS (BX)(R10*1), Y4
	VMULPS Y5, Y4, Y5
	VADDPS Y5, Y0, Y0
	VMULPS Y6, Y4, Y6
	VADDPS Y6, Y1, Y1
	VMULPS Y7, Y4, Y7
	VADDPS Y7, Y2, Y2
	VMULPS Y8, Y4, Y8
	VADDPS Y8, Y3, Y3
	ADDQ $16, DI
	DECQ CX
	JNZ  masked4tap
	EPI4
	VMASKMOVPS Y0, Y9, (DI)
	VMASKMOVPS Y1, Y9, (DI)(SI*1)
	VMASKMOVPS Y2, Y9, (DX)
	VMASKMOVPS Y3, Y9, (DX)(SI*1)
	JMP  masked4

masked1:
	TESTQ R14, R14
	JZ    nextblock
	VXORPS Y0, Y0, Y0
	TAPSETUP
masked1tap:
	MOVQ (DI), SI
	MOVQ 8(DI), BX
	ADDQ R9, SI
	ADDQ R10, SI
	VMASKMOVPS (SI), Y9, Y5
	VMOVUPS (BX)(R10*1), Y4
	VMULPS Y5, Y4, Y5
	VADDPS Y5, Y0, Y0
	ADDQ $16, DI
	DECQ CX
	JNZ  masked1tap
	EPI1
	VMASKMOVPS Y0, Y9, (DI)
	JMP  masked1

nextblock:
	ADDQ $32, R10
	JMP  block

done:
	VZEROUPPER
	RET

// dwFMask: eight lanes set, then eight clear; loading 8 from byte
// 32 - 4k gives the first k lanes set.
DATA ·dwFMask+0(SB)/8, $0xffffffffffffffff
DATA ·dwFMask+8(SB)/8, $0xffffffffffffffff
DATA ·dwFMask+16(SB)/8, $0xffffffffffffffff
DATA ·dwFMask+24(SB)/8, $0xffffffffffffffff
DATA ·dwFMask+32(SB)/8, $0
DATA ·dwFMask+40(SB)/8, $0
DATA ·dwFMask+48(SB)/8, $0
DATA ·dwFMask+56(SB)/8, $0
GLOBL ·dwFMask(SB), RODATA, $64

// func dwFTapsZAsm(p *dwFArgs)
// dwFTapsAsm with AVX-512, in blocks of 16 channels (the weights and bias
// padded to a multiple of 16). First, block by block, groups of eight
// pixels; then each pixel left (npix mod 8) alone, four blocks at a time
// (four independent sums), then one. A short last block runs under the
// mask K1: its masked-off lanes are neither loaded nor stored. Same order
// and rounding as dwFTapsAsm: acc = 0, acc += x·w tap by tap with
// separate VMULPS and VADDPS, then + bias, clamp.
TEXT ·dwFTapsZAsm(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	VBROADCASTSS 64(AX), Z14
	VBROADCASTSS 68(AX), Z15
	MOVQ 40(AX), R8          // xstep
	MOVQ 56(AX), R11
	SHLQ $2, R11             // c·4: bytes per pixel of channels
	XORQ R10, R10            // channel block offset, bytes

zblock:
	MOVQ R11, R12
	SUBQ R10, R12            // bytes of channels left
	JLE  zrest
	MOVQ $0xffff, BX
	CMPQ R12, $64
	JGE  zmask
	MOVQ R12, CX
	SHRQ $2, CX
	MOVQ $1, BX
	SHLQ CX, BX
	DECQ BX                  // the first R12/4 lanes
zmask:
	KMOVW BX, K1
	MOVQ 32(AX), R14         // pixels left
	XORQ R9, R9              // input offset of the group's pixel 0
	XORQ R15, R15            // output offset of the group's pixel 0

z8:
	CMPQ R14, $8
	JLT  znext
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVQ 0(AX), DI
	MOVQ 8(AX), CX
z8tap:
	MOVQ (DI), SI
	MOVQ 8(DI), BX
	ADDQ R9, SI
	ADDQ R10, SI
	LEAQ (SI)(R8*2), DX
	LEAQ (SI)(R8*4), R13
	LEAQ (R13)(R8*2), R12
	VMOVUPS (BX)(R10*1), Z8
	VMULPS.Z (SI), Z8, K1, Z16
	VADDPS Z16, Z0, Z0
	VMULPS.Z (SI)(R8*1), Z8, K1, Z17
	VADDPS Z17, Z1, Z1
	VMULPS.Z (DX), Z8, K1, Z18
	VADDPS Z18, Z2, Z2
	VMULPS.Z (DX)(R8*1), Z8, K1, Z19
	VADDPS Z19, Z3, Z3
	VMULPS.Z (R13), Z8, K1, Z20
	VADDPS Z20, Z4, Z4
	VMULPS.Z (R13)(R8*1), Z8, K1, Z21
	VADDPS Z21, Z5, Z5
	VMULPS.Z (R12), Z8, K1, Z22
	VADDPS Z22, Z6, Z6
	VMULPS.Z (R12)(R8*1), Z8, K1, Z23
	VADDPS Z23, Z7, Z7
	ADDQ $16, DI
	DECQ CX
	JNZ  z8tap
	MOVQ 16(AX), BX
	VMOVUPS (BX)(R10*1), Z8
	VADDPS Z8, Z0, Z0
	VMAXPS Z0, Z14, Z0
	VMINPS Z0, Z15, Z0
	VADDPS Z8, Z1, Z1
	VMAXPS Z1, Z14, Z1
	VMINPS Z1, Z15, Z1
	VADDPS Z8, Z2, Z2
	VMAXPS Z2, Z14, Z2
	VMINPS Z2, Z15, Z2
	VADDPS Z8, Z3, Z3
	VMAXPS Z3, Z14, Z3
	VMINPS Z3, Z15, Z3
	VADDPS Z8, Z4, Z4
	VMAXPS Z4, Z14, Z4
	VMINPS Z4, Z15, Z4
	VADDPS Z8, Z5, Z5
	VMAXPS Z5, Z14, Z5
	VMINPS Z5, Z15, Z5
	VADDPS Z8, Z6, Z6
	VMAXPS Z6, Z14, Z6
	VMINPS Z6, Z15, Z6
	VADDPS Z8, Z7, Z7
	VMAXPS Z7, Z14, Z7
	VMINPS Z7, Z15, Z7
	MOVQ 24(AX), DI
	ADDQ R15, DI
	ADDQ R10, DI
	MOVQ 48(AX), SI          // ystep
	LEAQ (DI)(SI*2), DX
	LEAQ (DI)(SI*4), R13
	LEAQ (R13)(SI*2), R12
	VMOVUPS Z0, K1, (DI)
	VMOVUPS Z1, K1, (DI)(SI*1)
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K1, (DX)(SI*1)
	VMOVUPS Z4, K1, (R13)
	VMOVUPS Z5, K1, (R13)(SI*1)
	VMOVUPS Z6, K1, (R12)
	VMOVUPS Z7, K1, (R12)(SI*1)
	LEAQ (R9)(R8*8), R9
	LEAQ (R15)(SI*8), R15
	SUBQ $8, R14
	JMP  z8

znext:
	ADDQ $64, R10
	JMP  zblock

	// The npix mod 8 pixels left, one at a time over all channels.
zrest:
	MOVQ 32(AX), R14
	MOVQ R14, CX
	ANDQ $7, R14             // pixels left
	SUBQ R14, CX             // the first of them
	MOVQ CX, R9
	IMULQ R8, R9
	MOVQ CX, R15
	IMULQ 48(AX), R15

zpix:
	TESTQ R14, R14
	JZ    zdone
	XORQ  R10, R10

zc4:
	MOVQ R11, R12
	SUBQ R10, R12
	CMPQ R12, $256
	JLT  zc1
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	MOVQ 0(AX), DI
	MOVQ 8(AX), CX
zc4tap:
	MOVQ (DI), SI
	MOVQ 8(DI), BX
	ADDQ R9, SI
	ADDQ R10, SI
	ADDQ R10, BX
	VMOVUPS 0(BX), Z8
	VMULPS 0(SI), Z8, Z16
	VADDPS Z16, Z0, Z0
	VMOVUPS 64(BX), Z9
	VMULPS 64(SI), Z9, Z17
	VADDPS Z17, Z1, Z1
	VMOVUPS 128(BX), Z10
	VMULPS 128(SI), Z10, Z18
	VADDPS Z18, Z2, Z2
	VMOVUPS 192(BX), Z11
	VMULPS 192(SI), Z11, Z19
	VADDPS Z19, Z3, Z3
	ADDQ $16, DI
	DECQ CX
	JNZ  zc4tap
	MOVQ 16(AX), BX
	ADDQ R10, BX
	MOVQ 24(AX), DI
	ADDQ R15, DI
	ADDQ R10, DI
	VMOVUPS 0(BX), Z8
	VADDPS Z8, Z0, Z0
	VMAXPS Z0, Z14, Z0
	VMINPS Z0, Z15, Z0
	VMOVUPS Z0, 0(DI)
	VMOVUPS 64(BX), Z8
	VADDPS Z8, Z1, Z1
	VMAXPS Z1, Z14, Z1
	VMINPS Z1, Z15, Z1
	VMOVUPS Z1, 64(DI)
	VMOVUPS 128(BX), Z8
	VADDPS Z8, Z2, Z2
	VMAXPS Z2, Z14, Z2
	VMINPS Z2, Z15, Z2
	VMOVUPS Z2, 128(DI)
	VMOVUPS 192(BX), Z8
	VADDPS Z8, Z3, Z3
	VMAXPS Z3, Z14, Z3
	VMINPS Z3, Z15, Z3
	VMOVUPS Z3, 192(DI)
	ADDQ $256, R10
	JMP  zc4

zc1:
	TESTQ R12, R12
	JLE   zpixnext
	MOVQ  $0xffff, BX
	CMPQ  R12, $64
	JGE   zc1mask
	MOVQ  R12, CX
	SHRQ  $2, CX
	MOVQ  $1, BX
	SHLQ  CX, BX
	DECQ  BX
zc1mask:
	KMOVW BX, K1
	VPXORD Z0, Z0, Z0
	MOVQ 0(AX), DI
	MOVQ 8(AX), CX
zc1tap:
	MOVQ (DI), SI
	MOVQ 8(DI), BX
	ADDQ R9, SI
	ADDQ R10, SI
	VMOVUPS (BX)(R10*1), Z8
	VMULPS.Z (SI), Z8, K1, Z16
	VADDPS Z16, Z0, Z0
	ADDQ $16, DI
	DECQ CX
	JNZ  zc1tap
	MOVQ 16(AX), BX
	VMOVUPS (BX)(R10*1), Z8
	VADDPS Z8, Z0, Z0
	VMAXPS Z0, Z14, Z0
	VMINPS Z0, Z15, Z0
	MOVQ 24(AX), DI
	ADDQ R15, DI
	ADDQ R10, DI
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, R10
	MOVQ R11, R12
	SUBQ R10, R12
	JMP  zc1

zpixnext:
	ADDQ R8, R9
	ADDQ 48(AX), R15
	DECQ R14
	JMP  zpix

zdone:
	VZEROUPPER
	RET
