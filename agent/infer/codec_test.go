package infer

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestEncodeReal(t *testing.T) {
	u8 := TensorSpec{DType: tensor.UInt8, Scale: 0.1, ZeroPoint: 128, Quantized: true}
	i16 := TensorSpec{DType: tensor.Int16, Scale: 0.001, ZeroPoint: 0, Quantized: true}
	tests := []struct {
		name    string
		spec    TensorSpec
		vals    []float64
		want    []byte
		wantErr string
	}{
		// q = round(v/0.1) + 128: 0→128, 1→138, -1→118, 20→328→255, -20→-72→0.
		{name: "uint8", spec: u8, vals: []float64{0, 1, -1, 20, -20}, want: []byte{128, 138, 118, 255, 0}},
		// q = round(v/0.001): 1.5→1500 (0x05DC), -0.0027→-2.7→-3 (0xFFFD), 40→40000→32767 (0x7FFF).
		{name: "int16", spec: i16, vals: []float64{1.5, -0.0027, 40}, want: []byte{0xDC, 0x05, 0xFD, 0xFF, 0xFF, 0x7F}},
		// 7 = 0x00000007, -2 = 0xFFFFFFFE.
		{name: "int32 exact", spec: TensorSpec{DType: tensor.Int32}, vals: []float64{7, -2}, want: []byte{7, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF}},
		{name: "int32 fraction", spec: TensorSpec{DType: tensor.Int32}, vals: []float64{0.5}, wantErr: "value 0 is 0.5"},
		{name: "unquantized int8 range", spec: TensorSpec{DType: tensor.Int8}, vals: []float64{1, 200}, wantErr: "value 1 is 200"},
		{name: "nan", spec: u8, vals: []float64{math.NaN()}, wantErr: "not a finite number"},
		{name: "inf float", spec: TensorSpec{DType: tensor.Float32}, vals: []float64{math.Inf(1)}, wantErr: "not a finite number"},
		{name: "bool", spec: TensorSpec{DType: tensor.Bool}, vals: []float64{1}, wantErr: "cannot encode numbers as bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeReal(tt.vals, tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("EncodeReal(%v) error = %v; want %q", tt.vals, err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("EncodeReal(%v) = % x, %v; want % x", tt.vals, got, err, tt.want)
			}
		})
	}
}

func TestRealValues(t *testing.T) {
	spec := TensorSpec{Name: "o", DType: tensor.UInt8, Scale: 0.5, ZeroPoint: 100, Quantized: true}
	tt := Tensor{DType: tensor.UInt8, Data: []byte{100, 104, 0}}
	// 0.5 * (q - 100): 100→0, 104→2, 0→-50.
	if got, err := RealValues(tt, spec); err != nil || !reflect.DeepEqual(got, []float64{0, 2, -50}) {
		t.Errorf("RealValues = %v, %v; want [0 2 -50]", got, err)
	}
	if got, err := Values(tt.DType, tt.Data); err != nil || !reflect.DeepEqual(got, []float64{100, 104, 0}) {
		t.Errorf("Values = %v, %v; want [100 104 0]", got, err)
	}
	if _, err := Values(tensor.Float32, []byte{1, 2, 3}); err == nil {
		t.Error("Values of 3 bytes of float32 succeeded")
	}
}

// TestEncode: exact numbers in each type's little-endian bytes, and the
// values a type cannot hold refused with the value named.
func TestEncode(t *testing.T) {
	tests := []struct {
		d       tensor.DType
		vals    []float64
		want    []byte
		wantErr string
	}{
		// 1.5 = 0x3FC00000 in float32.
		{d: tensor.Float32, vals: []float64{1.5}, want: []byte{0, 0, 0xC0, 0x3F}},
		// 1.5 = 0x3FF8000000000000 in float64.
		{d: tensor.Float64, vals: []float64{1.5}, want: []byte{0, 0, 0, 0, 0, 0, 0xF8, 0x3F}},
		{d: tensor.Int8, vals: []float64{-128, 127}, want: []byte{0x80, 0x7F}},
		{d: tensor.UInt16, vals: []float64{65535}, want: []byte{0xFF, 0xFF}},
		// -1 = 0xFFFF_FFFF_FFFF_FFFF.
		{d: tensor.Int64, vals: []float64{-1}, want: bytes.Repeat([]byte{0xFF}, 8)},
		{d: tensor.Bool, vals: []float64{1, 0}, want: []byte{1, 0}},
		{d: tensor.Bool, vals: []float64{2}, wantErr: "value 0 is 2; bool takes whole numbers in [0, 1]"},
		{d: tensor.UInt8, vals: []float64{256}, wantErr: "value 0 is 256"},
		{d: tensor.Int32, vals: []float64{1, 2.5}, wantErr: "value 1 is 2.5"},
		{d: tensor.Int64, vals: []float64{1 << 54}, wantErr: "value 0 is 1.8014398509481984e+16"},
		{d: tensor.Float32, vals: []float64{1e39}, wantErr: "not a finite number as float32"},
		{d: tensor.Float64, vals: []float64{math.Inf(-1)}, wantErr: "value 0 is -Inf: not a finite number"},
		{d: tensor.Float16, vals: []float64{1}, wantErr: "cannot encode numbers as float16"},
	}
	for _, tt := range tests {
		got, err := Encode(tt.vals, tt.d)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Encode(%v, %s) error = %v; want %q", tt.vals, tt.d, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("Encode(%v, %s) = % x, %v; want % x", tt.vals, tt.d, got, err, tt.want)
		}
		back, err := Values(tt.d, got)
		if err != nil || !reflect.DeepEqual(back, tt.vals) {
			t.Errorf("Values(Encode(%v, %s)) = %v, %v", tt.vals, tt.d, back, err)
		}
	}
}

func TestDatatypeNames(t *testing.T) {
	for d, name := range map[tensor.DType]string{tensor.Float32: "FP32", tensor.UInt8: "UINT8", tensor.Bool: "BOOL", tensor.Int64: "INT64"} {
		if got := DatatypeName(d); got != name {
			t.Errorf("DatatypeName(%s) = %q; want %q", d, got, name)
		}
		if got, ok := ParseDatatype(name); !ok || got != d {
			t.Errorf("ParseDatatype(%q) = %s, %v; want %s", name, got, ok, d)
		}
	}
	if _, ok := ParseDatatype("fp32"); ok {
		t.Error("ParseDatatype takes lower case")
	}
	if _, ok := ParseDatatype("BYTES"); ok {
		t.Error("ParseDatatype takes BYTES, which no tensor type holds")
	}
}

// TestQuantizeFloat32: the division is done in float32, as TFLite does:
// 0.3 / 0.1 is 2.9999998 in float32 (round → 3), and the product of
// Dequantize too (0.1f * 3 = 0.3 in float32, 0.30000001192092896 as a
// float64).
func TestQuantizeFloat32(t *testing.T) {
	s := TensorSpec{DType: tensor.Int8, Scale: 0.1, ZeroPoint: 0, Quantized: true}
	if !s.Quantizes() {
		t.Fatal("an int8 spec with a scale does not quantize")
	}
	if q := s.Quantize(0.3); q != 3 {
		t.Errorf("Quantize(0.3) = %g; want 3", q)
	}
	if v := s.Dequantize(3); v != float64(float32(0.3)) {
		t.Errorf("Dequantize(3) = %.17g; want float32(0.3) = %.17g", v, float64(float32(0.3)))
	}
	for _, ns := range []TensorSpec{
		{DType: tensor.Int8, Quantized: true},                // no scale
		{DType: tensor.Int32, Scale: 1, Quantized: true},     // not a quantized type
		{DType: tensor.Float32, Scale: 0.1, Quantized: true}, // not a quantized type
	} {
		if ns.Quantizes() {
			t.Errorf("%+v quantizes", ns)
		}
	}
}
