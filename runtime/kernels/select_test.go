package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestSelectBroadcast(t *testing.T) {
	// cond [2,1] picks rows of x [2,3] or of y [3] broadcast.
	cond := shapeTensor("c", tensor.Bool, []int{2, 1}, []int64{1, 0})
	x := shapeTensor("x", tensor.Int16, []int{2, 3}, []int64{0, 1, 2, 3, 4, 5})
	y := shapeTensor("y", tensor.Int16, []int{3}, []int64{-1, -2, -3})
	out := shapeTensor("out", tensor.Int16, nil, nil)
	k, err := Select(false, cond, x, y, out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "Select", k, out, []int{2, 3}, []int64{0, 1, 2, -1, -2, -3})

	// SELECT v1 with a per-row vector condition.
	cond = shapeTensor("c", tensor.Bool, []int{2}, []int64{0, 1})
	y = shapeTensor("y", tensor.Int16, []int{2, 3}, []int64{9, 9, 9, 8, 8, 8})
	out = shapeTensor("out", tensor.Int16, nil, nil)
	if k, err = Select(true, cond, x, y, out); err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "Select v1", k, out, []int{2, 3}, []int64{9, 9, 9, 3, 4, 5})
	if _, err := Select(true, shapeTensor("c", tensor.Bool, []int{3}, nil), x, y, out); err == nil {
		t.Error("SELECT with a condition of 3 for 2 rows succeeded; want an error")
	}
}

func TestCompareQuantized(t *testing.T) {
	// a: scale 0.5, zp 0 → 1.0, 2.0; b: scale 0.25, zp 4 → 1.0, 1.75.
	a := shapeTensor("a", tensor.Int8, []int{2}, []int64{2, 4})
	a.Quant = &tensor.Quant{Scale: []float32{0.5}, ZeroPoint: []int32{0}}
	b := shapeTensor("b", tensor.Int8, []int{2}, []int64{8, 11})
	b.Quant = &tensor.Quant{Scale: []float32{0.25}, ZeroPoint: []int32{4}}
	for _, tc := range []struct {
		op   CompareOp
		want []int64
	}{{OpEqual, []int64{1, 0}}, {OpGreater, []int64{0, 1}}, {OpLessEqual, []int64{1, 0}}} {
		out := shapeTensor("out", tensor.Bool, nil, nil)
		k, err := Compare(tc.op, a, b, out)
		if err != nil {
			t.Fatal(err)
		}
		shapeRun(t, tc.op.String(), k, out, []int{2}, tc.want)
	}
	big := shapeTensor("b", tensor.Int8, []int{2}, nil)
	big.Quant = &tensor.Quant{Scale: []float32{2}, ZeroPoint: []int32{0}}
	if _, err := Compare(OpEqual, a, big, shapeTensor("out", tensor.Bool, nil, nil)); err == nil {
		t.Error("quantized comparison with scale 2 succeeded; want unsupported")
	}
}

func TestTopKTies(t *testing.T) {
	in := shapeTensor("in", tensor.Int32, []int{2, 5}, []int64{3, 7, 3, 7, 1, 0, 0, 0, 0, 0})
	vals := shapeTensor("v", tensor.Int32, nil, nil)
	idx := shapeTensor("i", tensor.Int32, nil, nil)
	k, err := TopKV2(in, 3, vals, idx)
	if err != nil {
		t.Fatal(err)
	}
	shapeBind(idx)
	shapeRun(t, "TopKV2 values", k, vals, []int{2, 3}, []int64{7, 7, 3, 0, 0, 0})
	if got := shapeValues(idx); !equalInts(got, []int64{1, 3, 0, 0, 1, 2}) {
		t.Errorf("TopKV2 indices = %v; want [1 3 0 0 1 2] (ties in index order)", got)
	}
}

func TestNMSQueueOrder(t *testing.T) {
	// Equal scores leave libc++'s priority queue in this order (pushes of
	// 0..4 with equal scores, then pops), worked by hand: the pushes leave
	// [0 1 2 3 4]; popping 0 moves 1 then 3 up (Floyd) and 4 into the
	// hole: [1 3 2 4]; popping 1 gives [3 4 2]; popping 3 gives [4 2].
	q := &nmsQueue{}
	for i := int32(0); i < 5; i++ {
		q.push(nmsCandidate{index: i, score: 1})
	}
	var got []int64
	for len(q.c) > 0 {
		got = append(got, int64(q.pop().index))
	}
	if !equalInts(got, []int64{0, 1, 3, 4, 2}) {
		t.Errorf("pop order %v; want [0 1 3 4 2]", got)
	}
}

func TestCumSumReverseOneHot(t *testing.T) {
	in := shapeTensor("in", tensor.Int32, []int{2, 3}, []int64{1, 2, 3, 4, 5, 6})
	out := shapeTensor("out", tensor.Int32, nil, nil)
	k, err := CumSum(in, 1, true, true, out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "CumSum exclusive reverse", k, out, []int{2, 3}, []int64{5, 3, 0, 11, 6, 0})

	out = shapeTensor("out", tensor.Int32, nil, nil)
	if k, err = ReverseV2(in, []int{-1, 0}, out); err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "ReverseV2", k, out, []int{2, 3}, []int64{6, 5, 4, 3, 2, 1})

	idx := shapeTensor("idx", tensor.Int32, []int{3}, []int64{0, 2, 5})
	on := shapeTensor("on", tensor.Int8, []int{}, []int64{7})
	off := shapeTensor("off", tensor.Int8, []int{}, []int64{-1})
	out = shapeTensor("out", tensor.Int8, nil, nil)
	if k, err = OneHot(idx, 3, on, off, 0, out); err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "OneHot axis 0", k, out, []int{3, 3}, []int64{7, -1, -1, -1, -1, -1, -1, 7, -1})
}

func equalInts(a, b []int64) bool {
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
