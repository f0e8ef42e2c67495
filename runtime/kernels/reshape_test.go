package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestReshape(t *testing.T) {
	tests := []struct {
		name      string
		inShape   []int
		shape     []int
		wantShape []int
		wantErr   bool
	}{
		{name: "flatten", inShape: []int{2, 3}, shape: []int{6}, wantShape: []int{6}},
		{name: "infer", inShape: []int{2, 3, 4}, shape: []int{-1, 4}, wantShape: []int{6, 4}},
		{name: "infer middle", inShape: []int{1, 4, 6, 1}, shape: []int{1, -1, 6}, wantShape: []int{1, 4, 6}},
		{name: "scalar", inShape: []int{1, 1}, shape: []int{}, wantShape: []int{}},
		{name: "zero elements", inShape: []int{0, 3}, shape: []int{3, 0}, wantShape: []int{3, 0}},
		{name: "two -1", inShape: []int{2, 3}, shape: []int{-1, -1}, wantErr: true},
		{name: "count mismatch", inShape: []int{2, 3}, shape: []int{4}, wantErr: true},
		{name: "not divisible", inShape: []int{2, 3}, shape: []int{-1, 4}, wantErr: true},
		{name: "negative", inShape: []int{2, 3}, shape: []int{-2, -3}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vals := shapeIota(tensor.NumElements(tc.inShape))
			in := shapeTensor("in", tensor.Int8, tc.inShape, vals)
			out := shapeTensor("out", tensor.Int8, []int{99}, nil)
			k, err := Reshape(in, tc.shape, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Reshape(%s) succeeded with shape %v; want an error", tc.name, out.Shape)
				}
				return
			}
			if err != nil {
				t.Fatalf("Reshape(%s): %v", tc.name, err)
			}
			shapeRun(t, "Reshape("+tc.name+")", k, out, tc.wantShape, vals)
		})
	}
}

func TestSqueeze(t *testing.T) {
	tests := []struct {
		name      string
		inShape   []int
		dims      []int
		wantShape []int
		wantErr   bool
	}{
		{name: "all", inShape: []int{1, 2, 1, 3}, wantShape: []int{2, 3}},
		{name: "one", inShape: []int{1, 2, 1, 3}, dims: []int{2}, wantShape: []int{1, 2, 3}},
		{name: "negative", inShape: []int{1, 2, 1, 3}, dims: []int{-4}, wantShape: []int{2, 1, 3}},
		{name: "to scalar", inShape: []int{1, 1}, wantShape: []int{}},
		{name: "not 1", inShape: []int{1, 2}, dims: []int{1}, wantErr: true},
		{name: "out of range", inShape: []int{1, 2}, dims: []int{2}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vals := shapeIota(tensor.NumElements(tc.inShape))
			in := shapeTensor("in", tensor.Float32, tc.inShape, vals)
			out := shapeTensor("out", tensor.Float32, nil, nil)
			k, err := Squeeze(in, tc.dims, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Squeeze(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Squeeze(%s): %v", tc.name, err)
			}
			shapeRun(t, "Squeeze("+tc.name+")", k, out, tc.wantShape, vals)
		})
	}
}

func TestExpandDims(t *testing.T) {
	tests := []struct {
		name      string
		inShape   []int
		axis      int
		wantShape []int
		wantErr   bool
	}{
		{name: "front", inShape: []int{2, 3}, axis: 0, wantShape: []int{1, 2, 3}},
		{name: "end", inShape: []int{2, 3}, axis: 2, wantShape: []int{2, 3, 1}},
		{name: "minus one", inShape: []int{2, 3}, axis: -1, wantShape: []int{2, 3, 1}},
		{name: "minus three", inShape: []int{2, 3}, axis: -3, wantShape: []int{1, 2, 3}},
		{name: "scalar", inShape: []int{}, axis: 0, wantShape: []int{1}},
		{name: "too far", inShape: []int{2, 3}, axis: 3, wantErr: true},
		{name: "too negative", inShape: []int{2, 3}, axis: -4, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vals := shapeIota(tensor.NumElements(tc.inShape))
			in := shapeTensor("in", tensor.Int64, tc.inShape, vals)
			out := shapeTensor("out", tensor.Int64, nil, nil)
			k, err := ExpandDims(in, tc.axis, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ExpandDims(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("ExpandDims(%s): %v", tc.name, err)
			}
			shapeRun(t, "ExpandDims("+tc.name+")", k, out, tc.wantShape, vals)
		})
	}
}

func TestReshapeTypeMismatch(t *testing.T) {
	in := shapeTensor("in", tensor.Int8, []int{2}, []int64{1, 2})
	out := shapeTensor("out", tensor.UInt8, nil, nil)
	if _, err := Reshape(in, []int{2}, out); err == nil {
		t.Error("Reshape(int8 -> uint8) succeeded; want an error")
	}
}
