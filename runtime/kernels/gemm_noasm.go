//go:build !amd64 && !arm64

package kernels

// gemmVPick: no SIMD micro-kernels on this architecture; gemmQ keeps the
// portable path.
func gemmVPick() *gemmVKernels { return nil }

func (k *gemmVKernels) run(four bool, a *[gemmVMR]*int8, tails *[gemmVMR]uint32, k4, tail int, b *byte, t *[gemmVMR][gemmVNR]int32, xor uint32) {
	panic("kernels: no SIMD GEMM on this architecture") // unreachable: gemmVPick returns nil
}

func (k *gemmVKernels) requant(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, outOff, lo, hi int32) {
	panic("kernels: no SIMD GEMM on this architecture") // unreachable: gemmVPick returns nil
}

func gemmVRowSumsAsm(a []int8, k int, flip bool, sums []int32) {
	panic("kernels: no SIMD GEMM on this architecture") // unreachable: gemmVPick returns nil
}
