package kernels

// dwFTapsAsm runs the general float depthwise kernel (AVX2) on one run of
// output pixels (depthwise_taps.go).
//
//go:noescape
func dwFTapsAsm(p *dwFArgs)

// dwFTapsZAsm is dwFTapsAsm with AVX-512 (the vnni variant's CPUs),
// blocks of 16 channels.
//
//go:noescape
func dwFTapsZAsm(p *dwFArgs)

func dwTapsHaveSIMD() bool { return features.avx2 }

// dwFTaps runs the widest general float depthwise kernel of the variant.
func dwFTaps(p *dwFArgs) {
	if features.vnni {
		dwFTapsZAsm(p)
		return
	}
	dwFTapsAsm(p)
}

// poolMaxFAsm runs float max pooling on one run of output pixels whose
// windows lie inside the input (pool_taps.go).
//
//go:noescape
func poolMaxFAsm(p *dwFArgs)

func poolTapsHaveSIMD() bool { return features.avx2 }
