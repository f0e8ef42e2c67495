package kernels

import (
	"errors"
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestArgMinMax(t *testing.T) {
	x23 := []float64{1, 5, 5, -1, -1, -2} // [[1,5,5],[-1,-1,-2]]
	tests := []struct {
		name      string
		isMax     bool
		axis      int
		dt, outDT tensor.DType
		inShape   []int
		in        []float64
		wantShape []int
		want      []float64
		wantErr   error
	}{
		{name: "max float axis 1, tie picks first", isMax: true, axis: 1, dt: tensor.Float32, outDT: tensor.Int32,
			inShape: []int{2, 3}, in: x23, wantShape: []int{2}, want: []float64{1, 0}},
		{name: "min float axis -1", axis: -1, dt: tensor.Float32, outDT: tensor.Int64,
			inShape: []int{2, 3}, in: x23, wantShape: []int{2}, want: []float64{0, 2}},
		{name: "max int8 axis 0", isMax: true, axis: 0, dt: tensor.Int8, outDT: tensor.Int32,
			inShape: []int{2, 3}, in: x23, wantShape: []int{3}, want: []float64{0, 0, 0}},
		{name: "min uint8 axis 0 ties", axis: 0, dt: tensor.UInt8, outDT: tensor.Int32,
			inShape: []int{2, 2}, in: []float64{3, 7, 3, 2}, wantShape: []int{2}, want: []float64{0, 1}},
		{name: "max int32 middle axis", isMax: true, axis: 1, dt: tensor.Int32, outDT: tensor.Int64,
			inShape: []int{2, 3, 2}, in: []float64{0, 9, 4, 9, 4, 1, -5, -6, -7, -8, -5, -6},
			wantShape: []int{2, 2}, want: []float64{1, 0, 0, 0}},
		{name: "max float NaN never wins", isMax: true, axis: 0, dt: tensor.Float32, outDT: tensor.Int32,
			inShape: []int{3}, in: []float64{1, math.NaN(), 2}, wantShape: []int{}, want: []float64{2}},
		{name: "max bool", isMax: true, axis: 0, dt: tensor.Bool, outDT: tensor.Int32,
			inShape: []int{3}, in: []float64{0, 1, 1}, wantShape: []int{}, want: []float64{1}},
		{name: "axis out of range", isMax: true, axis: 2, dt: tensor.Float32, outDT: tensor.Int32,
			inShape: []int{2, 3}, in: x23, wantErr: errAny},
		{name: "float output", isMax: true, axis: 0, dt: tensor.Float32, outDT: tensor.Float32,
			inShape: []int{2, 3}, in: x23, wantErr: ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := poolTensor("in", tt.dt, tt.inShape, nil, tt.in)
			out := poolTensor("out", tt.outDT, nil, nil, nil)
			k, err := ArgMinMax(&Config{}, tt.isMax, tt.axis, in, out)
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("ArgMinMax(%s) err = %v; want %v", tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ArgMinMax(%s): %v", tt.name, err)
			}
			poolCheck(t, "ArgMinMax", tt.name, k, out, tt.wantShape, tt.want)
		})
	}
}
