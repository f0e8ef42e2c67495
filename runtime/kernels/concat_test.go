package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestConcatenation(t *testing.T) {
	q := func(s float32, zp int32) *tensor.Quant {
		return &tensor.Quant{Scale: []float32{s}, ZeroPoint: []int32{zp}}
	}
	type input struct {
		shape []int
		vals  []int64
		quant *tensor.Quant
	}
	tests := []struct {
		name      string
		dt        tensor.DType
		ins       []input
		outQuant  *tensor.Quant
		p         ConcatenationParams
		wantShape []int
		want      []int64
		wantErr   bool
	}{
		{
			name: "float last axis", dt: tensor.Float32, p: ConcatenationParams{Axis: -1},
			ins:       []input{{shape: []int{2, 1}, vals: []int64{1, 2}}, {shape: []int{2, 2}, vals: []int64{3, 4, 5, 6}}},
			wantShape: []int{2, 3}, want: []int64{1, 3, 4, 2, 5, 6},
		},
		{
			name: "int32 axis 0", dt: tensor.Int32, p: ConcatenationParams{Axis: 0},
			ins:       []input{{shape: []int{1, 2}, vals: []int64{1, 2}}, {shape: []int{2, 2}, vals: []int64{3, 4, 5, 6}}},
			wantShape: []int{3, 2}, want: []int64{1, 2, 3, 4, 5, 6},
		},
		{
			name: "float relu", dt: tensor.Float32, p: ConcatenationParams{Axis: 0, Activation: ActRelu},
			ins:       []input{{shape: []int{1}, vals: []int64{-1}}, {shape: []int{2}, vals: []int64{2, -3}}},
			wantShape: []int{3}, want: []int64{0, 2, 0},
		},
		{
			// Second input: scale 0.5, zp 10 into scale 1, zp 0:
			// round((q-10)*0.5): 10 -> 0, 11 -> round(0.5) = 1 (away from
			// zero), 13 -> round(1.5) = 2, 0 -> -5 -> clamped to 0,
			// 255 -> round(122.5) = 123.
			name: "uint8 requantize", dt: tensor.UInt8, p: ConcatenationParams{Axis: 1}, outQuant: q(1, 0),
			ins: []input{
				{shape: []int{1, 2}, vals: []int64{200, 7}, quant: q(1, 0)},
				{shape: []int{1, 5}, vals: []int64{10, 11, 13, 0, 255}, quant: q(0.5, 10)},
			},
			wantShape: []int{1, 7}, want: []int64{200, 7, 0, 1, 2, 0, 123},
		},
		{
			// scale 2, zp -1 into scale 1, zp 5: (q+1)*2 + 5, clamped to int8.
			name: "int8 requantize", dt: tensor.Int8, p: ConcatenationParams{Axis: 0}, outQuant: q(1, 5),
			ins: []input{
				{shape: []int{4}, vals: []int64{-1, 0, 60, -128}, quant: q(2, -1)},
				{shape: []int{1}, vals: []int64{-9}, quant: q(1, 5)},
			},
			wantShape: []int{5}, want: []int64{5, 7, 127, -128, -9},
		},
		{
			// RELU6 on uint8 with scale 0.1, zp 100: clamp to [100, 160].
			name: "uint8 relu6", dt: tensor.UInt8, p: ConcatenationParams{Axis: 0, Activation: ActRelu6}, outQuant: q(0.1, 100),
			ins:       []input{{shape: []int{3}, vals: []int64{50, 120, 200}, quant: q(0.1, 100)}},
			wantShape: []int{3}, want: []int64{100, 120, 160},
		},
		{
			name: "shape mismatch", dt: tensor.Float32, p: ConcatenationParams{Axis: 0},
			ins:     []input{{shape: []int{1, 2}, vals: []int64{1, 2}}, {shape: []int{1, 3}, vals: []int64{1, 2, 3}}},
			wantErr: true,
		},
		{
			name: "bad axis", dt: tensor.Float32, p: ConcatenationParams{Axis: 2},
			ins:     []input{{shape: []int{1, 2}, vals: []int64{1, 2}}},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ins []*tensor.Tensor
			for _, in := range tc.ins {
				x := shapeTensor("in", tc.dt, in.shape, in.vals)
				x.Quant = in.quant
				ins = append(ins, x)
			}
			out := shapeTensor("out", tc.dt, nil, nil)
			out.Quant = tc.outQuant
			k, err := Concatenation(&Config{}, tc.p, ins, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Concatenation(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Concatenation(%s): %v", tc.name, err)
			}
			shapeRun(t, "Concatenation("+tc.name+")", k, out, tc.wantShape, tc.want)
		})
	}
}

func TestSplit(t *testing.T) {
	// in is [2,4] = [[0,1,2,3],[4,5,6,7]].
	tests := []struct {
		name       string
		sizes      []int // nil: SPLIT into len(wantShapes) parts
		axis       int
		wantShapes [][]int
		want       [][]int64
		wantErr    bool
	}{
		{name: "split axis 1", axis: 1, wantShapes: [][]int{{2, 2}, {2, 2}}, want: [][]int64{{0, 1, 4, 5}, {2, 3, 6, 7}}},
		{name: "split axis -2", axis: -2, wantShapes: [][]int{{1, 4}, {1, 4}}, want: [][]int64{{0, 1, 2, 3}, {4, 5, 6, 7}}},
		{name: "split uneven", axis: 1, wantShapes: [][]int{{}, {}, {}}, wantErr: true},
		{name: "splitv", sizes: []int{1, -1}, axis: 1, wantShapes: [][]int{{2, 1}, {2, 3}}, want: [][]int64{{0, 4}, {1, 2, 3, 5, 6, 7}}},
		{name: "splitv three", sizes: []int{2, 0, 2}, axis: -1, wantShapes: [][]int{{2, 2}, {2, 0}, {2, 2}}, want: [][]int64{{0, 1, 4, 5}, {}, {2, 3, 6, 7}}},
		{name: "splitv bad sum", sizes: []int{1, 2}, axis: 1, wantShapes: [][]int{{}, {}}, wantErr: true},
		{name: "splitv two -1", sizes: []int{-1, -1}, axis: 1, wantShapes: [][]int{{}, {}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := shapeTensor("in", tensor.Int16, []int{2, 4}, shapeIota(8))
			outs := make([]*tensor.Tensor, len(tc.wantShapes))
			for i := range outs {
				outs[i] = shapeTensor("out", tensor.Int16, nil, nil)
			}
			var k Kernel
			var err error
			if tc.sizes == nil {
				k, err = Split(in, tc.axis, outs)
			} else {
				k, err = SplitV(in, tc.sizes, tc.axis, outs)
			}
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Split(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Split(%s): %v", tc.name, err)
			}
			shapeRunMulti(t, "Split("+tc.name+")", k, outs, tc.wantShapes, tc.want)
		})
	}
}

func TestPackUnpack(t *testing.T) {
	a := shapeTensor("a", tensor.Float32, []int{2, 2}, []int64{0, 1, 2, 3})
	b := shapeTensor("b", tensor.Float32, []int{2, 2}, []int64{10, 11, 12, 13})
	packs := []struct {
		name      string
		axis      int
		wantShape []int
		want      []int64
		wantErr   bool
	}{
		{name: "axis 0", axis: 0, wantShape: []int{2, 2, 2}, want: []int64{0, 1, 2, 3, 10, 11, 12, 13}},
		{name: "axis 1", axis: 1, wantShape: []int{2, 2, 2}, want: []int64{0, 1, 10, 11, 2, 3, 12, 13}},
		{name: "axis -1", axis: -1, wantShape: []int{2, 2, 2}, want: []int64{0, 10, 1, 11, 2, 12, 3, 13}},
		{name: "axis 3", axis: 3, wantErr: true},
	}
	for _, tc := range packs {
		t.Run("pack "+tc.name, func(t *testing.T) {
			out := shapeTensor("out", tensor.Float32, nil, nil)
			k, err := Pack([]*tensor.Tensor{a, b}, tc.axis, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Pack(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pack(%s): %v", tc.name, err)
			}
			shapeRun(t, "Pack("+tc.name+")", k, out, tc.wantShape, tc.want)
		})
	}

	// Quantized inputs that differ from the output are refused, as in TFLite.
	qa := shapeTensor("qa", tensor.Int8, []int{1}, []int64{1})
	qa.Quant = &tensor.Quant{Scale: []float32{1}, ZeroPoint: []int32{0}}
	qo := shapeTensor("qo", tensor.Int8, nil, nil)
	qo.Quant = &tensor.Quant{Scale: []float32{2}, ZeroPoint: []int32{0}}
	if _, err := Pack([]*tensor.Tensor{qa}, 0, qo); err == nil {
		t.Error("Pack(quantization mismatch) succeeded; want an error")
	}

	// in is [2,3] = [[0,1,2],[3,4,5]].
	unpacks := []struct {
		name       string
		axis, n    int
		wantShapes [][]int
		want       [][]int64
		wantErr    bool
	}{
		{name: "axis 0", axis: 0, n: 2, wantShapes: [][]int{{3}, {3}}, want: [][]int64{{0, 1, 2}, {3, 4, 5}}},
		{name: "axis -1", axis: -1, n: 3, wantShapes: [][]int{{2}, {2}, {2}}, want: [][]int64{{0, 3}, {1, 4}, {2, 5}}},
		{name: "wrong count", axis: 0, n: 3, wantErr: true},
	}
	for _, tc := range unpacks {
		t.Run("unpack "+tc.name, func(t *testing.T) {
			in := shapeTensor("in", tensor.UInt8, []int{2, 3}, shapeIota(6))
			outs := make([]*tensor.Tensor, tc.n)
			for i := range outs {
				outs[i] = shapeTensor("out", tensor.UInt8, nil, nil)
			}
			k, err := Unpack(in, tc.axis, outs)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Unpack(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unpack(%s): %v", tc.name, err)
			}
			shapeRunMulti(t, "Unpack("+tc.name+")", k, outs, tc.wantShapes, tc.want)
		})
	}
}

// shapeRunMulti is shapeRun for kernels with several outputs.
func shapeRunMulti(t *testing.T, op string, k Kernel, outs []*tensor.Tensor, wantShapes [][]int, want [][]int64) {
	t.Helper()
	for i, o := range outs {
		if !tensor.SameShape(o.Shape, wantShapes[i]) {
			t.Fatalf("%s output %d shape = %v; want %v", op, i, o.Shape, wantShapes[i])
		}
		shapeBind(o)
	}
	if err := k.Eval(); err != nil {
		t.Fatalf("%s Eval: %v", op, err)
	}
	for i, o := range outs {
		got := shapeValues(o)
		for j := range want[i] {
			if got[j] != want[i][j] {
				t.Errorf("%s output %d [%d] = %d; want %d", op, i, j, got[j], want[i][j])
			}
		}
	}
	if a := testing.AllocsPerRun(5, func() { _ = k.Eval() }); a != 0 {
		t.Errorf("%s Eval allocates %v times; want 0", op, a)
	}
}
