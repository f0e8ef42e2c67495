package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Reshape gives out the elements of in under a new shape (TFLite's
// RESHAPE once the caller has chosen the shape's source). At most one
// dimension may be -1; it is inferred from the element count.
func Reshape(in *tensor.Tensor, shape []int, out *tensor.Tensor) (Kernel, error) {
	if err := shapeCheckMover("RESHAPE", in, out); err != nil {
		return nil, err
	}
	newShape, err := ResolveReshape(in.NumElements(), shape)
	if err != nil {
		return nil, fmt.Errorf("RESHAPE of %q: %w", in.Name, err)
	}
	out.Shape = append(out.Shape[:0], newShape...)
	return shapeCopyKernel(in, out), nil
}

// ResolveReshape replaces the -1 dimension of shape (if any) so that it
// holds n elements, as TFLite's reshape does, and checks the count.
func ResolveReshape(n int, shape []int) ([]int, error) {
	out := make([]int, len(shape))
	stretch := -1
	known := 1
	for i, d := range shape {
		switch {
		case d == -1:
			if stretch >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1 dimension", shape)
			}
			stretch = i
		case d < 0:
			return nil, fmt.Errorf("shape %v has negative dimension %d", shape, d)
		default:
			if d != 0 && known > math.MaxInt32/d {
				return nil, fmt.Errorf("shape %v is too large", shape)
			}
			known *= d
		}
		out[i] = d
	}
	if stretch >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("cannot infer the -1 of shape %v from %d elements", shape, n)
		}
		out[stretch] = n / known
		known = n
	}
	if known != n {
		return nil, fmt.Errorf("shape %v holds %d elements; the input has %d", shape, known, n)
	}
	return out, nil
}

// Squeeze removes dimensions of size 1 (TFLite's SQUEEZE): those listed in
// dims (negative values count from the end), or all of them when dims is
// empty.
func Squeeze(in *tensor.Tensor, dims []int, out *tensor.Tensor) (Kernel, error) {
	if err := shapeCheckMover("SQUEEZE", in, out); err != nil {
		return nil, err
	}
	rank := in.Rank()
	drop := make([]bool, rank)
	if len(dims) == 0 {
		for i, d := range in.Shape {
			drop[i] = d == 1
		}
	}
	for _, d := range dims {
		a, err := shapeAxis("SQUEEZE", d, rank)
		if err != nil {
			return nil, err
		}
		if in.Shape[a] != 1 {
			return nil, fmt.Errorf("SQUEEZE: dimension %d of %q (shape %v) is %d, not 1", d, in.Name, in.Shape, in.Shape[a])
		}
		drop[a] = true
	}
	shape := make([]int, 0, rank)
	for i, d := range in.Shape {
		if !drop[i] {
			shape = append(shape, d)
		}
	}
	out.Shape = append(out.Shape[:0], shape...)
	return shapeCopyKernel(in, out), nil
}

// ExpandDims inserts a dimension of size 1 at axis (TFLite's EXPAND_DIMS);
// a negative axis counts from the end of the output shape.
func ExpandDims(in *tensor.Tensor, axis int, out *tensor.Tensor) (Kernel, error) {
	if err := shapeCheckMover("EXPAND_DIMS", in, out); err != nil {
		return nil, err
	}
	a, err := shapeAxis("EXPAND_DIMS", axis, in.Rank()+1)
	if err != nil {
		return nil, err
	}
	shape := make([]int, 0, in.Rank()+1)
	shape = append(shape, in.Shape[:a]...)
	shape = append(shape, 1)
	shape = append(shape, in.Shape[a:]...)
	out.Shape = append(out.Shape[:0], shape...)
	return shapeCopyKernel(in, out), nil
}

// shapeCopyKernel copies in's bytes to out (same element count). The arena
// does not alias tensors, so a reshape is a copy.
func shapeCopyKernel(in, out *tensor.Tensor) Kernel {
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		copy(out.Data[:out.NumBytes()], in.Data)
		return nil
	})
}
