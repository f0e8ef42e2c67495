package kernels

import (
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// L2Normalization divides each row of the innermost dimension by its L2
// norm (at least 1e-6 for float32). Quantized outputs have scale 1/128 and
// zero point 0 (int8) or 128 (uint8), as TFLite requires; the arithmetic is
// TFLite's reference (TFLite Micro's for int8), with an inverse square root
// multiplier per row. TFLite implements no fused activation for it.
func L2Normalization(cfg *Config, act Activation, in, out *tensor.Tensor) (Kernel, error) {
	if act != ActNone {
		return nil, unsupportedf("L2_NORMALIZATION with fused activation %s", act)
	}
	q, err := actPrepare(cfg, "L2_NORMALIZATION", in, out, tensor.Float32, tensor.Int8, tensor.UInt8)
	if err != nil {
		return nil, err
	}
	outer, depth, err := actRowsOf("L2_NORMALIZATION", in)
	if err != nil {
		return nil, err
	}
	if !q {
		return Func(func() error {
			x, y := in.Float32s(), out.Float32s()
			for r := 0; r < outer; r++ {
				xr, yr := x[r*depth:(r+1)*depth], y[r*depth:(r+1)*depth]
				var sq float32
				for _, v := range xr {
					sq += v * v
				}
				norm := max(float32(math.Sqrt(float64(sq))), 1e-6)
				for i, v := range xr {
					yr[i] = v / norm
				}
			}
			return nil
		}), nil
	}
	wantZP := int32(0)
	if out.Type == tensor.UInt8 {
		wantZP = 128
	}
	if out.Scale() != 1.0/128 || out.ZeroPoint() != wantZP {
		return nil, unsupportedf("L2_NORMALIZATION %s output %q has scale %g, zero point %d; want 1/128, %d", out.Type, out.Name, out.Scale(), out.ZeroPoint(), wantZP)
	}
	zp := in.ZeroPoint()
	if in.Type == tensor.Int8 {
		return Func(func() error {
			x, y := in.Int8s(), out.Int8s()
			for r := 0; r < outer; r++ {
				xr, yr := x[r*depth:(r+1)*depth], y[r*depth:(r+1)*depth]
				var acc int32
				for _, v := range xr {
					d := int32(v) - zp
					acc += d * d
				}
				mult, shift := GetInvSqrtQuantizedMultiplierExp(acc, -1)
				for i, v := range xr {
					o := MultiplyByQuantizedMultiplier(int32(v)-zp, mult, shift+7)
					yr[i] = int8(Clamp(o, math.MinInt8, math.MaxInt8))
				}
			}
			return nil
		}), nil
	}
	return Func(func() error {
		x, y := in.UInt8s(), out.UInt8s()
		for r := 0; r < outer; r++ {
			xr, yr := x[r*depth:(r+1)*depth], y[r*depth:(r+1)*depth]
			var acc int32
			for _, v := range xr {
				d := int32(v) - zp
				acc += d * d
			}
			mult, shift := GetInvSqrtQuantizedMultiplierExp(acc, -1)
			for i, v := range xr {
				o := 128 + MultiplyByQuantizedMultiplierSmallerThanOneExp(128*(int32(v)-zp), mult, shift)
				yr[i] = uint8(Clamp(o, 0, 255))
			}
		}
		return nil
	}), nil
}
