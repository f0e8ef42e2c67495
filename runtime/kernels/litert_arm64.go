package kernels

// litertStoreWidth 0: no vector store; litertStoreRow stays in Go (the
// NEON GEMM kernels requantize in their own epilogue).
const litertStoreWidth = 0

func litertStore4(dst *byte, t, cst *int32, scale *float32, n int, off, zp int32, lo, hi float32, u8 int) {
	panic("kernels: no vector LiteRT store on this architecture") // unreachable: litertStoreWidth is 0
}

// litertAdd8NEON is litertAddKernel's loop on n (a multiple of 8)
// elements, int8 or uint8 if u8 is 1 (litert_arm64.s).
//
//go:noescape
func litertAdd8NEON(dst, a, b *byte, n int, p *litertAddParams, u8 int)

// litertAddAsm reports whether litertAdd8 has a vector kernel here.
func litertAddAsm() bool { return features.neon }

func litertAdd8(dst, a, b *byte, n int, p *litertAddParams, u8 int) {
	litertAdd8NEON(dst, a, b, n, p, u8)
}
