package kernels

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// binT makes a tensor holding vals ([]float32, []int8, []uint8, []int16,
// []int32 or []int64); nil vals leaves the data to binAlloc.
func binT(name string, dt tensor.DType, shape []int, q *tensor.Quant, vals any) *tensor.Tensor {
	t := &tensor.Tensor{Name: name, Type: dt, Shape: append([]int(nil), shape...), Quant: q}
	var b []byte
	switch v := vals.(type) {
	case nil:
		return t
	case []float32:
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	case []int8:
		for _, x := range v {
			b = append(b, byte(x))
		}
	case []uint8:
		b = append(b, v...)
	case []int16:
		for _, x := range v {
			b = binary.LittleEndian.AppendUint16(b, uint16(x))
		}
	case []int32:
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, uint32(x))
		}
	case []int64:
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		}
	default:
		panic("binT: unsupported values")
	}
	t.Data = b
	return t
}

func binQ(scale float32, zp int32) *tensor.Quant {
	return &tensor.Quant{Scale: []float32{scale}, ZeroPoint: []int32{zp}}
}

// binValues returns a tensor's values as float64 for comparison.
func binValues(t *tensor.Tensor) []float64 {
	n := t.NumElements()
	out := make([]float64, n)
	for i := range out {
		switch t.Type {
		case tensor.Float32:
			out[i] = float64(t.Float32s()[i])
		case tensor.Int8:
			out[i] = float64(t.Int8s()[i])
		case tensor.UInt8:
			out[i] = float64(t.UInt8s()[i])
		case tensor.Int16:
			out[i] = float64(t.Int16s()[i])
		case tensor.Int32:
			out[i] = float64(t.Int32s()[i])
		case tensor.Int64:
			out[i] = float64(t.Int64s()[i])
		}
	}
	return out
}

type binCase struct {
	name      string
	op        BinaryOp
	act       Activation
	a, b, out *tensor.Tensor
	wantShape []int
	want      []float64
	wantErr   bool // constructor error
	wantEval  error
}

func runBinCases(t *testing.T, cases []binCase) {
	t.Helper()
	cfg := &Config{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := Binary(cfg, c.op, BinaryParams{Activation: c.act}, c.a, c.b, c.out)
			if c.wantErr {
				if err == nil {
					t.Fatalf("%s(%s) constructor succeeded; want an error", c.op, c.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s(%s) constructor: %v", c.op, c.name, err)
			}
			if !tensor.SameShape(c.out.Shape, c.wantShape) {
				t.Fatalf("%s(%s) output shape = %v; want %v", c.op, c.name, c.out.Shape, c.wantShape)
			}
			c.out.Data = make([]byte, c.out.NumBytes())
			err = k.Eval()
			if c.wantEval != nil {
				if !errors.Is(err, c.wantEval) {
					t.Fatalf("%s(%s) Eval error = %v; want %v", c.op, c.name, err, c.wantEval)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s(%s) Eval: %v", c.op, c.name, err)
			}
			got := binValues(c.out)
			for i, w := range c.want {
				if c.out.Type == tensor.Float32 {
					if !(math.Abs(got[i]-w) <= 1e-5+1e-5*math.Abs(w)) && !(math.IsInf(w, 0) && got[i] == w) {
						t.Errorf("%s(%s) output[%d] = %g; want %g", c.op, c.name, i, got[i], w)
					}
				} else if got[i] != w {
					t.Errorf("%s(%s) output[%d] = %d; want %d", c.op, c.name, i, int64(got[i]), int64(w))
				}
			}
		})
	}
}

func TestBinaryFloat(t *testing.T) {
	f := tensor.Float32
	inf := math.Inf(1)
	cases := []binCase{
		{name: "add_row_broadcast_relu6", op: OpAdd, act: ActRelu6,
			a:   binT("a", f, []int{2, 3}, nil, []float32{1, -2, 3, 4, 5, -6}),
			b:   binT("b", f, []int{3}, nil, []float32{0.5, 1, 2}),
			out: binT("o", f, nil, nil, nil), wantShape: []int{2, 3},
			want: []float64{1.5, 0, 5, 4.5, 6, 0}},
		{name: "sub_scalar_first", op: OpSub,
			a:   binT("a", f, []int{}, nil, []float32{10}),
			b:   binT("b", f, []int{1, 3}, nil, []float32{1, 2, 3}),
			out: binT("o", f, nil, nil, nil), wantShape: []int{1, 3},
			want: []float64{9, 8, 7}},
		{name: "mul_outer_product", op: OpMul,
			a:   binT("a", f, []int{2, 1, 3}, nil, []float32{1, 2, 3, 4, 5, 6}),
			b:   binT("b", f, []int{1, 2, 1}, nil, []float32{10, -1}),
			out: binT("o", f, nil, nil, nil), wantShape: []int{2, 2, 3},
			want: []float64{10, 20, 30, -1, -2, -3, 40, 50, 60, -4, -5, -6}},
		{name: "div_relu_n1_to_1", op: OpDiv, act: ActReluN1To1,
			a:   binT("a", f, []int{4}, nil, []float32{1, -9, 3, 0.5}),
			b:   binT("b", f, []int{4}, nil, []float32{4, 3, 1, 1}),
			out: binT("o", f, nil, nil, nil), wantShape: []int{4},
			want: []float64{0.25, -1, 1, 0.5}},
		{name: "div_by_zero_is_inf", op: OpDiv,
			a:   binT("a", f, []int{1}, nil, []float32{1}),
			b:   binT("b", f, []int{1}, nil, []float32{0}),
			out: binT("o", f, nil, nil, nil), wantShape: []int{1},
			want: []float64{inf}},
		{name: "floor_div", op: OpFloorDiv,
			a:   binT("a", f, []int{4}, nil, []float32{7, -7, 7, -7}),
			b:   binT("b", f, []int{4}, nil, []float32{2, 2, -2, -2}),
			out: binT("o", f, nil, nil, nil), wantShape: []int{4},
			want: []float64{3, -4, -4, 3}},
		{name: "squared_difference", op: OpSquaredDifference,
			a:   binT("a", f, []int{3}, nil, []float32{1, -2, 0.5}),
			b:   binT("b", f, []int{1}, nil, []float32{3}),
			out: binT("o", f, nil, nil, nil), wantShape: []int{3},
			want: []float64{4, 25, 6.25}},
		{name: "maximum", op: OpMaximum,
			a:   binT("a", f, []int{2, 2}, nil, []float32{1, 5, -3, 0}),
			b:   binT("b", f, []int{2, 1}, nil, []float32{2, -1}),
			out: binT("o", f, nil, nil, nil), wantShape: []int{2, 2},
			want: []float64{2, 5, -1, 0}},
		{name: "minimum", op: OpMinimum,
			a:   binT("a", f, []int{2, 2}, nil, []float32{1, 5, -3, 0}),
			b:   binT("b", f, []int{2, 1}, nil, []float32{2, -1}),
			out: binT("o", f, nil, nil, nil), wantShape: []int{2, 2},
			want: []float64{1, 2, -3, -1}},
		{name: "shapes_do_not_broadcast", op: OpAdd,
			a:   binT("a", f, []int{2, 3}, nil, make([]float32, 6)),
			b:   binT("b", f, []int{4}, nil, make([]float32, 4)),
			out: binT("o", f, nil, nil, nil), wantErr: true},
		{name: "rank_7", op: OpAdd,
			a:   binT("a", f, []int{1, 1, 1, 1, 1, 1, 2}, nil, make([]float32, 2)),
			b:   binT("b", f, []int{2}, nil, make([]float32, 2)),
			out: binT("o", f, nil, nil, nil), wantErr: true},
		{name: "mixed_types", op: OpAdd,
			a:   binT("a", f, []int{2}, nil, make([]float32, 2)),
			b:   binT("b", tensor.Int32, []int{2}, nil, make([]int32, 2)),
			out: binT("o", f, nil, nil, nil), wantErr: true},
		{name: "maximum_with_activation", op: OpMaximum, act: ActRelu,
			a:   binT("a", f, []int{2}, nil, make([]float32, 2)),
			b:   binT("b", f, []int{2}, nil, make([]float32, 2)),
			out: binT("o", f, nil, nil, nil), wantErr: true},
	}
	runBinCases(t, cases)
}

func TestBinaryInt(t *testing.T) {
	i32, i64 := tensor.Int32, tensor.Int64
	cases := []binCase{
		{name: "add_int32_relu", op: OpAdd, act: ActRelu,
			a:   binT("a", i32, []int{3}, nil, []int32{1, -5, 7}),
			b:   binT("b", i32, []int{1}, nil, []int32{2}),
			out: binT("o", i32, nil, nil, nil), wantShape: []int{3},
			want: []float64{3, 0, 9}},
		{name: "sub_int64", op: OpSub,
			a:   binT("a", i64, []int{2}, nil, []int64{1 << 40, 5}),
			b:   binT("b", i64, []int{2}, nil, []int64{1, 10}),
			out: binT("o", i64, nil, nil, nil), wantShape: []int{2},
			want: []float64{1<<40 - 1, -5}},
		{name: "mul_int32_relu6", op: OpMul, act: ActRelu6,
			a:   binT("a", i32, []int{2, 2}, nil, []int32{1, 2, 3, -4}),
			b:   binT("b", i32, []int{2}, nil, []int32{2, 3}),
			out: binT("o", i32, nil, nil, nil), wantShape: []int{2, 2},
			want: []float64{2, 6, 6, 0}},
		{name: "div_int32_truncates", op: OpDiv,
			a:   binT("a", i32, []int{4}, nil, []int32{7, -7, 7, -7}),
			b:   binT("b", i32, []int{4}, nil, []int32{2, 2, -2, -2}),
			out: binT("o", i32, nil, nil, nil), wantShape: []int{4},
			want: []float64{3, -3, -3, 3}},
		{name: "floor_div_int32", op: OpFloorDiv,
			a:   binT("a", i32, []int{5}, nil, []int32{7, -7, 7, -7, -6}),
			b:   binT("b", i32, []int{5}, nil, []int32{2, 2, -2, -2, 3}),
			out: binT("o", i32, nil, nil, nil), wantShape: []int{5},
			want: []float64{3, -4, -4, 3, -2}},
		{name: "floor_div_int32_by_zero", op: OpFloorDiv,
			a:   binT("a", i32, []int{2}, nil, []int32{1, 2}),
			b:   binT("b", i32, []int{2}, nil, []int32{1, 0}),
			out: binT("o", i32, nil, nil, nil), wantShape: []int{2},
			wantEval: ErrDivisionByZero},
		{name: "div_int32_by_zero", op: OpDiv,
			a:   binT("a", i32, []int{1}, nil, []int32{1}),
			b:   binT("b", i32, []int{1}, nil, []int32{0}),
			out: binT("o", i32, nil, nil, nil), wantShape: []int{1},
			wantEval: ErrDivisionByZero},
		{name: "squared_difference_int32", op: OpSquaredDifference,
			a:   binT("a", i32, []int{2}, nil, []int32{3, -4}),
			b:   binT("b", i32, []int{2}, nil, []int32{-2, 6}),
			out: binT("o", i32, nil, nil, nil), wantShape: []int{2},
			want: []float64{25, 100}},
		{name: "maximum_int64", op: OpMaximum,
			a:   binT("a", i64, []int{3}, nil, []int64{-1, 5, 1 << 50}),
			b:   binT("b", i64, []int{}, nil, []int64{2}),
			out: binT("o", i64, nil, nil, nil), wantShape: []int{3},
			want: []float64{2, 5, 1 << 50}},
		{name: "minimum_int32", op: OpMinimum,
			a:   binT("a", i32, []int{3}, nil, []int32{-1, 5, 2}),
			b:   binT("b", i32, []int{3}, nil, []int32{0, 0, 2}),
			out: binT("o", i32, nil, nil, nil), wantShape: []int{3},
			want: []float64{-1, 0, 2}},
		{name: "maximum_int8_raw", op: OpMaximum,
			a:   binT("a", tensor.Int8, []int{3}, binQ(0.1, 3), []int8{-128, 5, 127}),
			b:   binT("b", tensor.Int8, []int{3}, binQ(0.1, 3), []int8{0, 6, -1}),
			out: binT("o", tensor.Int8, nil, binQ(0.1, 3), nil), wantShape: []int{3},
			want: []float64{0, 6, 127}},
		{name: "minimum_uint8_raw", op: OpMinimum,
			a:   binT("a", tensor.UInt8, []int{3}, binQ(0.1, 128), []uint8{0, 200, 255}),
			b:   binT("b", tensor.UInt8, []int{1}, binQ(0.1, 128), []uint8{100}),
			out: binT("o", tensor.UInt8, nil, binQ(0.1, 128), nil), wantShape: []int{3},
			want: []float64{0, 100, 100}},
		{name: "maximum_int16_raw", op: OpMaximum,
			a:   binT("a", tensor.Int16, []int{2}, binQ(0.1, 0), []int16{-32768, 300}),
			b:   binT("b", tensor.Int16, []int{2}, binQ(0.1, 0), []int16{-5, 299}),
			out: binT("o", tensor.Int16, nil, binQ(0.1, 0), nil), wantShape: []int{2},
			want: []float64{-5, 300}},
	}
	runBinCases(t, cases)
}

func TestBinaryQuant(t *testing.T) {
	i8, u8, i16 := tensor.Int8, tensor.UInt8, tensor.Int16
	cases := []binCase{
		// 1.5 + 2.5 = 4 at scale 1.
		{name: "add_int8_simple", op: OpAdd,
			a:   binT("a", i8, []int{1}, binQ(0.5, 0), []int8{3}),
			b:   binT("b", i8, []int{1}, binQ(0.5, 0), []int8{5}),
			out: binT("o", i8, nil, binQ(1, 0), nil), wantShape: []int{1},
			want: []float64{4}},
		// a = 0.1*(q+10), b = 0.2*(q-5), out = q/0.3 + 3:
		// 3.0+2.0 = 5.0 -> 16.67 -> 17+3; 13.7+24.4 = 38.1 -> 127+3
		// saturates; -11.8-26.6 = -38.4 -> -128+3; 1.0-26.6 -> -85+3.
		{name: "add_int8_zero_points_saturation", op: OpAdd,
			a:   binT("a", i8, []int{4}, binQ(0.1, -10), []int8{20, 127, -128, 0}),
			b:   binT("b", i8, []int{4}, binQ(0.2, 5), []int8{15, 127, -128, -128}),
			out: binT("o", i8, nil, binQ(0.3, 3), nil), wantShape: []int{4},
			want: []float64{20, 127, -125, -82}},
		{name: "add_int8_relu_broadcast", op: OpAdd, act: ActRelu,
			a:   binT("a", i8, []int{2, 2}, binQ(0.1, -10), []int8{20, 0, -10, 40}),
			b:   binT("b", i8, []int{2, 1}, binQ(0.2, 5), []int8{15, -128}),
			out: binT("o", i8, nil, binQ(0.3, 3), nil), wantShape: []int{2, 2},
			// row 0 adds 2.0: 3.0+2 -> 20, 1.0+2 -> 13; row 1 adds -26.6:
			// 0-26.6 and 5.0-26.6 are negative -> relu floor 3.
			want: []float64{20, 13, 3, 3}},
		// uint8: a = 0.5*(q-128), b = 0.5*(q-128), out = q + 128 at scale 1.
		{name: "add_uint8", op: OpAdd,
			a:   binT("a", u8, []int{3}, binQ(0.5, 128), []uint8{130, 0, 255}),
			b:   binT("b", u8, []int{3}, binQ(0.5, 128), []uint8{134, 0, 255}),
			out: binT("o", u8, nil, binQ(1, 128), nil), wantShape: []int{3},
			want: []float64{132, 0, 255}},
		{name: "sub_int8_saturation", op: OpSub,
			a:   binT("a", i8, []int{3}, binQ(1, 0), []int8{5, -128, 127}),
			b:   binT("b", i8, []int{3}, binQ(1, 0), []int8{3, 127, -128}),
			out: binT("o", i8, nil, binQ(1, 0), nil), wantShape: []int{3},
			want: []float64{2, -128, 127}},
		{name: "sub_uint8_scalar", op: OpSub,
			a:   binT("a", u8, []int{3}, binQ(0.5, 10), []uint8{20, 10, 0}),
			b:   binT("b", u8, []int{}, binQ(0.25, 0), []uint8{8}),
			out: binT("o", u8, nil, binQ(0.5, 100), nil), wantShape: []int{3},
			// 5-2 = 3 -> 106; 0-2 -> 96; -5-2 = -7 -> 86.
			want: []float64{106, 96, 86}},
		// (4*0.5)*(12*0.25) = 6 -> 60+10; saturates high and low.
		{name: "mul_uint8", op: OpMul,
			a:   binT("a", u8, []int{3}, binQ(0.5, 128), []uint8{132, 255, 0}),
			b:   binT("b", u8, []int{3}, binQ(0.25, 100), []uint8{112, 255, 112}),
			out: binT("o", u8, nil, binQ(0.1, 10), nil), wantShape: []int{3},
			want: []float64{70, 255, 0}},
		{name: "mul_int8_relu6_broadcast", op: OpMul, act: ActRelu6,
			a:   binT("a", i8, []int{2, 2}, binQ(0.5, 0), []int8{2, 4, 6, -2}),
			b:   binT("b", i8, []int{2}, binQ(0.5, 0), []int8{2, 8}),
			out: binT("o", i8, nil, binQ(0.25, -100), nil), wantShape: []int{2, 2},
			// 1*1 = 1 -> -96; 2*4 = 8 -> relu6 6 -> -76; 3*1 = 3 -> -88; -1*4 -> 0 -> -100.
			want: []float64{-96, -76, -88, -100}},
		{name: "mul_int16", op: OpMul,
			a:   binT("a", i16, []int{2}, binQ(1.0/256, 0), []int16{512, -32768}),
			b:   binT("b", i16, []int{2}, binQ(1.0/256, 0), []int16{768, 32767}),
			out: binT("o", i16, nil, binQ(1.0/128, 0), nil), wantShape: []int{2},
			// 2*3 = 6 -> 768; -128*128 -> saturates.
			want: []float64{768, -32768}},
		{name: "add_int16_general", op: OpAdd,
			a:   binT("a", i16, []int{2}, binQ(0.001, 0), []int16{1000, 32767}),
			b:   binT("b", i16, []int{2}, binQ(0.003, 0), []int16{1000, 32767}),
			out: binT("o", i16, nil, binQ(0.002, 0), nil), wantShape: []int{2},
			// 1+3 = 4 -> 2000; saturates.
			want: []float64{2000, 32767}},
		{name: "add_int16_nonzero_zero_point", op: OpAdd,
			a:   binT("a", i16, []int{1}, binQ(0.001, 1), []int16{0}),
			b:   binT("b", i16, []int{1}, binQ(0.001, 0), []int16{0}),
			out: binT("o", i16, nil, binQ(0.001, 0), nil), wantErr: true},
		// int8 scale 1 zp 0 in, out scale 0.25: 6/4 = 1.5 -> 6; 1/3 -> 1.33;
		// -7/2 = -3.5 -> -14; 100/-1 -> -400 saturates.
		{name: "div_int8", op: OpDiv,
			a:   binT("a", i8, []int{4}, binQ(1, 0), []int8{6, 1, -7, 100}),
			b:   binT("b", i8, []int{4}, binQ(1, 0), []int8{4, 3, 2, -1}),
			out: binT("o", i8, nil, binQ(0.25, 0), nil), wantShape: []int{4},
			want: []float64{6, 1, -14, -128}},
		{name: "div_uint8", op: OpDiv,
			a:   binT("a", u8, []int{2}, binQ(0.5, 0), []uint8{10, 0}),
			b:   binT("b", u8, []int{1}, binQ(0.1, 100), []uint8{120}),
			out: binT("o", u8, nil, binQ(0.05, 5), nil), wantShape: []int{2},
			// 5/2 = 2.5 -> 50+5; 0 -> 5.
			want: []float64{55, 5}},
		// 1/-100 = -0.01 -> -0.16 at scale 1/16: exactly, 0 -> zero point
		// 50. TFLite's final shift is 32 here (undefined in C++): x86-64
		// and Wasm compute -1/100 as -1374389535 (reciprocal of 100 in
		// Q0.31 with shift 6, headroom 31), times 2^30 (multiplier of 16,
		// shift 5) = -687194767, then "divide by 2^32" with an all-ones
		// mask and a shift of 0: -687194767 + 50 clamps to 0, the
		// official runtime's answer (checked with the oracle).
		{name: "div_uint8_tiny_quotient", op: OpDiv,
			a:   binT("a", u8, []int{1}, binQ(1, 0), []uint8{1}),
			b:   binT("b", u8, []int{1}, binQ(1, 200), []uint8{100}),
			out: binT("o", u8, nil, binQ(1.0/16, 50), nil), wantShape: []int{1},
			want: []float64{0}},
		{name: "div_uint8_by_zero", op: OpDiv,
			a:   binT("a", u8, []int{1}, binQ(0.5, 0), []uint8{10}),
			b:   binT("b", u8, []int{1}, binQ(0.1, 100), []uint8{100}),
			out: binT("o", u8, nil, binQ(0.05, 5), nil), wantShape: []int{1},
			wantEval: ErrDivisionByZero},
		// (3-1)^2 = 4 -> -124; 127.5^2 saturates; equal -> 0 -> -128.
		{name: "squared_difference_int8", op: OpSquaredDifference,
			a:   binT("a", i8, []int{3}, binQ(0.5, 0), []int8{6, 127, 9}),
			b:   binT("b", i8, []int{3}, binQ(0.5, 0), []int8{2, -128, 9}),
			out: binT("o", i8, nil, binQ(1, -128), nil), wantShape: []int{3},
			want: []float64{-124, 127, -128}},
		{name: "squared_difference_uint8", op: OpSquaredDifference,
			a:   binT("a", u8, []int{1}, binQ(0.5, 0), []uint8{6}),
			b:   binT("b", u8, []int{1}, binQ(0.5, 0), []uint8{2}),
			out: binT("o", u8, nil, binQ(1, 0), nil), wantErr: true},
		{name: "add_int8_missing_quantization", op: OpAdd,
			a:   binT("a", i8, []int{1}, nil, []int8{1}),
			b:   binT("b", i8, []int{1}, binQ(1, 0), []int8{1}),
			out: binT("o", i8, nil, binQ(1, 0), nil), wantErr: true},
	}
	// Every case once per-element and once from the 256×256 table that
	// large 8-bit ADD/SUB ops use.
	defer func(v int) { lutMinElems = v }(lutMinElems)
	for _, min := range []int{1 << 30, 0} {
		lutMinElems = min
		t.Run(fmt.Sprintf("lut_from_%d_elements", min), func(t *testing.T) { runBinCases(t, cases) })
	}
}

// TestBroadcastPlan checks the strided walk against direct index
// arithmetic on random shapes up to rank 6.
func TestBroadcastPlan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < 300; it++ {
		rank := 1 + r.IntN(MaxBroadcastRank)
		out := make([]int, rank)
		for i := range out {
			out[i] = 1 + r.IntN(4)
		}
		mk := func() []int {
			s := append([]int(nil), out[rank-r.IntN(rank+1):]...)
			for i := range s {
				if r.IntN(3) == 0 {
					s[i] = 1
				}
			}
			return s
		}
		a, b := mk(), mk()
		got, err := BroadcastShape(a, b)
		if err != nil {
			t.Fatalf("BroadcastShape(%v, %v): %v", a, b, err)
		}
		p := newBcastPlan(a, b, got)
		n := numElems(got)
		av, bv := make([]int, numElems(a)), make([]int, numElems(b))
		for i := range av {
			av[i] = i
		}
		for i := range bv {
			bv[i] = i
		}
		res := make([]bcastPair, n)
		row := func(k rowKind, a, b []int, y []bcastPair) {
			applyRow(k, a, b, y, func(x, y int) bcastPair { return bcastPair{x, y} })
		}
		// Without, then with the tiles that join per-channel runs.
		for pass := 0; pass < 2; pass++ {
			clear(res)
			var tileA, tileB []int
			if pass == 1 {
				tileA, tileB = make([]int, p.rowTileLen()), make([]int, p.rowTileLen())
			}
			bcastRows(p, av, bv, res, tileA, tileB, row)
			checkWalk(t, a, b, got, res)
		}
	}
}

type bcastPair struct{ a, b int }

// checkWalk checks that output o of the broadcast of a and b into got
// read the elements of a and b its coordinates name.
func checkWalk(t *testing.T, a, b, got []int, res []bcastPair) {
	t.Helper()
	for o := range res {
		// Unravel o in got, then ravel into a and b.
		rem := o
		coord := make([]int, len(got))
		for d := len(got) - 1; d >= 0; d-- {
			coord[d] = rem % got[d]
			rem /= got[d]
		}
		ia, ib := ravel(coord, a), ravel(coord, b)
		if res[o] != (bcastPair{ia, ib}) {
			t.Fatalf("walk of %v and %v into %v: output %d reads %v; want (%d, %d)", a, b, got, o, res[o], ia, ib)
		}
	}
}

// ravel maps output coordinates to the flat index of a broadcast operand.
func ravel(coord, shape []int) int {
	off := len(coord) - len(shape)
	idx := 0
	for d, s := range shape {
		c := coord[off+d]
		if s == 1 {
			c = 0
		}
		idx = idx*s + c
	}
	return idx
}

func TestBinaryEvalAllocs(t *testing.T) {
	cfg := &Config{}
	a := binT("a", tensor.Int8, []int{2, 1, 3, 4}, binQ(0.1, 1), make([]int8, 24))
	b := binT("b", tensor.Int8, []int{5, 1, 4}, binQ(0.2, -3), make([]int8, 20))
	out := binT("o", tensor.Int8, nil, binQ(0.3, 0), nil)
	k, err := Add(cfg, BinaryParams{Activation: ActRelu}, a, b, out)
	if err != nil {
		t.Fatal(err)
	}
	out.Data = make([]byte, out.NumBytes())
	if n := testing.AllocsPerRun(10, func() { _ = k.Eval() }); n != 0 {
		t.Errorf("Add Eval allocates %v times; want 0", n)
	}
	fa := binT("a", tensor.Float32, []int{3, 1}, nil, make([]float32, 3))
	fb := binT("b", tensor.Float32, []int{1, 4}, nil, make([]float32, 4))
	fo := binT("o", tensor.Float32, nil, nil, nil)
	k, err = Binary(cfg, OpMaximum, BinaryParams{}, fa, fb, fo)
	if err != nil {
		t.Fatal(err)
	}
	fo.Data = make([]byte, fo.NumBytes())
	if n := testing.AllocsPerRun(10, func() { _ = k.Eval() }); n != 0 {
		t.Errorf("Maximum Eval allocates %v times; want 0", n)
	}
}

// TestRoundingDivideByPOT16 checks gemmlowp's int16 rounding division by
// 2^e with hand-worked values: halves round away from zero; from e = 16
// on, the int16 mask is all ones and the result is 1 or -1 by sign.
func TestRoundingDivideByPOT16(t *testing.T) {
	for _, c := range []struct {
		x    int32
		e    int
		want int32
	}{
		{7, 0, 7}, {-7, 0, -7},
		{3, 1, 2}, {-3, 1, -2}, {1, 1, 1}, {-1, 1, -1}, {2, 1, 1},
		{6, 2, 2}, {-6, 2, -2}, {5, 2, 1}, {-5, 2, -1}, {7, 2, 2},
		{16384, 15, 1}, {16383, 15, 0}, {-16384, 15, -1}, {-16385, 15, -1}, {32767, 15, 1}, {-32768, 15, -1},
		{0, 16, 1}, {5, 16, 1}, {32767, 18, 1}, {-5, 16, -1}, {-32768, 31, -1}, {0, 31, 1},
	} {
		if got := roundingDivideByPOT16(c.x, c.e); got != c.want {
			t.Errorf("roundingDivideByPOT16(%d, %d) = %d; want %d", c.x, c.e, got, c.want)
		}
	}
}

// TestCheckedLog2 checks TFLite's CheckedLog2 on powers of two and near
// misses (the tolerance is 1e-3 in log2 space).
func TestCheckedLog2(t *testing.T) {
	for _, c := range []struct {
		s    float32
		l    int
		want bool
	}{
		{1, 0, true}, {0.5, -1, true}, {1.0 / 4096, -12, true}, {1024, 10, true},
		{0.5 * 1.0005, -1, true}, {0.5 * 1.002, -1, false}, {0.3, -2, false},
	} {
		l, ok := checkedLog2(c.s)
		if ok != c.want || ok && l != c.l {
			t.Errorf("checkedLog2(%g) = %d, %v; want %d, %v", c.s, l, ok, c.l, c.want)
		}
	}
}

// A middle-axis broadcast ([n, m, k] with [n, 1, k], either side: rotary
// embeddings' x·cos) joins each outer index's runs through the tile and
// still reads the right elements.
func TestBcastRowsMidBroadcast(t *testing.T) {
	for _, c := range [][2][]int{
		{{3, 5, 2}, {3, 1, 2}}, {{3, 1, 2}, {3, 5, 2}}, {{2, 4, 3, 2}, {2, 4, 1, 2}},
		{{8, 100, 32, 2}, {8, 100, 1, 2}}, {{4, 7, 1}, {4, 1, 1}},
	} {
		a, b := c[0], c[1]
		got, err := BroadcastShape(a, b)
		if err != nil {
			t.Fatal(err)
		}
		p := newBcastPlan(a, b, got)
		if _, ok := p.midBroadcast(); !ok && numElems(a) > 4 && a[len(a)-1] > 1 {
			t.Errorf("%v with %v: plan %v (strides %v, %v) not taken as a middle-axis broadcast", a, b, p.shape, p.aStr, p.bStr)
		}
		av, bv := make([]int, numElems(a)), make([]int, numElems(b))
		for i := range av {
			av[i] = i
		}
		for i := range bv {
			bv[i] = i
		}
		res := make([]bcastPair, numElems(got))
		row := func(k rowKind, a, b []int, y []bcastPair) {
			applyRow(k, a, b, y, func(x, y int) bcastPair { return bcastPair{x, y} })
		}
		bcastRows(p, av, bv, res, make([]int, p.rowTileLen()), make([]int, p.rowTileLen()), row)
		checkWalk(t, a, b, got, res)
	}
}
