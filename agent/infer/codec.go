package infer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The datatype names of the Open Inference Protocol.
var datatypeNames = map[tensor.DType]string{
	tensor.Float32: "FP32", tensor.Float16: "FP16", tensor.Float64: "FP64",
	tensor.Int8: "INT8", tensor.UInt8: "UINT8", tensor.Int16: "INT16", tensor.UInt16: "UINT16",
	tensor.Int32: "INT32", tensor.UInt32: "UINT32", tensor.Int64: "INT64", tensor.UInt64: "UINT64", tensor.Bool: "BOOL",
}

// DatatypeName is d's name in the Open Inference Protocol ("FP32",
// "INT8", ...); a type the protocol does not name gets its own name in
// upper case.
func DatatypeName(d tensor.DType) string {
	if n, ok := datatypeNames[d]; ok {
		return n
	}
	return strings.ToUpper(d.String())
}

// ParseDatatype is the type named name in the Open Inference Protocol.
func ParseDatatype(name string) (tensor.DType, bool) {
	for d, n := range datatypeNames {
		if n == name {
			return d, true
		}
	}
	return 0, false
}

// WholeRange is the range of whole numbers d holds (for 64-bit types, the
// range a float64 holds exactly: ±2^53); ok is false for floating-point
// and unknown types.
func WholeRange(d tensor.DType) (lo, hi float64, ok bool) {
	switch d {
	case tensor.Int8:
		return math.MinInt8, math.MaxInt8, true
	case tensor.UInt8:
		return 0, math.MaxUint8, true
	case tensor.Int16:
		return math.MinInt16, math.MaxInt16, true
	case tensor.UInt16:
		return 0, math.MaxUint16, true
	case tensor.Int32:
		return math.MinInt32, math.MaxInt32, true
	case tensor.UInt32:
		return 0, math.MaxUint32, true
	case tensor.Int64:
		return -(1 << 53), 1 << 53, true
	case tensor.UInt64:
		return 0, 1 << 53, true
	case tensor.Bool:
		return 0, 1, true
	}
	return 0, 0, false
}

// ErrNotFinite reports a NaN or an infinity where a number is wanted.
var ErrNotFinite = errors.New("not a finite number")

// Encode writes numbers as d's little-endian bytes: FP32 and FP64 take
// finite values (within float32's range for FP32), the other types whole
// numbers within WholeRange.
func Encode(vals []float64, d tensor.DType) ([]byte, error) {
	lo, hi, whole := WholeRange(d)
	if !whole && d != tensor.Float32 && d != tensor.Float64 {
		return nil, fmt.Errorf("cannot encode numbers as %s", d)
	}
	b := make([]byte, len(vals)*d.Size())
	le := binary.LittleEndian
	for i, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("value %d is %g: %w", i, v, ErrNotFinite)
		}
		switch {
		case d == tensor.Float32:
			// A finite float64 beyond float32's range would reach the model
			// as an infinity.
			f := float32(v)
			if math.IsInf(float64(f), 0) {
				return nil, fmt.Errorf("value %d is %g: %w as float32", i, v, ErrNotFinite)
			}
			le.PutUint32(b[4*i:], math.Float32bits(f))
			continue
		case d == tensor.Float64:
			le.PutUint64(b[8*i:], math.Float64bits(v))
			continue
		case v != math.Trunc(v) || v < lo || v > hi:
			return nil, fmt.Errorf("value %d is %g; %s takes whole numbers in [%g, %g]", i, v, d, lo, hi)
		}
		switch d.Size() {
		case 1:
			b[i] = byte(int64(v))
		case 2:
			le.PutUint16(b[2*i:], uint16(int64(v)))
		case 4:
			le.PutUint32(b[4*i:], uint32(int64(v)))
		case 8:
			le.PutUint64(b[8*i:], uint64(int64(v)))
		}
	}
	return b, nil
}

// Values reads raw little-endian data of type d as numbers.
func Values(d tensor.DType, data []byte) ([]float64, error) {
	size := d.Size()
	if size == 0 || len(data)%size != 0 {
		return nil, fmt.Errorf("%d bytes of %s", len(data), d)
	}
	out := make([]float64, len(data)/size)
	le := binary.LittleEndian
	for i := range out {
		var v float64
		switch d {
		case tensor.Float32:
			v = float64(math.Float32frombits(le.Uint32(data[4*i:])))
		case tensor.Float64:
			v = math.Float64frombits(le.Uint64(data[8*i:]))
		case tensor.Int8:
			v = float64(int8(data[i]))
		case tensor.UInt8, tensor.Bool:
			v = float64(data[i])
		case tensor.Int16:
			v = float64(int16(le.Uint16(data[2*i:])))
		case tensor.UInt16:
			v = float64(le.Uint16(data[2*i:]))
		case tensor.Int32:
			v = float64(int32(le.Uint32(data[4*i:])))
		case tensor.UInt32:
			v = float64(le.Uint32(data[4*i:]))
		case tensor.Int64:
			v = float64(int64(le.Uint64(data[8*i:])))
		case tensor.UInt64:
			v = float64(le.Uint64(data[8*i:]))
		default:
			return nil, fmt.Errorf("cannot read %s as numbers", d)
		}
		out[i] = v
	}
	return out, nil
}

// Quantizes reports whether s maps real values to its integer type with a
// scale and zero point.
func (s TensorSpec) Quantizes() bool {
	return s.Quantized && s.Scale > 0 && s.DType.Quantized()
}

// Quantize maps a real value to s's integer type as TFLite's Quantize
// does: q = round(v / scale) + zero_point, the division in float32,
// saturated to the type's range. s must quantize (see Quantizes).
func (s TensorSpec) Quantize(v float64) float64 {
	lo, hi, _ := WholeRange(s.DType)
	return math.Max(lo, math.Min(hi, math.Round(float64(float32(v)/s.Scale))+float64(s.ZeroPoint)))
}

// Dequantize maps a quantized value to the real value it stands for:
// scale * (q - zero_point), in float32 as TFLite's Dequantize.
func (s TensorSpec) Dequantize(q float64) float64 {
	return float64(s.Scale * float32(q-float64(s.ZeroPoint)))
}

// EncodeReal stores real values as an input of spec s expects them:
// quantized with its parameters when s quantizes, as they are for FP32 and
// FP64, and as whole numbers in range for other integer types.
func EncodeReal(vals []float64, s TensorSpec) ([]byte, error) {
	if s.DType == tensor.Bool {
		return nil, fmt.Errorf("cannot encode numbers as %s", s.DType)
	}
	if !s.Quantizes() {
		return Encode(vals, s.DType)
	}
	q := make([]float64, len(vals))
	for i, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("value %d is %g: %w", i, v, ErrNotFinite)
		}
		q[i] = s.Quantize(v)
	}
	return Encode(q, s.DType)
}

// RealValues reads t's elements as the real values they stand for:
// dequantized when spec s quantizes t's type, as they are otherwise.
func RealValues(t Tensor, s TensorSpec) ([]float64, error) {
	vals, err := Values(t.DType, t.Data)
	if err != nil {
		return nil, err
	}
	if s.Quantized && t.DType.Quantized() {
		for i, q := range vals {
			vals[i] = s.Dequantize(q)
		}
	}
	return vals, nil
}

// SpecOf describes a model's tensor under the given name; it is quantized
// when the tensor has one scale (per-channel tensors are not inputs or
// outputs).
func SpecOf(t *tensor.Tensor, name string) TensorSpec {
	s := TensorSpec{Name: name, DType: t.Type, Shape: slices.Clone(t.Shape)}
	if t.Quant != nil && len(t.Quant.Scale) == 1 {
		s.Quantized, s.Scale, s.ZeroPoint = true, t.Quant.Scale[0], t.ZeroPoint()
	}
	return s
}
