package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// ConcatenationParams are CONCATENATION's options.
type ConcatenationParams struct {
	Axis       int // negative counts from the end
	Activation Activation
}

// Concatenation joins ins along p.Axis (TFLite's CONCATENATION).
//
// Quantized inputs whose scale or zero point differ from the output's are
// requantized as TFLite's reference ConcatenationWithScaling does (float32
// arithmetic, rounded half away from zero). TFLite defines this for uint8
// only and rejects such int8/int16 models; edged applies the same formula
// to them rather than refusing.
func Concatenation(cfg *Config, p ConcatenationParams, ins []*tensor.Tensor, out *tensor.Tensor) (Kernel, error) {
	if len(ins) == 0 {
		return nil, fmt.Errorf("CONCATENATION: no inputs")
	}
	t0 := ins[0]
	for _, in := range ins {
		if in == nil {
			return nil, fmt.Errorf("CONCATENATION: an input is missing")
		}
		if err := shapeCheckMover("CONCATENATION", in, out); err != nil {
			return nil, err
		}
	}
	rank := t0.Rank()
	axis, err := shapeAxis("CONCATENATION", p.Axis, rank)
	if err != nil {
		return nil, err
	}
	shape := append([]int(nil), t0.Shape...)
	shape[axis] = 0
	for _, in := range ins {
		if in.Rank() != rank {
			return nil, fmt.Errorf("CONCATENATION: input %q has shape %v; %q has %v", in.Name, in.Shape, t0.Name, t0.Shape)
		}
		for d := range rank {
			if d != axis && in.Shape[d] != t0.Shape[d] {
				return nil, fmt.Errorf("CONCATENATION: input %q has shape %v; %q has %v (axis %d)", in.Name, in.Shape, t0.Name, t0.Shape, axis)
			}
		}
		shape[axis] += in.Shape[axis]
	}
	out.Shape = append(out.Shape[:0], shape...)

	es := t0.Type.Size()
	outer := tensor.NumElements(shape[:axis])
	inner := tensor.NumElements(shape[axis+1:])
	type part struct {
		in    *tensor.Tensor
		n     int // elements per outer step
		scale float32
		bias  float32
		rq    bool // requantize
	}
	parts := make([]part, len(ins))
	total := 0
	quant := t0.Type == tensor.UInt8 || t0.Type == tensor.Int8 || t0.Type == tensor.Int16
	for i, in := range ins {
		parts[i] = part{in: in, n: in.Shape[axis] * inner}
		total += parts[i].n
		if quant && in.Quant != nil && out.Quant != nil && (in.Scale() != out.Scale() || in.ZeroPoint() != out.ZeroPoint()) {
			// XNNPACK leaves requantizing CONCATENATION to TFLite's
			// kernel, so both arithmetic modes use the reference one.
			if err := CheckQuantized("input", in); err != nil {
				return nil, err
			}
			if err := CheckQuantized("output", out); err != nil {
				return nil, err
			}
			inv := 1 / out.Scale()
			s := in.Scale() * inv
			parts[i].scale = s
			parts[i].bias = float32(-in.ZeroPoint()) * s
			parts[i].rq = true
		}
	}

	// Fused activation: TFLite rejects anything but NONE; clamp for the
	// others rather than ignore them.
	clampF := func([]float32) {}
	clampQ := func([]byte) {}
	var qlo, qhi int32
	if p.Activation != ActNone {
		switch t0.Type {
		case tensor.Float32:
			lo, hi, err := FloatActivationRange(p.Activation)
			if err != nil {
				return nil, err
			}
			clampF = func(v []float32) {
				for i, x := range v {
					v[i] = ClampF(x, lo, hi)
				}
			}
		case tensor.UInt8, tensor.Int8, tensor.Int16:
			if err := CheckQuantized("output", out); err != nil {
				return nil, err
			}
			qlo, qhi, err = QuantizedActivationRange(p.Activation, out)
			if err != nil {
				return nil, err
			}
			clampQ = func(b []byte) { concatClamp(b, t0.Type, qlo, qhi) }
		default:
			return nil, unsupportedf("CONCATENATION with fused %s on %s", p.Activation, t0.Type)
		}
	}
	qmin, qmax := int32(0), int32(0)
	if quant {
		qmin, qmax, _ = TypeRange(t0.Type)
	}
	otype := t0.Type

	return Func(func() error {
		for _, pt := range parts {
			if err := shapeCheckData(pt.in); err != nil {
				return err
			}
		}
		if err := shapeCheckData(out); err != nil {
			return err
		}
		o := 0
		for k := 0; k < outer; k++ {
			for _, pt := range parts {
				src := pt.in.Data[k*pt.n*es : (k+1)*pt.n*es]
				dst := out.Data[o*es : (o+pt.n)*es]
				if pt.rq {
					concatRequantize(dst, src, otype, pt.scale, pt.bias, out.ZeroPoint(), qmin, qmax)
				} else {
					copy(dst, src)
				}
				o += pt.n
			}
		}
		n := total * outer
		if otype == tensor.Float32 {
			clampF(out.Float32s()[:n])
		} else {
			clampQ(out.Data[:n*es])
		}
		return nil
	}), nil
}

// concatRequantize is ConcatenationWithScaling's inner loop:
// round(q*scale + bias) + zp, in float32, clamped to the type's range.
func concatRequantize(dst, src []byte, t tensor.DType, scale, bias float32, zp, lo, hi int32) {
	rq := func(q int32) int32 {
		// The conversion keeps Go from fusing the multiply-add (C++ does not).
		f := float32(float32(q)*scale) + bias
		return Clamp(int32(math.Round(float64(f)))+zp, lo, hi)
	}
	switch t {
	case tensor.UInt8:
		for i, q := range src {
			dst[i] = uint8(rq(int32(q)))
		}
	case tensor.Int8:
		for i, q := range src {
			dst[i] = byte(int8(rq(int32(int8(q)))))
		}
	case tensor.Int16:
		d, s := shapeView[uint16](dst), shapeView[uint16](src)
		for i, q := range s {
			d[i] = uint16(int16(rq(int32(int16(q)))))
		}
	}
}

// concatClamp clamps quantized values in place.
func concatClamp(b []byte, t tensor.DType, lo, hi int32) {
	switch t {
	case tensor.UInt8:
		for i, q := range b {
			b[i] = uint8(Clamp(int32(q), lo, hi))
		}
	case tensor.Int8:
		for i, q := range b {
			b[i] = byte(int8(Clamp(int32(int8(q)), lo, hi)))
		}
	case tensor.Int16:
		v := shapeView[uint16](b)
		for i, q := range v {
			v[i] = uint16(int16(Clamp(int32(int16(q)), lo, hi)))
		}
	}
}

// Split cuts in into len(outs) equal parts along axis (TFLite's SPLIT,
// whose axis is input 0).
func Split(in *tensor.Tensor, axis int, outs []*tensor.Tensor) (Kernel, error) {
	a, err := shapeAxis("SPLIT", axis, in.Rank())
	if err != nil {
		return nil, err
	}
	n := len(outs)
	if n == 0 || in.Shape[a]%n != 0 {
		return nil, fmt.Errorf("SPLIT: dimension %d of %q (shape %v) does not split into %d equal parts", a, in.Name, in.Shape, n)
	}
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = in.Shape[a] / n
	}
	return shapeSplit("SPLIT", in, a, sizes, outs)
}

// SplitV cuts in along axis into parts of the given sizes; one size may be
// -1, meaning the rest (TFLite's SPLIT_V).
func SplitV(in *tensor.Tensor, sizes []int, axis int, outs []*tensor.Tensor) (Kernel, error) {
	a, err := shapeAxis("SPLIT_V", axis, in.Rank())
	if err != nil {
		return nil, err
	}
	if len(sizes) != len(outs) {
		return nil, fmt.Errorf("SPLIT_V: %d sizes for %d outputs", len(sizes), len(outs))
	}
	sizes = append([]int(nil), sizes...)
	rest, sum := -1, 0
	for i, s := range sizes {
		switch {
		case s == -1 && rest < 0:
			rest = i
		case s < 0:
			return nil, fmt.Errorf("SPLIT_V: invalid size_splits %v", sizes)
		default:
			sum += s
		}
	}
	if rest >= 0 {
		if sum > in.Shape[a] {
			return nil, fmt.Errorf("SPLIT_V: size_splits %v exceed dimension %d (%d)", sizes, a, in.Shape[a])
		}
		sizes[rest] = in.Shape[a] - sum
		sum = in.Shape[a]
	}
	if sum != in.Shape[a] {
		return nil, fmt.Errorf("SPLIT_V: size_splits %v add up to %d; dimension %d of %q is %d", sizes, sum, a, in.Name, in.Shape[a])
	}
	return shapeSplit("SPLIT_V", in, a, sizes, outs)
}

func shapeSplit(op string, in *tensor.Tensor, axis int, sizes []int, outs []*tensor.Tensor) (Kernel, error) {
	for _, o := range outs {
		if o == nil {
			return nil, fmt.Errorf("%s: an output is missing", op)
		}
		if err := shapeCheckMover(op, in, o); err != nil {
			return nil, err
		}
	}
	es := in.Type.Size()
	outer := tensor.NumElements(in.Shape[:axis])
	inner := tensor.NumElements(in.Shape[axis+1:])
	chunk := make([]int, len(outs)) // bytes per outer step
	for i, o := range outs {
		o.Shape = append(o.Shape[:0], in.Shape...)
		o.Shape[axis] = sizes[i]
		chunk[i] = sizes[i] * inner * es
	}
	return Func(func() error {
		if err := shapeCheckData(in); err != nil {
			return err
		}
		for _, o := range outs {
			if err := shapeCheckData(o); err != nil {
				return err
			}
		}
		s := 0
		for k := 0; k < outer; k++ {
			for i, o := range outs {
				c := chunk[i]
				copy(o.Data[k*c:(k+1)*c], in.Data[s:s+c])
				s += c
			}
		}
		return nil
	}), nil
}

// Pack stacks equally shaped inputs along a new dimension at axis
// (TFLite's PACK). Like TFLite, quantized inputs must share the output's
// quantization: the values are copied, not requantized.
func Pack(ins []*tensor.Tensor, axis int, out *tensor.Tensor) (Kernel, error) {
	if len(ins) == 0 || ins[0] == nil {
		return nil, fmt.Errorf("PACK: no inputs")
	}
	t0 := ins[0]
	a, err := shapeAxis("PACK", axis, t0.Rank()+1)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		if in == nil {
			return nil, fmt.Errorf("PACK: an input is missing")
		}
		if err := shapeCheckMover("PACK", in, out); err != nil {
			return nil, err
		}
		if !tensor.SameShape(in.Shape, t0.Shape) {
			return nil, fmt.Errorf("PACK: input %q has shape %v; %q has %v", in.Name, in.Shape, t0.Name, t0.Shape)
		}
		if in.Type.Quantized() && in.Quant != nil && out.Quant != nil && (in.Scale() != out.Scale() || in.ZeroPoint() != out.ZeroPoint()) {
			return nil, unsupportedf("PACK: input %q quantized as (%g, %d); output as (%g, %d)", in.Name, in.Scale(), in.ZeroPoint(), out.Scale(), out.ZeroPoint())
		}
	}
	shape := make([]int, 0, t0.Rank()+1)
	shape = append(shape, t0.Shape[:a]...)
	shape = append(shape, len(ins))
	shape = append(shape, t0.Shape[a:]...)
	out.Shape = append(out.Shape[:0], shape...)
	outer := tensor.NumElements(t0.Shape[:a])
	c := tensor.NumElements(t0.Shape[a:]) * t0.Type.Size()
	return Func(func() error {
		for _, in := range ins {
			if err := shapeCheckData(in); err != nil {
				return err
			}
		}
		if err := shapeCheckData(out); err != nil {
			return err
		}
		o := 0
		for k := 0; k < outer; k++ {
			for _, in := range ins {
				copy(out.Data[o:o+c], in.Data[k*c:(k+1)*c])
				o += c
			}
		}
		return nil
	}), nil
}

// Unpack splits in along axis into in.Shape[axis] outputs that lack that
// dimension (TFLite's UNPACK).
func Unpack(in *tensor.Tensor, axis int, outs []*tensor.Tensor) (Kernel, error) {
	a, err := shapeAxis("UNPACK", axis, in.Rank())
	if err != nil {
		return nil, err
	}
	if in.Shape[a] != len(outs) {
		return nil, fmt.Errorf("UNPACK: dimension %d of %q (shape %v) is not the number of outputs %d", a, in.Name, in.Shape, len(outs))
	}
	shape := make([]int, 0, in.Rank()-1)
	shape = append(shape, in.Shape[:a]...)
	shape = append(shape, in.Shape[a+1:]...)
	for _, o := range outs {
		if o == nil {
			return nil, fmt.Errorf("UNPACK: an output is missing")
		}
		if err := shapeCheckMover("UNPACK", in, o); err != nil {
			return nil, err
		}
		o.Shape = append(o.Shape[:0], shape...)
	}
	outer := tensor.NumElements(in.Shape[:a])
	c := tensor.NumElements(in.Shape[a+1:]) * in.Type.Size()
	return Func(func() error {
		if err := shapeCheckData(in); err != nil {
			return err
		}
		for _, o := range outs {
			if err := shapeCheckData(o); err != nil {
				return err
			}
		}
		s := 0
		for k := 0; k < outer; k++ {
			for _, o := range outs {
				copy(o.Data[k*c:(k+1)*c], in.Data[s:s+c])
				s += c
			}
		}
		return nil
	}), nil
}
