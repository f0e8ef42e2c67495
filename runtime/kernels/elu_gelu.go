package kernels

import (
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Elu computes x for x ≥ 0 and e^x − 1 below (TFLite's ELU): float32, and
// int8 through a 256-entry table. The table is TFLite's (LUTPopulate:
// half away from zero, then the zero point) in reference arithmetic, and
// XNNPACK's, which takes int8 ELU, in LiteRT arithmetic: (q − zp)·scale,
// the function, then y/out_scale + out_zp rounded half to even.
func Elu(cfg *Config, in, out *tensor.Tensor) (Kernel, error) {
	const op = "ELU"
	if err := CheckType(op+" input", in, tensor.Float32, tensor.Int8); err != nil {
		return nil, err
	}
	if err := CheckType(op+" output", out, in.Type); err != nil {
		return nil, err
	}
	actSameShape(in, out)
	f := func(x float32) float32 {
		if x < 0 {
			return float32(math.Expm1(float64(x)))
		}
		return x
	}
	if in.Type == tensor.Float32 {
		return floatMapKernel(in, out, f), nil
	}
	if err := checkUnaryQuant(op, in, out); err != nil {
		return nil, err
	}
	if cfg.Arithmetic == LiteRT {
		return actLUTKernel(in, out, xnnLUT8(in, out, f)), nil
	}
	var lut [256]uint8
	unaryLUT8(in, out, &lut, f)
	return actLUTKernel(in, out, &lut), nil
}

// xnnLUT8 is XNNPACK's table of an 8-bit unary operator it evaluates
// through its float reference: dequantize as (float(q) − zp)·scale, apply
// f, then round y·(1/out_scale) + out_zp to nearest even (NaN → 0) and
// clamp.
func xnnLUT8(in, out *tensor.Tensor, f func(float32) float32) *[256]uint8 {
	lo, hi, _ := TypeRange(in.Type)
	inScale, inZP := in.Scale(), float32(in.ZeroPoint())
	inv := 1 / out.Scale()
	outZP := float32(out.ZeroPoint())
	var lut [256]uint8
	for v := lo; v <= hi; v++ {
		x := (float32(v) - inZP) * inScale
		y := float32(f(x)*inv) + outZP
		if y != y {
			y = 0
		}
		r := math.RoundToEven(float64(y))
		lut[uint8(v)] = uint8(int32(min(max(r, float64(lo)), float64(hi))))
	}
	return &lut
}

// floatMapKernel applies f to every float32 element.
func floatMapKernel(in, out *tensor.Tensor, f func(float32) float32) Kernel {
	n := in.NumElements()
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		x, y := in.Float32s()[:n], out.Float32s()[:n]
		for i, v := range x {
			y[i] = f(v)
		}
		return nil
	})
}

// Gelu computes x·Φ(x) (TFLite's GELU), exactly with erfc or, with
// approximate, with TFLite's tanh formula: float32, and int8, uint8 and
// int16 (zero points 0) through TFLite's tables of the same float
// functions.
func Gelu(cfg *Config, approximate bool, in, out *tensor.Tensor) (Kernel, error) {
	const op = "GELU"
	if err := CheckType(op+" input", in, tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16); err != nil {
		return nil, err
	}
	if err := CheckType(op+" output", out, in.Type); err != nil {
		return nil, err
	}
	actSameShape(in, out)
	f := geluExact
	if approximate {
		f = geluApprox
	}
	switch in.Type {
	case tensor.Float32:
		return floatMapKernel(in, out, f), nil
	case tensor.Int16:
		if err := checkUnaryQuant(op, in, out); err != nil {
			return nil, err
		}
		lut := lutPopulate16(in, out, f)
		return mapKernel(in, out, func(x int16) int16 { return lutLookup16(x, lut) }), nil
	}
	if err := checkUnaryQuant(op, in, out); err != nil {
		return nil, err
	}
	var lut [256]uint8
	unaryLUT8(in, out, &lut, f)
	return actLUTKernel(in, out, &lut), nil
}

// geluExact is TFLite's GeluTransform: 0.5·x·erfc(−x/√2), in float32
// steps.
func geluExact(x float32) float32 {
	const negSqrtHalf = float32(-math.Sqrt2 / 2)
	return float32(0.5*x) * float32(math.Erfc(float64(float32(x*negSqrtHalf))))
}

// geluApprox is TFLite's GeluTransformApproximate: 0.5·x·(1 +
// tanh(√(2/π)·(x + 0.044715·x³))), in float32 steps.
func geluApprox(x float32) float32 {
	const sqrt2dPi = float32(2 / math.SqrtPi * math.Sqrt2 / 2)
	cube := float32(float32(float32(0.044715*x)*x) * x)
	t := float32(math.Tanh(float64(float32(sqrt2dPi * float32(x+cube)))))
	return float32(0.5*x) * (1 + t)
}
