package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Relu0To1 clamps to [0, 1] (TFLite's RELU_0_TO_1): float32, and int8 and
// uint8 rescaled to the output's quantization in fixed point (the scale
// ratio divided in float32, as TFLite's kernel does) with the bounds
// 0 and 1 quantized by rounding.
func Relu0To1(in, out *tensor.Tensor) (Kernel, error) {
	const op = "RELU_0_TO_1"
	if err := CheckType(op+" input", in, tensor.Float32, tensor.Int8, tensor.UInt8); err != nil {
		return nil, err
	}
	if out.Type != in.Type {
		return nil, fmt.Errorf("%s: output %q has type %s; want %s", op, out.Name, out.Type, in.Type)
	}
	out.Shape = append(out.Shape[:0], in.Shape...)
	if in.Type == tensor.Float32 {
		return floatMapKernel(in, out, func(x float32) float32 { return min(max(x, 0), 1) }), nil
	}
	if err := checkUnaryQuant(op, in, out); err != nil {
		return nil, err
	}
	tlo, thi, _ := TypeRange(in.Type)
	outZP := out.ZeroPoint()
	lo := max(tlo, outZP+int32(math.Round(float64(float32(0)/out.Scale()))))
	hi := min(thi, outZP+int32(math.Round(float64(float32(1)/out.Scale()))))
	mult, shift := QuantizeMultiplier(float64(in.Scale() / out.Scale()))
	inZP := in.ZeroPoint()
	var lut [256]uint8
	for v := tlo; v <= thi; v++ {
		r := Clamp(outZP+MultiplyByQuantizedMultiplier(v-inZP, mult, shift), lo, hi)
		if in.Type == tensor.Int8 {
			lut[uint8(int8(v))] = uint8(int8(r))
		} else {
			lut[uint8(v)] = uint8(r)
		}
	}
	return actLUTKernel(in, out, &lut), nil
}

// DynamicUpdateSlice writes update into a copy of operand at the start
// indices read at Eval (TFLite's DYNAMIC_UPDATE_SLICE), each clamped to
// [0, operand dim - update dim]. Any fixed-size element type; int32 or
// int64 indices.
func DynamicUpdateSlice(operand, update, start, out *tensor.Tensor) (Kernel, error) {
	const op = "DYNAMIC_UPDATE_SLICE"
	if err := shapeCheckMover(op, operand, out); err != nil {
		return nil, err
	}
	if update.Type != operand.Type {
		return nil, fmt.Errorf("%s: update %q has type %s; operand has %s", op, update.Name, update.Type, operand.Type)
	}
	r := operand.Rank()
	if err := CheckType(op+" start indices", start, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	if start.Rank() != 1 || start.Shape[0] != r || update.Rank() != r {
		return nil, fmt.Errorf("%s: operand %v, update %v and start indices %v do not agree", op, operand.Shape, update.Shape, start.Shape)
	}
	for d := 0; d < r; d++ {
		if update.Shape[d] > operand.Shape[d] {
			return nil, fmt.Errorf("%s: update %v is larger than operand %v", op, update.Shape, operand.Shape)
		}
	}
	out.Shape = append(out.Shape[:0], operand.Shape...)
	strides := shapeStrides(operand.Shape)
	plan := newShapeCopyPlan(operand.Type.Size(), update.Shape, shapeStrides(update.Shape), strides, 0, 0)
	return Func(func() error {
		if err := shapeCheckData(operand, update, start, out); err != nil {
			return err
		}
		copy(out.Data[:out.NumBytes()], operand.Data)
		off := 0
		for d := 0; d < r; d++ {
			var s int64
			if start.Type == tensor.Int32 {
				s = int64(start.Int32s()[d])
			} else {
				s = start.Int64s()[d]
			}
			s = min(max(s, 0), int64(operand.Shape[d]-update.Shape[d]))
			off += int(s) * strides[d]
		}
		plan.dstOff = off
		plan.run(out.Data, update.Data)
		return nil
	}), nil
}

// BroadcastArgs computes the broadcast of two shape vectors (TFLite's
// BROADCAST_ARGS, int32 or int64).
func BroadcastArgs(a, b, out *tensor.Tensor) (Kernel, error) {
	const op = "BROADCAST_ARGS"
	if err := CheckType(op+" input", a, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	if b.Type != a.Type || out.Type != a.Type || a.Rank() != 1 || b.Rank() != 1 {
		return nil, fmt.Errorf("%s: %q %s%v and %q %s%v into %s; want two vectors of one integer type", op, a.Name, a.Type, a.Shape, b.Name, b.Type, b.Shape, out.Type)
	}
	na, nb := a.Shape[0], b.Shape[0]
	n := max(na, nb)
	out.Shape = append(out.Shape[:0], n)
	errShape := fmt.Errorf("%s: the shapes do not broadcast", op)
	get := func(t *tensor.Tensor, i int) int64 {
		if t.Type == tensor.Int32 {
			return int64(t.Int32s()[i])
		}
		return t.Int64s()[i]
	}
	return Func(func() error {
		if err := shapeCheckData(a, b, out); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			da, db := int64(1), int64(1)
			if j := i - (n - na); j >= 0 {
				da = get(a, j)
			}
			if j := i - (n - nb); j >= 0 {
				db = get(b, j)
			}
			v := da
			switch {
			case da == db, db == 1:
			case da == 1:
				v = db
			default:
				return errShape
			}
			if out.Type == tensor.Int32 {
				out.Int32s()[i] = int32(v)
			} else {
				out.Int64s()[i] = v
			}
		}
		return nil
	}), nil
}

// Atan2 computes atan2(a, b) with broadcasting (TFLite's ATAN2, float32).
func Atan2(a, b, out *tensor.Tensor) (Kernel, error) {
	const op = "ATAN2"
	plan, err := checkBinaryOperands(op, a, b, out)
	if err != nil {
		return nil, err
	}
	if a.Type != tensor.Float32 || out.Type != tensor.Float32 {
		return nil, unsupportedf("%s on %s operands", op, a.Type)
	}
	return Func(func() error {
		if err := shapeCheckData(a, b, out); err != nil {
			return err
		}
		bcastApply(plan, a.Float32s(), b.Float32s(), out.Float32s(), func(y, x float32) float32 {
			return float32(math.Atan2(float64(y), float64(x)))
		})
		return nil
	}), nil
}
