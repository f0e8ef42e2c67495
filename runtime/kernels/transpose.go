package kernels

import (
	"fmt"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Transpose permutes the dimensions of in: out.Shape[i] = in.Shape[perm[i]]
// (TFLite's TRANSPOSE). Any element type with a fixed size is accepted; the
// bytes are moved unchanged.
func Transpose(in *tensor.Tensor, perm []int, out *tensor.Tensor) (Kernel, error) {
	if err := shapeCheckMover("TRANSPOSE", in, out); err != nil {
		return nil, err
	}
	rank := in.Rank()
	if len(perm) != rank {
		return nil, fmt.Errorf("TRANSPOSE: perm has %d entries; input %q has rank %d", len(perm), in.Name, rank)
	}
	seen := make([]bool, rank)
	for i, p := range perm {
		if p < 0 || p >= rank || seen[p] {
			return nil, fmt.Errorf("TRANSPOSE: perm %v is not a permutation of 0..%d (entry %d)", perm, rank-1, i)
		}
		seen[p] = true
	}
	inStrides := shapeStrides(in.Shape)
	dims := make([]int, rank)
	src := make([]int, rank)
	for i, p := range perm {
		dims[i] = in.Shape[p]
		src[i] = inStrides[p]
	}
	out.Shape = append(out.Shape[:0], dims...)
	plan := newShapeCopyPlan(in.Type.Size(), dims, src, shapeStrides(dims), 0, 0)
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		plan.run(out.Data, in.Data)
		return nil
	}), nil
}

// shapeCheckMover checks the operands of an operator that only moves
// elements: a fixed-size element type, the same on both sides.
func shapeCheckMover(op string, in, out *tensor.Tensor) error {
	if in.Type.Size() == 0 {
		return unsupportedf("%s on %s input %q", op, in.Type, in.Name)
	}
	if out.Type != in.Type {
		return fmt.Errorf("%s: output %q has type %s; input %q has %s", op, out.Name, out.Type, in.Name, in.Type)
	}
	return nil
}

// shapeCheckData returns an error unless every tensor's data covers its
// shape; it keeps a mis-bound tensor from turning into a panic in Eval.
func shapeCheckData(ts ...*tensor.Tensor) error {
	for _, t := range ts {
		if len(t.Data) < t.NumBytes() {
			return fmt.Errorf("tensor %q has %d bytes of data; shape %v needs %d", t.Name, len(t.Data), t.Shape, t.NumBytes())
		}
	}
	return nil
}

// shapeStrides returns the row-major element strides of shape.
func shapeStrides(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}

// shapeAxis normalises a possibly negative axis against rank.
func shapeAxis(op string, axis, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return 0, fmt.Errorf("%s: axis %d out of range for rank %d", op, axis, rank)
	}
	return a, nil
}

// shapeCopyPlan copies an n-dimensional box of elements between two
// strided layouts. It is built once per kernel; run does not allocate.
type shapeCopyPlan struct {
	es             int   // element size in bytes
	dims           []int // extents, outermost first; the last is the inner loop
	src, dst       []int // element strides of each dimension
	srcOff, dstOff int   // element offsets of the box's first element
	idx            []int // odometer scratch
	empty          bool
}

// newShapeCopyPlan builds a plan and simplifies it: dimensions of extent 1
// are dropped and neighbours contiguous in both layouts are merged, so that
// e.g. a slice of whole rows becomes one copy per row.
func newShapeCopyPlan(es int, dims, src, dst []int, srcOff, dstOff int) *shapeCopyPlan {
	p := &shapeCopyPlan{es: es, srcOff: srcOff, dstOff: dstOff}
	for i, d := range dims {
		if d == 0 {
			p.empty = true
			return p
		}
		if d == 1 {
			continue
		}
		if n := len(p.dims); n > 0 && p.src[n-1] == src[i]*d && p.dst[n-1] == dst[i]*d {
			p.dims[n-1] *= d
			p.src[n-1], p.dst[n-1] = src[i], dst[i]
			continue
		}
		p.dims = append(p.dims, d)
		p.src = append(p.src, src[i])
		p.dst = append(p.dst, dst[i])
	}
	if len(p.dims) == 0 {
		p.dims, p.src, p.dst = []int{1}, []int{1}, []int{1}
	}
	p.idx = make([]int, len(p.dims))
	return p
}

// elements is the number of elements the plan copies.
func (p *shapeCopyPlan) elements() int {
	if p.empty {
		return 0
	}
	n := 1
	for _, d := range p.dims {
		n *= d
	}
	return n
}

// run copies the box from src to dst (byte buffers holding elements of
// size p.es).
func (p *shapeCopyPlan) run(dst, src []byte) {
	if p.empty {
		return
	}
	last := len(p.dims) - 1
	n, ss, ds := p.dims[last], p.src[last], p.dst[last]
	clear(p.idx)
	s, d := p.srcOff, p.dstOff
	for {
		shapeCopyRow(dst, src, p.es, d, s, n, ds, ss)
		k := last - 1
		for ; k >= 0; k-- {
			p.idx[k]++
			s += p.src[k]
			d += p.dst[k]
			if p.idx[k] < p.dims[k] {
				break
			}
			s -= p.src[k] * p.dims[k]
			d -= p.dst[k] * p.dims[k]
			p.idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// shapeCopyRow copies n elements of size es from src (element offset s,
// stride ss) to dst (offset d, stride ds).
func shapeCopyRow(dst, src []byte, es, d, s, n, ds, ss int) {
	if ds == 1 && ss == 1 {
		copy(dst[d*es:(d+n)*es], src[s*es:(s+n)*es])
		return
	}
	switch es {
	case 1:
		for i := 0; i < n; i++ {
			dst[d+i*ds] = src[s+i*ss]
		}
	case 2:
		dv, sv := shapeView[uint16](dst), shapeView[uint16](src)
		for i := 0; i < n; i++ {
			dv[d+i*ds] = sv[s+i*ss]
		}
	case 4:
		dv, sv := shapeView[uint32](dst), shapeView[uint32](src)
		for i := 0; i < n; i++ {
			dv[d+i*ds] = sv[s+i*ss]
		}
	case 8:
		dv, sv := shapeView[uint64](dst), shapeView[uint64](src)
		for i := 0; i < n; i++ {
			dv[d+i*ds] = sv[s+i*ss]
		}
	default:
		for i := 0; i < n; i++ {
			o, q := (d+i*ds)*es, (s+i*ss)*es
			copy(dst[o:o+es], src[q:q+es])
		}
	}
}

// shapeView reinterprets an aligned byte buffer as elements of T.
func shapeView[T uint16 | uint32 | uint64](b []byte) []T {
	var z T
	n := len(b) / int(unsafe.Sizeof(z))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}
