package delegates

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestAgree(t *testing.T) {
	i8 := func(v ...int8) tensor.Tensor {
		b := make([]byte, len(v))
		for i, x := range v {
			b[i] = byte(x)
		}
		return tensor.Tensor{Type: tensor.Int8, Shape: []int{len(v)}, Data: b}
	}
	f32 := func(v ...float32) tensor.Tensor {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return tensor.Tensor{Type: tensor.Float32, Shape: []int{len(v)}, Data: b}
	}
	i64 := func(n, differ int) tensor.Tensor {
		b := make([]byte, 8*n)
		for i := range differ {
			b[8*i] = 1
		}
		return tensor.Tensor{Type: tensor.Int64, Shape: []int{n}, Data: b}
	}
	tests := []struct {
		name      string
		want, got tensor.Tensor
		ok        bool
		maxDiff   float64
	}{
		{"int8 4 steps", i8(60, -60), i8(57, -56), true, 4},
		{"int8 5 steps", i8(60, -60), i8(55, -60), false, 5},
		{"int8 wraps", i8(127, 0), i8(-128, 0), false, 255},
		// scale 100: 1e-3*100 + 1e-2*|v| = 0.1 + 0.01|v|
		{"float within", f32(100, 1), f32(100.9, 1.1), true, float64(float32(100.9)) - 100},
		{"float beyond", f32(100, 1), f32(100, 1.2), false, float64(float32(1.2)) - 1},
		{"float NaN", f32(1), f32(float32(math.NaN())), false, math.Inf(1)},
		{"int64 1 of 100 differs", i64(100, 0), i64(100, 1), true, 1},
		{"int64 2 of 100 differ", i64(100, 0), i64(100, 2), false, 2},
	}
	for _, tt := range tests {
		d, ok, why := agree([]tensor.Tensor{tt.want}, []tensor.Tensor{tt.got})
		if ok != tt.ok || d != tt.maxDiff || (ok != (why == "")) {
			t.Errorf("%s: agree = %v, %v, %q; want %v, %v", tt.name, d, ok, why, tt.maxDiff, tt.ok)
		}
	}
	if _, ok, _ := agree([]tensor.Tensor{i8(1)}, []tensor.Tensor{f32(1)}); ok {
		t.Error("int8 against float32 agrees; want a type mismatch")
	}
}
