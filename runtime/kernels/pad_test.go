package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestPad(t *testing.T) {
	q := func(zp int32) *tensor.Quant { return &tensor.Quant{Scale: []float32{0.5}, ZeroPoint: []int32{zp}} }
	tests := []struct {
		name      string
		dt        tensor.DType
		quant     *tensor.Quant
		shape     []int
		vals      []int64
		paddings  []int
		value     *tensor.Tensor
		wantShape []int
		want      []int64
		wantErr   bool
	}{
		{
			// [[1,2],[3,4]] with one row before and two columns after... and one before.
			name: "float 2d", dt: tensor.Float32, shape: []int{2, 2}, vals: []int64{1, 2, 3, 4},
			paddings: []int{1, 0, 1, 1}, wantShape: []int{3, 4},
			want: []int64{
				0, 0, 0, 0,
				0, 1, 2, 0,
				0, 3, 4, 0,
			},
		},
		{
			// PAD on uint8 pads with the output zero point.
			name: "uint8 zero point", dt: tensor.UInt8, quant: q(128), shape: []int{1, 2, 1, 1}, vals: []int64{7, 9},
			paddings: []int{0, 0, 1, 1, 0, 0, 0, 1}, wantShape: []int{1, 4, 1, 2},
			want: []int64{128, 128, 7, 128, 9, 128, 128, 128},
		},
		{
			name: "int8 zero point", dt: tensor.Int8, quant: q(-3), shape: []int{3}, vals: []int64{1, 2, 3},
			paddings: []int{2, 1}, wantShape: []int{6}, want: []int64{-3, -3, 1, 2, 3, -3},
		},
		{
			name: "padv2 int8", dt: tensor.Int8, quant: q(-3), shape: []int{2}, vals: []int64{1, 2},
			paddings: []int{1, 1}, value: &tensor.Tensor{Name: "v", Type: tensor.Int8, Quant: q(-3), Data: []byte{0xfb}},
			wantShape: []int{4}, want: []int64{-5, 1, 2, -5},
		},
		{
			name: "padv2 float", dt: tensor.Float32, shape: []int{1}, vals: []int64{3},
			paddings: []int{1, 2}, value: shapeTensor("v", tensor.Float32, []int{}, []int64{-7}),
			wantShape: []int{4}, want: []int64{-7, 3, -7, -7},
		},
		{
			name: "int64 3d", dt: tensor.Int64, shape: []int{1, 1, 2}, vals: []int64{5, 6},
			paddings: []int{0, 1, 0, 0, 1, 0}, wantShape: []int{2, 1, 3}, want: []int64{0, 5, 6, 0, 0, 0},
		},
		{
			name: "padv2 quant mismatch", dt: tensor.Int8, quant: q(-3), shape: []int{2}, vals: []int64{1, 2},
			paddings: []int{1, 1}, value: &tensor.Tensor{Name: "v", Type: tensor.Int8, Quant: q(0), Data: []byte{0}}, wantErr: true,
		},
		{name: "negative", dt: tensor.Float32, shape: []int{2}, vals: []int64{1, 2}, paddings: []int{-1, 0}, wantErr: true},
		{name: "wrong count", dt: tensor.Float32, shape: []int{2}, vals: []int64{1, 2}, paddings: []int{1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := shapeTensor("in", tc.dt, tc.shape, tc.vals)
			in.Quant = tc.quant
			out := shapeTensor("out", tc.dt, nil, nil)
			out.Quant = tc.quant
			k, err := Pad(in, tc.paddings, tc.value, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Pad(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pad(%s): %v", tc.name, err)
			}
			shapeRun(t, "Pad("+tc.name+")", k, out, tc.wantShape, tc.want)
		})
	}
}
