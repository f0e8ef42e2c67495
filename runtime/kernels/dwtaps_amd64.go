package kernels

// dwFTapsAsm runs the general float depthwise kernel (AVX2) on one run of
// output pixels (depthwise_taps.go).
//
//go:noescape
func dwFTapsAsm(p *dwFArgs)

func dwTapsHaveSIMD() bool { return features.avx2 }

// poolMaxFAsm runs float max pooling on one run of output pixels whose
// windows lie inside the input (pool_taps.go).
//
//go:noescape
func poolMaxFAsm(p *dwFArgs)

func poolTapsHaveSIMD() bool { return features.avx2 }
