//go:build !amd64

package kernels

func blendXNNAsm(t, b *int32, v int32, y *byte, n int) {
	panic("kernels: no SIMD bilinear blend on this architecture")
}

func blendXNNHaveSIMD() bool { return false }
