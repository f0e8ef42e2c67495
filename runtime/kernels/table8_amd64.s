#include "textflag.h"

// func lookup8Asm(lut *[256]uint8, x, y *byte, n int)
// Z16..Z19 hold the table. VPERMI2B looks the low 7 bits of each index up
// in a pair of registers (bit 6 picks the register): Z1 from bytes 0-127,
// Z2 from 128-255; the index's top bit (VPMOVB2M) picks between them.
TEXT ·lookup8Asm(SB), NOSPLIT, $0-32
	MOVQ lut+0(FP), AX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	VMOVDQU8 (AX), Z16
	VMOVDQU8 64(AX), Z17
	VMOVDQU8 128(AX), Z18
	VMOVDQU8 192(AX), Z19

loop:
	VMOVDQU8  (SI), Z0
	VMOVDQA64 Z0, Z1
	VMOVDQA64 Z0, Z2
	VPERMI2B  Z17, Z16, Z1
	VPERMI2B  Z19, Z18, Z2
	VPMOVB2M  Z0, K1
	VPBLENDMB Z2, Z1, K1, Z3
	VMOVDQU8  Z3, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $64, CX
	JNZ       loop
	VZEROUPPER
	RET
