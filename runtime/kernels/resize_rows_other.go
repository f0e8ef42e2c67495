//go:build !amd64

package kernels

func blendXNNAsm(t, b *int32, v int32, y *byte, n int) {
	panic("kernels: no SIMD bilinear blend on this architecture")
}

func blendXNNHaveSIMD() bool { return false }

func lerpF32Asm(a, b *float32, w float32, y *float32, n int) {
	panic("kernels: no SIMD float lerp on this architecture")
}

func lerpF32HaveSIMD() bool { return false }
