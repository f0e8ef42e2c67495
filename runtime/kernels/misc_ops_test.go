package kernels

import (
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestMirrorPad(t *testing.T) {
	in := shapeTensor("in", tensor.Int8, []int{3}, []int64{1, 2, 3})
	for _, tc := range []struct {
		symmetric bool
		pads      []int
		want      []int64
	}{
		{false, []int{2, 2}, []int64{3, 2, 1, 2, 3, 2, 1}}, // REFLECT leaves the border out
		{true, []int{2, 3}, []int64{2, 1, 1, 2, 3, 3, 2, 1}},
	} {
		out := shapeTensor("out", tensor.Int8, nil, nil)
		k, err := MirrorPad(in, tc.pads, tc.symmetric, out)
		if err != nil {
			t.Fatal(err)
		}
		shapeRun(t, "MirrorPad", k, out, []int{len(tc.want)}, tc.want)
	}
	if _, err := MirrorPad(in, []int{3, 0}, false, shapeTensor("out", tensor.Int8, nil, nil)); err == nil {
		t.Error("REFLECT padding of 3 on a dimension of 3 succeeded; want an error")
	}
}

func TestRangeFillScatter(t *testing.T) {
	out := shapeTensor("out", tensor.Int32, nil, nil)
	k, err := Range(shapeTensor("s", tensor.Int32, []int{}, []int64{10}), shapeTensor("l", tensor.Int32, []int{}, []int64{1}),
		shapeTensor("d", tensor.Int32, []int{}, []int64{-3}), out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "Range", k, out, []int{3}, []int64{10, 7, 4})
	if _, err := Range(shapeTensor("s", tensor.Int32, []int{}, []int64{0}), shapeTensor("l", tensor.Int32, []int{}, []int64{5}),
		shapeTensor("d", tensor.Int32, []int{}, []int64{-1}), out); err == nil {
		t.Error("RANGE from 0 to 5 by -1 succeeded; want an error")
	}

	out = shapeTensor("out", tensor.Int16, nil, nil)
	if k, err = Fill([]int{2, 2}, shapeTensor("v", tensor.Int16, []int{}, []int64{-7}), out); err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "Fill", k, out, []int{2, 2}, []int64{-7, -7, -7, -7})

	// Rows 1 and 1 again and 0 of a [3, 2] output: row 1 accumulates.
	idx := shapeTensor("idx", tensor.Int32, []int{3, 1}, []int64{1, 1, 0})
	up := shapeTensor("up", tensor.Int32, []int{3, 2}, []int64{1, 2, 10, 20, 5, 6})
	out = shapeTensor("out", tensor.Int32, nil, nil)
	if k, err = ScatterND(idx, up, []int{3, 2}, out); err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "ScatterND", k, out, []int{3, 2}, []int64{5, 6, 11, 22, 0, 0})
	bad := shapeTensor("idx", tensor.Int32, []int{1, 1}, []int64{3})
	if k, err = ScatterND(bad, shapeTensor("up", tensor.Int32, []int{1, 2}, []int64{1, 1}), []int{3, 2}, out); err != nil {
		t.Fatal(err)
	}
	shapeBind(out)
	if err := k.Eval(); err == nil {
		t.Error("SCATTER_ND at row 3 of 3 succeeded; want an error")
	}
}

func TestMatrixDiagEmbedding(t *testing.T) {
	out := shapeTensor("out", tensor.Int8, nil, nil)
	k, err := MatrixDiag(shapeTensor("in", tensor.Int8, []int{2}, []int64{4, 5}), out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "MatrixDiag", k, out, []int{2, 2}, []int64{4, 0, 0, 5})

	out = shapeTensor("out", tensor.Int8, nil, nil)
	in := shapeTensor("in", tensor.Int8, []int{2, 3}, []int64{1, 2, 3, 4, 5, 6})
	if k, err = MatrixSetDiag(in, shapeTensor("d", tensor.Int8, []int{2}, []int64{-1, -2}), out); err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "MatrixSetDiag", k, out, []int{2, 3}, []int64{-1, 2, 3, 4, -2, 6})

	// A uint8 table into float32: TFLite reads the bytes as int8, so 200
	// counts as -56.
	value := shapeTensor("value", tensor.UInt8, []int{2, 2}, []int64{1, 200, 3, 4})
	value.Quant = &tensor.Quant{Scale: []float32{0.5}, ZeroPoint: []int32{0}}
	out = shapeTensor("out", tensor.Float32, nil, nil)
	if k, err = EmbeddingLookup(shapeTensor("ids", tensor.Int32, []int{2}, []int64{0, 0}), value, out); err != nil {
		t.Fatal(err)
	}
	shapeBind(out)
	if err := k.Eval(); err != nil {
		t.Fatal(err)
	}
	if got := out.Float32s(); got[0] != 0.5 || got[1] != -28 || got[2] != 0.5 {
		t.Errorf("EmbeddingLookup = %v; want [0.5 -28 0.5 -28]", got)
	}
}

func TestL2PoolLRN(t *testing.T) {
	in := &tensor.Tensor{Name: "in", Type: tensor.Float32, Shape: []int{1, 2, 2, 1}}
	in.Data = make([]byte, 16)
	copy(in.Float32s(), []float32{1, 2, 3, 4})
	out := &tensor.Tensor{Name: "out", Type: tensor.Float32}
	k, err := L2Pool2D(PaddingValid, 2, 2, 2, 2, ActNone, in, out)
	if err != nil {
		t.Fatal(err)
	}
	out.Data = make([]byte, 4)
	if err := k.Eval(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.Float32s()[0], float32(math.Sqrt(30.0/4)); got != want {
		t.Errorf("L2Pool2D = %g; want sqrt(30/4) = %g", got, want)
	}

	// Radius 1 over channels [1 2 3 4], bias 1, alpha 1, beta 1: channel 1
	// is 2 / (1 + 1 + 4 + 9).
	in.Shape = []int{1, 1, 1, 4}
	out = &tensor.Tensor{Name: "out", Type: tensor.Float32}
	if k, err = LocalResponseNorm(1, 1, 1, 1, in, out); err != nil {
		t.Fatal(err)
	}
	out.Data = make([]byte, 16)
	if err := k.Eval(); err != nil {
		t.Fatal(err)
	}
	want := []float32{1.0 / 6, 2.0 / 15, 3.0 / 30, 4.0 / 26}
	for i, w := range want {
		if got := out.Float32s()[i]; math.Abs(float64(got-w)) > 1e-7 {
			t.Errorf("LocalResponseNorm[%d] = %g; want %g", i, got, w)
		}
	}
}

// TestMaxPoolArgmaxTies checks the two index conventions on a window whose
// maximum appears twice, at (0, 1) and (1, 0): XNNPACK walks columns first
// and keeps (1, 0); MediaPipe's kernel walks rows first and keeps (0, 1).
func TestMaxPoolArgmaxTies(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    MPPoolParams
		want []float32 // unpooled
	}{
		{"XNNPACK", MPPoolParams{Padding: PaddingValid, StrideH: 2, StrideW: 2, FilterH: 2, FilterW: 2}, []float32{0, 0, 9, 0}},
		{"MediaPipe", MPPoolParams{Padding: PaddingValid, StrideH: 1, StrideW: 1, FilterH: 2, FilterW: 2}, []float32{0, 9, 0, 0}},
	} {
		in := &tensor.Tensor{Name: "in", Type: tensor.Float32, Shape: []int{1, 2, 2, 1}, Data: make([]byte, 16)}
		copy(in.Float32s(), []float32{1, 9, 9, 2})
		vals := &tensor.Tensor{Name: "v", Type: tensor.Float32}
		idx := &tensor.Tensor{Name: "i", Type: tensor.Float32}
		k, err := MaxPoolWithArgmax(&Config{}, tc.p, in, vals, idx)
		if err != nil {
			t.Fatal(err)
		}
		vals.Data, idx.Data = make([]byte, 4), make([]byte, 4)
		if err := k.Eval(); err != nil {
			t.Fatal(err)
		}
		if vals.Float32s()[0] != 9 {
			t.Errorf("%s: max %g; want 9", tc.name, vals.Float32s()[0])
		}
		up := &tensor.Tensor{Name: "u", Type: tensor.Float32}
		unpool := tc.p
		unpool.StrideH, unpool.StrideW = 2, 2
		if tc.name == "MediaPipe" {
			unpool.Activation = ActRelu // keeps MediaPipe's convention for the pair
			unpool.StrideH, unpool.StrideW = 1, 1
		}
		if k, err = MaxUnpool(&Config{}, unpool, vals, idx, up); err != nil {
			t.Fatal(err)
		}
		up.Data = make([]byte, 16)
		if err := k.Eval(); err != nil {
			t.Fatal(err)
		}
		for i, w := range tc.want {
			if got := up.Float32s()[i]; got != w {
				t.Errorf("%s: unpooled = %v; want %v", tc.name, up.Float32s(), tc.want)
				break
			}
		}
	}
}

func TestTransposeConvBiasShape(t *testing.T) {
	in := &tensor.Tensor{Name: "in", Type: tensor.Float32, Shape: []int{1, 16, 16, 8}}
	filter := &tensor.Tensor{Name: "f", Type: tensor.Float32, Shape: []int{4, 3, 3, 8}, Const: true}
	bias := &tensor.Tensor{Name: "b", Type: tensor.Float32, Shape: []int{4}, Const: true}
	out := &tensor.Tensor{Name: "out", Type: tensor.Float32}
	// hair_segmentation's upsampling: 16 → 2·15 + 3 − 1 = 32 (SAME).
	if _, err := TransposeConvBias(&Config{}, PaddingSame, 2, 2, in, filter, bias, out); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 32, 32, 4}; !tensor.SameShape(out.Shape, want) {
		t.Errorf("output shape %v; want %v", out.Shape, want)
	}
}

func TestPowAddN(t *testing.T) {
	a := shapeTensor("a", tensor.Int32, []int{3}, []int64{2, -3, 5})
	b := shapeTensor("b", tensor.Int32, []int{3}, []int64{10, 3, 0})
	out := shapeTensor("out", tensor.Int32, nil, nil)
	k, err := Pow(a, b, out)
	if err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "Pow", k, out, []int{3}, []int64{1024, -27, 1})
	neg := shapeTensor("b", tensor.Int32, []int{1}, []int64{-1})
	if k, err = Pow(a, neg, out); err != nil {
		t.Fatal(err)
	}
	shapeBind(out)
	if err := k.Eval(); err == nil {
		t.Error("int32 POW with exponent -1 succeeded; want an error")
	}
	out = shapeTensor("out", tensor.Int32, nil, nil)
	if k, err = AddN([]*tensor.Tensor{a, b, a}, out); err != nil {
		t.Fatal(err)
	}
	shapeRun(t, "AddN", k, out, []int{3}, []int64{14, -3, 10})
}
