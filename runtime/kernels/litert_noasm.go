//go:build !amd64 && !arm64

package kernels

func (k *gemmVKernels) requantF32(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, zp int32, lo, hi float32) {
	panic("kernels: no SIMD GEMM on this architecture") // unreachable: gemmVPick returns nil
}
