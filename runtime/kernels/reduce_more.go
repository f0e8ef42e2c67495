package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// ReduceProd multiplies the input over the axes (TFLite's REDUCE_PROD):
// float32, int32 and int64 (wrapping) in the input's row-major order, and
// quantized int8 and int16 as TFLite does: the zero-point-corrected
// values multiplied one at a time, each product rescaled by
// in_scale/out_scale^(1/n) in fixed point, the result rescaled once more.
func ReduceProd(axes []int, keepDims bool, in, out *tensor.Tensor) (Kernel, error) {
	const op = "REDUCE_PROD"
	plan, naxes, err := reduceSetup(op, axes, keepDims, in, out)
	if err != nil {
		return nil, err
	}
	if out.Type != in.Type {
		return nil, fmt.Errorf("%s: output %q has type %s; want %s", op, out.Name, out.Type, in.Type)
	}
	nOut := out.NumElements()
	switch {
	case in.Type == tensor.Float32:
		return reduceGeneric(plan, in, out, nOut, float32(1), func(a, x float32) float32 { return a * x }), nil
	case in.Type == tensor.Int32:
		return reduceGeneric(plan, in, out, nOut, int32(1), func(a, x int32) int32 { return a * x }), nil
	case in.Type == tensor.Int64:
		return reduceGeneric(plan, in, out, nOut, int64(1), func(a, x int64) int64 { return a * x }), nil
	case (in.Type == tensor.Int8 || in.Type == tensor.Int16) && in.Quant == nil:
		if in.Type == tensor.Int8 {
			return reduceGeneric(plan, in, out, nOut, int8(1), func(a, x int8) int8 { return a * x }), nil
		}
		return reduceGeneric(plan, in, out, nOut, int16(1), func(a, x int16) int16 { return a * x }), nil
	case in.Type == tensor.Int8 || in.Type == tensor.Int16:
		for _, t := range []*tensor.Tensor{in, out} {
			if err := CheckQuantized(op+" operand", t); err != nil {
				return nil, err
			}
		}
		if in.Type == tensor.Int16 && (in.ZeroPoint() != 0 || out.ZeroPoint() != 0) {
			return nil, fmt.Errorf("%s: int16 zero points %d and %d; want 0", op, in.ZeroPoint(), out.ZeroPoint())
		}
		if naxes == 0 {
			// TFLite's default kernel copies the values unchanged.
			return Func(func() error { copy(out.Data[:out.NumBytes()], in.Data); return nil }), nil
		}
		var mult int32
		var shift int
		if n := in.NumElements(); n != 0 && nOut != 0 {
			k := n / nOut
			mult, shift = QuantizeMultiplier(float64(in.Scale()) / math.Pow(float64(out.Scale()), 1/float64(k)))
		}
		if in.Type == tensor.Int8 {
			return reduceProdQuant[int8](plan, in, out, nOut, mult, shift, math.MinInt8, math.MaxInt8), nil
		}
		return reduceProdQuant[int16](plan, in, out, nOut, mult, shift, math.MinInt16, math.MaxInt16), nil
	}
	return nil, unsupportedf("%s on %s input", op, in.Type)
}

// reduceGeneric folds the input into init-filled outputs with f, in the
// input's row-major order.
func reduceGeneric[T any](plan *reducePlan, in, out *tensor.Tensor, nOut int, init T, f func(T, T) T) Kernel {
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		y := binView[T](out)[:nOut]
		fillSlice(y, init)
		reduceLoop(plan, binView[T](in)[:in.NumElements()], y, f)
		return nil
	})
}

func reduceProdQuant[T int8 | int16](plan *reducePlan, in, out *tensor.Tensor, nOut int, mult int32, shift int, lo, hi int32) Kernel {
	acc := make([]int32, nOut)
	started := make([]bool, nOut)
	inZP, outZP := in.ZeroPoint(), out.ZeroPoint()
	step := func(a int32, x int32) int32 {
		return MultiplyByQuantizedMultiplier64(int64(a)*int64(x-inZP), mult, shift)
	}
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		n := in.NumElements()
		if n == 0 || nOut == 0 {
			return nil
		}
		clear(started)
		x := binView[T](in)[:n]
		reduceIndexed(plan, len(x), func(i, o int) {
			v := int32(x[i])
			if !started[o] {
				acc[o], started[o] = v-inZP, true
				return
			}
			acc[o] = step(acc[o], v)
		})
		y := binView[T](out)[:nOut]
		for o, a := range acc {
			y[o] = T(Clamp(MultiplyByQuantizedMultiplier64(int64(a), mult, shift)+outZP, lo, hi))
		}
		return nil
	})
}

// reduceIndexed calls f(input index, output index) for every input element
// in row-major order.
func reduceIndexed(p *reducePlan, n int, f func(i, o int)) {
	r := len(p.dims)
	if n == 0 {
		return
	}
	if r == 0 {
		f(0, 0)
		return
	}
	last, ls := p.dims[r-1], p.outStride[r-1]
	idx := p.idx
	clear(idx)
	i, o := 0, 0
	for {
		oo := o
		for k := 0; k < last; k++ {
			f(i+k, oo)
			oo += ls
		}
		i += last
		d := r - 2
		for ; d >= 0; d-- {
			idx[d]++
			o += p.outStride[d]
			if idx[d] < p.dims[d] {
				break
			}
			o -= idx[d] * p.outStride[d]
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// ReduceLogical computes REDUCE_ANY (any) or REDUCE_ALL over the axes of a
// bool tensor.
func ReduceLogical(any bool, axes []int, keepDims bool, in, out *tensor.Tensor) (Kernel, error) {
	op := "REDUCE_ALL"
	if any {
		op = "REDUCE_ANY"
	}
	if in.Type != tensor.Bool || out.Type != tensor.Bool {
		return nil, unsupportedf("%s on %s input with %s output; want bool", op, in.Type, out.Type)
	}
	plan, _, err := reduceSetup(op, axes, keepDims, in, out)
	if err != nil {
		return nil, err
	}
	nOut := out.NumElements()
	if any {
		return reduceGeneric(plan, in, out, nOut, false, func(a, x bool) bool { return a || x }), nil
	}
	return reduceGeneric(plan, in, out, nOut, true, func(a, x bool) bool { return a && x }), nil
}
