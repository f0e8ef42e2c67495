package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// OneHot expands int32 or int64 indices into one-hot vectors of depth
// elements inserted at axis (TFLite's ONE_HOT; -1 is the last position):
// on where the index equals the position, off elsewhere, so indices out
// of [0, depth) give all-off vectors. on and off are scalars of the
// output type: float32, int8, uint8, int32, int64 or bool (TFLite
// prepares int16 but cannot evaluate it).
func OneHot(indices *tensor.Tensor, depth int, on, off *tensor.Tensor, axis int, out *tensor.Tensor) (Kernel, error) {
	const op = "ONE_HOT"
	if err := CheckType(op+" indices", indices, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	if err := CheckType(op+" output", out, tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int32, tensor.Int64, tensor.Bool); err != nil {
		return nil, err
	}
	for _, t := range []*tensor.Tensor{on, off} {
		if t.Type != out.Type || t.NumElements() != 1 {
			return nil, fmt.Errorf("%s: on/off value %q is %s%v; want one %s", op, t.Name, t.Type, t.Shape, out.Type)
		}
	}
	if depth < 0 {
		return nil, fmt.Errorf("%s: depth %d is negative", op, depth)
	}
	r := indices.Rank()
	if axis == -1 {
		axis = r
	}
	if axis < 0 || axis > r {
		return nil, fmt.Errorf("%s: axis %d out of range for indices of rank %d", op, axis, r)
	}
	shape := make([]int, 0, r+1)
	shape = append(shape, indices.Shape[:axis]...)
	shape = append(shape, depth)
	shape = append(shape, indices.Shape[axis:]...)
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	prefix := tensor.NumElements(indices.Shape[:axis])
	suffix := tensor.NumElements(indices.Shape[axis:])
	es := out.Type.Size()
	return Func(func() error {
		if err := shapeCheckData(indices, on, off, out); err != nil {
			return err
		}
		onB, offB := on.Data[:es], off.Data[:es]
		o := 0
		for i := 0; i < prefix; i++ {
			for j := 0; j < depth; j++ {
				for k := 0; k < suffix; k++ {
					var idx int64
					if indices.Type == tensor.Int32 {
						idx = int64(indices.Int32s()[i*suffix+k])
					} else {
						// TFLite compares static_cast<int>(index).
						idx = int64(int32(indices.Int64s()[i*suffix+k]))
					}
					v := offB
					if idx == int64(j) {
						v = onB
					}
					copy(out.Data[o:o+es], v)
					o += es
				}
			}
		}
		return nil
	}), nil
}
