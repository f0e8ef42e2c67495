package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// ReverseV2 reverses the input along each of axes (TFLite's REVERSE_V2;
// up to 8 dimensions, negative axes count from the end). Any fixed-size
// element type. TFLite takes only contiguous runs of axes; any set works
// here.
func ReverseV2(in *tensor.Tensor, axes []int, out *tensor.Tensor) (Kernel, error) {
	const op = "REVERSE_V2"
	if err := shapeCheckMover(op, in, out); err != nil {
		return nil, err
	}
	r := in.Rank()
	if r > 8 || len(axes) > r {
		return nil, unsupportedf("%s on rank %d with %d axes", op, r, len(axes))
	}
	rev := make([]bool, r)
	for _, a := range axes {
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r {
			return nil, fmt.Errorf("%s: axis %d out of range for rank %d", op, a, r)
		}
		if rev[a] {
			return nil, fmt.Errorf("%s: axis %d is listed twice", op, a)
		}
		rev[a] = true
	}
	out.Shape = append(out.Shape[:0], in.Shape...)
	strides := shapeStrides(in.Shape)
	src := make([]int, r)
	off := 0
	for d := range src {
		src[d] = strides[d]
		if rev[d] && in.Shape[d] > 0 {
			off += (in.Shape[d] - 1) * strides[d]
			src[d] = -strides[d]
		}
	}
	plan := newShapeCopyPlan(in.Type.Size(), in.Shape, src, strides, off, 0)
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		plan.run(out.Data, in.Data)
		return nil
	}), nil
}
