package kernels

// lookup8Asm is lookup8 on n bytes, n a positive multiple of 16, with
// NEON TBL/TBX.
//
//go:noescape
func lookup8Asm(lut *[256]uint8, x, y *byte, n int)

const (
	lookup8Block = 16
	lookup8SIMD  = VariantNEON
)

func lookup8HaveSIMD() bool { return features.neon }
