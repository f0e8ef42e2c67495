package kernels

import (
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// quantizeFloatLiteRT is QUANTIZE from float32 to int8 or uint8 with one
// scale as XNNPACK's convert operator computes it: x times the float32
// reciprocal of the scale, clamped to the range less the zero point, then
// rounded half to even (its magic-bias or lrintf rounding), plus the zero
// point. TFLite's own kernel divides and rounds half away from zero,
// which differs on ties: an input of exactly (k + 0.5)·scale. Per-channel
// outputs and int16 are not XNNPACK's and keep TFLite's arithmetic.
func quantizeFloatLiteRT(in, out *tensor.Tensor, qmin, qmax int32) Kernel {
	inv := 1 / out.Quant.Scale[0]
	zp := out.ZeroPoint()
	lo, hi := float32(qmin-zp), float32(qmax-zp)
	qv := func(v float32) int32 {
		r := v * inv
		if r != r { // NaN: TFLite's kernel gives the lowest value too
			return qmin
		}
		r = min(max(r, lo), hi)
		return int32(math.RoundToEven(float64(r))) + zp
	}
	return Func(func() error {
		x := in.Float32s()
		switch out.Type {
		case tensor.Int8:
			y := out.Int8s()[:len(x)]
			for i, v := range x {
				y[i] = int8(qv(v))
			}
		case tensor.UInt8:
			y := out.UInt8s()[:len(x)]
			for i, v := range x {
				y[i] = uint8(qv(v))
			}
		}
		return nil
	})
}

// requantizeLiteRT8 is QUANTIZE between two int8 or two uint8 tensors as
// XNNPACK's convert computes it: an 8-bit fractional multiplier,
// m = lrintf(256 · (input scale / output scale)) in float32, then
// y = ((x − in_zp)·m + 128) >> 8 (arithmetic) + out_zp, clamped. ok is
// false when the scale ratio is outside [2⁻⁸, 2⁷], which XNNPACK's
// delegate does not take: TFLite's own kernel then runs.
func requantizeLiteRT8(in, out *tensor.Tensor, qmin, qmax int32) (k Kernel, ok bool) {
	ratio := in.Scale() / out.Scale()
	if !(ratio >= 1.0/256 && ratio <= 128) {
		return nil, false
	}
	m := int32(math.RoundToEven(float64(256 * ratio)))
	inZP, outZP := in.ZeroPoint(), out.ZeroPoint()
	f := func(v int32) int32 {
		return Clamp((((v-inZP)*m+128)>>8)+outZP, qmin, qmax)
	}
	if in.Type == tensor.Int8 {
		return requantizeKernel[int8](in, out, f), true
	}
	return requantizeKernel[uint8](in, out, f), true
}
