package kernels

// dwQW is the element type of the quantized taps kernel's weights:
// VPMULLD multiplies them as int32.
type dwQW = int32

// dwQTapsAsm sums one tile of the quantized depthwise kernel (AVX2,
// depthwise_qtaps.go).
//
//go:noescape
func dwQTapsAsm(a *dwQArgs)

func dwQTapsHaveSIMD() bool { return features.avx2 }
