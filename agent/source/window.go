package source

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// Window keeps the last N samples of F features of a time series. Once
// full it is due every Stride samples: Stride = N gives back-to-back
// windows, Stride = 1 a window per sample.
type Window struct {
	n, f, stride int
	buf          []float64 // ring of n rows of f values
	head         int       // row the next sample goes to
	filled       int       // rows held, at most n
	since        int       // samples since the last window was due
}

// NewWindow returns an empty window of n samples of f features, due every
// stride samples (stride 0 means n).
func NewWindow(n, f, stride int) (*Window, error) {
	if stride == 0 {
		stride = n
	}
	switch {
	case n < 1:
		return nil, fmt.Errorf("window of %d samples: want at least 1", n)
	case f < 1:
		return nil, fmt.Errorf("window of %d features: want at least 1", f)
	case stride < 1 || stride > n:
		return nil, fmt.Errorf("window stride %d: want 1 to %d (the window length)", stride, n)
	}
	return &Window{n: n, f: f, stride: stride, buf: make([]float64, n*f)}, nil
}

// Add appends one sample of F values; due reports that the window is full
// and Stride samples have arrived since it was last due.
func (w *Window) Add(sample []float64) (due bool, err error) {
	if len(sample) != w.f {
		return false, fmt.Errorf("sample of %d values; the window takes %d features", len(sample), w.f)
	}
	copy(w.buf[w.head*w.f:], sample)
	w.head = (w.head + 1) % w.n
	w.filled = min(w.filled+1, w.n)
	w.since++
	if w.filled < w.n || w.since < w.stride {
		return false, nil
	}
	w.since = 0
	return true, nil
}

// Reset empties the window, as after a gap in the series.
func (w *Window) Reset() { w.head, w.filled, w.since = 0, 0, 0 }

// Values returns the samples held, oldest first, row-major [N][F].
func (w *Window) Values() []float64 {
	out := make([]float64, 0, w.filled*w.f)
	start := (w.head - w.filled + w.n) % w.n
	for i := 0; i < w.filled; i++ {
		r := (start + i) % w.n
		out = append(out, w.buf[r*w.f:(r+1)*w.f]...)
	}
	return out
}

// windowShape is the shape a window of n samples of f features takes for
// an input: the input's own shape when it holds n*f elements, [1, n, f]
// when the input has a dynamic dimension, an error otherwise.
func windowShape(n, f int, spec infer.TensorSpec) ([]int, error) {
	for _, d := range spec.Shape {
		if d <= 0 {
			return []int{1, n, f}, nil
		}
	}
	if tensor.NumElements(spec.Shape) == n*f {
		return spec.Shape, nil
	}
	return nil, fmt.Errorf("input %q %v holds %d values; a window of %d samples of %d features has %d",
		spec.Name, spec.Shape, tensor.NumElements(spec.Shape), n, f, n*f)
}

// errNotFinite reports a NaN or infinite reading.
var errNotFinite = errors.New("not a finite number")

// encodeValues stores real values as an input expects them: float32 as
// they are; quantized int8, uint8 and int16 as q = round(v / scale) +
// zero_point, saturated (computed in float32 like TFLite's Quantize); other
// integer types only when each value is a whole number in range.
func encodeValues(vals []float64, spec infer.TensorSpec) ([]byte, error) {
	size := spec.DType.Size()
	if size == 0 {
		return nil, fmt.Errorf("cannot encode numbers as %s", spec.DType)
	}
	quant := spec.Quantized && spec.Scale > 0 && spec.DType.Quantized()
	var lo, hi float64
	switch spec.DType {
	case tensor.Float32:
	case tensor.Int8:
		lo, hi = math.MinInt8, math.MaxInt8
	case tensor.UInt8:
		lo, hi = 0, math.MaxUint8
	case tensor.Int16:
		lo, hi = math.MinInt16, math.MaxInt16
	case tensor.Int32:
		lo, hi = math.MinInt32, math.MaxInt32
	case tensor.Int64:
		lo, hi = -(1 << 53), 1<<53
	default:
		return nil, fmt.Errorf("cannot encode numbers as %s", spec.DType)
	}
	b := make([]byte, len(vals)*size)
	for i, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("value %d: %w", i, errNotFinite)
		}
		if spec.DType == tensor.Float32 {
			// A finite float64 beyond float32's range would reach the model
			// as an infinity.
			f := float32(v)
			if math.IsInf(float64(f), 0) {
				return nil, fmt.Errorf("value %d is %g: %w as float32", i, v, errNotFinite)
			}
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
			continue
		}
		if quant {
			v = math.Round(float64(float32(v)/spec.Scale)) + float64(spec.ZeroPoint)
			v = math.Max(lo, math.Min(hi, v))
		} else if v != math.Trunc(v) || v < lo || v > hi {
			return nil, fmt.Errorf("value %d is %g; unquantized %s takes whole numbers in [%g, %g]", i, v, spec.DType, lo, hi)
		}
		switch size {
		case 1:
			b[i] = byte(int64(v))
		case 2:
			binary.LittleEndian.PutUint16(b[2*i:], uint16(int64(v)))
		case 4:
			binary.LittleEndian.PutUint32(b[4*i:], uint32(int64(v)))
		case 8:
			binary.LittleEndian.PutUint64(b[8*i:], uint64(int64(v)))
		}
	}
	return b, nil
}

// decodeValues reads a tensor's elements as numbers; with dequantize and a
// quantized spec they become real values scale * (q - zero_point).
func decodeValues(t infer.Tensor, spec infer.TensorSpec, dequantize bool) ([]float64, error) {
	size := t.DType.Size()
	if size == 0 || len(t.Data)%size != 0 {
		return nil, fmt.Errorf("tensor %q: %d bytes of %s", spec.Name, len(t.Data), t.DType)
	}
	out := make([]float64, len(t.Data)/size)
	le := binary.LittleEndian
	for i := range out {
		var v float64
		switch t.DType {
		case tensor.Float32:
			v = float64(math.Float32frombits(le.Uint32(t.Data[4*i:])))
		case tensor.Float64:
			v = math.Float64frombits(le.Uint64(t.Data[8*i:]))
		case tensor.Int8:
			v = float64(int8(t.Data[i]))
		case tensor.UInt8, tensor.Bool:
			v = float64(t.Data[i])
		case tensor.Int16:
			v = float64(int16(le.Uint16(t.Data[2*i:])))
		case tensor.UInt16:
			v = float64(le.Uint16(t.Data[2*i:]))
		case tensor.Int32:
			v = float64(int32(le.Uint32(t.Data[4*i:])))
		case tensor.UInt32:
			v = float64(le.Uint32(t.Data[4*i:]))
		case tensor.Int64:
			v = float64(int64(le.Uint64(t.Data[8*i:])))
		case tensor.UInt64:
			v = float64(le.Uint64(t.Data[8*i:]))
		default:
			return nil, fmt.Errorf("tensor %q: cannot read %s as numbers", spec.Name, t.DType)
		}
		out[i] = v
	}
	if dequantize && spec.Quantized && t.DType.Quantized() {
		for i, q := range out {
			out[i] = float64(spec.Scale * float32(q-float64(spec.ZeroPoint)))
		}
	}
	return out, nil
}

// windowTensor encodes a window's values as the input spec expects.
func windowTensor(vals []float64, n, f int, spec infer.TensorSpec) (infer.Tensor, error) {
	shape, err := windowShape(n, f, spec)
	if err != nil {
		return infer.Tensor{}, err
	}
	b, err := encodeValues(vals, spec)
	if err != nil {
		return infer.Tensor{}, fmt.Errorf("input %q: %w", spec.Name, err)
	}
	return infer.Tensor{Name: spec.Name, DType: spec.DType, Shape: shape, Data: b}, nil
}
