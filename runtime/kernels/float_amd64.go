package kernels

//go:noescape
func gemmF4x16(p *gemmFArgs)

//go:noescape
func gemmF1x16(p *gemmFArgs)

// gemmF8x16Z is eight rows with AVX-512 (the vnni variant's CPUs).
//
//go:noescape
func gemmF8x16Z(p *gemmFArgs)

// gemmF8x16ZInd is gemmF8x16Z on rows given by segment pointers.
//
//go:noescape
func gemmF8x16ZInd(p *gemmFIndArgs)

// The kernels summing from the bias without fused multiply-adds (LiteRT
// arithmetic, gemmF.fromBias).
//
//go:noescape
func gemmF4x16U(p *gemmFArgs)

//go:noescape
func gemmF1x16U(p *gemmFArgs)

//go:noescape
func gemmF8x16ZU(p *gemmFArgs)

//go:noescape
func gemmF8x16ZIndU(p *gemmFIndArgs)

func gemmFHaveSIMD() bool { return features.avx2 }

func gemmFHaveWide() bool { return features.vnni }
