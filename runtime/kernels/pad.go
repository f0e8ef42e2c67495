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
	outStrides := shapeStrides(shape)
	off := 0
	for i := range shape {
		off += paddings[2*i] * outStrides[i]
	}
	plan := newShapeCopyPlan(es, in.Shape, shapeStrides(in.Shape), outStrides, 0, off)
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
		shapeFill(out.Data[:out.NumBytes()], fill)
		plan.run(out.Data, in.Data)
		return nil
	}), nil
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
