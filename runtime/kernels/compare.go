package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// CompareOp is an element-wise comparison.
type CompareOp int

// Comparisons.
const (
	OpEqual CompareOp = iota
	OpNotEqual
	OpLess
	OpLessEqual
	OpGreater
	OpGreaterEqual
)

var compareOpNames = [...]string{
	OpEqual: "EQUAL", OpNotEqual: "NOT_EQUAL", OpLess: "LESS", OpLessEqual: "LESS_EQUAL",
	OpGreater: "GREATER", OpGreaterEqual: "GREATER_EQUAL",
}

func (op CompareOp) String() string {
	if op >= 0 && int(op) < len(compareOpNames) {
		return compareOpNames[op]
	}
	return fmt.Sprintf("compare(%d)", int(op))
}

type ordered interface {
	~int8 | ~uint8 | ~int16 | ~int32 | ~int64 | ~float32
}

func compareFn[T ordered](op CompareOp) func(x, y T) bool {
	switch op {
	case OpEqual:
		return func(x, y T) bool { return x == y }
	case OpNotEqual:
		return func(x, y T) bool { return x != y }
	case OpLess:
		return func(x, y T) bool { return x < y }
	case OpLessEqual:
		return func(x, y T) bool { return x <= y }
	case OpGreater:
		return func(x, y T) bool { return x > y }
	}
	return func(x, y T) bool { return x >= y }
}

// Compare computes a bool tensor from two broadcast operands (TFLite's
// EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL). float32,
// int32 and int64 compare values; int8 and uint8 (and int16 for EQUAL and
// NOT_EQUAL) are quantized and compare their real values in TFLite's
// fixed point: ((q − zp)·2^8) scaled by each operand's scale; int16 for the
// ordering comparisons and bool for (NOT_)EQUAL compare raw values.
func Compare(op CompareOp, a, b, out *tensor.Tensor) (Kernel, error) {
	plan, err := checkBinaryOperands(op.String(), a, b, out)
	if err != nil {
		return nil, err
	}
	if out.Type != tensor.Bool {
		return nil, fmt.Errorf("%s: output %q has type %s; want bool", op, out.Name, out.Type)
	}
	eq := op == OpEqual || op == OpNotEqual
	switch a.Type {
	case tensor.Float32:
		return compareKernel[float32](plan, a, b, out, compareFn[float32](op)), nil
	case tensor.Int32:
		return compareKernel[int32](plan, a, b, out, compareFn[int32](op)), nil
	case tensor.Int64:
		return compareKernel[int64](plan, a, b, out, compareFn[int64](op)), nil
	case tensor.Bool:
		if eq {
			return compareKernel[uint8](plan, a, b, out, compareFn[uint8](op)), nil
		}
	case tensor.Int16:
		if !eq {
			return compareKernel[int16](plan, a, b, out, compareFn[int16](op)), nil
		}
		return compareQuant[int16](op, plan, a, b, out)
	case tensor.Int8:
		return compareQuant[int8](op, plan, a, b, out)
	case tensor.UInt8:
		return compareQuant[uint8](op, plan, a, b, out)
	}
	return nil, unsupportedf("%s on %s operands", op, a.Type)
}

func compareKernel[T ordered](plan *bcastPlan, a, b, out *tensor.Tensor, f func(x, y T) bool) Kernel {
	return Func(func() error {
		if err := shapeCheckData(a, b, out); err != nil {
			return err
		}
		bcastApply(plan, binView[T](a), binView[T](b), out.Bools(), f)
		return nil
	})
}

// compareQuant is TFLite's ComparisonWithScaling. A scale of 1 or more
// (a multiplier TFLite's kernel cannot apply) is refused.
func compareQuant[T int8 | uint8 | int16](op CompareOp, plan *bcastPlan, a, b, out *tensor.Tensor) (Kernel, error) {
	type side struct {
		zp, mult int32
		shift    int
	}
	var s [2]side
	for i, t := range []*tensor.Tensor{a, b} {
		if t.Quant.PerChannel() {
			return nil, unsupportedf("%s: per-channel quantized operand %q", op, t.Name)
		}
		if sc := t.Scale(); sc >= 1 || sc < 0 || sc != sc {
			return nil, unsupportedf("%s: operand %q has scale %g (TFLite's quantized comparison takes scales below 1)", op, t.Name, sc)
		}
		m, sh := QuantizeMultiplier(float64(t.Scale()))
		s[i] = side{t.ZeroPoint(), m, sh}
	}
	cmp := compareFn[int32](op)
	f := func(x, y T) bool {
		sx := MultiplyByQuantizedMultiplierSmallerThanOneExp((int32(x)-s[0].zp)*256, s[0].mult, s[0].shift)
		sy := MultiplyByQuantizedMultiplierSmallerThanOneExp((int32(y)-s[1].zp)*256, s[1].mult, s[1].shift)
		return cmp(sx, sy)
	}
	return Func(func() error {
		if err := shapeCheckData(a, b, out); err != nil {
			return err
		}
		bcastApply(plan, binView[T](a), binView[T](b), out.Bools(), f)
		return nil
	}), nil
}

// LogicalOp is a logical operator on bool tensors.
type LogicalOp int

// Logical operators.
const (
	OpLogicalAnd LogicalOp = iota
	OpLogicalOr
)

// Logical computes LOGICAL_AND or LOGICAL_OR of two broadcast bool tensors.
func Logical(op LogicalOp, a, b, out *tensor.Tensor) (Kernel, error) {
	name := "LOGICAL_AND"
	f := func(x, y bool) bool { return x && y }
	if op == OpLogicalOr {
		name = "LOGICAL_OR"
		f = func(x, y bool) bool { return x || y }
	}
	plan, err := checkBinaryOperands(name, a, b, out)
	if err != nil {
		return nil, err
	}
	if a.Type != tensor.Bool || out.Type != tensor.Bool {
		return nil, unsupportedf("%s on %s operands with %s output; want bool", name, a.Type, out.Type)
	}
	return Func(func() error {
		if err := shapeCheckData(a, b, out); err != nil {
			return err
		}
		bcastApply(plan, a.Bools(), b.Bools(), out.Bools(), f)
		return nil
	}), nil
}

// LogicalNot negates a bool tensor.
func LogicalNot(in, out *tensor.Tensor) (Kernel, error) {
	if in.Type != tensor.Bool || out.Type != tensor.Bool {
		return nil, unsupportedf("LOGICAL_NOT on %s input with %s output; want bool", in.Type, out.Type)
	}
	out.Shape = append(out.Shape[:0], in.Shape...)
	n := in.NumElements()
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		x, y := in.Bools()[:n], out.Bools()[:n]
		for i, v := range x {
			y[i] = !v
		}
		return nil
	}), nil
}

// Select picks x where cond is true and y elsewhere (TFLite's SELECT_V2:
// the three operands broadcast together, NumPy style, up to
// MaxBroadcastRank dimensions). With v1 set it follows SELECT instead: x
// and y have the same shape and cond has it too, or is a scalar, or a
// vector over x's first dimension. Any fixed-size element type; values
// are copied, not requantized.
func Select(v1 bool, cond, x, y, out *tensor.Tensor) (Kernel, error) {
	op := "SELECT_V2"
	if v1 {
		op = "SELECT"
	}
	if cond.Type != tensor.Bool {
		return nil, fmt.Errorf("%s: condition %q has type %s; want bool", op, cond.Name, cond.Type)
	}
	if x.Type != y.Type {
		return nil, fmt.Errorf("%s: inputs %q and %q have types %s and %s; want the same", op, x.Name, y.Name, x.Type, y.Type)
	}
	if err := shapeCheckMover(op, x, out); err != nil {
		return nil, err
	}
	condShape := cond.Shape
	var shape []int
	if v1 {
		if !tensor.SameShape(x.Shape, y.Shape) {
			return nil, fmt.Errorf("%s: inputs have shapes %v and %v; want the same", op, x.Shape, y.Shape)
		}
		shape = x.Shape
		switch {
		case tensor.SameShape(cond.Shape, x.Shape):
		case cond.Rank() == 0:
		case cond.Rank() == 1 && x.Rank() >= 1 && cond.Shape[0] == x.Shape[0]:
			// One condition per slice along the first dimension.
			condShape = make([]int, x.Rank())
			for i := range condShape {
				condShape[i] = 1
			}
			condShape[0] = cond.Shape[0]
		default:
			return nil, fmt.Errorf("%s: condition shape %v does not fit inputs of shape %v", op, cond.Shape, x.Shape)
		}
	} else {
		for _, t := range []*tensor.Tensor{cond, x, y} {
			if t.Rank() > MaxBroadcastRank {
				return nil, unsupportedf("%s on operands of rank %d (at most %d)", op, t.Rank(), MaxBroadcastRank)
			}
		}
		s, err := BroadcastShape(x.Shape, y.Shape)
		if err == nil {
			s, err = BroadcastShape(cond.Shape, s)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		shape = s
	}
	out.Shape = append(out.Shape[:0], shape...)
	w := newWalk3(out.Shape, condShape, x.Shape, y.Shape)
	es := x.Type.Size()
	return Func(func() error {
		if err := shapeCheckData(cond, x, y, out); err != nil {
			return err
		}
		c, xd, yd, od := cond.Bools(), x.Data, y.Data, out.Data
		w.run(func(o, ic, ix, iy, n, sc, sx, sy int) {
			for k := 0; k < n; k++ {
				src, i := yd, iy
				if c[ic] {
					src, i = xd, ix
				}
				copy(od[o*es:(o+1)*es], src[i*es:(i+1)*es])
				o++
				ic += sc
				ix += sx
				iy += sy
			}
		})
		return nil
	}), nil
}

// walk3 walks an output shape and three operands broadcast to it, one
// innermost row at a time.
type walk3 struct {
	shape []int
	str   [3][]int // element strides per output dimension (0: broadcast)
	idx   []int
	n     int
}

func newWalk3(out []int, shapes ...[]int) *walk3 {
	r := len(out)
	w := &walk3{shape: out, idx: make([]int, r), n: tensor.NumElements(out)}
	for k, s := range shapes {
		w.str[k] = make([]int, r)
		stride := 1
		for d := r - 1; d >= 0; d-- {
			j := d - (r - len(s))
			if j < 0 {
				continue
			}
			if s[j] != 1 {
				w.str[k][d] = stride
			}
			stride *= s[j]
		}
	}
	return w
}

// run calls row(o, i0, i1, i2, n, s0, s1, s2) for every innermost row: n
// output elements from offset o, the operands starting at i0..i2 with
// strides s0..s2.
func (w *walk3) run(row func(o, i0, i1, i2, n, s0, s1, s2 int)) {
	if w.n == 0 {
		return
	}
	r := len(w.shape)
	if r == 0 {
		row(0, 0, 0, 0, 1, 0, 0, 0)
		return
	}
	inner := w.shape[r-1]
	clear(w.idx)
	var off [3]int
	for o := 0; o < w.n; o += inner {
		row(o, off[0], off[1], off[2], inner, w.str[0][r-1], w.str[1][r-1], w.str[2][r-1])
		for d := r - 2; d >= 0; d-- {
			w.idx[d]++
			for k := range off {
				off[k] += w.str[k][d]
			}
			if w.idx[d] < w.shape[d] {
				break
			}
			for k := range off {
				off[k] -= w.str[k][d] * w.shape[d]
			}
			w.idx[d] = 0
		}
	}
}
