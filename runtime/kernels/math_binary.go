package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// checkBinaryOperands checks two same-typed inputs of at most
// MaxBroadcastRank dimensions, sets out.Shape to their broadcast shape and
// returns the broadcast walk.
func checkBinaryOperands(op string, a, b, out *tensor.Tensor) (*bcastPlan, error) {
	if a == nil || b == nil || out == nil {
		return nil, fmt.Errorf("%s: missing operand", op)
	}
	if a.Type != b.Type {
		return nil, fmt.Errorf("%s: inputs %q and %q have types %s and %s; want the same", op, a.Name, b.Name, a.Type, b.Type)
	}
	if a.Rank() > MaxBroadcastRank || b.Rank() > MaxBroadcastRank {
		return nil, unsupportedf("%s on operands of rank %d and %d (at most %d)", op, a.Rank(), b.Rank(), MaxBroadcastRank)
	}
	shape, err := BroadcastShape(a.Shape, b.Shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out.Shape = append(out.Shape[:0], shape...)
	return newBcastPlan(a.Shape, b.Shape, out.Shape), nil
}

// FloorMod computes the remainder of floored division with broadcasting
// (TFLite's FLOOR_MOD): the result has the divisor's sign. int8, int16,
// int32 and int64 (raw values; a zero divisor makes Eval fail) and float32
// (C's fmodf, then shifted by the divisor when the signs differ).
func FloorMod(a, b, out *tensor.Tensor) (Kernel, error) {
	const op = "FLOOR_MOD"
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
			bcastApply(plan, a.Float32s(), b.Float32s(), out.Float32s(), floorModF32)
			return nil
		}), nil
	case tensor.Int8:
		return floorModInt[int8](plan, a, b, out), nil
	case tensor.Int16:
		return floorModInt[int16](plan, a, b, out), nil
	case tensor.Int32:
		return floorModInt[int32](plan, a, b, out), nil
	case tensor.Int64:
		return floorModInt[int64](plan, a, b, out), nil
	}
	return nil, unsupportedf("%s on %s operands", op, a.Type)
}

func floorModF32(x, y float32) float32 {
	// fmod is exact, so float64 gives fmodf's result.
	r := float32(math.Mod(float64(x), float64(y)))
	if r != 0 && (y < 0) != (r < 0) {
		return r + y
	}
	return r
}

func floorModInt[T binInt](plan *bcastPlan, a, b, out *tensor.Tensor) Kernel {
	nb := b.NumElements()
	errZero := fmt.Errorf("FLOOR_MOD: %w", ErrDivisionByZero)
	return Func(func() error {
		bv := binView[T](b)
		for _, v := range bv[:nb] {
			if v == 0 {
				return errZero
			}
		}
		bcastApply(plan, binView[T](a), bv, binView[T](out), func(x, y T) T {
			// Go's % truncates like C++'s; MinInt % -1 is 0 in Go.
			r := x % y
			if r != 0 && (y < 0) != (r < 0) {
				return r + y
			}
			return r
		})
		return nil
	})
}
