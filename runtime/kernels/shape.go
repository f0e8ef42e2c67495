package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Shape writes the dimensions of in to the int32 or int64 vector out
// (TFLite's SHAPE). It reads only the input's shape, never its data.
func Shape(in, out *tensor.Tensor) (Kernel, error) {
	if err := CheckType("SHAPE output", out, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], in.Rank())
	dims := in.Shape
	return Func(func() error {
		if err := shapeCheckData(out); err != nil {
			return err
		}
		if out.Type == tensor.Int32 {
			o := out.Int32s()
			for i, d := range dims {
				o[i] = int32(d)
			}
			return nil
		}
		o := out.Int64s()
		for i, d := range dims {
			o[i] = int64(d)
		}
		return nil
	}), nil
}

// Rank writes the rank of in to the int32 scalar out (TFLite's RANK).
func Rank(in, out *tensor.Tensor) (Kernel, error) {
	if out.Type != tensor.Int32 {
		return nil, fmt.Errorf("RANK: output %q has type %s; want int32", out.Name, out.Type)
	}
	out.Shape = out.Shape[:0]
	r := int32(in.Rank())
	return Func(func() error {
		if err := shapeCheckData(out); err != nil {
			return err
		}
		out.Int32s()[0] = r
		return nil
	}), nil
}
