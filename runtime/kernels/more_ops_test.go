package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestReduceProdLogical(t *testing.T) {
	in := shapeTensor("in", tensor.Int32, []int{2, 3}, []int64{1, 2, 3, -1, 5, 2})
	out := shapeTensor("out", tensor.Int32, nil, nil)
	k, err := ReduceProd([]int{-1}, false, in, out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "ReduceProd", k, out, []int{2}, []int64{6, -10})

	b := shapeTensor("b", tensor.Bool, []int{2, 2}, []int64{1, 0, 1, 1})
	for _, tc := range []struct {
		any  bool
		want []int64
	}{{true, []int64{1, 1}}, {false, []int64{1, 0}}} {
		out := shapeTensor("out", tensor.Bool, nil, nil)
		k, err := ReduceLogical(tc.any, []int{0, 0}, true, b, out)
		if err != nil {
			t.Fatal(err)
		}
		shapeRun(t, "ReduceLogical", k, out, []int{1, 2}, tc.want)
	}
}

func TestDynamicUpdateSliceClamp(t *testing.T) {
	op := shapeTensor("op", tensor.Int16, []int{2, 3}, []int64{0, 0, 0, 0, 0, 0})
	up := shapeTensor("up", tensor.Int16, []int{1, 2}, []int64{7, 8})
	// Start (5, -1) clamps to (1, 0).
	start := shapeTensor("start", tensor.Int64, []int{2}, []int64{5, -1})
	out := shapeTensor("out", tensor.Int16, nil, nil)
	k, err := DynamicUpdateSlice(op, up, start, out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "DynamicUpdateSlice", k, out, []int{2, 3}, []int64{0, 0, 0, 7, 8, 0})
}

func TestBroadcastArgsRelu0To1(t *testing.T) {
	out := shapeTensor("out", tensor.Int32, nil, nil)
	k, err := BroadcastArgs(shapeTensor("a", tensor.Int32, []int{3}, []int64{4, 1, 3}), shapeTensor("b", tensor.Int32, []int{2}, []int64{5, 1}), out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "BroadcastArgs", k, out, []int{3}, []int64{4, 5, 3})

	in := shapeTensor("in", tensor.Int8, []int{4}, []int64{-100, 0, 50, 120})
	in.Quant = &tensor.Quant{Scale: []float32{0.01}, ZeroPoint: []int32{0}}
	out = shapeTensor("out", tensor.Int8, nil, nil)
	out.Quant = &tensor.Quant{Scale: []float32{0.01}, ZeroPoint: []int32{-28}}
	if k, err = Relu0To1(in, out); err != nil {
		t.Fatal(err)
	}
	// Bounds: -28 + round(0/0.01) = -28 and -28 + round(1/0.01) = 72.
	shapeRun(t, "Relu0To1", k, out, []int{4}, []int64{-28, -28, 22, 72})
}
