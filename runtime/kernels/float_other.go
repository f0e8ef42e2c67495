//go:build !amd64

package kernels

func gemmF4x16(p *gemmFArgs) { panic("kernels: no SIMD float GEMM on this architecture") }

func gemmF1x16(p *gemmFArgs) { panic("kernels: no SIMD float GEMM on this architecture") }

func gemmF8x16Z(p *gemmFArgs) { panic("kernels: no SIMD float GEMM on this architecture") }

func gemmF8x16ZInd(p *gemmFIndArgs) { panic("kernels: no SIMD float GEMM on this architecture") }

func gemmFHaveSIMD() bool { return false }

func gemmFHaveWide() bool { return false }
