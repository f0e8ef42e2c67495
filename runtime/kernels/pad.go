package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Pad surrounds in with constant values (TFLite's PAD and PADV2).
// paddings holds [before, after] for each dimension of in, flattened
// (paddings tensor of shape [rank, 2]). value is PADV2's scalar
// constant_values, read at Eval; nil means zero, or the output zero point for
// quantized outputs, as TFLite's PAD does.
func Pad(in *tensor.Tensor, paddings []int, value, out *tensor.Tensor) (Kernel, error) {
	if err := shapeCheckMover("PAD", in, out); err != nil {
		return nil, err
	}
	rank := in.Rank()
	if len(paddings) != 2*rank {
		return nil, fmt.Errorf("PAD: %d padding values for input %q of rank %d; want %d", len(paddings), in.Name, rank, 2*rank)
	}
	shape := make([]int, rank)
	for i := range shape {
		b, a := paddings[2*i], paddings[2*i+1]
		if b < 0 || a < 0 {
			return nil, fmt.Errorf("PAD: negative padding [%d, %d] for dimension %d", b, a, i)
		}
		if b > math.MaxInt32-in.Shape[i] || a > math.MaxInt32-in.Shape[i]-b {
			return nil, fmt.Errorf("PAD: padding [%d, %d] too large for dimension %d", b, a, i)
		}
		shape[i] = in.Shape[i] + b + a
	}
	n := 1
	for _, d := range shape {
		if d != 0 && n > math.MaxInt32/d {
			return nil, fmt.Errorf("PAD: output shape %v is too large", shape)
		}
		n *= d
	}
	es := in.Type.Size()
	fill := make([]byte, es) // the pad element, little-endian
	if value != nil {
		if value.Type != in.Type {
			return nil, fmt.Errorf("PAD: constant value %q has type %s; input has %s", value.Name, value.Type, in.Type)
		}
		if value.NumElements() != 1 {
			return nil, fmt.Errorf("PAD: constant value %q has shape %v; want a single element", value.Name, value.Shape)
		}
		if in.Type.Quantized() && (value.Scale() != out.Scale() || value.ZeroPoint() != out.ZeroPoint()) {
			// TFLite requires this too: the value's bytes are copied as they are.
			return nil, unsupportedf("PAD: constant value %q quantized as (%g, %d); output has (%g, %d)", value.Name, value.Scale(), value.ZeroPoint(), out.Scale(), out.ZeroPoint())
		}
	} else if in.Type.Quantized() {
		zp := out.ZeroPoint()
		lo, hi, err := TypeRange(in.Type)
		if err != nil {
			return nil, err
		}
		if zp < lo || zp > hi {
			return nil, fmt.Errorf("PAD: output zero point %d outside the %s range", zp, in.Type)
		}
		for i := range fill {
			fill[i] = byte(uint32(zp) >> (8 * i))
		}
	}
	out.Shape = append(out.Shape[:0], shape...)
	plan := newPadPlan(es, in.Shape, shape, paddings)
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		if value != nil {
			if len(value.Data) < es {
				return fmt.Errorf("PAD: constant value %q has no data", value.Name)
			}
			copy(fill, value.Data[:es])
		}
		plan.run(out.Data[:out.NumBytes()], in.Data, fill)
		return nil
	}), nil
}

// padPlan writes a padded tensor row by row, every output byte once: k is
// the innermost padded dimension and a row is one index of the dimensions
// before it, the elements of dimension k and after contiguous in both
// tensors. A row inside the input is fill, a block of the input, fill; a
// row outside is fill.
type padPlan struct {
	es        int
	outer     []int // output sizes of dimensions 0..k-1
	lo, hi    []int // the input's range along them
	idx       []int // odometer scratch
	before    int   // bytes of fill before the input's block in a row
	block     int   // bytes of input per row
	row       int   // bytes per output row
	rowsTotal int
}

func newPadPlan(es int, in, out, paddings []int) *padPlan {
	k := -1
	for d := range in {
		if paddings[2*d] != 0 || paddings[2*d+1] != 0 {
			k = d
		}
	}
	p := &padPlan{es: es}
	if k < 0 { // no padding: one row, the whole tensor
		n := tensor.NumElements(in) * es
		p.block, p.row, p.rowsTotal = n, n, 1
		return p
	}
	inner := es
	for _, d := range in[k+1:] {
		inner *= d
	}
	p.before, p.block, p.row = paddings[2*k]*inner, in[k]*inner, out[k]*inner
	p.rowsTotal = 1
	for d := 0; d < k; d++ {
		p.outer = append(p.outer, out[d])
		p.lo = append(p.lo, paddings[2*d])
		p.hi = append(p.hi, paddings[2*d]+in[d])
		p.rowsTotal *= out[d]
	}
	p.idx = make([]int, k)
	return p
}

func (p *padPlan) run(dst, src, fill []byte) {
	if p.row == 0 {
		return
	}
	clear(p.idx)
	s := 0
	for r, o := 0, 0; r < p.rowsTotal; r, o = r+1, o+p.row {
		row := dst[o : o+p.row]
		inside := true
		for d, i := range p.idx {
			if i < p.lo[d] || i >= p.hi[d] {
				inside = false
				break
			}
		}
		if inside {
			shapeFill(row[:p.before], fill)
			copy(row[p.before:p.before+p.block], src[s:s+p.block])
			shapeFill(row[p.before+p.block:], fill)
			s += p.block
		} else {
			shapeFill(row, fill)
		}
		for d := len(p.idx) - 1; d >= 0; d-- {
			p.idx[d]++
			if p.idx[d] < p.outer[d] {
				break
			}
			p.idx[d] = 0
		}
	}
}

// shapeFill sets every element of b to the element elem.
func shapeFill(b, elem []byte) {
	zero := true
	for _, c := range elem {
		zero = zero && c == 0
	}
	if zero {
		clear(b)
		return
	}
	if len(b) < len(elem) {
		return
	}
	n := copy(b, elem)
	for n < len(b) {
		n += copy(b[n:], b[:n])
	}
}
