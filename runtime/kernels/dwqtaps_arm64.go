package kernels

// dwQW is the element type of the quantized taps kernel's weights:
// SMLAL multiplies them as int16.
type dwQW = int16

// dwQTapsAsm sums one tile of the quantized depthwise kernel (NEON,
// depthwise_qtaps.go).
//
//go:noescape
func dwQTapsAsm(a *dwQArgs)

func dwQTapsHaveSIMD() bool { return features.neon }
