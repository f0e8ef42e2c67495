package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// TestDepthwiseSmallVariants checks the narrow (8 to 15 channel) SIMD
// blocks and the repeated-channel path for depth multipliers above 1
// against the portable Go path, byte for byte, over small channel counts
// and row widths that give zero, one and many interior pixels per call.
func TestDepthwiseSmallVariants(t *testing.T) {
	old := parallelMinWork
	parallelMinWork = 1
	t.Cleanup(func() { parallelMinWork = old })
	var cases []dwCase
	i := 0
	for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8} {
		for c := 1; c <= 17; c++ {
			for _, dm := range []int{1, 2, 4} {
				for _, w := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 48} {
					for _, stride := range []int{1, 2} {
						for _, pad := range []Padding{PaddingSame, PaddingValid} {
							if pad == PaddingValid && w < 3 {
								continue
							}
							i++
							tc := dwCase{dt: dt, h: 3 + i%3, w: w, c: c, dm: dm, stride: stride, dil: 1, pad: pad,
								act: []Activation{ActNone, ActRelu, ActRelu6}[i%3], bias: i%4 != 0, perTensor: i%2 == 0, threads: i%5 == 0}
							switch dt {
							case tensor.Int8:
								tc.inZP = []int32{-128, 127, 0, -3}[i%4]
							case tensor.UInt8:
								tc.inZP = []int32{0, 255, 128, 7}[i%4]
								tc.filZP = []int32{128, 0, 255, 90}[(i/4)%4]
							}
							cases = append(cases, tc)
						}
					}
				}
			}
		}
	}
	// person_detect's first two depthwise layers: 1 channel times 8, then 8.
	cases = append(cases,
		dwCase{dt: tensor.Int8, h: 96, w: 96, c: 1, dm: 8, stride: 2, dil: 1, pad: PaddingSame, act: ActRelu6, inZP: -128, bias: true},
		dwCase{dt: tensor.Int8, h: 96, w: 96, c: 1, dm: 8, stride: 2, dil: 1, pad: PaddingSame, act: ActRelu6, inZP: -128, bias: true, threads: true},
		dwCase{dt: tensor.Int8, h: 48, w: 48, c: 8, dm: 1, stride: 1, dil: 1, pad: PaddingSame, act: ActRelu6, inZP: -128, bias: true, threads: true},
		dwCase{dt: tensor.Int8, h: 12, w: 12, c: 3, dm: 8, stride: 1, dil: 1, pad: PaddingSame, inZP: 5, bias: true, perTensor: true},
		dwCase{dt: tensor.UInt8, h: 12, w: 12, c: 2, dm: 5, stride: 2, dil: 1, pad: PaddingValid, inZP: 100, filZP: 20},
	)
	checkDWVariants(t, cases)
}
