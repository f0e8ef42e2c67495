package drift

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

func f32bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func i8bytes(v ...int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

func TestExtract(t *testing.T) {
	tests := []struct {
		name      string
		spec      infer.TensorSpec
		data      []byte
		wantNames []string
		want      []float64
	}{
		// q −128, 0, 10, 20 with scale 0.5, zero point −128 → 0, 64, 69,
		// 74: mean 51.75, population std √(3620.75/4) = 30.0863341.
		{"int8 image", infer.TensorSpec{DType: tensor.Int8, Shape: []int{1, 2, 2, 1}, Quantized: true, Scale: 0.5, ZeroPoint: -128},
			i8bytes(-128, 0, 10, 20), []string{"in.c0.mean", "in.c0.std"}, []float64{51.75, 30.0863341}},
		// Pixels (10,20,30) and (30,20,10).
		{"uint8 rgb", infer.TensorSpec{DType: tensor.UInt8, Shape: []int{1, 1, 2, 3}},
			[]byte{10, 20, 30, 30, 20, 10},
			[]string{"in.c0.mean", "in.c0.std", "in.c1.mean", "in.c1.std", "in.c2.mean", "in.c2.std"},
			[]float64{20, 10, 20, 0, 20, 10}},
		{"float32 series", infer.TensorSpec{DType: tensor.Float32, Shape: []int{1, 4, 1}},
			f32bytes(1, 2, 3, 4), []string{"in.c0.mean", "in.c0.std"}, []float64{2.5, math.Sqrt(1.25)}},
		{"float32 vector", infer.TensorSpec{DType: tensor.Float32, Shape: []int{1, 3}},
			f32bytes(1.5, -2, 0.25), []string{"in[0]", "in[1]", "in[2]"}, []float64{1.5, -2, 0.25}},
		// q 2, 12, −8 with scale 0.1, zero point 2 → 0, 1, −1.
		{"int8 vector", infer.TensorSpec{DType: tensor.Int8, Shape: []int{1, 3}, Quantized: true, Scale: 0.1, ZeroPoint: 2},
			i8bytes(2, 12, -8), []string{"in[0]", "in[1]", "in[2]"}, []float64{0, 1, -1}},
		{"int16 vector", infer.TensorSpec{DType: tensor.Int16, Shape: []int{2}, Quantized: true, Scale: 0.5},
			[]byte{0xff, 0xff, 4, 0}, []string{"in[0]", "in[1]"}, []float64{-0.5, 2}},
	}
	for _, tt := range tests {
		e, err := NewExtractor("in", tt.spec)
		if err != nil {
			t.Fatalf("NewExtractor(%s): %v", tt.name, err)
		}
		for i, f := range e.Features() {
			if i >= len(tt.wantNames) || f.Name != tt.wantNames[i] {
				t.Errorf("NewExtractor(%s) feature %d = %q; want %v", tt.name, i, f.Name, tt.wantNames)
			}
		}
		got, err := e.Extract(nil, tt.data)
		if err != nil {
			t.Fatalf("Extract(%s): %v", tt.name, err)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("Extract(%s) = %v; want %v", tt.name, got, tt.want)
		}
		for i := range got {
			if !near(got[i], tt.want[i], 1e-6) {
				t.Errorf("Extract(%s)[%d] = %.9g; want %.9g", tt.name, i, got[i], tt.want[i])
			}
		}
	}
}

func TestExtractSteps(t *testing.T) {
	e, err := NewExtractor("in", infer.TensorSpec{DType: tensor.Int8, Shape: []int{1, 2}, Quantized: true, Scale: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Features()[1].Step; got != 0.25 {
		t.Errorf("quantized vector step = %g; want the scale 0.25", got)
	}
	img, _ := NewExtractor("in", infer.TensorSpec{DType: tensor.Int8, Shape: []int{1, 2, 2, 1}, Quantized: true, Scale: 0.25})
	if got := img.Features()[0].Step; got != 0 {
		t.Errorf("channel mean step = %g; want 0 (a mean is not on the grid)", got)
	}
}

func TestExtractErrors(t *testing.T) {
	tests := []struct {
		name string
		spec infer.TensorSpec
	}{
		{"float16", infer.TensorSpec{DType: tensor.Float16, Shape: []int{1, 2}}},
		{"scalar", infer.TensorSpec{DType: tensor.Float32}},
		{"zero dim", infer.TensorSpec{DType: tensor.Float32, Shape: []int{1, 0, 3}}},
		{"zero scale", infer.TensorSpec{DType: tensor.Int8, Shape: []int{1, 2}, Quantized: true}},
		{"too many features", infer.TensorSpec{DType: tensor.Float32, Shape: []int{1, MaxFeatures + 1}}},
	}
	for _, tt := range tests {
		if _, err := NewExtractor("in", tt.spec); err == nil {
			t.Errorf("NewExtractor(%s) = nil error; want one", tt.name)
		}
	}
	e, _ := NewExtractor("in", infer.TensorSpec{DType: tensor.Float32, Shape: []int{1, 3}})
	if _, err := e.Extract(nil, make([]byte, 8)); err == nil {
		t.Errorf("Extract(8 bytes for 3 float32) = nil error")
	}
}

func TestTop1(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name  string
		dtype tensor.DType
		data  []byte
		want  int
	}{
		{"float32", tensor.Float32, f32bytes(0.1, 0.7, 0.2), 1},
		{"float32 NaN first", tensor.Float32, f32bytes(nan, -3, -4), 1},
		{"int8 tie", tensor.Int8, i8bytes(-128, 5, 5), 1},
		{"uint8", tensor.UInt8, []byte{200, 10, 255}, 2},
	}
	for _, tt := range tests {
		got, err := Top1(infer.TensorSpec{DType: tt.dtype}, tt.data)
		if err != nil || got != tt.want {
			t.Errorf("Top1(%s) = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
	if _, err := Top1(infer.TensorSpec{DType: tensor.Float32}, f32bytes(nan)); err == nil {
		t.Errorf("Top1(all NaN) = nil error")
	}
	if _, err := Top1(infer.TensorSpec{DType: tensor.Float32}, []byte{1, 2, 3}); err == nil {
		t.Errorf("Top1(3 bytes of float32) = nil error")
	}
}

func TestSums8(t *testing.T) {
	fill := func(n int, f func(i int) byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = f(i)
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short", []byte{1, 2, 255}},
		{"all 0xff across lane flushes", fill(8*128*3+5, func(int) byte { return 0xff })},
		{"all 0x80", fill(8*300, func(int) byte { return 0x80 })},
		{"all 0x7f", fill(8*129, func(int) byte { return 0x7f })},
		{"ramp", fill(9216, func(i int) byte { return byte(i * 7) })},
	}
	for _, tt := range tests {
		for _, signed := range []bool{false, true} {
			var want, want2 int64
			for _, x := range tt.data {
				q := int64(x)
				if signed {
					q = int64(int8(x))
				}
				want += q
				want2 += q * q
			}
			if s, s2 := sums8(tt.data, signed); s != want || s2 != want2 {
				t.Errorf("sums8(%s, signed %v) = %d, %d; want %d, %d", tt.name, signed, s, s2, want, want2)
			}
		}
	}
}
