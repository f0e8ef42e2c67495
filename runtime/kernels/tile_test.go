package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The element values in these tests are their input indices, so that the
// expected outputs are the index maps worked out by hand.

func TestTile(t *testing.T) {
	tests := []struct {
		name      string
		inShape   []int
		mult      []int
		wantShape []int
		want      []int64
		wantErr   bool
	}{
		{name: "rows", inShape: []int{2, 2}, mult: []int{1, 2}, wantShape: []int{2, 4}, want: []int64{0, 1, 0, 1, 2, 3, 2, 3}},
		{name: "both", inShape: []int{2, 2}, mult: []int{2, 2}, wantShape: []int{4, 4},
			want: []int64{0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3}},
		{name: "outer", inShape: []int{1, 3}, mult: []int{3, 1}, wantShape: []int{3, 3}, want: []int64{0, 1, 2, 0, 1, 2, 0, 1, 2}},
		{name: "inner times 3", inShape: []int{2, 1, 2}, mult: []int{1, 3, 1}, wantShape: []int{2, 3, 2},
			want: []int64{0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3}},
		{name: "scalar", inShape: []int{}, mult: []int{}, wantShape: []int{}, want: []int64{0}},
		{name: "zero multiple", inShape: []int{2, 2}, mult: []int{0, 2}, wantShape: []int{0, 4}, want: []int64{}},
		{name: "negative", inShape: []int{2}, mult: []int{-1}, wantErr: true},
		{name: "rank mismatch", inShape: []int{2}, mult: []int{1, 1}, wantErr: true},
		{name: "too large", inShape: []int{2, 2}, mult: []int{1 << 16, 1 << 16}, wantErr: true},
	}
	for _, tc := range tests {
		for _, dt := range []tensor.DType{tensor.Int8, tensor.Int16, tensor.Float32, tensor.Int64} {
			in := shapeTensor("in", dt, tc.inShape, shapeIota(tensor.NumElements(tc.inShape)))
			out := shapeTensor("out", dt, nil, nil)
			k, err := Tile(in, tc.mult, out)
			if tc.wantErr {
				if err == nil {
					t.Errorf("Tile(%s, %s) succeeded; want an error", tc.name, dt)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Tile(%s, %s): %v", tc.name, dt, err)
			}
			shapeRun(t, "Tile("+tc.name+")", k, out, tc.wantShape, tc.want)
		}
	}
}

func TestBroadcastTo(t *testing.T) {
	tests := []struct {
		name    string
		inShape []int
		shape   []int
		want    []int64
		wantErr bool
	}{
		{name: "row", inShape: []int{3}, shape: []int{2, 3}, want: []int64{0, 1, 2, 0, 1, 2}},
		{name: "column", inShape: []int{2, 1}, shape: []int{2, 3}, want: []int64{0, 0, 0, 1, 1, 1}},
		{name: "middle", inShape: []int{2, 1, 2}, shape: []int{2, 2, 2}, want: []int64{0, 1, 0, 1, 2, 3, 2, 3}},
		{name: "scalar", inShape: []int{}, shape: []int{2, 2}, want: []int64{0, 0, 0, 0}},
		{name: "same", inShape: []int{2, 2}, shape: []int{2, 2}, want: []int64{0, 1, 2, 3}},
		{name: "to empty", inShape: []int{1, 2}, shape: []int{0, 2}, want: []int64{}},
		{name: "not 1", inShape: []int{2}, shape: []int{3}, wantErr: true},
		{name: "rank down", inShape: []int{1, 2}, shape: []int{2}, wantErr: true},
		{name: "rank 9", inShape: []int{1}, shape: []int{1, 1, 1, 1, 1, 1, 1, 1, 1}, wantErr: true},
	}
	for _, tc := range tests {
		in := shapeTensor("in", tensor.Int32, tc.inShape, shapeIota(tensor.NumElements(tc.inShape)))
		out := shapeTensor("out", tensor.Int32, nil, nil)
		k, err := BroadcastTo(in, tc.shape, out)
		if tc.wantErr {
			if err == nil {
				t.Errorf("BroadcastTo(%s) succeeded; want an error", tc.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("BroadcastTo(%s): %v", tc.name, err)
		}
		shapeRun(t, "BroadcastTo("+tc.name+")", k, out, tc.shape, tc.want)
	}
}

func TestSpaceToBatchND(t *testing.T) {
	// [1, 2, 3, 1] padded to [1, 2, 4, 1] (one column on the right), block
	// 1×2: batch 0 takes the even columns, batch 1 the odd ones.
	in := shapeTensor("in", tensor.Int8, []int{1, 2, 3, 1}, shapeIota(6))
	in.Quant = &tensor.Quant{Scale: []float32{0.5}, ZeroPoint: []int32{-3}}
	out := shapeTensor("out", tensor.Int8, nil, nil)
	out.Quant = in.Quant
	k, err := SpaceToBatchND(in, []int{1, 2}, []int{0, 0, 0, 1}, out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "SpaceToBatchND", k, out, []int{2, 2, 2, 1}, []int64{0, 2, 3, 5, 1, -3, 4, -3})

	// 3-D NHC: block 2 on H with one row of padding on top.
	in = shapeTensor("in", tensor.Float32, []int{1, 3, 2}, shapeIota(6))
	out = shapeTensor("out", tensor.Float32, nil, nil)
	if k, err = SpaceToBatchND(in, []int{2}, []int{1, 0}, out); err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "SpaceToBatchND 3-D", k, out, []int{2, 2, 2}, []int64{0, 0, 2, 3, 0, 1, 4, 5})

	for _, bad := range []struct{ block, pads []int }{
		{[]int{2, 2}, []int{0, 0, 0, 0}}, // 3 columns not a multiple of 2
		{[]int{0, 1}, []int{0, 0, 0, 0}},
		{[]int{1, 1}, []int{-1, 1, 0, 0}},
		{[]int{1}, []int{0, 0}},
	} {
		in := shapeTensor("in", tensor.Int8, []int{1, 2, 3, 1}, shapeIota(6))
		if _, err := SpaceToBatchND(in, bad.block, bad.pads, shapeTensor("out", tensor.Int8, nil, nil)); err == nil {
			t.Errorf("SpaceToBatchND(block %v, paddings %v) succeeded; want an error", bad.block, bad.pads)
		}
	}
}

func TestBatchToSpaceND(t *testing.T) {
	// The inverse of the first SpaceToBatchND case, cropping the padded
	// column again.
	in := shapeTensor("in", tensor.Int8, []int{2, 2, 2, 1}, []int64{0, 2, 3, 5, 1, 9, 4, 9})
	out := shapeTensor("out", tensor.Int8, nil, nil)
	k, err := BatchToSpaceND(in, []int{1, 2}, []int{0, 0, 0, 1}, out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "BatchToSpaceND", k, out, []int{1, 2, 3, 1}, shapeIota(6))

	for _, bad := range []struct{ block, crops []int }{
		{[]int{3, 1}, []int{0, 0, 0, 0}}, // batch 2 not a multiple of 3
		{[]int{1, 2}, []int{0, 0, 3, 2}}, // crops larger than the width
		{[]int{1, 2}, []int{0, 0, -1, 0}},
	} {
		in := shapeTensor("in", tensor.Int8, []int{2, 2, 2, 1}, shapeIota(8))
		if _, err := BatchToSpaceND(in, bad.block, bad.crops, shapeTensor("out", tensor.Int8, nil, nil)); err == nil {
			t.Errorf("BatchToSpaceND(block %v, crops %v) succeeded; want an error", bad.block, bad.crops)
		}
	}
}

func TestFloorMod(t *testing.T) {
	a := shapeTensor("a", tensor.Int32, []int{4}, []int64{7, -7, 7, -7})
	b := shapeTensor("b", tensor.Int32, []int{4}, []int64{3, 3, -3, -3})
	out := shapeTensor("out", tensor.Int32, nil, nil)
	k, err := FloorMod(a, b, out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "FloorMod int32", k, out, []int{4}, []int64{1, 2, -2, -1})

	af := shapeTensor("a", tensor.Float32, []int{2, 2}, []int64{7, -7, 7, -7})
	bf := shapeTensor("b", tensor.Float32, []int{2}, []int64{3, -3})
	out = shapeTensor("out", tensor.Float32, nil, nil)
	if k, err = FloorMod(af, bf, out); err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "FloorMod float32", k, out, []int{2, 2}, []int64{1, -1, 1, -1})

	b = shapeTensor("b", tensor.Int32, []int{1}, []int64{0})
	out = shapeTensor("out", tensor.Int32, nil, nil)
	if k, err = FloorMod(a, b, out); err != nil {
		t.Fatal(err)
	}
	shapeBind(out)
	if err := k.Eval(); err == nil {
		t.Error("FloorMod by zero succeeded; want an error")
	}
}

func TestShapeRank(t *testing.T) {
	in := shapeTensor("in", tensor.Float32, []int{2, 5, 7}, nil)
	for _, dt := range []tensor.DType{tensor.Int32, tensor.Int64} {
		out := shapeTensor("out", dt, nil, nil)
		k, err := Shape(in, out)
		if err != nil {
			t.Fatal(err)
		}
		shapeRun(t, "Shape", k, out, []int{3}, []int64{2, 5, 7})
	}
	out := shapeTensor("out", tensor.Int32, nil, nil)
	k, err := Rank(in, out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "Rank", k, out, []int{}, []int64{3})
}
