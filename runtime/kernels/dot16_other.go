//go:build !amd64 && !arm64

package kernels

func dot16Asm(x, w *int16, n int) int64 {
	panic("kernels: no SIMD int16 dot product on this architecture")
}

func dot16HaveSIMD() bool { return false }
