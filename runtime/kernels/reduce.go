package kernels

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/edged-dev/edged/runtime/tensor"
)

// ReduceKind selects the reduction of MEAN, SUM, REDUCE_MAX and REDUCE_MIN.
type ReduceKind int

// Reductions.
const (
	ReduceSum ReduceKind = iota
	ReduceMean
	ReduceMax
	ReduceMin
)

func (k ReduceKind) String() string {
	switch k {
	case ReduceSum:
		return "SUM"
	case ReduceMean:
		return "MEAN"
	case ReduceMax:
		return "REDUCE_MAX"
	case ReduceMin:
		return "REDUCE_MIN"
	}
	return fmt.Sprintf("reduce(%d)", int(k))
}

// ReduceParams are a reduction's options. Axes are as in the model (they
// may be negative or repeated).
type ReduceParams struct {
	Kind     ReduceKind
	Axes     []int
	KeepDims bool
}

// reducePlan walks the input in row-major order and maps each element to
// its output index. idx is scratch for Eval.
type reducePlan struct {
	dims      []int
	outStride []int // 0 on reduced dimensions
	idx       []int
	count     int // input elements per output element
}

// reduceLoop folds every input element into acc[output index] with f, in
// the input's row-major order (the order of TFLite's reference Reduce).
func reduceLoop[T, A any](p *reducePlan, x []T, acc []A, f func(A, T) A) {
	r := len(p.dims)
	if len(x) == 0 {
		return
	}
	if r == 0 {
		acc[0] = f(acc[0], x[0])
		return
	}
	last, ls := p.dims[r-1], p.outStride[r-1]
	idx := p.idx
	clear(idx)
	i, o := 0, 0
	for {
		oo := o
		for _, v := range x[i : i+last] {
			acc[oo] = f(acc[oo], v)
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

// Reduce computes a reduction over the given axes. Quantized MEAN and SUM
// follow TFLite's reference kernels (QuantizedMeanOrSum, the only integer
// path of TFLite Micro and of TFLite's reference resolver): the
// zero-point-corrected sum requantized with a fixed-point multiplier, into
// which MEAN folds 1/n. In LiteRT arithmetic, 8-bit MEAN and SUM are
// XNNPACK's (litertMeanOrSum), int16 SUM TFLite's optimized kernel.
func Reduce(cfg *Config, p ReduceParams, in, out *tensor.Tensor) (Kernel, error) {
	plan, naxes, err := reduceSetup(p.Kind.String(), p.Axes, p.KeepDims, in, out)
	if err != nil {
		return nil, err
	}
	nOut := out.NumElements()

	if err := CheckType("output", out, in.Type); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Kind, err)
	}
	quantSum := (p.Kind == ReduceMean || p.Kind == ReduceSum) && in.Type.Quantized()
	if naxes == 0 && !quantSum {
		// Nothing to reduce: the output is the input. (Quantized MEAN and
		// SUM still requantize each element.)
		return Func(func() error { copy(out.Data, in.Data); return nil }), nil
	}
	if p.Kind < ReduceSum || p.Kind > ReduceMin {
		return nil, unsupportedf("reduction %d", int(p.Kind))
	}

	switch in.Type {
	case tensor.Float32:
		return reduceFloat(p, plan, in, out), nil
	case tensor.Int32:
		return reduceInt32(p, plan, in, out, nOut), nil
	case tensor.Int64:
		return reduceInt64(p, plan, in, out), nil
	case tensor.Int8:
		return reduceQuant(cfg, p, plan, naxes, in, out, nOut, in.Int8s, out.Int8s, math.MinInt8, math.MaxInt8)
	case tensor.UInt8:
		return reduceQuant(cfg, p, plan, naxes, in, out, nOut, in.UInt8s, out.UInt8s, 0, math.MaxUint8)
	case tensor.Int16:
		return reduceQuant(cfg, p, plan, naxes, in, out, nOut, in.Int16s, out.Int16s, math.MinInt16, math.MaxInt16)
	}
	return nil, unsupportedf("%s on %s input", p.Kind, in.Type)
}

// reduceSetup resolves a reduction's axes (negative ones count from the
// end; repeats count once), sets the output shape and returns the walk
// and the number of distinct reduced axes.
func reduceSetup(op string, axes []int, keepDims bool, in, out *tensor.Tensor) (*reducePlan, int, error) {
	r := in.Rank()
	reduced := make([]bool, r)
	naxes := 0
	if r > 0 {
		for _, a := range axes {
			ra := a
			if ra < 0 {
				ra += r
			}
			if ra < 0 || ra >= r {
				return nil, 0, fmt.Errorf("%s: axis %d out of range for input %q of rank %d", op, a, in.Name, r)
			}
			if !reduced[ra] {
				reduced[ra] = true
				naxes++
			}
		}
	}
	shape := out.Shape[:0]
	for d := 0; d < r; d++ {
		switch {
		case !reduced[d]:
			shape = append(shape, in.Shape[d])
		case keepDims:
			shape = append(shape, 1)
		}
	}
	out.Shape = shape
	plan := &reducePlan{dims: append([]int(nil), in.Shape...), outStride: make([]int, r), idx: make([]int, r), count: 1}
	stride := 1
	for d := r - 1; d >= 0; d-- {
		if reduced[d] {
			plan.count *= in.Shape[d]
			continue
		}
		plan.outStride[d] = stride
		stride *= in.Shape[d]
	}
	return plan, naxes, nil
}

// reduceBlock views a reduction whose reduced axes are one contiguous run
// as [outer, r, inner] with r reduced (ok false otherwise).
func reduceBlock(plan *reducePlan) (outer, r, inner int, ok bool) {
	d0, d1 := -1, -1
	for d, st := range plan.outStride {
		if st != 0 {
			continue
		}
		if d0 < 0 {
			d0 = d
		} else if d1 != d {
			return 0, 0, 0, false // a second run
		}
		d1 = d + 1
	}
	if d0 < 0 {
		return 0, 0, 0, false
	}
	outer, r, inner = 1, 1, 1
	for d, n := range plan.dims {
		switch {
		case d < d0:
			outer *= n
		case d < d1:
			r *= n
		default:
			inner *= n
		}
	}
	return outer, r, inner, true
}

func reduceFloat(p ReduceParams, plan *reducePlan, in, out *tensor.Tensor) Kernel {
	if outer, r, inner, ok := reduceBlock(plan); ok && (p.Kind == ReduceSum || p.Kind == ReduceMean) {
		return reduceFloatBlock(p.Kind, outer, r, inner, in, out)
	}
	return Func(func() error {
		x, y := in.Float32s(), out.Float32s()
		switch p.Kind {
		case ReduceSum, ReduceMean:
			clear(y)
			reduceLoop(plan, x, y, func(a, v float32) float32 { return a + v })
			if p.Kind == ReduceMean {
				if plan.count == 0 {
					// TFLite fills the mean of nothing with NaN.
					for i := range y {
						y[i] = float32(math.NaN())
					}
					return nil
				}
				n := float32(plan.count)
				for i := range y {
					y[i] /= n
				}
			}
		case ReduceMax:
			fillSlice(y, -math.MaxFloat32)
			reduceLoop(plan, x, y, func(a, v float32) float32 {
				if v > a {
					return v
				}
				return a
			})
		case ReduceMin:
			fillSlice(y, math.MaxFloat32)
			reduceLoop(plan, x, y, func(a, v float32) float32 {
				if v < a {
					return v
				}
				return a
			})
		}
		return nil
	})
}

// reduceFloatBlock is float SUM or MEAN over the middle axis of
// [outer, r, inner] (a global average pool over an image's pixels, above
// all): each output row of inner values adds the r input rows in order,
// as reduceLoop does element by element, with the vector add where there
// is one (bit for bit the same sums), then MEAN divides by the count.
func reduceFloatBlock(kind ReduceKind, outer, r, inner int, in, out *tensor.Tensor) Kernel {
	n := float32(r)
	return Func(func() error {
		x, y := in.Float32s(), out.Float32s()
		if len(x) < outer*r*inner || len(y) < outer*inner {
			return fmt.Errorf("%s: input %v or output %v smaller than their shapes", kind, in.Shape, out.Shape)
		}
		for o := 0; o < outer; o++ {
			acc := y[o*inner : (o+1)*inner]
			clear(acc)
			xs := x[o*r*inner : (o+1)*r*inner]
			if inner == 1 {
				var s float32
				for _, v := range xs {
					s += v
				}
				acc[0] = s
			} else {
				sumRowsF32(acc, xs, r, inner)
			}
			if kind == ReduceMean {
				for i := range acc {
					if r == 0 {
						// TFLite fills the mean of nothing with NaN.
						acc[i] = float32(math.NaN())
						continue
					}
					acc[i] /= n
				}
			}
		}
		return nil
	})
}

func fillSlice[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

func reduceInt32(p ReduceParams, plan *reducePlan, in, out *tensor.Tensor, nOut int) Kernel {
	var sum []int64
	if p.Kind == ReduceMean {
		sum = make([]int64, nOut)
	}
	return Func(func() error {
		x, y := in.Int32s(), out.Int32s()
		switch p.Kind {
		case ReduceSum:
			// int32 sums wrap, as TFLite's (two's complement) int32 adds.
			clear(y)
			reduceLoop(plan, x, y, func(a, v int32) int32 { return a + v })
		case ReduceMean:
			// TFLite accumulates int32 means in int64 and divides with
			// truncation.
			clear(sum)
			reduceLoop(plan, x, sum, func(a int64, v int32) int64 { return a + int64(v) })
			if plan.count > 0 {
				for i, s := range sum {
					y[i] = int32(s / int64(plan.count))
				}
			}
		case ReduceMax:
			fillSlice(y, math.MinInt32)
			reduceLoop(plan, x, y, func(a, v int32) int32 { return max(a, v) })
		case ReduceMin:
			fillSlice(y, math.MaxInt32)
			reduceLoop(plan, x, y, func(a, v int32) int32 { return min(a, v) })
		}
		return nil
	})
}

func reduceInt64(p ReduceParams, plan *reducePlan, in, out *tensor.Tensor) Kernel {
	return Func(func() error {
		x, y := in.Int64s(), out.Int64s()
		switch p.Kind {
		case ReduceSum, ReduceMean:
			clear(y)
			reduceLoop(plan, x, y, func(a, v int64) int64 { return a + v })
			if p.Kind == ReduceMean && plan.count > 0 {
				for i := range y {
					y[i] /= int64(plan.count)
				}
			}
		case ReduceMax:
			fillSlice(y, math.MinInt64)
			reduceLoop(plan, x, y, func(a, v int64) int64 { return max(a, v) })
		case ReduceMin:
			fillSlice(y, math.MaxInt64)
			reduceLoop(plan, x, y, func(a, v int64) int64 { return min(a, v) })
		}
		return nil
	})
}

// reduceMeanFold folds 1/n into a fixed-point multiplier as TFLite's
// QuantizedMeanOrSum: the multiplier is scaled up by 2^k (k = floor(log2 n),
// at most 32 and at most 31+shift) and divided by n.
func reduceMeanFold(mult int32, shift int, n int) (int32, int) {
	k := bits.Len64(uint64(n)) - 1
	k = min(k, 32, 31+shift)
	if k < 0 {
		k = 0
	}
	return int32((int64(mult) << k) / int64(n)), shift - k
}

func reduceQuant[T int8 | uint8 | int16](cfg *Config, p ReduceParams, plan *reducePlan, naxes int, in, out *tensor.Tensor, nOut int,
	inView, outView func() []T, tmin, tmax int32) (Kernel, error) {
	if p.Kind == ReduceMax || p.Kind == ReduceMin {
		// TFLite compares raw values: the converter gives REDUCE_MAX/MIN the
		// same parameters on both sides.
		var init T = T(tmin)
		if p.Kind == ReduceMin {
			init = T(tmax)
		}
		return Func(func() error {
			x, y := inView(), outView()
			fillSlice(y, init)
			if p.Kind == ReduceMax {
				reduceLoop(plan, x, y, func(a, v T) T { return max(a, v) })
			} else {
				reduceLoop(plan, x, y, func(a, v T) T { return min(a, v) })
			}
			return nil
		}), nil
	}
	for _, t := range []*tensor.Tensor{in, out} {
		if err := CheckQuantized("operand", t); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Kind, err)
		}
	}
	if in.Type == tensor.Int16 && (in.ZeroPoint() != 0 || out.ZeroPoint() != 0) {
		return nil, fmt.Errorf("%s: int16 operands need zero points 0; have %d and %d", p.Kind, in.ZeroPoint(), out.ZeroPoint())
	}
	inZP, outZP := in.ZeroPoint(), out.ZeroPoint()
	n := int64(plan.count)
	sum := make([]int32, nOut)
	addRaw := func(a int32, v T) int32 { return a + int32(v) }
	if cfg.Arithmetic == LiteRT {
		if in.Type != tensor.Int16 && naxes > 0 {
			return litertMeanOrSum(p.Kind, plan, in, out, sum, inView, outView, tmin, tmax), nil
		}
		if p.Kind == ReduceSum {
			return optimizedQuantizedSum(plan, in, out, sum, inView, outView, tmin, tmax), nil
		}
		// MEAN left to TFLite's kernels: its reference QuantizedMeanOrSum,
		// as below.
	}
	mult, shift := QuantizeMultiplier(float64(in.Scale()) / float64(out.Scale()))
	// reference_ops::QuantizedMeanOrSum.
	if p.Kind == ReduceMean && n > 0 {
		mult, shift = reduceMeanFold(mult, shift, int(n))
	}
	return Func(func() error {
		y := outView()
		clear(sum)
		reduceLoop(plan, inView(), sum, addRaw)
		if n == 0 {
			clear(y)
			return nil
		}
		for i, s := range sum {
			shifted := int32(int64(s) - int64(inZP)*n)
			acc := MultiplyByQuantizedMultiplier(shifted, mult, shift) + outZP
			y[i] = T(Clamp(acc, tmin, tmax))
		}
		return nil
	}), nil
}
