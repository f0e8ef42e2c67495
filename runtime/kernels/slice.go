package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Slice extracts the box [begin, begin+size) of in (TFLite's SLICE); a
// size of -1 extends to the end of the dimension.
func Slice(in *tensor.Tensor, begin, size []int, out *tensor.Tensor) (Kernel, error) {
	if err := shapeCheckMover("SLICE", in, out); err != nil {
		return nil, err
	}
	rank := in.Rank()
	if len(begin) != rank || len(size) != rank {
		return nil, fmt.Errorf("SLICE: begin %v and size %v must have one entry per dimension of %q (shape %v)", begin, size, in.Name, in.Shape)
	}
	strides := shapeStrides(in.Shape)
	shape := make([]int, rank)
	off := 0
	for i := range rank {
		b, s, d := begin[i], size[i], in.Shape[i]
		if s == -1 {
			s = d - b
		}
		if b < 0 || s < 0 || b > d || s > d-b {
			return nil, fmt.Errorf("SLICE: begin %v size %v out of range for shape %v (dimension %d)", begin, size, in.Shape, i)
		}
		shape[i] = s
		off += b * strides[i]
	}
	out.Shape = append(out.Shape[:0], shape...)
	plan := newShapeCopyPlan(in.Type.Size(), shape, strides, shapeStrides(shape), off, 0)
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		plan.run(out.Data, in.Data)
		return nil
	}), nil
}

// StridedSliceParams are STRIDED_SLICE's options; bit i of a mask refers to
// entry i of begin/end/strides.
type StridedSliceParams struct {
	BeginMask, EndMask, EllipsisMask, NewAxisMask, ShrinkAxisMask int
	// Offset makes end relative to begin.
	Offset bool
}

// StridedSlice is TFLite's STRIDED_SLICE with constant begin, end and
// strides, following tensorflow/lite/kernels/strided_slice.cc: the
// ellipsis and new-axis masks are first expanded into an effective input
// shape, then each dimension's start and stop are clamped as in
// strided_slice_logic.h.
func StridedSlice(in *tensor.Tensor, begin, end, strides []int, p StridedSliceParams, out *tensor.Tensor) (Kernel, error) {
	if err := shapeCheckMover("STRIDED_SLICE", in, out); err != nil {
		return nil, err
	}
	n := len(begin)
	if len(end) != n || len(strides) != n {
		return nil, fmt.Errorf("STRIDED_SLICE: begin, end and strides have %d, %d and %d entries", n, len(end), len(strides))
	}
	if n > 31 {
		return nil, fmt.Errorf("STRIDED_SLICE: %d index entries; masks hold at most 31", n)
	}
	bit := func(mask, i int) bool { return i >= 0 && i < 32 && mask&(1<<i) != 0 }

	// Expand the ellipsis and new axes (BuildStridedSliceParams).
	rank := in.Rank()
	numAddAxis := 0
	for i := range n {
		if !bit(p.EllipsisMask, i) && bit(p.NewAxisMask, i) {
			numAddAxis++
		}
	}
	indexed := n - numAddAxis // entries that address an input dimension
	for i := range n {
		if bit(p.EllipsisMask, i) {
			indexed--
		}
	}
	if indexed > rank {
		// TFLite would silently ignore the extra entries; TensorFlow rejects them.
		return nil, fmt.Errorf("STRIDED_SLICE: %d index entries for input %q of rank %d", n, in.Name, rank)
	}
	effDims := rank + numAddAxis
	if effDims > 31 {
		return nil, fmt.Errorf("STRIDED_SLICE: %d dimensions after adding axes", effDims)
	}
	effEllipsis, effNewAxis := 0, 0
	ellipsisStart, expanded := effDims, 0
	for i := 0; i < effDims; {
		if bit(p.EllipsisMask, i) {
			ellipsisStart = i
			e := max(i+1, min(i+1+numAddAxis+rank-n, effDims))
			expanded = e - ellipsisStart - 1
			for ; i < e; i++ {
				effEllipsis |= 1 << i
			}
			continue
		}
		if bit(p.NewAxisMask, i-expanded) {
			effNewAxis |= 1 << i
		}
		i++
	}
	type axisSpec struct {
		dim                 int // effective input dimension
		start, stop, stride int
		beginMask, endMask  bool
		shrink              bool
		fromSpec            bool // the axis has its own begin/end/strides entry
	}
	specs := make([]axisSpec, effDims)
	addedEllipsis, addedAxes := 0, 0
	inDim := func(i int) (int, error) {
		j := i - addedAxes
		if j < 0 || j >= rank {
			return 0, fmt.Errorf("STRIDED_SLICE: masks (ellipsis %#x, new axis %#x) and %d index entries do not fit input %q of rank %d", p.EllipsisMask, p.NewAxisMask, n, in.Name, rank)
		}
		return in.Shape[j], nil
	}
	for i := range specs {
		s := &specs[i]
		var err error
		switch {
		case bit(effEllipsis, i):
			addedEllipsis = max(0, i-ellipsisStart)
			s.beginMask, s.endMask, s.stride = true, true, 1
			s.dim, err = inDim(i)
		case bit(effNewAxis, i):
			s.dim, s.start, s.stop, s.stride = 1, 0, 1, 1
			addedAxes++
		case i >= n+expanded:
			s.beginMask, s.endMask, s.stride = true, true, 1
			s.dim, err = inDim(i)
		default:
			j := i - addedEllipsis
			if j < 0 || j >= n {
				return nil, fmt.Errorf("STRIDED_SLICE: masks do not fit %d index entries", n)
			}
			s.start, s.stop, s.stride = begin[j], end[j], strides[j]
			s.beginMask, s.endMask, s.shrink = bit(p.BeginMask, j), bit(p.EndMask, j), bit(p.ShrinkAxisMask, j)
			s.fromSpec = true
			s.dim, err = inDim(i)
		}
		if err != nil {
			return nil, err
		}
	}

	effShape := make([]int, effDims)
	for i, s := range specs {
		effShape[i] = s.dim
	}
	effStrides := shapeStrides(effShape)
	dims := make([]int, effDims)
	src := make([]int, effDims)
	var shape []int
	off := 0
	for i, s := range specs {
		if s.stride == 0 {
			return nil, fmt.Errorf("STRIDED_SLICE: stride of entry %d is 0", i)
		}
		start := stridedSliceStart(s.start, s.stride, s.dim, s.beginMask)
		count := 1
		if s.shrink {
			if start < 0 || start >= s.dim {
				return nil, fmt.Errorf("STRIDED_SLICE: shrunk index %d out of range for dimension %d of size %d", s.start, i, s.dim)
			}
		} else {
			stopIdx := s.stop
			if p.Offset {
				if stopIdx > math.MaxInt32-start {
					return nil, fmt.Errorf("STRIDED_SLICE: offset end %d too large", stopIdx)
				}
				stopIdx += start
			}
			stop := stridedSliceStop(stopIdx, s.stride, s.dim, s.endMask)
			count = max(0, shapeCeilDiv(stop-start, s.stride))
			if p.Offset && s.fromSpec {
				// TFLite sizes the output from the raw end value; a clamped
				// range would leave part of it unwritten.
				if want := max(0, shapeCeilDiv(s.stop, s.stride)); want != count {
					return nil, fmt.Errorf("STRIDED_SLICE: offset slice [%d, +%d) by %d out of range for dimension %d of size %d", start, s.stop, s.stride, i, s.dim)
				}
			}
			shape = append(shape, count)
		}
		dims[i] = count
		src[i] = effStrides[i] * s.stride
		if count > 0 {
			off += start * effStrides[i]
		}
	}
	out.Shape = append(out.Shape[:0], shape...)
	plan := newShapeCopyPlan(in.Type.Size(), dims, src, shapeStrides(dims), off, 0)
	if plan.elements() != tensor.NumElements(shape) {
		return nil, fmt.Errorf("STRIDED_SLICE: internal plan mismatch")
	}
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		plan.run(out.Data, in.Data)
		return nil
	}), nil
}

// stridedSliceStart is StridedSliceStartForAxis.
func stridedSliceStart(start, stride, size int, masked bool) int {
	if start < 0 {
		start += size
	}
	if stride > 0 {
		start = min(max(start, 0), size)
	} else {
		start = min(max(start, -1), size-1)
	}
	if masked {
		if stride > 0 {
			start = 0
		} else {
			start = size - 1
		}
	}
	return start
}

// stridedSliceStop is StridedSliceEndForAxis for an axis that is not shrunk.
func stridedSliceStop(stop, stride, size int, masked bool) int {
	if stop < 0 {
		stop += size
	}
	if stride > 0 {
		stop = min(max(stop, 0), size)
	} else {
		stop = min(max(stop, -1), size-1)
	}
	if masked {
		if stride > 0 {
			stop = size
		} else {
			stop = -1
		}
	}
	return stop
}

// shapeCeilDiv is ceil(a/b) for b != 0.
func shapeCeilDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a > 0) == (b > 0) {
		q++
	}
	return q
}
