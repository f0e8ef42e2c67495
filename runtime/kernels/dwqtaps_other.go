//go:build !amd64 && !arm64

package kernels

// dwQW is the element type of the quantized taps kernel's weights.
type dwQW = int32

func dwQTapsAsm(a *dwQArgs) {
	panic("kernels: no SIMD quantized depthwise kernel on this architecture")
}

func dwQTapsHaveSIMD() bool { return false }
