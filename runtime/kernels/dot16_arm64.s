#include "textflag.h"

// func dot16Asm(x, w *int16, n int) int64
// Σ x[i]·w[i] for n a positive multiple of 16, n <= dot16Chunk: SMLAL and
// SMLAL2 multiply int16 into four int32 accumulators, which are added,
// widened to int64 (SSHLL, SSHLL2) and summed (dot16.go). SMLAL and SSHLL
// are encoded with WORD (llvm-mc -triple=aarch64).
TEXT ·dot16Asm(SB), NOSPLIT, $0-32
	MOVD x+0(FP), R0
	MOVD w+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16

loop:
	VLD1.P 32(R0), [V0.H8, V1.H8]
	VLD1.P 32(R1), [V2.H8, V3.H8]
	WORD $0x0e628010 // SMLAL V16.4S, V0.4H, V2.4H
	WORD $0x4e628011 // SMLAL2 V17.4S, V0.8H, V2.8H
	WORD $0x0e638032 // SMLAL V18.4S, V1.4H, V3.4H
	WORD $0x4e638033 // SMLAL2 V19.4S, V1.8H, V3.8H
	SUBS $16, R2, R2
	BNE loop

	VADD V17.S4, V16.S4, V16.S4
	VADD V19.S4, V18.S4, V18.S4
	VADD V18.S4, V16.S4, V16.S4
	WORD $0x0f20a614 // SSHLL V20.2D, V16.2S, #0
	WORD $0x4f20a615 // SSHLL2 V21.2D, V16.4S, #0
	VADD V21.D2, V20.D2, V20.D2
	VMOV V20.D[0], R3
	VMOV V20.D[1], R4
	ADD R4, R3, R3
	MOVD R3, ret+24(FP)
	RET
