package source

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

func TestWindow(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		stride  int
		samples []float64 // one feature each
		wantDue []bool
		want    []float64 // Values after the last sample
	}{
		{name: "tumbling", n: 3, stride: 0, samples: []float64{1, 2, 3, 4, 5, 6, 7},
			wantDue: []bool{false, false, true, false, false, true, false}, want: []float64{5, 6, 7}},
		{name: "sliding", n: 3, stride: 1, samples: []float64{1, 2, 3, 4, 5},
			wantDue: []bool{false, false, true, true, true}, want: []float64{3, 4, 5}},
		{name: "hop 2", n: 3, stride: 2, samples: []float64{1, 2, 3, 4, 5, 6},
			wantDue: []bool{false, false, true, false, true, false}, want: []float64{4, 5, 6}},
		{name: "partial", n: 4, stride: 0, samples: []float64{1, 2},
			wantDue: []bool{false, false}, want: []float64{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWindow(tt.n, 1, tt.stride)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.samples {
				due, err := w.Add([]float64{s})
				if err != nil {
					t.Fatal(err)
				}
				if due != tt.wantDue[i] {
					t.Errorf("Add(sample %d) due = %v; want %v", i, due, tt.wantDue[i])
				}
			}
			if got := w.Values(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Values() = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestWindowFeaturesAndReset(t *testing.T) {
	w, err := NewWindow(2, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Add([]float64{1, 2})
	w.Reset()
	w.Add([]float64{3, 4})
	if due, _ := w.Add([]float64{5, 6}); !due {
		t.Error("second sample after Reset not due")
	}
	if got, want := w.Values(), []float64{3, 4, 5, 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("Values() = %v; want %v", got, want)
	}
	if _, err := w.Add([]float64{1}); err == nil {
		t.Error("Add of 1 value to a 2-feature window succeeded")
	}
}

func TestWindowShape(t *testing.T) {
	tests := []struct {
		name    string
		shape   []int
		want    []int
		wantErr string
	}{
		{name: "same", shape: []int{1, 10, 3}, want: []int{1, 10, 3}},
		{name: "flat", shape: []int{1, 30}, want: []int{1, 30}},
		{name: "dynamic", shape: []int{1, -1, 3}, want: []int{1, 10, 3}},
		{name: "mismatch", shape: []int{1, 8, 3}, wantErr: "holds 24 values; a window of 10 samples of 3 features has 30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := windowShape(10, 3, infer.TensorSpec{Name: "in", Shape: tt.shape})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("windowShape(%v) error = %v; want %q", tt.shape, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("windowShape(%v) = %v, %v; want %v", tt.shape, got, err, tt.want)
			}
		})
	}
}

func TestEncodeValues(t *testing.T) {
	u8 := infer.TensorSpec{DType: tensor.UInt8, Scale: 0.1, ZeroPoint: 128, Quantized: true}
	i16 := infer.TensorSpec{DType: tensor.Int16, Scale: 0.001, ZeroPoint: 0, Quantized: true}
	tests := []struct {
		name    string
		spec    infer.TensorSpec
		vals    []float64
		want    []byte
		wantErr string
	}{
		// q = round(v/0.1) + 128: 0→128, 1→138, -1→118, 20→328→255, -20→-72→0.
		{name: "uint8", spec: u8, vals: []float64{0, 1, -1, 20, -20}, want: []byte{128, 138, 118, 255, 0}},
		// q = round(v/0.001): 1.5→1500 (0x05DC), -0.0027→-2.7→-3 (0xFFFD), 40→40000→32767 (0x7FFF).
		{name: "int16", spec: i16, vals: []float64{1.5, -0.0027, 40}, want: []byte{0xDC, 0x05, 0xFD, 0xFF, 0xFF, 0x7F}},
		// 7 = 0x00000007, -2 = 0xFFFFFFFE.
		{name: "int32 exact", spec: infer.TensorSpec{DType: tensor.Int32}, vals: []float64{7, -2}, want: []byte{7, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF}},
		{name: "int32 fraction", spec: infer.TensorSpec{DType: tensor.Int32}, vals: []float64{0.5}, wantErr: "value 0 is 0.5"},
		{name: "unquantized int8 range", spec: infer.TensorSpec{DType: tensor.Int8}, vals: []float64{1, 200}, wantErr: "value 1 is 200"},
		{name: "nan", spec: u8, vals: []float64{math.NaN()}, wantErr: "not a finite number"},
		{name: "inf float", spec: infer.TensorSpec{DType: tensor.Float32}, vals: []float64{math.Inf(1)}, wantErr: "not a finite number"},
		{name: "bool", spec: infer.TensorSpec{DType: tensor.Bool}, vals: []float64{1}, wantErr: "cannot encode numbers as bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeValues(tt.vals, tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("encodeValues(%v) error = %v; want %q", tt.vals, err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("encodeValues(%v) = % x, %v; want % x", tt.vals, got, err, tt.want)
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	spec := infer.TensorSpec{Name: "o", DType: tensor.UInt8, Scale: 0.5, ZeroPoint: 100, Quantized: true}
	tt := infer.Tensor{DType: tensor.UInt8, Data: []byte{100, 104, 0}}
	// 0.5 * (q - 100): 100→0, 104→2, 0→-50.
	if got, err := decodeValues(tt, spec, true); err != nil || !reflect.DeepEqual(got, []float64{0, 2, -50}) {
		t.Errorf("decodeValues dequantized = %v, %v; want [0 2 -50]", got, err)
	}
	if got, err := decodeValues(tt, spec, false); err != nil || !reflect.DeepEqual(got, []float64{100, 104, 0}) {
		t.Errorf("decodeValues raw = %v, %v; want [100 104 0]", got, err)
	}
	if _, err := decodeValues(infer.Tensor{DType: tensor.Float32, Data: []byte{1, 2, 3}}, spec, false); err == nil {
		t.Error("decodeValues of 3 bytes of float32 succeeded")
	}
}
