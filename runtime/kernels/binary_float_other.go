//go:build !amd64

package kernels

func f32RowAsm(op int, a *float32, sa int, b *float32, sb int, y *float32, n int, lo, hi float32) {
	panic("kernels: no SIMD float binary loop on this architecture")
}

func f32RowHaveSIMD() bool { return false }
