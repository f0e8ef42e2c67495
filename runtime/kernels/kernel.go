// Package kernels implements TFLite operators on tensors.
//
// Each operator family has a constructor that checks its operands, sets the
// output shapes and precomputes what it can (fixed-point multipliers,
// activation ranges, packed weights, scratch space), and returns a Kernel.
// The interpreter binds tensor data after all constructors have run, so a
// kernel reads Tensor.Data only in Eval. Eval must not allocate.
//
// Integer arithmetic follows TFLite's reference kernels exactly (see
// quant.go), or, with Config.Arithmetic = LiteRT, what TFLite computes
// with its XNNPACK delegate (see litert.go).
package kernels

import (
	"errors"
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Kernel is a prepared operator.
type Kernel interface {
	// Eval computes the outputs from the inputs. It must not allocate.
	Eval() error
}

// Func adapts a function to Kernel.
type Func func() error

// Eval calls f.
func (f Func) Eval() error { return f() }

// Arithmetic selects how quantized results are requantized.
type Arithmetic int

const (
	// Reference is TFLite's reference kernels' fixed-point arithmetic
	// (MultiplyByQuantizedMultiplier), bit-exact with TFLite Micro.
	Reference Arithmetic = iota
	// LiteRT reproduces LiteRT's default CPU path: XNNPACK's arithmetic
	// (float requantization) for the operators its delegate takes, the
	// reference one for the rest. Constructors of quantized operators not
	// yet matched to it return ErrUnsupported.
	LiteRT
)

func (a Arithmetic) String() string {
	switch a {
	case Reference:
		return "reference"
	case LiteRT:
		return "litert"
	}
	return fmt.Sprintf("arithmetic(%d)", int(a))
}

// Config is what every constructor is given.
type Config struct {
	Arithmetic Arithmetic
	// Threads is the number of goroutines a kernel may split its work
	// across; values below 1 mean 1.
	Threads int
}

// ErrUnsupported is returned (wrapped) by a constructor when an operand
// type, shape or option combination is not implemented.
var ErrUnsupported = errors.New("unsupported")

// unsupportedf returns an error wrapping ErrUnsupported.
func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// Activation is a fused activation function.
type Activation int

// Fused activations, numbered as in the TFLite schema.
const (
	ActNone Activation = iota
	ActRelu
	ActReluN1To1
	ActRelu6
	ActTanh
	ActSignBit
)

func (a Activation) String() string {
	switch a {
	case ActNone:
		return "NONE"
	case ActRelu:
		return "RELU"
	case ActReluN1To1:
		return "RELU_N1_TO_1"
	case ActRelu6:
		return "RELU6"
	case ActTanh:
		return "TANH"
	case ActSignBit:
		return "SIGN_BIT"
	}
	return fmt.Sprintf("activation(%d)", int(a))
}

// Padding is the padding scheme of convolutions and pools.
type Padding int

// Padding schemes, numbered as in the TFLite schema.
const (
	PaddingSame Padding = iota
	PaddingValid
)

func (p Padding) String() string {
	switch p {
	case PaddingSame:
		return "SAME"
	case PaddingValid:
		return "VALID"
	}
	return fmt.Sprintf("padding(%d)", int(p))
}

// FloatActivationRange returns the clamp bounds of a fused activation for
// float outputs.
func FloatActivationRange(a Activation) (lo, hi float32, err error) {
	switch a {
	case ActNone:
		return float32(math.Inf(-1)), float32(math.Inf(1)), nil
	case ActRelu:
		return 0, float32(math.Inf(1)), nil
	case ActReluN1To1:
		return -1, 1, nil
	case ActRelu6:
		return 0, 6, nil
	}
	return 0, 0, unsupportedf("fused activation %s", a)
}

// QuantizedActivationRange returns the clamp bounds of a fused activation
// for a quantized output (TFLite's CalculateActivationRangeQuantized).
func QuantizedActivationRange(a Activation, out *tensor.Tensor) (lo, hi int32, err error) {
	qmin, qmax, err := TypeRange(out.Type)
	if err != nil {
		return 0, 0, err
	}
	scale := out.Scale()
	zp := out.ZeroPoint()
	quantize := func(f float32) int32 { return zp + int32(math.Round(float64(f/scale))) }
	switch a {
	case ActNone:
		return qmin, qmax, nil
	case ActRelu:
		return max(qmin, quantize(0)), qmax, nil
	case ActRelu6:
		return max(qmin, quantize(0)), min(qmax, quantize(6)), nil
	case ActReluN1To1:
		return max(qmin, quantize(-1)), min(qmax, quantize(1)), nil
	}
	return 0, 0, unsupportedf("fused activation %s on %s output", a, out.Type)
}

// TypeRange is the representable range of an integer type.
func TypeRange(t tensor.DType) (lo, hi int32, err error) {
	switch t {
	case tensor.Int8:
		return math.MinInt8, math.MaxInt8, nil
	case tensor.UInt8:
		return 0, math.MaxUint8, nil
	case tensor.Int16:
		return math.MinInt16, math.MaxInt16, nil
	case tensor.Int32:
		return math.MinInt32, math.MaxInt32, nil
	}
	return 0, 0, unsupportedf("no integer range for %s", t)
}

// CheckType returns an error unless t has one of the given types.
func CheckType(what string, t *tensor.Tensor, types ...tensor.DType) error {
	for _, want := range types {
		if t.Type == want {
			return nil
		}
	}
	return unsupportedf("%s %q has type %s; want one of %v", what, t.Name, t.Type, types)
}

// CheckQuantized returns an error unless t carries a positive per-tensor scale.
func CheckQuantized(what string, t *tensor.Tensor) error {
	if t.Quant == nil || len(t.Quant.Scale) == 0 || len(t.Quant.ZeroPoint) == 0 {
		return fmt.Errorf("%s %q (%s) has no quantization parameters", what, t.Name, t.Type)
	}
	if s := t.Quant.Scale[0]; !(s > 0) || math.IsInf(float64(s), 0) {
		return fmt.Errorf("%s %q has scale %g; want a finite positive scale", what, t.Name, s)
	}
	return nil
}

// Describer is implemented by kernels that name the code path they run
// (for profiles): "gemm vnni", "table", "broadcast row", ...
type Describer interface {
	Describe() string
}

// described is a kernel with a description.
type described struct {
	Kernel
	desc string
}

func (d described) Describe() string { return d.desc }

// Describe returns k with the description desc (see Describer).
func Describe(desc string, k Kernel) Kernel { return described{k, desc} }

// Description returns k's description, or "" if it has none.
func Description(k Kernel) string {
	if d, ok := k.(Describer); ok {
		return d.Describe()
	}
	return ""
}
