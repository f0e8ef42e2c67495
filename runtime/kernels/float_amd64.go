package kernels

//go:noescape
func gemmF4x16(p *gemmFArgs)

//go:noescape
func gemmF1x16(p *gemmFArgs)

func gemmFHaveSIMD() bool { return features.avx2 }
