package kernels

// lookup8Asm is lookup8 on n bytes, n a positive multiple of 64, with
// AVX-512 VBMI.
//
//go:noescape
func lookup8Asm(lut *[256]uint8, x, y *byte, n int)

const (
	lookup8Block = 64
	lookup8SIMD  = "vbmi"
)

func lookup8HaveSIMD() bool { return features.vbmi }
