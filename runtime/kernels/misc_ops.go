package kernels

import (
	"errors"
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Fill writes the scalar value to every element of an output of the given
// shape (TFLite's FILL). Any fixed-size element type; quantized values are
// copied, so value and output share their quantization.
func Fill(shape []int, value, out *tensor.Tensor) (Kernel, error) {
	const op = "FILL"
	if err := shapeCheckMover(op, value, out); err != nil {
		return nil, err
	}
	if value.NumElements() != 1 {
		return nil, fmt.Errorf("%s: value %q has shape %v; want a scalar", op, value.Name, value.Shape)
	}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	n, es := tensor.NumElements(shape), value.Type.Size()
	return Func(func() error {
		if err := shapeCheckData(value, out); err != nil {
			return err
		}
		v := value.Data[:es]
		for i := 0; i < n; i++ {
			copy(out.Data[i*es:(i+1)*es], v)
		}
		return nil
	}), nil
}

// ZerosLike writes zeros of in's shape and type (TFLite's ZEROS_LIKE:
// float32, int32, int64).
func ZerosLike(in, out *tensor.Tensor) (Kernel, error) {
	if err := CheckType("ZEROS_LIKE input", in, tensor.Float32, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	if out.Type != in.Type {
		return nil, fmt.Errorf("ZEROS_LIKE: output %q has type %s; want %s", out.Name, out.Type, in.Type)
	}
	out.Shape = append(out.Shape[:0], in.Shape...)
	return Func(func() error {
		if err := shapeCheckData(out); err != nil {
			return err
		}
		clear(out.Data[:out.NumBytes()])
		return nil
	}), nil
}

// Range computes start, start+delta, ... up to limit (excluded) from
// constant scalars (TFLite's RANGE): int32, int64 or float32, the float
// values accumulated one delta at a time as TFLite does.
func Range(start, limit, delta, out *tensor.Tensor) (Kernel, error) {
	const op = "RANGE"
	if err := CheckType(op+" start", start, tensor.Int32, tensor.Int64, tensor.Float32); err != nil {
		return nil, err
	}
	for _, t := range []*tensor.Tensor{limit, delta, out} {
		if t.Type != start.Type {
			return nil, fmt.Errorf("%s: %q has type %s; start has %s", op, t.Name, t.Type, start.Type)
		}
	}
	for _, t := range []*tensor.Tensor{start, limit, delta} {
		if t.NumElements() != 1 || t.Data == nil {
			return nil, fmt.Errorf("%s: %q must be a scalar known before running (constant or computed from constants)", op, t.Name)
		}
	}
	var n int
	switch start.Type {
	case tensor.Float32:
		s, l, d := start.Float32s()[0], limit.Float32s()[0], delta.Float32s()[0]
		if d == 0 || !(s >= l && d < 0 || s <= l && d > 0) {
			return nil, fmt.Errorf("%s: start %g, limit %g and delta %g do not make a range", op, s, l, d)
		}
		f := math.Ceil(math.Abs(float64((l - s) / d)))
		if f > math.MaxInt32 {
			return nil, fmt.Errorf("%s: %g elements", op, f)
		}
		n = int(f)
	default:
		var s, l, d int64
		if start.Type == tensor.Int32 {
			s, l, d = int64(start.Int32s()[0]), int64(limit.Int32s()[0]), int64(delta.Int32s()[0])
		} else {
			s, l, d = start.Int64s()[0], limit.Int64s()[0], delta.Int64s()[0]
		}
		if d == 0 || !(s >= l && d < 0 || s <= l && d > 0) {
			return nil, fmt.Errorf("%s: start %d, limit %d and delta %d do not make a range", op, s, l, d)
		}
		span, step := l-s, d
		if span < 0 {
			span, step = -span, -step
		}
		if span < 0 || step < 0 { // overflow of the negation
			return nil, fmt.Errorf("%s: range from %d to %d is too large", op, s, l)
		}
		c := (span + step - 1) / step
		if c > math.MaxInt32 || c < 0 {
			return nil, fmt.Errorf("%s: %d elements", op, c)
		}
		n = int(c)
	}
	if err := checkOutShape(op, []int{n}); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], n)
	return Func(func() error {
		if err := shapeCheckData(start, delta, out); err != nil {
			return err
		}
		switch out.Type {
		case tensor.Float32:
			rangeFill(out.Float32s()[:n], start.Float32s()[0], delta.Float32s()[0])
		case tensor.Int32:
			rangeFill(out.Int32s()[:n], start.Int32s()[0], delta.Int32s()[0])
		default:
			rangeFill(out.Int64s()[:n], start.Int64s()[0], delta.Int64s()[0])
		}
		return nil
	}), nil
}

func rangeFill[T float32 | int32 | int64](y []T, v, d T) {
	for i := range y {
		y[i] = v
		v += d
	}
}

// MirrorPad pads by reflecting the input at its borders (TFLite's
// MIRROR_PAD): REFLECT leaves the border element out of the mirror,
// SYMMETRIC repeats it. paddings holds [before, after] per dimension; each
// is at most the dimension's size (minus one for REFLECT). Any fixed-size
// element type.
func MirrorPad(in *tensor.Tensor, paddings []int, symmetric bool, out *tensor.Tensor) (Kernel, error) {
	const op = "MIRROR_PAD"
	if err := shapeCheckMover(op, in, out); err != nil {
		return nil, err
	}
	r := in.Rank()
	if len(paddings) != 2*r {
		return nil, fmt.Errorf("%s: %d padding values for rank %d", op, len(paddings), r)
	}
	offset := 1
	if symmetric {
		offset = 0
	}
	shape := make([]int, r)
	for d := range shape {
		b, a := paddings[2*d], paddings[2*d+1]
		if b < 0 || a < 0 || b > in.Shape[d]-offset || a > in.Shape[d]-offset {
			return nil, fmt.Errorf("%s: paddings [%d, %d] for dimension %d of size %d (at most the size%s)", op, b, a, d, in.Shape[d], map[bool]string{true: "", false: " minus one"}[symmetric])
		}
		shape[d] = in.Shape[d] + b + a
	}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	// The source index of every output index, per dimension.
	src := make([][]int, r)
	for d := range src {
		src[d] = make([]int, shape[d])
		b, size := paddings[2*d], in.Shape[d]
		for i := range src[d] {
			j := i - b
			switch {
			case j < 0:
				j = -j - 1 + offset
			case j >= size:
				j = 2*size - j - 1 - offset
			}
			src[d][i] = j
		}
	}
	inStr := shapeStrides(in.Shape)
	es := in.Type.Size()
	idx := make([]int, r)
	n := tensor.NumElements(shape)
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		clear(idx)
		for o := 0; o < n; o++ {
			s := 0
			for d := range idx {
				s += src[d][idx[d]] * inStr[d]
			}
			copy(out.Data[o*es:(o+1)*es], in.Data[s*es:(s+1)*es])
			for d := r - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < shape[d] {
					break
				}
				idx[d] = 0
			}
		}
		return nil
	}), nil
}

// ErrNegativeExponent is returned by Eval of an int32 POW with a negative
// exponent (TFLite fails the same way).
var ErrNegativeExponent = errors.New("POW does not take negative int32 exponents")

// Pow raises a to the power b with broadcasting (TFLite's POW): float32
// with the C library's powf, int32 through double precision (exponents
// must not be negative; results beyond int32 saturate).
func Pow(a, b, out *tensor.Tensor) (Kernel, error) {
	const op = "POW"
	plan, err := checkBinaryOperands(op, a, b, out)
	if err != nil {
		return nil, err
	}
	if out.Type != a.Type {
		return nil, fmt.Errorf("%s: output %q has type %s; want %s", op, out.Name, out.Type, a.Type)
	}
	switch a.Type {
	case tensor.Float32:
		return Func(func() error {
			bcastApply(plan, a.Float32s(), b.Float32s(), out.Float32s(), func(x, y float32) float32 {
				return float32(math.Pow(float64(x), float64(y)))
			})
			return nil
		}), nil
	case tensor.Int32:
		nb := b.NumElements()
		errNeg := fmt.Errorf("%s: %w", op, ErrNegativeExponent)
		return Func(func() error {
			bv := b.Int32s()
			for _, v := range bv[:nb] {
				if v < 0 {
					return errNeg
				}
			}
			bcastApply(plan, a.Int32s(), bv, out.Int32s(), func(x, y int32) int32 {
				p := math.Pow(float64(x), float64(y))
				return int32(min(max(p, math.MinInt32), math.MaxInt32))
			})
			return nil
		}), nil
	}
	return nil, unsupportedf("%s on %s operands", op, a.Type)
}

// AddN sums same-shaped inputs element by element, in input order
// (TFLite's ADD_N: two or more float32 or int32 inputs).
func AddN(ins []*tensor.Tensor, out *tensor.Tensor) (Kernel, error) {
	const op = "ADD_N"
	if len(ins) < 2 {
		return nil, fmt.Errorf("%s: %d inputs; TFLite takes two or more", op, len(ins))
	}
	t0 := ins[0]
	if err := CheckType(op+" input", t0, tensor.Float32, tensor.Int32); err != nil {
		return nil, err
	}
	for _, t := range ins {
		if t.Type != t0.Type || !tensor.SameShape(t.Shape, t0.Shape) {
			return nil, fmt.Errorf("%s: input %q is %s%v; %q is %s%v", op, t.Name, t.Type, t.Shape, t0.Name, t0.Type, t0.Shape)
		}
	}
	if out.Type != t0.Type {
		return nil, fmt.Errorf("%s: output %q has type %s; want %s", op, out.Name, out.Type, t0.Type)
	}
	out.Shape = append(out.Shape[:0], t0.Shape...)
	n := t0.NumElements()
	if t0.Type == tensor.Float32 {
		return addNKernel[float32](ins, out, n), nil
	}
	return addNKernel[int32](ins, out, n), nil
}

func addNKernel[T float32 | int32](ins []*tensor.Tensor, out *tensor.Tensor, n int) Kernel {
	return Func(func() error {
		if err := shapeCheckData(ins...); err != nil {
			return err
		}
		if err := shapeCheckData(out); err != nil {
			return err
		}
		y := binView[T](out)[:n]
		copy(y, binView[T](ins[0])[:n])
		for _, t := range ins[1:] {
			for i, v := range binView[T](t)[:n] {
				y[i] += v
			}
		}
		return nil
	})
}

// L2Pool2D is the square root of the mean of squares over each window
// (TFLite's L2_POOL_2D, float32): only the window positions inside the
// input count, and the fused activation clamps the result.
func L2Pool2D(pad Padding, strideH, strideW, filterH, filterW int, act Activation, in, out *tensor.Tensor) (Kernel, error) {
	const op = "L2_POOL_2D"
	if in.Type != tensor.Float32 || out.Type != tensor.Float32 {
		return nil, unsupportedf("%s on %s input; want float32", op, in.Type)
	}
	if in.Rank() != 4 {
		return nil, fmt.Errorf("%s: input %q has rank %d; want 4", op, in.Name, in.Rank())
	}
	if strideH < 1 || strideW < 1 || filterH < 1 || filterW < 1 {
		return nil, fmt.Errorf("%s: strides %dx%d and filter %dx%d; want positive ones", op, strideH, strideW, filterH, filterW)
	}
	lo, hi, err := FloatActivationRange(act)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	n, h, w, c := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
	oh, err := convOutSize(pad, h, filterH, strideH, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ow, _ := convOutSize(pad, w, filterW, strideW, 1)
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("%s: filter %dx%d does not fit input %dx%d", op, filterH, filterW, h, w)
	}
	padH, _ := convPadding(strideH, 1, h, filterH, oh)
	padW, _ := convPadding(strideW, 1, w, filterW, ow)
	out.Shape = append(out.Shape[:0], n, oh, ow, c)
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		x, y := in.Float32s(), out.Float32s()
		o := 0
		for b := 0; b < n; b++ {
			for oy := 0; oy < oh; oy++ {
				y0 := oy*strideH - padH
				fy0, fy1 := max(0, -y0), min(filterH, h-y0)
				for ox := 0; ox < ow; ox++ {
					x0 := ox*strideW - padW
					fx0, fx1 := max(0, -x0), min(filterW, w-x0)
					for ch := 0; ch < c; ch++ {
						var sum float32
						count := 0
						for fy := fy0; fy < fy1; fy++ {
							for fx := fx0; fx < fx1; fx++ {
								v := x[((b*h+y0+fy)*w+x0+fx)*c+ch]
								sum += float32(v * v)
								count++
							}
						}
						var l2 float32
						if count != 0 {
							l2 = float32(math.Sqrt(float64(sum / float32(count))))
						}
						y[o] = ClampF(l2, lo, hi)
						o++
					}
				}
			}
		}
		return nil
	}), nil
}

// LocalResponseNorm divides each element by (bias + alpha·Σx²)^beta over
// the 2·radius+1 channels around it (TFLite's default
// LOCAL_RESPONSE_NORMALIZATION kernel, float32): the sum runs as that
// kernel's running window of alpha·x² values, and beta 1 and 0.5 divide
// and take a square root instead of a power, as it does.
func LocalResponseNorm(radius int, bias, alpha, beta float32, in, out *tensor.Tensor) (Kernel, error) {
	const op = "LOCAL_RESPONSE_NORMALIZATION"
	if in.Type != tensor.Float32 || out.Type != tensor.Float32 {
		return nil, unsupportedf("%s on %s input; want float32", op, in.Type)
	}
	if in.Rank() != 4 {
		return nil, fmt.Errorf("%s: input %q has rank %d; want 4", op, in.Name, in.Rank())
	}
	if radius < 0 || radius > 1<<16 {
		return nil, fmt.Errorf("%s: radius %d", op, radius)
	}
	out.Shape = append(out.Shape[:0], in.Shape...)
	depth := in.Shape[3]
	rows := 0
	if depth > 0 {
		rows = in.NumElements() / depth
	}
	padded := make([]float32, depth+2*radius)
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		x, y := in.Float32s(), out.Float32s()
		for r := 0; r < rows; r++ {
			xr, yr := x[r*depth:(r+1)*depth], y[r*depth:(r+1)*depth]
			for i, v := range xr {
				padded[radius+i] = float32(v*v) * alpha
			}
			var acc float32
			for i := 0; i < 2*radius; i++ {
				acc += padded[i]
			}
			for i := range yr {
				acc += padded[i+2*radius]
				yr[i] = bias + acc
				acc -= padded[i]
			}
			for i, v := range xr {
				s := yr[i]
				switch beta {
				case 1:
					yr[i] = v * (1 / s)
				case 0.5:
					yr[i] = v * (1 / float32(math.Sqrt(float64(s))))
				default:
					yr[i] = v * float32(math.Pow(float64(s), float64(-beta)))
				}
			}
		}
		return nil
	}), nil
}

// ErrIndexOutOfRange is returned by Eval when an index operand names a
// position outside the tensor it indexes (TFLite fails the same way).
var ErrIndexOutOfRange = errors.New("index out of range")

// EmbeddingLookup copies the rows of value named by the int32 ids
// (TFLite's EMBEDDING_LOOKUP): any fixed-size type copied as is, or int8
// or uint8 values into a float32 output times the row's scale (per-row
// or one scale; TFLite reads the bytes as int8 in both cases).
func EmbeddingLookup(ids, value, out *tensor.Tensor) (Kernel, error) {
	const op = "EMBEDDING_LOOKUP"
	if ids.Type != tensor.Int32 || ids.Rank() != 1 {
		return nil, fmt.Errorf("%s: ids %q are %s%v; want an int32 vector", op, ids.Name, ids.Type, ids.Shape)
	}
	if value.Rank() < 2 {
		return nil, fmt.Errorf("%s: value %q has rank %d; want at least 2", op, value.Name, value.Rank())
	}
	shape := append([]int{ids.Shape[0]}, value.Shape[1:]...)
	rows := value.Shape[0]
	cols := tensor.NumElements(value.Shape[1:])
	hybrid := (value.Type == tensor.Int8 || value.Type == tensor.UInt8) && out.Type == tensor.Float32
	var scales []float32
	if hybrid {
		if value.Quant == nil || len(value.Quant.Scale) == 0 {
			return nil, fmt.Errorf("%s: %s value %q with float32 output has no scale", op, value.Type, value.Name)
		}
		for _, zp := range value.Quant.ZeroPoint {
			if zp != 0 {
				return nil, fmt.Errorf("%s: value %q has zero point %d; want 0", op, value.Name, zp)
			}
		}
		scales = value.Quant.Scale
		if len(scales) > 1 && (len(scales) != rows || value.Quant.Axis != 0) {
			return nil, fmt.Errorf("%s: value %q has %d scales on axis %d; want one per row", op, value.Name, len(scales), value.Quant.Axis)
		}
	} else if err := shapeCheckMover(op, value, out); err != nil {
		return nil, err
	}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	errRange := fmt.Errorf("%s: %w (%d rows)", op, ErrIndexOutOfRange, rows)
	es := value.Type.Size()
	return Func(func() error {
		if err := shapeCheckData(ids, value, out); err != nil {
			return err
		}
		for i, id := range ids.Int32s()[:ids.Shape[0]] {
			if id < 0 || int(id) >= rows {
				return errRange
			}
			if !hybrid {
				copy(out.Data[i*cols*es:(i+1)*cols*es], value.Data[int(id)*cols*es:(int(id)+1)*cols*es])
				continue
			}
			s := scales[0]
			if len(scales) > 1 {
				s = scales[id]
			}
			y := out.Float32s()[i*cols : (i+1)*cols]
			for j, q := range value.Data[int(id)*cols : (int(id)+1)*cols] {
				y[j] = float32(int8(q)) * s
			}
		}
		return nil
	}), nil
}

// ScatterND adds updates into a zero tensor of the given shape at the
// positions indices name (TFLite's SCATTER_ND): int32 indices of shape
// [..., k] select slices of the first k dimensions; repeated positions
// accumulate (integers wrap, bools or). float32, int8, uint8, int32,
// int64, bool.
func ScatterND(indices, updates *tensor.Tensor, shape []int, out *tensor.Tensor) (Kernel, error) {
	const op = "SCATTER_ND"
	if indices.Type != tensor.Int32 {
		return nil, unsupportedf("%s with %s indices; want int32", op, indices.Type)
	}
	if err := CheckType(op+" updates", updates, tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int32, tensor.Int64, tensor.Bool); err != nil {
		return nil, err
	}
	if out.Type != updates.Type {
		return nil, fmt.Errorf("%s: output %q has type %s; want %s", op, out.Name, out.Type, updates.Type)
	}
	if indices.Rank() < 1 {
		return nil, fmt.Errorf("%s: indices %q are a scalar", op, indices.Name)
	}
	k := indices.Shape[indices.Rank()-1]
	outer := indices.Rank() - 1
	if k < 1 || k > len(shape) {
		return nil, fmt.Errorf("%s: index depth %d for an output of rank %d", op, k, len(shape))
	}
	// updates = indices.shape[:-1] + shape[k:]
	want := append(append([]int(nil), indices.Shape[:outer]...), shape[k:]...)
	if !tensor.SameShape(updates.Shape, want) {
		return nil, fmt.Errorf("%s: updates %q have shape %v; want %v", op, updates.Name, updates.Shape, want)
	}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	slices := tensor.NumElements(indices.Shape[:outer])
	slice := tensor.NumElements(shape[k:])
	strides := shapeStrides(shape)
	errRange := fmt.Errorf("%s: %w", op, ErrIndexOutOfRange)
	var add func(dst, src []byte, p, q int)
	switch updates.Type {
	case tensor.Float32:
		add = func(dst, src []byte, p, q int) { shapeAdd[float32](dst, src, p, q, slice) }
	case tensor.Int8:
		add = func(dst, src []byte, p, q int) { shapeAdd[int8](dst, src, p, q, slice) }
	case tensor.UInt8:
		add = func(dst, src []byte, p, q int) { shapeAdd[uint8](dst, src, p, q, slice) }
	case tensor.Int32:
		add = func(dst, src []byte, p, q int) { shapeAdd[int32](dst, src, p, q, slice) }
	case tensor.Int64:
		add = func(dst, src []byte, p, q int) { shapeAdd[int64](dst, src, p, q, slice) }
	default:
		add = func(dst, src []byte, p, q int) {
			for j := 0; j < slice; j++ {
				dst[p+j] |= src[q+j]
			}
		}
	}
	return Func(func() error {
		if err := shapeCheckData(indices, updates, out); err != nil {
			return err
		}
		clear(out.Data[:out.NumBytes()])
		idx := indices.Int32s()
		for i := 0; i < slices; i++ {
			pos := 0
			for j := 0; j < k; j++ {
				v := int(idx[i*k+j])
				if v < 0 || v >= shape[j] {
					return errRange
				}
				pos += v * strides[j]
			}
			add(out.Data, updates.Data, pos, i*slice)
		}
		return nil
	}), nil
}

// shapeAdd adds n elements of src at element offset q into dst at p.
func shapeAdd[T float32 | int8 | uint8 | int32 | int64](dst, src []byte, p, q, n int) {
	d := shapeElems[T](dst)[p : p+n]
	for j, v := range shapeElems[T](src)[q : q+n] {
		d[j] += v
	}
}

// shapeElems views a byte buffer as elements of T.
func shapeElems[T any](b []byte) []T {
	t := tensor.Tensor{Data: b}
	return binView[T](&t)
}

// MatrixDiag builds matrices with the input's last dimension on their
// diagonals (TFLite's MATRIX_DIAG): [..., n] → [..., n, n], zeros
// elsewhere. int8, uint8, int16, int32, int64, float32.
func MatrixDiag(in, out *tensor.Tensor) (Kernel, error) {
	const op = "MATRIX_DIAG"
	if err := CheckType(op+" input", in, tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	if out.Type != in.Type || in.Rank() < 1 {
		return nil, fmt.Errorf("%s: input %q %s%v, output %s; want the same type and rank ≥ 1", op, in.Name, in.Type, in.Shape, out.Type)
	}
	n := in.Shape[in.Rank()-1]
	shape := append(append([]int(nil), in.Shape...), n)
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	batches := 0
	if n > 0 {
		batches = in.NumElements() / n
	}
	es := in.Type.Size()
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		clear(out.Data[:out.NumBytes()])
		for b := 0; b < batches; b++ {
			for i := 0; i < n; i++ {
				s, d := (b*n+i)*es, ((b*n+i)*n+i)*es
				copy(out.Data[d:d+es], in.Data[s:s+es])
			}
		}
		return nil
	}), nil
}

// MatrixSetDiag copies the input matrices [..., r, c] and replaces their
// main diagonals with diag [..., min(r, c)] (TFLite's MATRIX_SET_DIAG).
func MatrixSetDiag(in, diag, out *tensor.Tensor) (Kernel, error) {
	const op = "MATRIX_SET_DIAG"
	if err := CheckType(op+" input", in, tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	if out.Type != in.Type || diag.Type != in.Type || in.Rank() < 2 {
		return nil, fmt.Errorf("%s: input %q %s%v, diagonal %s, output %s; want one type and rank ≥ 2", op, in.Name, in.Type, in.Shape, diag.Type, out.Type)
	}
	r, c := in.Shape[in.Rank()-2], in.Shape[in.Rank()-1]
	m := min(r, c)
	want := append(append([]int(nil), in.Shape[:in.Rank()-2]...), m)
	if !tensor.SameShape(diag.Shape, want) {
		return nil, fmt.Errorf("%s: diagonal %q has shape %v; want %v", op, diag.Name, diag.Shape, want)
	}
	out.Shape = append(out.Shape[:0], in.Shape...)
	batches := tensor.NumElements(in.Shape[:in.Rank()-2])
	es := in.Type.Size()
	return Func(func() error {
		if err := shapeCheckData(in, diag, out); err != nil {
			return err
		}
		copy(out.Data[:out.NumBytes()], in.Data)
		for b := 0; b < batches; b++ {
			for i := 0; i < m; i++ {
				s, d := (b*m+i)*es, ((b*r+i)*c+i)*es
				copy(out.Data[d:d+es], diag.Data[s:s+es])
			}
		}
		return nil
	}), nil
}
