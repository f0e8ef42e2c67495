#include "textflag.h"

// func litertAdd8NEON(dst, a, b *byte, n int, p *litertAddParams, u8 int)
//
// XNNPACK's 8-bit ADD on 8 elements per step (n a multiple of 8): each
// input widened to int32 (sign or zero extension, by u8), ma·a + mb·b + c
// in wrapping int32 arithmetic (MUL and MLA keep the low 32 bits, as Go's
// int32 multiplication does), shifted right arithmetically (SSHL by
// -shift, which truncates as >> does), clamped to [lo, hi] relative to the
// zero point, plus the zero point, narrowed to bytes (in range: the
// saturation never acts). See litertAddParams for the layout of p.
//
// The Go assembler has no SSHLL, MUL, MLA, SSHL, SMAX, SQXTN and friends:
// they are encoded with WORD, the mnemonic in the comment (encodings from
// llvm-mc -triple=aarch64).
TEXT ·litertAdd8NEON(SB), NOSPLIT, $0-48
	MOVD  dst+0(FP), R0
	MOVD  a+8(FP), R1
	MOVD  b+16(FP), R2
	MOVD  n+24(FP), R3
	MOVD  p+32(FP), R4
	MOVD  u8+40(FP), R5
	MOVWU 0(R4), R6
	VDUP  R6, V16.S4 // ma
	MOVWU 4(R4), R6
	VDUP  R6, V17.S4 // mb
	MOVWU 8(R4), R6
	VDUP  R6, V18.S4 // c
	MOVWU 12(R4), R6
	NEG   R6, R6
	VDUP  R6, V19.S4 // -shift
	MOVWU 16(R4), R6
	VDUP  R6, V20.S4 // lo
	MOVWU 20(R4), R6
	VDUP  R6, V21.S4 // hi
	MOVWU 24(R4), R6
	VDUP  R6, V22.S4 // zp
	LSR   $3, R3
	CBZ   R3, done
	CBNZ  R5, addu8

addi8:
	VLD1.P 8(R1), [V0.B8]
	VLD1.P 8(R2), [V1.B8]
	WORD $0x0f08a400 // SSHLL V0.8H, V0.8B, #0
	WORD $0x0f08a421 // SSHLL V1.8H, V1.8B, #0
	WORD $0x0f10a402 // SSHLL V2.4S, V0.4H, #0
	WORD $0x4f10a403 // SSHLL2 V3.4S, V0.8H, #0
	WORD $0x0f10a424 // SSHLL V4.4S, V1.4H, #0
	WORD $0x4f10a425 // SSHLL2 V5.4S, V1.8H, #0
	WORD $0x4eb09c42 // MUL V2.4S, V2.4S, V16.4S
	WORD $0x4eb09c63 // MUL V3.4S, V3.4S, V16.4S
	WORD $0x4eb19482 // MLA V2.4S, V4.4S, V17.4S
	WORD $0x4eb194a3 // MLA V3.4S, V5.4S, V17.4S
	WORD $0x4eb28442 // ADD V2.4S, V2.4S, V18.4S
	WORD $0x4eb28463 // ADD V3.4S, V3.4S, V18.4S
	WORD $0x4eb34442 // SSHL V2.4S, V2.4S, V19.4S
	WORD $0x4eb34463 // SSHL V3.4S, V3.4S, V19.4S
	WORD $0x4eb46442 // SMAX V2.4S, V2.4S, V20.4S
	WORD $0x4eb46463 // SMAX V3.4S, V3.4S, V20.4S
	WORD $0x4eb56c42 // SMIN V2.4S, V2.4S, V21.4S
	WORD $0x4eb56c63 // SMIN V3.4S, V3.4S, V21.4S
	WORD $0x4eb68442 // ADD V2.4S, V2.4S, V22.4S
	WORD $0x4eb68463 // ADD V3.4S, V3.4S, V22.4S
	WORD $0x0e614840 // SQXTN V0.4H, V2.4S
	WORD $0x4e614860 // SQXTN2 V0.8H, V3.4S
	WORD $0x0e214800 // SQXTN V0.8B, V0.8H
	VST1.P [V0.B8], 8(R0)
	SUBS $1, R3
	BNE addi8
	B done

addu8:
	VLD1.P 8(R1), [V0.B8]
	VLD1.P 8(R2), [V1.B8]
	WORD $0x2f08a400 // USHLL V0.8H, V0.8B, #0
	WORD $0x2f08a421 // USHLL V1.8H, V1.8B, #0
	WORD $0x0f10a402 // SSHLL V2.4S, V0.4H, #0
	WORD $0x4f10a403 // SSHLL2 V3.4S, V0.8H, #0
	WORD $0x0f10a424 // SSHLL V4.4S, V1.4H, #0
	WORD $0x4f10a425 // SSHLL2 V5.4S, V1.8H, #0
	WORD $0x4eb09c42 // MUL V2.4S, V2.4S, V16.4S
	WORD $0x4eb09c63 // MUL V3.4S, V3.4S, V16.4S
	WORD $0x4eb19482 // MLA V2.4S, V4.4S, V17.4S
	WORD $0x4eb194a3 // MLA V3.4S, V5.4S, V17.4S
	WORD $0x4eb28442 // ADD V2.4S, V2.4S, V18.4S
	WORD $0x4eb28463 // ADD V3.4S, V3.4S, V18.4S
	WORD $0x4eb34442 // SSHL V2.4S, V2.4S, V19.4S
	WORD $0x4eb34463 // SSHL V3.4S, V3.4S, V19.4S
	WORD $0x4eb46442 // SMAX V2.4S, V2.4S, V20.4S
	WORD $0x4eb46463 // SMAX V3.4S, V3.4S, V20.4S
	WORD $0x4eb56c42 // SMIN V2.4S, V2.4S, V21.4S
	WORD $0x4eb56c63 // SMIN V3.4S, V3.4S, V21.4S
	WORD $0x4eb68442 // ADD V2.4S, V2.4S, V22.4S
	WORD $0x4eb68463 // ADD V3.4S, V3.4S, V22.4S
	WORD $0x0e614840 // SQXTN V0.4H, V2.4S
	WORD $0x4e614860 // SQXTN2 V0.8H, V3.4S
	WORD $0x2e212800 // SQXTUN V0.8B, V0.8H
	VST1.P [V0.B8], 8(R0)
	SUBS $1, R3
	BNE addu8

done:
	RET
