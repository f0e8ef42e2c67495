#include "textflag.h"

// func lookup8Asm(lut *[256]uint8, x, y *byte, n int)
// V16..V31 hold the table, 64 bytes per group of four. TBL looks indices
// 0-63 up in the first group (others give 0); each TBX after it takes
// the next 64 values once 64 more is subtracted from the index (indices
// out of its range keep what the previous lookups found).
TEXT ·lookup8Asm(SB), NOSPLIT, $0-32
	MOVD lut+0(FP), R0
	MOVD x+8(FP), R1
	MOVD y+16(FP), R2
	MOVD n+24(FP), R3
	VLD1.P 64(R0), [V16.B16, V17.B16, V18.B16, V19.B16]
	VLD1.P 64(R0), [V20.B16, V21.B16, V22.B16, V23.B16]
	VLD1.P 64(R0), [V24.B16, V25.B16, V26.B16, V27.B16]
	VLD1   (R0), [V28.B16, V29.B16, V30.B16, V31.B16]
	VMOVI  $64, V0.B16

loop:
	VLD1.P 16(R1), [V1.B16]
	VTBL   V1.B16, [V16.B16, V17.B16, V18.B16, V19.B16], V2.B16
	VSUB   V0.B16, V1.B16, V1.B16
	VTBX   V1.B16, [V20.B16, V21.B16, V22.B16, V23.B16], V2.B16
	VSUB   V0.B16, V1.B16, V1.B16
	VTBX   V1.B16, [V24.B16, V25.B16, V26.B16, V27.B16], V2.B16
	VSUB   V0.B16, V1.B16, V1.B16
	VTBX   V1.B16, [V28.B16, V29.B16, V30.B16, V31.B16], V2.B16
	VST1.P [V2.B16], 16(R2)
	SUBS   $16, R3, R3
	BNE    loop
	RET
