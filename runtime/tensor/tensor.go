// Package tensor defines the tensors the runtime computes on: an element
// type, a shape, optional quantization parameters and a byte buffer.
//
// Buffers are little-endian and viewed in place (Float32s, Int8s, ...), so
// the runtime supports little-endian hosts only (amd64, arm64, arm, 386,
// riscv64, loong64...). Views require the buffer to be aligned to the
// element size; the interpreter guarantees that for every tensor it owns.
package tensor

import (
	"fmt"
	"strings"
	"unsafe"
)

// DType is an element type. The values are edged's own, not the schema's.
type DType uint8

// Element types.
const (
	Invalid DType = iota
	Float32
	Float16
	Float64
	Int8
	UInt8
	Int16
	UInt16
	Int32
	UInt32
	Int64
	UInt64
	Bool
	String
	Complex64
	Int4
	// Resource and Variant are handles of TensorFlow resources and
	// variants (hash tables, variables, tensor lists): they have no
	// element data.
	Resource
	Variant
)

var dtypeNames = [...]string{
	Invalid: "invalid", Float32: "float32", Float16: "float16", Float64: "float64",
	Int8: "int8", UInt8: "uint8", Int16: "int16", UInt16: "uint16", Int32: "int32",
	UInt32: "uint32", Int64: "int64", UInt64: "uint64", Bool: "bool", String: "string",
	Complex64: "complex64", Int4: "int4", Resource: "resource", Variant: "variant",
}

// String returns the lower-case name used by the oracle ("float32", "int8"...).
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", int(d))
}

// ParseDType is the inverse of String.
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if n == s && i != int(Invalid) {
			return DType(i), nil
		}
	}
	return Invalid, fmt.Errorf("unknown dtype %q", s)
}

// Size is the size of one element in bytes; 0 for types without a fixed
// size (String, Int4, Resource, Variant).
func (d DType) Size() int {
	switch d {
	case Int8, UInt8, Bool:
		return 1
	case Float16, Int16, UInt16:
		return 2
	case Float32, Int32, UInt32:
		return 4
	case Float64, Int64, UInt64, Complex64:
		return 8
	}
	return 0
}

// Quantized reports whether the type is an integer type that carries
// quantization parameters in practice.
func (d DType) Quantized() bool { return d == Int8 || d == UInt8 || d == Int16 }

// Quant holds affine quantization parameters: real = Scale * (q - ZeroPoint).
// Per-tensor quantization has one scale; per-channel has one per index of
// dimension Axis.
type Quant struct {
	Scale     []float32
	ZeroPoint []int32
	Axis      int
}

// PerChannel reports whether there is more than one scale.
func (q *Quant) PerChannel() bool { return q != nil && len(q.Scale) > 1 }

// Tensor is a typed n-dimensional array. Data may be nil until the
// interpreter has planned its memory.
type Tensor struct {
	Name  string
	Type  DType
	Shape []int
	Quant *Quant // nil when the tensor is not quantized
	Data  []byte
	// Const marks a tensor whose data comes from the model file; it must
	// not be written.
	Const bool
}

// NumElements is the product of the shape (1 for a scalar).
func (t *Tensor) NumElements() int { return NumElements(t.Shape) }

// NumBytes is the size of the data for the current shape.
func (t *Tensor) NumBytes() int { return t.NumElements() * t.Type.Size() }

// Rank is len(Shape).
func (t *Tensor) Rank() int { return len(t.Shape) }

// Dim returns Shape[i]; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Scale returns the first (per-tensor) scale, or 0 when unquantized.
func (t *Tensor) Scale() float32 {
	if t.Quant == nil || len(t.Quant.Scale) == 0 {
		return 0
	}
	return t.Quant.Scale[0]
}

// ZeroPoint returns the first (per-tensor) zero point, or 0.
func (t *Tensor) ZeroPoint() int32 {
	if t.Quant == nil || len(t.Quant.ZeroPoint) == 0 {
		return 0
	}
	return t.Quant.ZeroPoint[0]
}

// String describes the tensor: name, type, shape and quantization.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q %s%v", t.Name, t.Type, t.Shape)
	if t.Quant != nil && len(t.Quant.Scale) > 0 {
		if len(t.Quant.Scale) == 1 {
			fmt.Fprintf(&b, " q(s=%g,zp=%d)", t.Quant.Scale[0], t.ZeroPoint())
		} else {
			fmt.Fprintf(&b, " q(per-channel %d scales, axis %d)", len(t.Quant.Scale), t.Quant.Axis)
		}
	}
	return b.String()
}

// NumElements is the product of a shape's dimensions.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func view[T any](b []byte) []T {
	var z T
	n := len(b) / int(unsafe.Sizeof(z))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// Float32s views the data as float32 values.
func (t *Tensor) Float32s() []float32 { return view[float32](t.Data) }

// Int8s views the data as int8 values.
func (t *Tensor) Int8s() []int8 { return view[int8](t.Data) }

// UInt8s returns the data as uint8 values.
func (t *Tensor) UInt8s() []uint8 { return t.Data }

// Int16s views the data as int16 values.
func (t *Tensor) Int16s() []int16 { return view[int16](t.Data) }

// UInt16s views the data as uint16 values (also used for float16 bits).
func (t *Tensor) UInt16s() []uint16 { return view[uint16](t.Data) }

// Int32s views the data as int32 values.
func (t *Tensor) Int32s() []int32 { return view[int32](t.Data) }

// Int64s views the data as int64 values.
func (t *Tensor) Int64s() []int64 { return view[int64](t.Data) }

// Float64s views the data as float64 values.
func (t *Tensor) Float64s() []float64 { return view[float64](t.Data) }

// Complex64s views the data as complex64 values (real and imaginary
// float32 parts, interleaved).
func (t *Tensor) Complex64s() []complex64 { return view[complex64](t.Data) }

// Bools views the data as bool values (one byte each, 0 or 1).
func (t *Tensor) Bools() []bool { return view[bool](t.Data) }

// Ints returns the values of an int32 or int64 tensor as ints. It
// allocates; use it at prepare time only (shape and axis operands).
func (t *Tensor) Ints() ([]int, error) {
	switch t.Type {
	case Int32:
		v := t.Int32s()
		out := make([]int, len(v))
		for i, x := range v {
			out[i] = int(x)
		}
		return out, nil
	case Int64:
		v := t.Int64s()
		out := make([]int, len(v))
		for i, x := range v {
			out[i] = int(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %q: want int32 or int64 values, have %s", t.Name, t.Type)
}
