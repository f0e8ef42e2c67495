package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// GatherParams are GATHER's options.
type GatherParams struct {
	Axis      int // negative counts from the end of params' shape
	BatchDims int // negative counts from the end of indices' shape
}

// Gather picks slices of params along p.Axis at the positions in indices
// (TFLite's GATHER): out.Shape = params[:axis] + indices[batch_dims:] +
// params[axis+1:]. Indices (int16, int32 or int64) are checked at Eval; one
// outside [0, params.Shape[axis]) makes Eval return an error.
func Gather(params, indices *tensor.Tensor, p GatherParams, out *tensor.Tensor) (Kernel, error) {
	if err := shapeCheckMover("GATHER", params, out); err != nil {
		return nil, err
	}
	if err := CheckType("GATHER indices", indices, tensor.Int16, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	axis, err := shapeAxis("GATHER", p.Axis, params.Rank())
	if err != nil {
		return nil, err
	}
	bd := p.BatchDims
	if bd < 0 {
		bd += indices.Rank()
	}
	if bd < 0 || bd > axis || bd > indices.Rank() {
		return nil, fmt.Errorf("GATHER: batch_dims %d invalid for axis %d and indices of rank %d", p.BatchDims, axis, indices.Rank())
	}
	for i := range bd {
		if params.Shape[i] != indices.Shape[i] {
			return nil, fmt.Errorf("GATHER: batch dimension %d differs: params %v, indices %v", i, params.Shape, indices.Shape)
		}
	}
	shape := make([]int, 0, params.Rank()+indices.Rank()-1-bd)
	shape = append(shape, params.Shape[:axis]...)
	shape = append(shape, indices.Shape[bd:]...)
	shape = append(shape, params.Shape[axis+1:]...)
	out.Shape = append(out.Shape[:0], shape...)

	es := params.Type.Size()
	batches := tensor.NumElements(params.Shape[:bd])
	outer := tensor.NumElements(params.Shape[bd:axis])
	axisSize := params.Shape[axis]
	inner := tensor.NumElements(params.Shape[axis+1:]) * es
	coords := tensor.NumElements(indices.Shape[bd:])
	return Func(func() error {
		if err := shapeCheckData(params, indices, out); err != nil {
			return err
		}
		o := 0
		for b := 0; b < batches; b++ {
			for k := 0; k < outer; k++ {
				base := (b*outer + k) * axisSize
				for c := 0; c < coords; c++ {
					idx := gatherIndex(indices, b*coords+c)
					if idx < 0 || idx >= int64(axisSize) {
						return fmt.Errorf("GATHER: index %d at position %d out of range [0, %d)", idx, b*coords+c, axisSize)
					}
					s := (base + int(idx)) * inner
					copy(out.Data[o:o+inner], params.Data[s:s+inner])
					o += inner
				}
			}
		}
		return nil
	}), nil
}

// gatherIndex reads element i of an int16, int32 or int64 index tensor.
func gatherIndex(t *tensor.Tensor, i int) int64 {
	switch t.Type {
	case tensor.Int16:
		return int64(t.Int16s()[i])
	case tensor.Int32:
		return int64(t.Int32s()[i])
	}
	return t.Int64s()[i]
}

// GatherND picks slices of params addressed by the last dimension of
// indices (TFLite's GATHER_ND): out.Shape = indices[:-1] + params[k:] where
// k = indices.Shape[-1]. Every index is checked against its dimension at
// Eval; one out of range makes Eval return an error.
func GatherND(params, indices *tensor.Tensor, out *tensor.Tensor) (Kernel, error) {
	if err := shapeCheckMover("GATHER_ND", params, out); err != nil {
		return nil, err
	}
	if err := CheckType("GATHER_ND indices", indices, tensor.Int16, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	ir := indices.Rank()
	if ir < 1 {
		return nil, fmt.Errorf("GATHER_ND: indices %q must have rank >= 1", indices.Name)
	}
	k := indices.Shape[ir-1]
	if k > params.Rank() {
		return nil, fmt.Errorf("GATHER_ND: index depth %d exceeds the rank of params %v", k, params.Shape)
	}
	shape := make([]int, 0, ir-1+params.Rank()-k)
	shape = append(shape, indices.Shape[:ir-1]...)
	shape = append(shape, params.Shape[k:]...)
	out.Shape = append(out.Shape[:0], shape...)

	es := params.Type.Size()
	strides := shapeStrides(params.Shape)[:k]
	dims := params.Shape[:k]
	slices := tensor.NumElements(indices.Shape[:ir-1])
	size := tensor.NumElements(params.Shape[k:]) * es
	return Func(func() error {
		if err := shapeCheckData(params, indices, out); err != nil {
			return err
		}
		for s := 0; s < slices; s++ {
			from := 0
			for j := 0; j < k; j++ {
				idx := gatherIndex(indices, s*k+j)
				if idx < 0 || idx >= int64(dims[j]) {
					return fmt.Errorf("GATHER_ND: index %d for dimension %d out of range [0, %d)", idx, j, dims[j])
				}
				from += int(idx) * strides[j]
			}
			from *= es
			copy(out.Data[s*size:(s+1)*size], params.Data[from:from+size])
		}
		return nil
	}), nil
}
