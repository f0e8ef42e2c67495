package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// MaxBroadcastToRank is the highest rank BROADCAST_TO accepts (TFLite's).
const MaxBroadcastToRank = 8

// Tile repeats the input multiples[d] times along every dimension d
// (TFLite's TILE): out[i] = in[i mod in.Shape]. Any fixed-size element
// type; quantized values are copied unchanged.
func Tile(in *tensor.Tensor, multiples []int, out *tensor.Tensor) (Kernel, error) {
	const op = "TILE"
	if err := shapeCheckMover(op, in, out); err != nil {
		return nil, err
	}
	if len(multiples) != in.Rank() {
		return nil, fmt.Errorf("%s: %d multiples for input %q of rank %d", op, len(multiples), in.Name, in.Rank())
	}
	shape := make([]int, in.Rank())
	for i, m := range multiples {
		if m < 0 {
			return nil, fmt.Errorf("%s: multiple %d is negative", op, m)
		}
		if in.Shape[i] > 0 && m > math.MaxInt32/in.Shape[i] {
			return nil, fmt.Errorf("%s: dimension %d (%d) times %d is too large", op, i, in.Shape[i], m)
		}
		shape[i] = in.Shape[i] * m
	}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	return newReplicateKernel(in, out, in.Shape, multiples), nil
}

// BroadcastTo broadcasts the input to shape with NumPy's rules (TFLite's
// BROADCAST_TO): the input is right-aligned with shape and each of its
// dimensions must equal the target's or be 1.
func BroadcastTo(in *tensor.Tensor, shape []int, out *tensor.Tensor) (Kernel, error) {
	const op = "BROADCAST_TO"
	if err := shapeCheckMover(op, in, out); err != nil {
		return nil, err
	}
	if len(shape) > MaxBroadcastToRank {
		return nil, unsupportedf("%s to rank %d (at most %d)", op, len(shape), MaxBroadcastToRank)
	}
	if in.Rank() > len(shape) {
		return nil, fmt.Errorf("%s: input %q of shape %v does not broadcast to %v", op, in.Name, in.Shape, shape)
	}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	ext := len(shape) - in.Rank()
	mult := make([]int, len(shape))
	for i, d := range shape {
		a := 1
		if i >= ext {
			a = in.Shape[i-ext]
		}
		switch {
		case a == d:
			mult[i] = 1
		case a == 1:
			mult[i] = d
		default:
			return nil, fmt.Errorf("%s: input %q of shape %v does not broadcast to %v", op, in.Name, in.Shape, shape)
		}
	}
	inShape := make([]int, len(shape))
	for i := range inShape {
		inShape[i] = 1
		if i >= ext {
			inShape[i] = in.Shape[i-ext]
		}
	}
	out.Shape = append(out.Shape[:0], shape...)
	return newReplicateKernel(in, out, inShape, mult), nil
}

// replicatePlan fills an output whose dimension d holds the input's
// dimension d repeated mult[d] times, out[i] = in[i mod in.Shape] (TILE;
// BROADCAST_TO is the case where a repeated dimension has size 1).
// Dimensions are merged first: a dimension that is not repeated merges
// into the one outside it, (a, m)(b, 1) → (a·b, m), so a run of
// untouched inner dimensions becomes one contiguous copy. Each block of
// the output is written once from the input and then doubled in place.
type replicatePlan struct {
	es     int
	size   []int // input extent per merged dimension
	mult   []int // repetitions per merged dimension
	inStr  []int // input stride (elements) per merged dimension
	outStr []int // output stride (elements)
	empty  bool
}

func newReplicatePlan(es int, inShape, mult []int) *replicatePlan {
	p := &replicatePlan{es: es}
	for i, a := range inShape {
		if a*mult[i] == 0 {
			p.empty = true
			return p
		}
	}
	for i := len(inShape) - 1; i >= 0; i-- {
		a, m := inShape[i], mult[i]
		if n := len(p.size); n > 0 && p.mult[0] == 1 {
			// The dimension inside is not repeated: merge into it.
			p.size[0] *= a
			p.mult[0] = m
			continue
		}
		p.size = append([]int{a}, p.size...)
		p.mult = append([]int{m}, p.mult...)
	}
	if len(p.size) == 0 {
		p.size, p.mult = []int{1}, []int{1}
	}
	r := len(p.size)
	p.inStr = make([]int, r)
	p.outStr = make([]int, r)
	in, out := 1, 1
	for d := r - 1; d >= 0; d-- {
		p.inStr[d], p.outStr[d] = in, out
		in *= p.size[d]
		out *= p.size[d] * p.mult[d]
	}
	return p
}

// newReplicateKernel replicates in (viewed with shape inShape, of the
// same element count) into out.
func newReplicateKernel(in, out *tensor.Tensor, inShape, mult []int) Kernel {
	p := newReplicatePlan(in.Type.Size(), inShape, mult)
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		if !p.empty {
			p.fill(out.Data, in.Data, 0, 0, 0)
		}
		return nil
	})
}

// fill writes merged dimension d of the output at element offset o from
// the input at element offset i.
func (p *replicatePlan) fill(dst, src []byte, d, o, i int) {
	es := p.es
	var n int // bytes of one copy of this dimension's block
	if d == len(p.size)-1 {
		n = p.size[d] * es
		copy(dst[o*es:o*es+n], src[i*es:i*es+n])
	} else {
		for k := 0; k < p.size[d]; k++ {
			p.fill(dst, src, d+1, o+k*p.outStr[d], i+k*p.inStr[d])
		}
		n = p.size[d] * p.outStr[d] * es
	}
	// Double the block in place until it is repeated mult[d] times.
	start := o * es
	total := n * p.mult[d]
	for done := n; done < total; {
		c := min(done, total-done)
		copy(dst[start+done:start+done+c], dst[start:start+c])
		done += c
	}
}
