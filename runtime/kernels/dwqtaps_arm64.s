#include "textflag.h"

// Quantized depthwise taps kernel (depthwise_qtaps.go), NEON: one tile of
// up to 4 pixels by 32 channels. Per pixel and tap, the 32 input bytes
// are widened to int16 (SSHLL #0, or USHLL for uint8) and multiplied by
// the tap's int16 weights into eight int32 accumulators (SMLAL, SMLAL2),
// summing the taps in wrapping int32 arithmetic as the Go loop does.
// SSHLL, USHLL and SMLAL are encoded with WORD (llvm-mc -triple=aarch64).

// func dwQTapsAsm(a *dwQArgs)
TEXT ·dwQTapsAsm(SB), NOSPLIT, $0-8
	MOVD a+0(FP), R0
	MOVD 0(R0), R1  // taps
	MOVD 8(R0), R2  // ntaps
	MOVD 16(R0), R3 // off, advanced by xstep per pixel
	MOVD 32(R0), R4 // wstep
	MOVD 40(R0), R5 // xstep
	MOVD 48(R0), R6 // rows
	MOVD 56(R0), R7 // tile
	MOVD 64(R0), R8 // u8

pixel:
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	MOVD 24(R0), R9 // w
	MOVD R1, R12
	MOVD R2, R10
	CBNZ R8, unsigned

signed:
	MOVD.P 8(R12), R11
	ADD R3, R11, R11
	VLD1 (R9), [V4.H8, V5.H8, V6.H8, V7.H8]
	ADD R4, R9, R9
	FMOVD 0(R11), F0
	FMOVD 8(R11), F1
	FMOVD 16(R11), F2
	FMOVD 24(R11), F3
	WORD $0x0f08a400 // SSHLL V0.8H, V0.8B, #0
	WORD $0x0f08a421 // SSHLL V1.8H, V1.8B, #0
	WORD $0x0f08a442 // SSHLL V2.8H, V2.8B, #0
	WORD $0x0f08a463 // SSHLL V3.8H, V3.8B, #0
	WORD $0x0e648010 // SMLAL V16.4S, V0.4H, V4.4H
	WORD $0x4e648011 // SMLAL2 V17.4S, V0.8H, V4.8H
	WORD $0x0e658032 // SMLAL V18.4S, V1.4H, V5.4H
	WORD $0x4e658033 // SMLAL2 V19.4S, V1.8H, V5.8H
	WORD $0x0e668054 // SMLAL V20.4S, V2.4H, V6.4H
	WORD $0x4e668055 // SMLAL2 V21.4S, V2.8H, V6.8H
	WORD $0x0e678076 // SMLAL V22.4S, V3.4H, V7.4H
	WORD $0x4e678077 // SMLAL2 V23.4S, V3.8H, V7.8H
	SUBS $1, R10, R10
	BNE signed
	B store

unsigned:
	MOVD.P 8(R12), R11
	ADD R3, R11, R11
	VLD1 (R9), [V4.H8, V5.H8, V6.H8, V7.H8]
	ADD R4, R9, R9
	FMOVD 0(R11), F0
	FMOVD 8(R11), F1
	FMOVD 16(R11), F2
	FMOVD 24(R11), F3
	WORD $0x2f08a400 // USHLL V0.8H, V0.8B, #0
	WORD $0x2f08a421 // USHLL V1.8H, V1.8B, #0
	WORD $0x2f08a442 // USHLL V2.8H, V2.8B, #0
	WORD $0x2f08a463 // USHLL V3.8H, V3.8B, #0
	WORD $0x0e648010 // SMLAL V16.4S, V0.4H, V4.4H
	WORD $0x4e648011 // SMLAL2 V17.4S, V0.8H, V4.8H
	WORD $0x0e658032 // SMLAL V18.4S, V1.4H, V5.4H
	WORD $0x4e658033 // SMLAL2 V19.4S, V1.8H, V5.8H
	WORD $0x0e668054 // SMLAL V20.4S, V2.4H, V6.4H
	WORD $0x4e668055 // SMLAL2 V21.4S, V2.8H, V6.8H
	WORD $0x0e678076 // SMLAL V22.4S, V3.4H, V7.4H
	WORD $0x4e678077 // SMLAL2 V23.4S, V3.8H, V7.8H
	SUBS $1, R10, R10
	BNE unsigned

store:
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R7)
	VST1.P [V20.S4, V21.S4, V22.S4, V23.S4], 64(R7)
	ADD R5, R3, R3
	SUBS $1, R6, R6
	BNE pixel
	RET
