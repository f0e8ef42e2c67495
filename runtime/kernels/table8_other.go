//go:build !amd64 && !arm64

package kernels

func lookup8Asm(lut *[256]uint8, x, y *byte, n int) {
	panic("kernels: no SIMD table lookup on this architecture")
}

const (
	lookup8Block = 16
	lookup8SIMD  = VariantPortable
)

func lookup8HaveSIMD() bool { return false }
