//go:build !amd64 && !arm64

package kernels

// litertStoreWidth 0: no vector store; litertStoreRow stays in Go.
const litertStoreWidth = 0

func litertStore4(dst *byte, t, cst *int32, scale *float32, n int, off, zp int32, lo, hi float32, u8 int) {
	panic("kernels: no vector LiteRT store on this architecture") // unreachable: litertStoreWidth is 0
}

// litertAddAsm reports whether litertAdd8 has a vector kernel here.
func litertAddAsm() bool { return false }

func litertAdd8(dst, a, b *byte, n int, p *litertAddParams, u8 int) {
	panic("kernels: no vector LiteRT addition on this architecture") // unreachable: litertAddAsm is false
}
