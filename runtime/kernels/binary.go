package kernels

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// BinaryOp is an element-wise binary operator.
type BinaryOp int

// Element-wise binary operators.
const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
	OpFloorDiv
	OpSquaredDifference
	OpMaximum
	OpMinimum
)

var binaryOpNames = [...]string{
	OpAdd: "ADD", OpSub: "SUB", OpMul: "MUL", OpDiv: "DIV", OpFloorDiv: "FLOOR_DIV",
	OpSquaredDifference: "SQUARED_DIFFERENCE", OpMaximum: "MAXIMUM", OpMinimum: "MINIMUM",
}

func (op BinaryOp) String() string {
	if op >= 0 && int(op) < len(binaryOpNames) {
		return binaryOpNames[op]
	}
	return fmt.Sprintf("binary(%d)", int(op))
}

// BinaryParams are the options of the element-wise binary operators.
type BinaryParams struct {
	// Activation is the fused activation (ADD, SUB, MUL, DIV only).
	Activation Activation
	// PotScaleInt16 is ADD's and SUB's pot_scale_int16 option (schema
	// default true): int16 operands with power-of-two scales and zero
	// points 0 then take TFLite's legacy power-of-two path.
	PotScaleInt16 bool
}

// ErrDivisionByZero is returned by Eval of an integer DIV or FLOOR_DIV whose
// divisor has a zero element (TFLite fails the same way).
var ErrDivisionByZero = errors.New("division by zero")

// Add returns a kernel computing act(a + b) with broadcasting.
func Add(cfg *Config, p BinaryParams, a, b, out *tensor.Tensor) (Kernel, error) {
	return Binary(cfg, OpAdd, p, a, b, out)
}

// Sub returns a kernel computing act(a - b) with broadcasting.
func Sub(cfg *Config, p BinaryParams, a, b, out *tensor.Tensor) (Kernel, error) {
	return Binary(cfg, OpSub, p, a, b, out)
}

// Mul returns a kernel computing act(a * b) with broadcasting.
func Mul(cfg *Config, p BinaryParams, a, b, out *tensor.Tensor) (Kernel, error) {
	return Binary(cfg, OpMul, p, a, b, out)
}

// Binary checks the operands of an element-wise binary operator, sets the
// output shape to the broadcast of the input shapes and returns its kernel.
// Integer results follow TFLite's reference kernels (TFLite Micro's for
// int8 and int16 where they differ).
func Binary(cfg *Config, op BinaryOp, p BinaryParams, a, b, out *tensor.Tensor) (Kernel, error) {
	if a == nil || b == nil || out == nil {
		return nil, fmt.Errorf("%s: missing operand", op)
	}
	if a.Type != b.Type {
		return nil, fmt.Errorf("%s: inputs %q and %q have types %s and %s; want the same", op, a.Name, b.Name, a.Type, b.Type)
	}
	if out.Type != a.Type {
		return nil, fmt.Errorf("%s: output %q has type %s; want %s", op, out.Name, out.Type, a.Type)
	}
	if a.Rank() > MaxBroadcastRank || b.Rank() > MaxBroadcastRank {
		return nil, unsupportedf("%s on operands of rank %d and %d (at most %d)", op, a.Rank(), b.Rank(), MaxBroadcastRank)
	}
	shape, err := BroadcastShape(a.Shape, b.Shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out.Shape = append(out.Shape[:0], shape...)
	plan := newBcastPlan(a.Shape, b.Shape, out.Shape)
	switch op {
	case OpMaximum, OpMinimum, OpFloorDiv, OpSquaredDifference:
		if p.Activation != ActNone {
			return nil, fmt.Errorf("%s has no fused activation; got %s", op, p.Activation)
		}
	}

	switch a.Type {
	case tensor.Float32:
		return binaryFloat(op, p, plan, a, b, out)
	case tensor.Int32:
		return binaryInt[int32](op, p, plan, a, b, out)
	case tensor.Int64:
		return binaryInt[int64](op, p, plan, a, b, out)
	case tensor.Int8, tensor.UInt8, tensor.Int16:
		if op == OpMaximum || op == OpMinimum {
			// TFLite compares the raw values: both inputs and the output
			// share their quantization.
			switch a.Type {
			case tensor.Int8:
				return binaryInt[int8](op, p, plan, a, b, out)
			case tensor.UInt8:
				return binaryMinMaxU8(op, plan, a, b, out), nil
			}
			return binaryInt[int16](op, p, plan, a, b, out)
		}
		if op == OpFloorDiv && a.Type != tensor.UInt8 && a.Quant == nil {
			// FLOOR_DIV works on plain integers.
			if a.Type == tensor.Int8 {
				return binaryInt[int8](op, p, plan, a, b, out)
			}
			return binaryInt[int16](op, p, plan, a, b, out)
		}
		return binaryQuant(cfg, op, p, plan, a, b, out)
	}
	return nil, unsupportedf("%s on %s operands", op, a.Type)
}

// binView views a tensor's data as T without allocating.
func binView[T any](t *tensor.Tensor) []T {
	var z T
	n := len(t.Data) / int(unsafe.Sizeof(z))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(t.Data))), n)
}

func binaryFloat(op BinaryOp, p BinaryParams, plan *bcastPlan, a, b, out *tensor.Tensor) (Kernel, error) {
	lo, hi, err := FloatActivationRange(p.Activation)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if op == OpAdd && plan.kind == bcastSame {
		add := addClampF32sKernel()
		return Func(func() error {
			add(a.Float32s()[:plan.n], b.Float32s()[:plan.n], out.Float32s()[:plan.n], lo, hi)
			return nil
		}), nil
	}
	var f func(x, y float32) float32
	switch op {
	case OpAdd:
		f = func(x, y float32) float32 { return ClampF(x+y, lo, hi) }
	case OpSub:
		f = func(x, y float32) float32 { return ClampF(x-y, lo, hi) }
	case OpMul:
		f = func(x, y float32) float32 { return ClampF(x*y, lo, hi) }
	case OpDiv:
		f = func(x, y float32) float32 { return ClampF(x/y, lo, hi) }
	case OpFloorDiv:
		// TFLite divides in double precision before flooring.
		f = func(x, y float32) float32 { return float32(math.Floor(float64(x) / float64(y))) }
	case OpSquaredDifference:
		f = func(x, y float32) float32 { d := x - y; return d * d }
	case OpMaximum:
		// TFLite's MaximumOp: el1 > el2 ? el1 : el2 (NaN in a yields b).
		f = func(x, y float32) float32 {
			if x > y {
				return x
			}
			return y
		}
	case OpMinimum:
		f = func(x, y float32) float32 {
			if x < y {
				return x
			}
			return y
		}
	default:
		return nil, unsupportedf("%s on float32 operands", op)
	}
	desc := "rows " + VariantPortable
	row := f32Row(op)
	switch code := f32RowCode(op); {
	case row == nil:
		row = func(k rowKind, a, b, y []float32) { applyRow(k, a, b, y, f) }
	case f32RowHaveSIMD():
		desc = "rows " + floatVariant()
		fallthrough
	default:
		row = f32RowClamped(code, row, p.Activation != ActNone, lo, hi)
	}
	tileA, tileB := make([]float32, plan.rowTileLen()), make([]float32, plan.rowTileLen())
	return Describe(desc, Func(func() error {
		bcastRows(plan, a.Float32s(), b.Float32s(), out.Float32s(), tileA, tileB, row)
		return nil
	})), nil
}

type binInt interface {
	~int8 | ~int16 | ~int32 | ~int64
}

// intActivationRange is TFLite's CalculateActivationRange for integer
// outputs of unquantized integer ops.
func intActivationRange[T binInt](a Activation) (lo, hi T, err error) {
	var z T
	nbits := int(unsafe.Sizeof(z)) * 8
	minV := int64(-1) << (nbits - 1)
	maxV := -(minV + 1)
	switch a {
	case ActNone:
		return T(minV), T(maxV), nil
	case ActRelu:
		return 0, T(maxV), nil
	case ActRelu6:
		return 0, 6, nil
	case ActReluN1To1:
		return -1, 1, nil
	}
	return 0, 0, unsupportedf("fused activation %s on integer output", a)
}

func clampInt[T binInt](v, lo, hi T) T {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// binaryInt handles unquantized integer operands (and the raw comparisons
// of MAXIMUM/MINIMUM on quantized ones). Overflow wraps, as it does in
// practice in TFLite's C++.
func binaryInt[T binInt](op BinaryOp, p BinaryParams, plan *bcastPlan, a, b, out *tensor.Tensor) (Kernel, error) {
	lo, hi, err := intActivationRange[T](p.Activation)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var f func(x, y T) T
	checkZero := false
	switch op {
	case OpAdd:
		f = func(x, y T) T { return clampInt(x+y, lo, hi) }
	case OpSub:
		f = func(x, y T) T { return clampInt(x-y, lo, hi) }
	case OpMul:
		f = func(x, y T) T { return clampInt(x*y, lo, hi) }
	case OpDiv:
		checkZero = true
		// Truncating division, as C++'s; MinInt / -1 wraps in Go.
		f = func(x, y T) T { return clampInt(x/y, lo, hi) }
	case OpFloorDiv:
		checkZero = true
		f = func(x, y T) T {
			q := x / y
			if (x%y != 0) && ((x < 0) != (y < 0)) {
				q--
			}
			return q
		}
	case OpSquaredDifference:
		f = func(x, y T) T { d := x - y; return d * d }
	case OpMaximum:
		f = func(x, y T) T {
			if x > y {
				return x
			}
			return y
		}
	case OpMinimum:
		f = func(x, y T) T {
			if x < y {
				return x
			}
			return y
		}
	default:
		return nil, unsupportedf("%s on %s operands", op, a.Type)
	}
	nb := b.NumElements()
	errZero := fmt.Errorf("%s: %w", op, ErrDivisionByZero)
	row := func(k rowKind, a, b, y []T) { applyRow(k, a, b, y, f) }
	tileA, tileB := make([]T, plan.rowTileLen()), make([]T, plan.rowTileLen())
	return Func(func() error {
		bv := binView[T](b)
		if checkZero {
			for _, v := range bv[:nb] {
				if v == 0 {
					return errZero
				}
			}
		}
		bcastRows(plan, binView[T](a), bv, binView[T](out), tileA, tileB, row)
		return nil
	}), nil
}

func binaryMinMaxU8(op BinaryOp, plan *bcastPlan, a, b, out *tensor.Tensor) Kernel {
	f := func(x, y uint8) uint8 { return max(x, y) }
	if op == OpMinimum {
		f = func(x, y uint8) uint8 { return min(x, y) }
	}
	row := func(k rowKind, a, b, y []uint8) { applyRow(k, a, b, y, f) }
	tileA, tileB := make([]uint8, plan.rowTileLen()), make([]uint8, plan.rowTileLen())
	return Func(func() error {
		bcastRows(plan, a.UInt8s(), b.UInt8s(), out.UInt8s(), tileA, tileB, row)
		return nil
	})
}

// quantizeMultiplierSmallerThanOne is TFLite's
// QuantizeMultiplierSmallerThanOneExp: the multiplier must be below 1.
func quantizeMultiplierSmallerThanOne(what string, m float64) (int32, int, error) {
	q, shift := QuantizeMultiplier(m)
	if shift > 0 {
		return 0, 0, unsupportedf("%s multiplier %g is not below 1", what, m)
	}
	return q, shift, nil
}

// binaryQuant handles int8, uint8 and int16 quantized operands.
func binaryQuant(cfg *Config, op BinaryOp, p BinaryParams, plan *bcastPlan, a, b, out *tensor.Tensor) (Kernel, error) {
	for _, t := range []*tensor.Tensor{a, b, out} {
		if err := CheckQuantized(op.String()+" operand", t); err != nil {
			return nil, err
		}
		if t.Quant.PerChannel() {
			return nil, unsupportedf("%s: per-channel quantized operand %q", op, t.Name)
		}
	}
	typ := a.Type
	qmin, qmax, err := TypeRange(typ)
	if err != nil {
		return nil, err
	}
	for _, t := range []*tensor.Tensor{a, b, out} {
		if zp := t.ZeroPoint(); zp < qmin || zp > qmax {
			return nil, fmt.Errorf("%s: operand %q zero point %d is outside the %s range", op, t.Name, zp, typ)
		}
		if typ == tensor.Int16 && t.ZeroPoint() != 0 {
			return nil, unsupportedf("%s: int16 operand %q has zero point %d; want 0", op, t.Name, t.ZeroPoint())
		}
	}
	if cfg.Arithmetic == LiteRT {
		// Operations XNNPACK does not take stay in reference arithmetic.
		if k, err := litertBinary(op, p, plan, a, b, out); k != nil || err != nil {
			return k, err
		}
	}
	lo, hi, err := QuantizedActivationRange(p.Activation, out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var f func(x, y int32) int32
	switch op {
	case OpAdd, OpSub:
		if typ == tensor.Int16 && p.PotScaleInt16 && cfg.Arithmetic == LiteRT {
			f, err := addSubPOT16(op, plan, a, b, out, lo, hi)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			if f != nil {
				return quantKernel(typ, plan, a, b, out, f), nil
			}
		}
		q, err := addSubQuant(cfg, op, p, a, b, out, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if typ == tensor.Int16 {
			f = func(x, y int32) int32 { return q.out(q.in1(x), q.in2(y)) }
			break
		}
		// The input rescaling depends on the raw byte only: tabulated.
		t1, t2 := q.tables(typ)
		f = func(x, y int32) int32 {
			r := MultiplyByQuantizedMultiplierSmallerThanOneExp(t1[uint8(x)]+t2[uint8(y)], q.mo, q.sho) + q.outOff
			return Clamp(r, q.lo, q.hi)
		}
	case OpMul:
		f, err = mulQuant(a, b, out, lo, hi)
	case OpDiv:
		if typ == tensor.Int16 {
			return nil, unsupportedf("DIV on int16 operands")
		}
		return divQuant(a, b, out, plan, lo, hi)
	case OpSquaredDifference:
		if typ != tensor.Int8 {
			return nil, unsupportedf("SQUARED_DIFFERENCE on %s operands", typ)
		}
		f, err = squaredDiffQuant(a, b, out)
	default:
		return nil, unsupportedf("%s on quantized %s operands", op, typ)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return quantKernel(typ, plan, a, b, out, f), nil
}

// quantKernel applies f (whose results are already clamped to the type)
// to the raw values of the operands: through tables for 8-bit types
// (binary8.go), over contiguous runs for int16.
func quantKernel(typ tensor.DType, plan *bcastPlan, a, b, out *tensor.Tensor, f func(x, y int32) int32) Kernel {
	switch typ {
	case tensor.Int8:
		return binary8Kernel[int8](plan, a, b, out, f, nil)
	case tensor.UInt8:
		return binary8Kernel[uint8](plan, a, b, out, f, nil)
	}
	g := func(x, y int16) int16 { return int16(f(int32(x), int32(y))) }
	tileA, tileB := make([]int16, plan.rowTileLen()), make([]int16, plan.rowTileLen())
	row := func(k rowKind, a, b, y []int16) { applyRow(k, a, b, y, g) }
	return Func(func() error {
		bcastRows(plan, a.Int16s(), b.Int16s(), out.Int16s(), tileA, tileB, row)
		return nil
	})
}

// checkedLog2 is TFLite's CheckedLog2: the rounded base-2 logarithm of
// s, computed in float32, and whether s is a power of two within 1e-3 in
// log2 space.
func checkedLog2(s float32) (int, bool) {
	l := float32(math.Log(float64(s))) * float32(1/math.Log(2))
	r := float32(math.Round(float64(l)))
	if math.IsNaN(float64(r)) || math.Abs(float64(r)) > 1<<20 {
		return 0, false
	}
	return int(r), math.Abs(float64(l-r)) < 1e-3
}

// addSubPOT16 is TFLite's int16 ADD and SUB when all three scales are
// powers of two and pot_scale_int16 is set (its default): the fixed-point
// path of its LSTM kernels. The input whose scale is finer than the
// output's is divided by the power of two between them (gemmlowp's
// RoundingDivideByPOT on int16), the other must have the output's scale;
// the sum or difference saturates to int16, then the activation clamps.
// It returns nil when a scale is not a power of two (the general path
// applies). TFLite Micro has no such path (its kernels take the general
// one): the reference arithmetic does not call this.
func addSubPOT16(op BinaryOp, plan *bcastPlan, a, b, out *tensor.Tensor, lo, hi int32) (func(x, y int32) int32, error) {
	l1, pot1 := checkedLog2(a.Scale())
	l2, pot2 := checkedLog2(b.Scale())
	lo2, potO := checkedLog2(out.Scale())
	if !pot1 || !pot2 || !potO {
		return nil, nil
	}
	e1, e2 := lo2-l1, lo2-l2
	if (e1 != 0 && e2 != 0) || e1 < 0 || e2 < 0 {
		return nil, fmt.Errorf("int16 operands with power-of-two scales (%g, %g; output %g): one input must have the output's scale and the other the same or a finer one", a.Scale(), b.Scale(), out.Scale())
	}
	if e1 > 31 || e2 > 31 {
		return nil, fmt.Errorf("int16 operands with power-of-two scales (%g, %g; output %g): an input's scale is more than 2^31 times finer than the output's", a.Scale(), b.Scale(), out.Scale())
	}
	if op == OpAdd && plan.kind != bcastSame {
		// TFLite's kernel walks both inputs as flat arrays of the
		// output's size: it reads past the smaller one.
		return nil, unsupportedf("int16 ADD with power-of-two scales on operands of different shapes %v and %v (TFLite's kernel for it does not broadcast)", a.Shape, b.Shape)
	}
	sign := int32(1)
	if op == OpSub {
		sign = -1
	}
	return func(x, y int32) int32 {
		v := roundingDivideByPOT16(x, e1) + sign*roundingDivideByPOT16(y, e2)
		return Clamp(Clamp(v, math.MinInt16, math.MaxInt16), lo, hi)
	}, nil
}

// roundingDivideByPOT16 is gemmlowp's RoundingDivideByPOT on int16
// values, exponent 0..31, with its int16 mask: from 16 on the mask is all
// ones, and a non-negative x gives 1, a negative one -1.
func roundingDivideByPOT16(x int32, e int) int32 {
	mask := int32(int16(int64(1)<<e - 1))
	rem := int32(int16(x & mask))
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	r := x >> e
	if rem > threshold {
		r++
	}
	return int32(int16(r))
}

// addSubQuant prepares quantized ADD or SUB: both inputs are rescaled to a
// common scale (2*max input scale) with left_shift bits of headroom (20
// for 8-bit, 15 for int16), added and requantized to the output.
//
// ADD derives the multipliers in double precision (TFLite and TFLite
// Micro agree). TFLite Micro's SUB, the reference for int8 and int16,
// derives them in float32; TFLite's SUB (uint8, and int16 in LiteRT
// arithmetic, which XNNPACK leaves to TFLite's kernel) uses double.
func addSubQuant(cfg *Config, op BinaryOp, p BinaryParams, a, b, out *tensor.Tensor, lo, hi int32) (*addSubQ, error) {
	leftShift := 20
	if a.Type == tensor.Int16 {
		leftShift = 15
	}
	s1, s2, so := a.Scale(), b.Scale(), out.Scale()
	var r1, r2, ro float64
	if op == OpSub && a.Type != tensor.UInt8 && (cfg.Arithmetic != LiteRT || a.Type != tensor.Int16) {
		twice := 2 * max(s1, s2)
		r1 = float64(s1 / twice)
		r2 = float64(s2 / twice)
		ro = float64(twice / (float32(int32(1)<<leftShift) * so))
	} else {
		twice := 2 * float64(max(s1, s2))
		r1 = float64(s1) / twice
		r2 = float64(s2) / twice
		ro = twice / float64(float32(int32(1)<<leftShift)*so)
	}
	m1, sh1, err := quantizeMultiplierSmallerThanOne("input 1", r1)
	if err != nil {
		return nil, err
	}
	m2, sh2, err := quantizeMultiplierSmallerThanOne("input 2", r2)
	if err != nil {
		return nil, err
	}
	mo, sho, err := quantizeMultiplierSmallerThanOne("output", ro)
	if err != nil {
		return nil, err
	}
	q := &addSubQ{
		sub: op == OpSub, off1: -a.ZeroPoint(), off2: -b.ZeroPoint(), scale: int32(1) << leftShift,
		m1: m1, m2: m2, mo: mo, sh1: sh1, sh2: sh2, sho: sho, outOff: out.ZeroPoint(), lo: lo, hi: hi,
	}
	return q, nil
}

// addSubQ holds the prepared arithmetic of quantized ADD and SUB.
type addSubQ struct {
	sub               bool
	off1, off2, scale int32
	m1, m2, mo        int32
	sh1, sh2, sho     int
	outOff, lo, hi    int32
}

// in1 and in2 rescale a raw input to the common scale.
func (q *addSubQ) in1(x int32) int32 {
	return MultiplyByQuantizedMultiplierSmallerThanOneExp((x+q.off1)*q.scale, q.m1, q.sh1)
}

func (q *addSubQ) in2(y int32) int32 {
	return MultiplyByQuantizedMultiplierSmallerThanOneExp((y+q.off2)*q.scale, q.m2, q.sh2)
}

// out combines two rescaled inputs into the clamped output value.
func (q *addSubQ) out(v1, v2 int32) int32 {
	if q.sub {
		v2 = -v2
	}
	r := MultiplyByQuantizedMultiplierSmallerThanOneExp(v1+v2, q.mo, q.sho) + q.outOff
	return Clamp(r, q.lo, q.hi)
}

// tables holds in1 and in2 (negated for SUB) for every raw byte of typ.
func (q *addSubQ) tables(typ tensor.DType) (t1, t2 *[256]int32) {
	lo, hi, _ := TypeRange(typ)
	t1, t2 = new([256]int32), new([256]int32)
	for v := lo; v <= hi; v++ {
		t1[uint8(v)] = q.in1(v)
		t2[uint8(v)] = q.in2(v)
		if q.sub {
			// v1 - v2 == v1 + (-v2): the scaled values are far from
			// the int32 limits.
			t2[uint8(v)] = -t2[uint8(v)]
		}
	}
	return t1, t2
}

// mulQuant prepares quantized MUL: the product of the offset inputs is
// requantized by in1_scale*in2_scale/out_scale (double precision).
func mulQuant(a, b, out *tensor.Tensor, lo, hi int32) (func(x, y int32) int32, error) {
	real := float64(a.Scale()) * float64(b.Scale()) / float64(out.Scale())
	m, sh := QuantizeMultiplier(real)
	off1, off2, outOff := -a.ZeroPoint(), -b.ZeroPoint(), out.ZeroPoint()
	return func(x, y int32) int32 {
		r := MultiplyByQuantizedMultiplier((x+off1)*(y+off2), m, sh) + outOff
		return Clamp(r, lo, hi)
	}, nil
}

// squaredDiffQuant prepares int8 SQUARED_DIFFERENCE (TFLite's
// squared_difference.cc): inputs rescaled with 7 bits of headroom, the
// difference squared and requantized; no fused activation.
func squaredDiffQuant(a, b, out *tensor.Tensor) (func(x, y int32) int32, error) {
	const leftShift = 7
	twice := 2 * float64(max(a.Scale(), b.Scale()))
	r1 := float64(a.Scale()) / twice
	r2 := float64(b.Scale()) / twice
	ro := twice * twice / float64(float32(1<<(2*leftShift))*out.Scale())
	m1, sh1, err := quantizeMultiplierSmallerThanOne("input 1", r1)
	if err != nil {
		return nil, err
	}
	m2, sh2, err := quantizeMultiplierSmallerThanOne("input 2", r2)
	if err != nil {
		return nil, err
	}
	mo, sho := QuantizeMultiplier(ro)
	off1, off2, outOff := -a.ZeroPoint(), -b.ZeroPoint(), out.ZeroPoint()
	return func(x, y int32) int32 {
		v1 := MultiplyByQuantizedMultiplierSmallerThanOneExp((x+off1)<<leftShift, m1, sh1)
		v2 := MultiplyByQuantizedMultiplierSmallerThanOneExp((y+off2)<<leftShift, m2, sh2)
		d := v1 - v2
		r := MultiplyByQuantizedMultiplier(d*d, mo, sho) + outOff
		return Clamp(r, math.MinInt8, math.MaxInt8)
	}, nil
}

// countLeadingSignBits is TFLite's CountLeadingSignBits for int32.
func countLeadingSignBits(x int32) int {
	switch {
	case x >= 0:
		return bits.LeadingZeros32(uint32(x)) - 1
	case x != math.MinInt32:
		return bits.LeadingZeros32(2*uint32(-x) - 1)
	}
	return 0
}

// roundingDivideByPOTWide is gemmlowp's RoundingDivideByPOT for an
// exponent of 32 to 63, as x86-64 and WebAssembly execute it: the mask
// (1<<exp)−1 is computed in 64 bits and truncated to int32 (all ones),
// and the int32 shift takes the count mod 32. Quotients too small for
// the output's scale then come out as large values instead of 0: the
// official runtime's answer, which edged reproduces.
func roundingDivideByPOTWide(x int32, exp int) int32 {
	mask := int32(int64(1)<<(exp&63) - 1)
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	r := x >> (exp & 31)
	if x&mask > threshold {
		r++
	}
	return r
}

// divQuant prepares 8-bit quantized DIV (TFLite's DivElementwise): the
// divisor's fixed-point reciprocal times the dividend, requantized by
// in1_scale/(in2_scale*out_scale), a multiplier TFLite computes in float32.
func divQuant(a, b, out *tensor.Tensor, plan *bcastPlan, lo, hi int32) (Kernel, error) {
	real := float64(a.Scale() / (b.Scale() * out.Scale()))
	m, sh := QuantizeMultiplier(real)
	off1, off2, outOff := -a.ZeroPoint(), -b.ZeroPoint(), out.ZeroPoint()
	f := func(x, y int32) int32 {
		v1, v2 := x+off1, y+off2
		if v2 == 0 {
			return 0 // never used: Eval fails first (check below)
		}
		if v2 < 0 {
			v1, v2 = -v1, -v2
		}
		inv, recipShift := GetReciprocal(v2, 31)
		headroom := countLeadingSignBits(v1)
		q := MultiplyByQuantizedMultiplierGreaterThanOne(v1, inv, headroom)
		total := sh - recipShift - headroom
		var r int32
		switch {
		case total > 0:
			// Unreachable for sane scales; TFLite shifts right by a
			// negative amount there (undefined).
			r = MultiplyByQuantizedMultiplier(q, m, total)
		case total < -31:
			// TFLite shifts an int32 by 32 or more here, which C leaves
			// undefined: the official runtime's x86-64 and Wasm builds
			// (and TFLite Micro's) compute roundingDivideByPOTWide.
			r = roundingDivideByPOTWide(SaturatingRoundingDoublingHighMul(q, m), -total)
		default:
			r = MultiplyByQuantizedMultiplierSmallerThanOneExp(q, m, total)
		}
		return Clamp(r+outOff, lo, hi)
	}
	nb := b.NumElements()
	errZero := fmt.Errorf("DIV: %w (a divisor element equals its zero point)", ErrDivisionByZero)
	zero := byte(b.ZeroPoint())
	check := func() error {
		for _, v := range b.Data[:nb] {
			if v == zero {
				return errZero
			}
		}
		return nil
	}
	if a.Type == tensor.Int8 {
		return binary8Kernel[int8](plan, a, b, out, f, check), nil
	}
	return binary8Kernel[uint8](plan, a, b, out, f, check), nil
}
