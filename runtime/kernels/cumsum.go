package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// CumSum computes running sums along axis (TFLite's CUMSUM): exclusive
// leaves each element out of its own sum, reverse sums from the end. Sums
// run in index order (from the end when reversed), as TFLite's Eigen
// scan does; int32 and int64 wrap on overflow. float32, int32, int64.
func CumSum(in *tensor.Tensor, axis int, exclusive, reverse bool, out *tensor.Tensor) (Kernel, error) {
	const op = "CUMSUM"
	if err := CheckType(op+" input", in, tensor.Float32, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	if out.Type != in.Type {
		return nil, fmt.Errorf("%s: output %q has type %s; want %s", op, out.Name, out.Type, in.Type)
	}
	a, err := shapeAxis(op, axis, in.Rank())
	if err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], in.Shape...)
	outer := tensor.NumElements(in.Shape[:a])
	n := in.Shape[a]
	inner := tensor.NumElements(in.Shape[a+1:])
	switch in.Type {
	case tensor.Float32:
		return cumsumKernel[float32](in, out, outer, n, inner, exclusive, reverse), nil
	case tensor.Int32:
		return cumsumKernel[int32](in, out, outer, n, inner, exclusive, reverse), nil
	}
	return cumsumKernel[int64](in, out, outer, n, inner, exclusive, reverse), nil
}

func cumsumKernel[T float32 | int32 | int64](in, out *tensor.Tensor, outer, n, inner int, exclusive, reverse bool) Kernel {
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		x, y := binView[T](in), binView[T](out)
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				base := o*n*inner + i
				var sum T
				for s := 0; s < n; s++ {
					j := s
					if reverse {
						j = n - 1 - s
					}
					p := base + j*inner
					if exclusive {
						y[p] = sum
						sum += x[p]
					} else {
						sum += x[p]
						y[p] = sum
					}
				}
			}
		}
		return nil
	})
}
