//go:build !amd64

package kernels

func clampF32sAsm(x, y *float32, n int, lo, hi float32) {
	panic("kernels: no SIMD element-wise float loop on this architecture")
}

func addClampF32sAsm(a, b, y *float32, n int, lo, hi float32) {
	panic("kernels: no SIMD element-wise float loop on this architecture")
}

func maxF32sAsm(acc, x *float32, n int) {
	panic("kernels: no SIMD element-wise float loop on this architecture")
}

func eltwiseHaveSIMD() bool { return false }

func sigmoidF32sAsm(x, y *float32, n int) {
	panic("kernels: no SIMD element-wise float loop on this architecture")
}

func expMinusMaxF32sAsm(x, y *float32, n int, mx float32) {
	panic("kernels: no SIMD element-wise float loop on this architecture")
}

func hardSwishF32sAsm(x, y *float32, n int) {
	panic("kernels: no SIMD element-wise float loop on this architecture")
}

func argmaxWinAsm(x *float32, offs *int, win int, y *float32, idx *uint32, n int) {
	panic("kernels: no SIMD element-wise float loop on this architecture")
}

func unpoolWinAsm(x *float32, idx *uint32, y *float32, offs *int, win int, n int) {
	panic("kernels: no SIMD element-wise float loop on this architecture")
}

func sumRowsF32Asm(x *float32, stride int, rows int, acc *float32, n int) {
	panic("kernels: no SIMD element-wise float loop on this architecture")
}
