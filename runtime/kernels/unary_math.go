package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// MathOp is an element-wise unary math operator of MathUnary.
type MathOp int

// Element-wise unary math operators.
const (
	OpLog MathOp = iota
	OpAbs
	OpNeg
	OpSquare
	OpSin
	OpCos
	OpFloor
	OpCeil
	OpRound
	OpSign
)

var mathOpNames = [...]string{
	OpLog: "LOG", OpAbs: "ABS", OpNeg: "NEG", OpSquare: "SQUARE", OpSin: "SIN", OpCos: "COS",
	OpFloor: "FLOOR", OpCeil: "CEIL", OpRound: "ROUND", OpSign: "SIGN",
}

func (op MathOp) String() string {
	if op >= 0 && int(op) < len(mathOpNames) {
		return mathOpNames[op]
	}
	return fmt.Sprintf("math(%d)", int(op))
}

// mathFloat is the float32 function of each operator, as TFLite's kernels
// compute it (std::log, std::abs... in float).
var mathFloat = [...]func(float32) float32{
	OpLog:    func(x float32) float32 { return float32(math.Log(float64(x))) },
	OpAbs:    func(x float32) float32 { return float32(math.Abs(float64(x))) },
	OpNeg:    func(x float32) float32 { return -x },
	OpSquare: func(x float32) float32 { return x * x },
	OpSin:    func(x float32) float32 { return float32(math.Sin(float64(x))) },
	OpCos:    func(x float32) float32 { return float32(math.Cos(float64(x))) },
	OpFloor:  func(x float32) float32 { return float32(math.Floor(float64(x))) },
	OpCeil:   func(x float32) float32 { return float32(math.Ceil(float64(x))) },
	OpRound:  func(x float32) float32 { return float32(math.RoundToEven(float64(x))) },
	OpSign:   signF32,
}

// signF32 is TFLite's SIGN: -1, 0 or 1, NaN for NaN.
func signF32(x float32) float32 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return x // ±0 or NaN
}

// MathUnary checks the operands of an element-wise unary math operator,
// sets the output shape and returns its kernel. The types are TFLite's:
// float32 for all; LOG int8 (float-built table) and int16 (interpolated
// table, zero points 0); ABS int8 and int16 (quantized: |q - zp| rescaled
// in fixed point), int16 without quantization and int32; NEG int8, int16,
// int32 and int64 (raw values, quantization ignored, as TFLite does);
// SIGN int32.
func MathUnary(cfg *Config, op MathOp, in, out *tensor.Tensor) (Kernel, error) {
	if in == nil || out == nil {
		return nil, fmt.Errorf("%s: missing operand", op)
	}
	if op < 0 || int(op) >= len(mathFloat) {
		return nil, fmt.Errorf("%s: unknown operator", op)
	}
	if out.Type != in.Type {
		return nil, fmt.Errorf("%s: output %q has type %s; want %s", op, out.Name, out.Type, in.Type)
	}
	out.Shape = append(out.Shape[:0], in.Shape...)
	n := in.NumElements()
	if in.Type == tensor.Float32 {
		f := mathFloat[op]
		return Func(func() error {
			if err := shapeCheckData(in, out); err != nil {
				return err
			}
			x, y := in.Float32s()[:n], out.Float32s()[:n]
			for i, v := range x {
				y[i] = f(v)
			}
			return nil
		}), nil
	}
	switch {
	case op == OpNeg:
		switch in.Type {
		case tensor.Int8:
			return mapKernel(in, out, func(x int8) int8 { return -x }), nil
		case tensor.Int16:
			return mapKernel(in, out, func(x int16) int16 { return -x }), nil
		case tensor.Int32:
			return mapKernel(in, out, func(x int32) int32 { return -x }), nil
		case tensor.Int64:
			return mapKernel(in, out, func(x int64) int64 { return -x }), nil
		}
	case op == OpSign && in.Type == tensor.Int32:
		return mapKernel(in, out, func(x int32) int32 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0
		}), nil
	case op == OpAbs && in.Type == tensor.Int32:
		// std::abs: INT32_MIN stays INT32_MIN.
		return mapKernel(in, out, func(x int32) int32 {
			if x < 0 {
				return -x
			}
			return x
		}), nil
	case op == OpAbs && in.Type == tensor.Int16 && in.Quant == nil:
		return mapKernel(in, out, func(x int16) int16 {
			if x < 0 {
				return -x
			}
			return x
		}), nil
	case op == OpAbs && (in.Type == tensor.Int8 || in.Type == tensor.Int16):
		return absQuant(in, out)
	case op == OpLog && (in.Type == tensor.Int8 || in.Type == tensor.Int16):
		return logQuant(in, out)
	}
	return nil, unsupportedf("%s on %s input", op, in.Type)
}

// mapKernel applies f to every element.
func mapKernel[T int8 | int16 | int32 | int64](in, out *tensor.Tensor, f func(T) T) Kernel {
	n := in.NumElements()
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		x, y := binView[T](in)[:n], binView[T](out)[:n]
		for i, v := range x {
			y[i] = f(v)
		}
		return nil
	})
}

// checkUnaryQuant checks per-tensor quantization of both operands (zero
// points 0 for int16, as TFLite requires).
func checkUnaryQuant(op string, in, out *tensor.Tensor) error {
	for _, t := range []*tensor.Tensor{in, out} {
		if err := CheckQuantized(op+" operand", t); err != nil {
			return err
		}
		if t.Quant.PerChannel() {
			return unsupportedf("%s: per-channel quantized operand %q", op, t.Name)
		}
		if t.Type == tensor.Int16 && t.ZeroPoint() != 0 {
			return fmt.Errorf("%s: int16 operand %q has zero point %d; want 0", op, t.Name, t.ZeroPoint())
		}
	}
	return nil
}

// absQuant is TFLite's quantized ABS (elementwise.cc): |q - in_zp|, times
// in_scale/out_scale in fixed point when the scales differ, plus out_zp,
// clamped.
func absQuant(in, out *tensor.Tensor) (Kernel, error) {
	if err := checkUnaryQuant("ABS", in, out); err != nil {
		return nil, err
	}
	lo, hi, _ := TypeRange(in.Type)
	inZP, outZP := in.ZeroPoint(), out.ZeroPoint()
	rescale := in.Scale() != out.Scale()
	mult, shift := QuantizeMultiplier(float64(in.Scale() / out.Scale()))
	f := func(x int32) int32 {
		v := x - inZP
		if v < 0 {
			v = -v
		}
		if rescale {
			v = MultiplyByQuantizedMultiplier(v, mult, shift)
		}
		return Clamp(v+outZP, lo, hi)
	}
	if in.Type == tensor.Int8 {
		var lut [256]uint8
		for v := lo; v <= hi; v++ {
			lut[uint8(int8(v))] = uint8(int8(f(v)))
		}
		return actLUTKernel(in, out, &lut), nil
	}
	return mapKernel(in, out, func(x int16) int16 { return int16(f(int32(x))) }), nil
}

// logQuant is TFLite's quantized LOG: a table of log over the dequantized
// inputs, with non-positive inputs mapped to the lowest output value.
func logQuant(in, out *tensor.Tensor) (Kernel, error) {
	if err := checkUnaryQuant("LOG", in, out); err != nil {
		return nil, err
	}
	lo, _, _ := TypeRange(out.Type)
	outMin := float32(lo-out.ZeroPoint()) * out.Scale()
	f := func(x float32) float32 {
		if x <= 0 {
			return outMin
		}
		return float32(math.Log(float64(x)))
	}
	if in.Type == tensor.Int8 {
		var lut [256]uint8
		unaryLUT8(in, out, &lut, f)
		return actLUTKernel(in, out, &lut), nil
	}
	lut := lutPopulate16(in, out, f)
	return mapKernel(in, out, func(x int16) int16 { return lutLookup16(x, lut) }), nil
}

// lutPopulate16 is TFLite's int16 table (LUTPopulateInt16 in float): 512
// samples of f over the input range, each biased by half the error of
// linear interpolation at the midpoint, plus the end point. Every product
// is rounded to float32 on its own, as the C++ computes it.
func lutPopulate16(in, out *tensor.Tensor, f func(float32) float32) *[513]int16 {
	inScale, outScale := in.Scale(), out.Scale()
	inZP, outZP := float32(in.ZeroPoint()), float32(out.ZeroPoint())
	inMin := inScale * (math.MinInt16 - inZP)
	inMax := inScale * (math.MaxInt16 - inZP)
	outMin := outScale * (math.MinInt16 - outZP)
	outMax := outScale * (math.MaxInt16 - outZP)
	const steps = 512
	step := (inMax - inMin) / steps
	half := step / 2
	scaleInv := float32(65536) / (outMax - outMin)
	round := func(x float32) float32 { return float32(math.Round(float64(x))) }
	clamp := func(x float32) int16 { return int16(min(max(x, math.MinInt16), math.MaxInt16)) }
	var lut [513]int16
	for i := 0; i < steps; i++ {
		x := inMin + float32(float32(i)*step)
		val := f(x)
		mid := f(x + half)
		next := f(inMin + float32(float32(i+1)*step))
		sample := round(float32(val * scaleInv))
		interp := round((float32(next*scaleInv) + round(float32(val*scaleInv))) / 2)
		midVal := round(float32(mid * scaleInv))
		bias := round((interp - midVal) / 2)
		lut[i] = clamp(sample - bias)
	}
	lut[steps] = clamp(round(float32(f(inMax) * scaleInv)))
	return &lut
}

// lutLookup16 is TFLite's interpolated int16 table lookup (LUTLookup).
func lutLookup16(v int16, lut *[513]int16) int16 {
	i := 256 + int(v>>7)
	off := int32(v & 0x7f)
	base := lut[i]
	slope := int32(lut[i+1] - base) // an int16 difference, as in the C++
	return base + int16((slope*off+64)>>7)
}
