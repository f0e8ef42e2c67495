package kernels

import (
	"math"
)

// This file holds TFLite's fixed-point requantization arithmetic
// (tensorflow/lite/kernels/internal/common.h, quantization_util.cc and
// gemmlowp's fixedpoint.h), reproduced bit for bit.

// QuantizeMultiplier turns a real multiplier into a Q31 significand and a
// power-of-two exponent: m ≈ q * 2^(shift-31). Like TFLite, the significand
// is rounded half away from zero and a significand of 2^31 is halved.
func QuantizeMultiplier(m float64) (q int32, shift int) {
	if m == 0 {
		return 0, 0
	}
	frac, exp := math.Frexp(m)
	fixed := int64(math.Round(frac * (1 << 31)))
	if fixed == 1<<31 {
		fixed /= 2
		exp++
	}
	if exp < -31 {
		return 0, 0
	}
	if exp > 30 {
		return math.MaxInt32, 30
	}
	return int32(fixed), exp
}

// SaturatingRoundingDoublingHighMul is gemmlowp's
// SaturatingRoundingDoublingHighMul for int32.
func SaturatingRoundingDoublingHighMul(a, b int32) int32 {
	if a == b && a == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	nudge := int64(1 << 30)
	if ab < 0 {
		nudge = 1 - (1 << 30)
	}
	// C++ integer division truncates toward zero, as Go's does.
	return int32((ab + nudge) / (1 << 31))
}

// RoundingDivideByPOT is gemmlowp's RoundingDivideByPOT: x / 2^exp rounded
// to nearest, ties away from zero.
func RoundingDivideByPOT(x int32, exp int) int32 {
	mask := int32(1)<<exp - 1
	remainder := x & mask
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	r := x >> exp
	if remainder > threshold {
		r++
	}
	return r
}

// MultiplyByQuantizedMultiplier is TFLite's MultiplyByQuantizedMultiplier
// (double rounding, the default build): x * q * 2^(shift-31).
func MultiplyByQuantizedMultiplier(x, q int32, shift int) int32 {
	left, right := 0, 0
	if shift > 0 {
		left = shift
	} else {
		right = -shift
	}
	return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x*(1<<left), q), right)
}

// MultiplyByQuantizedMultiplierSmallerThanOneExp is TFLite's function of the
// same name (leftShift <= 0).
func MultiplyByQuantizedMultiplierSmallerThanOneExp(x, q int32, leftShift int) int32 {
	return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, q), -leftShift)
}

// MultiplyByQuantizedMultiplierGreaterThanOne is TFLite's function of the
// same name (leftShift >= 0).
func MultiplyByQuantizedMultiplierGreaterThanOne(x, q int32, leftShift int) int32 {
	return SaturatingRoundingDoublingHighMul(x*(1<<leftShift), q)
}

// MultiplyByQuantizedMultiplier64 is TFLite's int64 overload, used by int16
// kernels: the multiplier is reduced to 16 bits and applied with one
// rounding shift, the result saturated to int32.
func MultiplyByQuantizedMultiplier64(x int64, q int32, shift int) int32 {
	var reduced int64
	if q < 0x7FFF0000 {
		reduced = (int64(q) + (1 << 15)) >> 16
	} else {
		reduced = 0x7FFF
	}
	total := int64(15 - shift)
	round := int64(1) << (total - 1)
	r := (x*reduced + round) >> total
	if r > math.MaxInt32 {
		r = math.MaxInt32
	}
	if r < math.MinInt32 {
		r = math.MinInt32
	}
	return int32(r)
}

// Clamp limits v to [lo, hi].
func Clamp(v, lo, hi int32) int32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// ClampF limits v to [lo, hi].
func ClampF(v, lo, hi float32) float32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
