package kernels

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/edged-dev/edged/runtime/tensor"
)

// UnaryOp is an element-wise unary math operator.
type UnaryOp int

// Element-wise unary operators.
const (
	OpSqrt UnaryOp = iota
	OpRsqrt
	OpExp
)

func (op UnaryOp) String() string {
	switch op {
	case OpSqrt:
		return "SQRT"
	case OpRsqrt:
		return "RSQRT"
	case OpExp:
		return "EXP"
	}
	return fmt.Sprintf("unary(%d)", int(op))
}

// ErrNegativeRsqrt is returned by Eval of a quantized RSQRT whose input has
// a value below its zero point (TFLite: "Rsqrt is only defined for
// positive values").
var ErrNegativeRsqrt = errors.New("RSQRT is only defined for non-negative values")

// Unary checks the operands of SQRT, RSQRT or EXP, sets the output shape
// and returns the kernel. float32 for all three; int8 RSQRT uses TFLite's
// fixed-point kernel and int8/uint8 EXP TFLite's float-built lookup table,
// both tabulated here over the 256 input values; int16 EXP and RSQRT
// TFLite's interpolated int16 table.
func Unary(cfg *Config, op UnaryOp, in, out *tensor.Tensor) (Kernel, error) {
	if in == nil || out == nil {
		return nil, fmt.Errorf("%s: missing operand", op)
	}
	if out.Type != in.Type {
		return nil, fmt.Errorf("%s: output %q has type %s; want %s", op, out.Name, out.Type, in.Type)
	}
	out.Shape = append(out.Shape[:0], in.Shape...)
	if in.Type == tensor.Float32 {
		var f func(float32) float32
		switch op {
		case OpSqrt:
			f = func(x float32) float32 { return float32(math.Sqrt(float64(x))) }
		case OpRsqrt:
			f = func(x float32) float32 { return 1 / float32(math.Sqrt(float64(x))) }
		case OpExp:
			f = func(x float32) float32 { return float32(math.Exp(float64(x))) }
		default:
			return nil, unsupportedf("%s on float32 input", op)
		}
		return Func(func() error {
			x, y := in.Float32s(), out.Float32s()
			n := in.NumElements()
			for i, v := range x[:n] {
				y[i] = f(v)
			}
			return nil
		}), nil
	}
	if in.Type == tensor.Int16 {
		return unaryInt16(op, in, out)
	}
	if in.Type != tensor.Int8 && in.Type != tensor.UInt8 {
		return nil, unsupportedf("%s on %s input", op, in.Type)
	}
	// Quantized element-wise unary ops are not delegated to XNNPACK: the
	// reference arithmetic is also the oracle's.
	for _, t := range []*tensor.Tensor{in, out} {
		if err := CheckQuantized(op.String()+" operand", t); err != nil {
			return nil, err
		}
		if t.Quant.PerChannel() {
			return nil, unsupportedf("%s: per-channel quantized operand %q", op, t.Name)
		}
	}
	if op == OpSqrt {
		if in.Type != tensor.Int8 {
			return nil, unsupportedf("SQRT on %s input", in.Type)
		}
		return sqrtQuant(in, out), nil
	}
	var lut [256]uint8
	var valid [256]bool
	switch {
	case op == OpExp:
		unaryLUT8(in, out, &lut, func(x float32) float32 { return float32(math.Exp(float64(x))) })
		for i := range valid {
			valid[i] = true
		}
	case op == OpRsqrt && in.Type == tensor.Int8:
		rsqrtLUTInt8(in, out, &lut, &valid)
	default:
		return nil, unsupportedf("%s on %s input", op, in.Type)
	}
	if !slices.Contains(valid[:], false) {
		return table8Kernel(in, out, &lut), nil
	}
	n := in.NumElements()
	errNeg := fmt.Errorf("%s %q: %w", op, in.Name, ErrNegativeRsqrt)
	return Func(func() error {
		x, y := in.Data[:n], out.Data[:n]
		for i, v := range x {
			if !valid[v] {
				return errNeg
			}
			y[i] = lut[v]
		}
		return nil
	}), nil
}

// unaryLUT8 fills TFLite's 8-bit lookup table (LUTPopulate) of f, indexed
// by the raw input byte: dequantize in float32, apply f, multiply by the
// inverse output scale, round half away from zero, add the zero point and
// clamp to the type.
func unaryLUT8(in, out *tensor.Tensor, lut *[256]uint8, f func(float32) float32) {
	lo, hi, _ := TypeRange(in.Type)
	inScale, inZP := in.Scale(), in.ZeroPoint()
	inv := 1 / out.Scale()
	outZP := float32(out.ZeroPoint())
	for v := lo; v <= hi; v++ {
		deq := inScale * float32(v-inZP)
		r := float32(math.Round(float64(f(deq) * inv)))
		q := r + outZP
		var qi int32
		switch {
		case q != q: // NaN
			qi = lo
		case q >= float32(hi):
			qi = hi
		case q <= float32(lo):
			qi = lo
		default:
			qi = int32(q)
		}
		lut[uint8(v)] = uint8(qi)
	}
}

// rsqrtLUTInt8 tabulates TFLite's int8 RSQRT (elementwise.cc,
// RsqrtEvalQuantized): 1/sqrt of the offset input by
// GetInvSqrtQuantizedMultiplierExp, kept integer with 20 bits of shift,
// then requantized by 1/(sqrt(in_scale)*out_scale). An input at the zero
// point maps to 127; inputs below it are invalid.
func rsqrtLUTInt8(in, out *tensor.Tensor, lut *[256]uint8, valid *[256]bool) {
	const kShift = 20
	// TFLite: 1. / (std::sqrt(input_scale) * output_scale), the product in
	// float32.
	scale := 1 / float64(float32(math.Sqrt(float64(in.Scale())))*out.Scale())
	mult, shift := QuantizeMultiplier(scale)
	inZP, outZP := in.ZeroPoint(), out.ZeroPoint()
	for v := int32(math.MinInt8); v <= math.MaxInt8; v++ {
		i := uint8(int8(v))
		value := v - inZP
		if value < 0 {
			continue
		}
		valid[i] = true
		if value == 0 {
			lut[i] = uint8(int8(math.MaxInt8))
			continue
		}
		invMult, invShift := GetInvSqrtQuantizedMultiplierExp(value, -1)
		data := MultiplyByQuantizedMultiplier(1, invMult, invShift+kShift)
		r := MultiplyByQuantizedMultiplier(data, mult, shift-kShift) + outZP
		lut[i] = uint8(int8(Clamp(r, math.MinInt8, math.MaxInt8)))
	}
}

// unaryInt16 is TFLite's int16 EXP and RSQRT (zero points 0): its
// interpolated table of the function over the input range. RSQRT fails
// on negative inputs and maps 0 to the largest output.
func unaryInt16(op UnaryOp, in, out *tensor.Tensor) (Kernel, error) {
	if err := checkUnaryQuant(op.String(), in, out); err != nil {
		return nil, err
	}
	switch op {
	case OpSqrt:
		return sqrtQuant(in, out), nil
	case OpExp:
		lut := lutPopulate16(in, out, func(x float32) float32 { return float32(math.Exp(float64(x))) })
		return mapKernel(in, out, func(x int16) int16 { return lutLookup16(x, lut) }), nil
	case OpRsqrt:
		top := math.MaxInt16 * out.Scale()
		lut := lutPopulate16(in, out, func(x float32) float32 {
			if x <= 0 {
				return top
			}
			return 1 / float32(math.Sqrt(float64(x)))
		})
		n := in.NumElements()
		errNeg := fmt.Errorf("%s %q: %w", op, in.Name, ErrNegativeRsqrt)
		return Func(func() error {
			x, y := in.Int16s()[:n], out.Int16s()[:n]
			for _, v := range x {
				if v < 0 {
					return errNeg
				}
			}
			for i, v := range x {
				y[i] = lutLookup16(v, lut)
			}
			return nil
		}), nil
	}
	return nil, unsupportedf("%s on int16 input", op)
}

// ErrNegativeSqrt is returned by Eval of a quantized SQRT whose input has
// a value below its zero point.
var ErrNegativeSqrt = errors.New("SQRT is only defined for non-negative values")

// sqrtQuant is TFLite's quantized SQRT (int8, int16): the square root of
// the input dequantized in float32, divided by the output scale and
// truncated toward zero, plus the output zero point, clamped to the type.
func sqrtQuant(in, out *tensor.Tensor) Kernel {
	lo, hi, _ := TypeRange(in.Type)
	inScale, inZP := in.Scale(), in.ZeroPoint()
	outScale, outZP := out.Scale(), out.ZeroPoint()
	f := func(v int32) (int32, bool) {
		deq := inScale * float32(v-inZP)
		if deq < 0 {
			return 0, false
		}
		q := int32(float32(math.Sqrt(float64(deq)))/outScale) + outZP
		return Clamp(q, lo, hi), true
	}
	n := in.NumElements()
	errNeg := fmt.Errorf("SQRT %q: %w", in.Name, ErrNegativeSqrt)
	if in.Type == tensor.Int16 {
		return Func(func() error {
			x, y := in.Int16s()[:n], out.Int16s()[:n]
			for i, v := range x {
				r, ok := f(int32(v))
				if !ok {
					return errNeg
				}
				y[i] = int16(r)
			}
			return nil
		})
	}
	var lut [256]uint8
	var valid [256]bool
	for v := lo; v <= hi; v++ {
		r, ok := f(v)
		lut[uint8(v)], valid[uint8(v)] = uint8(r), ok
	}
	return Func(func() error {
		x, y := in.Data[:n], out.Data[:n]
		for i, v := range x {
			if !valid[v] {
				return errNeg
			}
			y[i] = lut[v]
		}
		return nil
	})
}
