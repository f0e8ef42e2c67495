//go:build !amd64

package kernels

func dwFTapsAsm(p *dwFArgs) { panic("kernels: no SIMD general depthwise kernel on this architecture") }

func dwTapsHaveSIMD() bool { return false }

func dwFTaps(p *dwFArgs) { dwFTapsAsm(p) }

func poolMaxFAsm(p *dwFArgs) { panic("kernels: no SIMD pooling kernel on this architecture") }

func poolTapsHaveSIMD() bool { return false }
