package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestSlice(t *testing.T) {
	// in is [3,4] holding 0..11.
	tests := []struct {
		name        string
		begin, size []int
		wantShape   []int
		want        []int64
		wantErr     bool
	}{
		{name: "box", begin: []int{1, 1}, size: []int{2, 2}, wantShape: []int{2, 2}, want: []int64{5, 6, 9, 10}},
		{name: "size -1", begin: []int{1, 2}, size: []int{-1, -1}, wantShape: []int{2, 2}, want: []int64{6, 7, 10, 11}},
		{name: "rows", begin: []int{2, 0}, size: []int{1, 4}, wantShape: []int{1, 4}, want: []int64{8, 9, 10, 11}},
		{name: "empty", begin: []int{3, 0}, size: []int{0, 4}, wantShape: []int{0, 4}, want: nil},
		{name: "too long", begin: []int{1, 1}, size: []int{3, 1}, wantErr: true},
		{name: "negative begin", begin: []int{-1, 0}, size: []int{1, 1}, wantErr: true},
		{name: "rank", begin: []int{0}, size: []int{1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := shapeTensor("in", tensor.Int32, []int{3, 4}, shapeIota(12))
			out := shapeTensor("out", tensor.Int32, nil, nil)
			k, err := Slice(in, tc.begin, tc.size, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Slice(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Slice(%s): %v", tc.name, err)
			}
			shapeRun(t, "Slice("+tc.name+")", k, out, tc.wantShape, tc.want)
		})
	}
}

func TestStridedSlice(t *testing.T) {
	// x2 is [3,4] holding 0..11; x3 is [2,3,4] holding 0..23 (x3[i][j][k] =
	// 12i + 4j + k). Expected values are numpy's for the expression named.
	tests := []struct {
		name                string
		shape               []int
		begin, end, strides []int
		p                   StridedSliceParams
		wantShape           []int
		want                []int64
		wantErr             bool
	}{
		{name: "x2[0:3, 1:3]", shape: []int{3, 4}, begin: []int{0, 1}, end: []int{3, 3}, strides: []int{1, 1},
			wantShape: []int{3, 2}, want: []int64{1, 2, 5, 6, 9, 10}},
		{name: "x2[::-1, ::2]", shape: []int{3, 4}, begin: []int{0, 0}, end: []int{0, 0}, strides: []int{-1, 2},
			p: StridedSliceParams{BeginMask: 3, EndMask: 3}, wantShape: []int{3, 2}, want: []int64{8, 10, 4, 6, 0, 2}},
		{name: "x2[2:0:-1, 3:0:-2]", shape: []int{3, 4}, begin: []int{2, 3}, end: []int{0, 0}, strides: []int{-1, -2},
			wantShape: []int{2, 2}, want: []int64{11, 9, 7, 5}},
		{name: "x2[-1:-3:-1]", shape: []int{3, 4}, begin: []int{-1}, end: []int{-3}, strides: []int{-1},
			wantShape: []int{2, 4}, want: []int64{8, 9, 10, 11, 4, 5, 6, 7}},
		{name: "x2[1]", shape: []int{3, 4}, begin: []int{1, 0}, end: []int{2, 0}, strides: []int{1, 1},
			p: StridedSliceParams{ShrinkAxisMask: 1, EndMask: 2}, wantShape: []int{4}, want: []int64{4, 5, 6, 7}},
		{name: "x2[-1, 1:3]", shape: []int{3, 4}, begin: []int{-1, 1}, end: []int{0, 3}, strides: []int{1, 1},
			p: StridedSliceParams{ShrinkAxisMask: 1}, wantShape: []int{2}, want: []int64{9, 10}},
		{name: "x2[2, 3]", shape: []int{3, 4}, begin: []int{2, 3}, end: []int{3, 4}, strides: []int{1, 1},
			p: StridedSliceParams{ShrinkAxisMask: 3}, wantShape: []int{}, want: []int64{11}},
		{name: "x3[..., 1]", shape: []int{2, 3, 4}, begin: []int{0, 1}, end: []int{0, 2}, strides: []int{1, 1},
			p: StridedSliceParams{EllipsisMask: 1, ShrinkAxisMask: 2}, wantShape: []int{2, 3}, want: []int64{1, 5, 9, 13, 17, 21}},
		{name: "x3[1, ...]", shape: []int{2, 3, 4}, begin: []int{1, 0}, end: []int{2, 0}, strides: []int{1, 1},
			p: StridedSliceParams{EllipsisMask: 2, ShrinkAxisMask: 1}, wantShape: []int{3, 4},
			want: []int64{12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}},
		{name: "x3[..., 1:3, ::3]", shape: []int{2, 3, 4}, begin: []int{0, 1, 0}, end: []int{0, 3, 0}, strides: []int{1, 1, 3},
			p: StridedSliceParams{EllipsisMask: 1, BeginMask: 4, EndMask: 4}, wantShape: []int{2, 2, 2},
			want: []int64{4, 7, 8, 11, 16, 19, 20, 23}},
		{name: "x2[:, None]", shape: []int{3, 4}, begin: []int{0, 0}, end: []int{0, 0}, strides: []int{1, 1},
			p: StridedSliceParams{BeginMask: 1, EndMask: 1, NewAxisMask: 2}, wantShape: []int{3, 1, 4}, want: shapeIota(12)},
		{name: "x2[None, ...]", shape: []int{3, 4}, begin: []int{0, 0}, end: []int{0, 0}, strides: []int{1, 1},
			p: StridedSliceParams{NewAxisMask: 1, EllipsisMask: 2}, wantShape: []int{1, 3, 4}, want: shapeIota(12)},
		{name: "x2[None, 1:2, None, 2]", shape: []int{3, 4}, begin: []int{0, 1, 0, 2}, end: []int{0, 2, 0, 3}, strides: []int{1, 1, 1, 1},
			p: StridedSliceParams{NewAxisMask: 5, ShrinkAxisMask: 8}, wantShape: []int{1, 1, 1}, want: []int64{6}},
		{name: "x2[1:] by prefix", shape: []int{3, 4}, begin: []int{1}, end: []int{3}, strides: []int{1},
			wantShape: []int{2, 4}, want: []int64{4, 5, 6, 7, 8, 9, 10, 11}},
		{name: "x2[-10:10, :100] clamps", shape: []int{3, 4}, begin: []int{-10, 0}, end: []int{10, 100}, strides: []int{1, 1},
			wantShape: []int{3, 4}, want: shapeIota(12)},
		{name: "x2[2:1] empty", shape: []int{3, 4}, begin: []int{2}, end: []int{1}, strides: []int{1},
			wantShape: []int{0, 4}, want: nil},
		{name: "offset x2[1:1+2, 1:1+2]", shape: []int{3, 4}, begin: []int{1, 1}, end: []int{2, 2}, strides: []int{1, 1},
			p: StridedSliceParams{Offset: true}, wantShape: []int{2, 2}, want: []int64{5, 6, 9, 10}},
		{name: "offset out of range", shape: []int{3, 4}, begin: []int{2, 0}, end: []int{2, 4}, strides: []int{1, 1},
			p: StridedSliceParams{Offset: true}, wantErr: true},
		{name: "stride 0", shape: []int{3, 4}, begin: []int{0}, end: []int{1}, strides: []int{0}, wantErr: true},
		{name: "shrink out of range", shape: []int{3, 4}, begin: []int{3}, end: []int{4}, strides: []int{1},
			p: StridedSliceParams{ShrinkAxisMask: 1}, wantErr: true},
		{name: "too many entries", shape: []int{3, 4}, begin: []int{0, 0, 0}, end: []int{1, 1, 1}, strides: []int{1, 1, 1}, wantErr: true},
		{name: "length mismatch", shape: []int{3, 4}, begin: []int{0, 0}, end: []int{1}, strides: []int{1, 1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := shapeTensor("in", tensor.Float32, tc.shape, shapeIota(tensor.NumElements(tc.shape)))
			out := shapeTensor("out", tensor.Float32, nil, nil)
			k, err := StridedSlice(in, tc.begin, tc.end, tc.strides, tc.p, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("StridedSlice(%s) succeeded with shape %v; want an error", tc.name, out.Shape)
				}
				return
			}
			if err != nil {
				t.Fatalf("StridedSlice(%s): %v", tc.name, err)
			}
			shapeRun(t, "StridedSlice("+tc.name+")", k, out, tc.wantShape, tc.want)
		})
	}
}
