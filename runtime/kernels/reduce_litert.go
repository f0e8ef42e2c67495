package kernels

import (
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// litertMeanOrSum is 8-bit MEAN or SUM as XNNPACK computes them (its
// static reduce node: the qs8/qu8 rsum kernels and an int32 to 8-bit
// convert). The raw input values are summed in int32; with
//
//	s   = in_scale / out_scale · (1/n for MEAN)             (float32)
//	zp' = out_zp − (n · in_zp) · s                           (float32)
//
// each output is clamp(rne(float32(sum) · s + zp')), the product and the
// sum each rounded to float32, ties to even (nearbyint).
func litertMeanOrSum[T int8 | uint8 | int16](kind ReduceKind, plan *reducePlan, in, out *tensor.Tensor, sum []int32,
	inView, outView func() []T, tmin, tmax int32) Kernel {
	n := plan.count
	s := float32(in.Scale() / out.Scale())
	if kind == ReduceMean && n > 0 {
		s = float32(s * float32(1/float32(n)))
	}
	zp := float32(out.ZeroPoint()) - float32(float32(float32(n)*float32(in.ZeroPoint()))*s)
	lo, hi := float32(tmin), float32(tmax)
	addRaw := func(a int32, v T) int32 { return a + int32(v) }
	return Func(func() error {
		y := outView()
		if n == 0 {
			clear(y)
			return nil
		}
		clear(sum)
		reduceLoop(plan, inView(), sum, addRaw)
		for i, a := range sum {
			x := float32(float32(float32(a)*s) + zp)
			x = min(max(x, lo), hi)
			y[i] = T(math.RoundToEven(float64(x)))
		}
		return nil
	})
}

// optimizedQuantizedSum is quantized SUM as TFLite's optimized kernel
// computes it (optimized_ops::QuantizedMeanOrSum with compute_sum), which
// runs where XNNPACK does not (int16, or no axis to reduce): with the
// float32 ratio s = in_scale/out_scale and bias = −in_zp·s·n,
//
//	y = clamp(round(float32(sum)·s + bias) + out_zp)
//
// rounding half away from zero.
func optimizedQuantizedSum[T int8 | uint8 | int16](plan *reducePlan, in, out *tensor.Tensor, sum []int32,
	inView, outView func() []T, tmin, tmax int32) Kernel {
	n := plan.count
	s := float32(in.Scale() / out.Scale())
	bias := float32(float32(float32(-in.ZeroPoint())*s) * float32(n))
	outZP := out.ZeroPoint()
	addRaw := func(a int32, v T) int32 { return a + int32(v) }
	return Func(func() error {
		y := outView()
		if n == 0 {
			clear(y)
			return nil
		}
		clear(sum)
		reduceLoop(plan, inView(), sum, addRaw)
		for i, a := range sum {
			x := float32(float32(float32(a)*s) + bias)
			// Bounded first: the C conversion of an out-of-range float is
			// undefined, and anything beyond ±2^30 saturates below anyway.
			x = min(max(x, -0x1p30), 0x1p30)
			v := int32(math.Round(float64(x))) + outZP
			y[i] = T(Clamp(v, tmin, tmax))
		}
		return nil
	})
}
