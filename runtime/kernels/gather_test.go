package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestGather(t *testing.T) {
	// params is [3,2] = [[0,1],[2,3],[4,5]] unless stated.
	tests := []struct {
		name        string
		shape       []int
		idxType     tensor.DType
		idxShape    []int
		idx         []int64
		p           GatherParams
		wantShape   []int
		want        []int64
		wantErr     bool // at construction
		wantEvalErr bool
	}{
		{name: "axis 0", shape: []int{3, 2}, idxType: tensor.Int32, idxShape: []int{2}, idx: []int64{2, 0},
			wantShape: []int{2, 2}, want: []int64{4, 5, 0, 1}},
		{name: "axis 1 int64 2d indices", shape: []int{3, 2}, idxType: tensor.Int64, idxShape: []int{2, 2}, idx: []int64{1, 0, 1, 1},
			p: GatherParams{Axis: 1}, wantShape: []int{3, 2, 2}, want: []int64{1, 0, 1, 1, 3, 2, 3, 3, 5, 4, 5, 5}},
		{name: "axis -1 scalar index", shape: []int{3, 2}, idxType: tensor.Int32, idxShape: []int{}, idx: []int64{1},
			p: GatherParams{Axis: -1}, wantShape: []int{3}, want: []int64{1, 3, 5}},
		{name: "int16 indices", shape: []int{3, 2}, idxType: tensor.Int16, idxShape: []int{1}, idx: []int64{1},
			wantShape: []int{1, 2}, want: []int64{2, 3}},
		// params [2,3] = [[0,1,2],[3,4,5]], indices [[0,2],[1,1]], batch_dims 1:
		// out[b][i] = params[b][indices[b][i]].
		{name: "batch dims", shape: []int{2, 3}, idxType: tensor.Int32, idxShape: []int{2, 2}, idx: []int64{0, 2, 1, 1},
			p: GatherParams{Axis: 1, BatchDims: 1}, wantShape: []int{2, 2}, want: []int64{0, 2, 4, 4}},
		{name: "batch dims -1", shape: []int{2, 3}, idxType: tensor.Int32, idxShape: []int{2, 2}, idx: []int64{0, 2, 1, 1},
			p: GatherParams{Axis: 1, BatchDims: -1}, wantShape: []int{2, 2}, want: []int64{0, 2, 4, 4}},
		{name: "index too large", shape: []int{3, 2}, idxType: tensor.Int32, idxShape: []int{2}, idx: []int64{0, 3},
			wantShape: []int{2, 2}, wantEvalErr: true},
		{name: "negative index", shape: []int{3, 2}, idxType: tensor.Int64, idxShape: []int{1}, idx: []int64{-1},
			wantShape: []int{1, 2}, wantEvalErr: true},
		{name: "bad axis", shape: []int{3, 2}, idxType: tensor.Int32, idxShape: []int{1}, idx: []int64{0},
			p: GatherParams{Axis: 2}, wantErr: true},
		{name: "batch dims above axis", shape: []int{2, 3}, idxType: tensor.Int32, idxShape: []int{2, 2}, idx: []int64{0, 0, 0, 0},
			p: GatherParams{Axis: 0, BatchDims: 1}, wantErr: true},
		{name: "float indices", shape: []int{3, 2}, idxType: tensor.Float32, idxShape: []int{1}, idx: []int64{0}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := shapeTensor("params", tensor.Int8, tc.shape, shapeIota(tensor.NumElements(tc.shape)))
			indices := shapeTensor("indices", tc.idxType, tc.idxShape, tc.idx)
			out := shapeTensor("out", tensor.Int8, nil, nil)
			k, err := Gather(params, indices, tc.p, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Gather(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Gather(%s): %v", tc.name, err)
			}
			if tc.wantEvalErr {
				shapeBind(out)
				if err := k.Eval(); err == nil {
					t.Fatalf("Gather(%s) Eval succeeded; want an error", tc.name)
				}
				return
			}
			shapeRun(t, "Gather("+tc.name+")", k, out, tc.wantShape, tc.want)
		})
	}
}

func TestGatherND(t *testing.T) {
	// params is [2,2,2] holding 0..7 (p[i][j][k] = 4i + 2j + k).
	tests := []struct {
		name        string
		idxShape    []int
		idx         []int64
		wantShape   []int
		want        []int64
		wantErr     bool
		wantEvalErr bool
	}{
		{name: "elements", idxShape: []int{2, 3}, idx: []int64{1, 0, 1, 0, 1, 1}, wantShape: []int{2}, want: []int64{5, 3}},
		{name: "rows", idxShape: []int{2, 2}, idx: []int64{1, 1, 0, 0}, wantShape: []int{2, 2}, want: []int64{6, 7, 0, 1}},
		{name: "planes", idxShape: []int{1, 1}, idx: []int64{1}, wantShape: []int{1, 2, 2}, want: []int64{4, 5, 6, 7}},
		{name: "batched", idxShape: []int{2, 1, 1}, idx: []int64{1, 0}, wantShape: []int{2, 1, 2, 2}, want: []int64{4, 5, 6, 7, 0, 1, 2, 3}},
		{name: "out of range", idxShape: []int{1, 2}, idx: []int64{0, 2}, wantShape: []int{1, 2}, wantEvalErr: true},
		{name: "negative", idxShape: []int{1, 1}, idx: []int64{-1}, wantShape: []int{1, 2, 2}, wantEvalErr: true},
		{name: "too deep", idxShape: []int{1, 4}, idx: []int64{0, 0, 0, 0}, wantErr: true},
		{name: "scalar indices", idxShape: []int{}, idx: []int64{0}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := shapeTensor("params", tensor.Float32, []int{2, 2, 2}, shapeIota(8))
			indices := shapeTensor("indices", tensor.Int32, tc.idxShape, tc.idx)
			out := shapeTensor("out", tensor.Float32, nil, nil)
			k, err := GatherND(params, indices, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("GatherND(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("GatherND(%s): %v", tc.name, err)
			}
			if tc.wantEvalErr {
				shapeBind(out)
				if err := k.Eval(); err == nil {
					t.Fatalf("GatherND(%s) Eval succeeded; want an error", tc.name)
				}
				return
			}
			shapeRun(t, "GatherND("+tc.name+")", k, out, tc.wantShape, tc.want)
		})
	}
}
