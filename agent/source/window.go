package source

import (
	"fmt"

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

// windowTensor encodes a window's values as the input spec expects.
func windowTensor(vals []float64, n, f int, spec infer.TensorSpec) (infer.Tensor, error) {
	shape, err := windowShape(n, f, spec)
	if err != nil {
		return infer.Tensor{}, err
	}
	b, err := infer.EncodeReal(vals, spec)
	if err != nil {
		return infer.Tensor{}, fmt.Errorf("input %q: %w", spec.Name, err)
	}
	return infer.Tensor{Name: spec.Name, DType: spec.DType, Shape: shape, Data: b}, nil
}
