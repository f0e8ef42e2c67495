//go:build !amd64

package kernels

// The SIMD float GEMM is amd64 only: gemmFHaveSIMD reports false, so its
// kernels are never called here. They panic through noSIMDFloat, a
// variable, so that static analysis does not take the loops around their
// calls for loops that never iterate.

var noSIMDFloat = func() { panic("kernels: no SIMD float GEMM on this architecture") }

func gemmF4x16(p *gemmFArgs) { noSIMDFloat() }

func gemmF1x16(p *gemmFArgs) { noSIMDFloat() }

func gemmF8x16Z(p *gemmFArgs) { noSIMDFloat() }

func gemmF8x16ZInd(p *gemmFIndArgs) { noSIMDFloat() }

func gemmF4x16U(p *gemmFArgs) { noSIMDFloat() }

func gemmF1x16U(p *gemmFArgs) { noSIMDFloat() }

func gemmF8x16ZU(p *gemmFArgs) { noSIMDFloat() }

func gemmF8x16ZIndU(p *gemmFIndArgs) { noSIMDFloat() }

func gemmFHaveSIMD() bool { return false }

func gemmFHaveWide() bool { return false }
