package kernels

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Expected values in this file are worked by hand from TFLite's reference
// formulas (see the comments); none come from the code under test.

// convT makes a tensor holding vals (float32, int8, uint8, int16, int32 or
// int64 slices). A nil vals makes an empty output tensor of type dt.
func convT(name string, dt tensor.DType, shape []int, q *tensor.Quant, vals any) *tensor.Tensor {
	t := &tensor.Tensor{Name: name, Type: dt, Shape: shape, Quant: q}
	var raw []byte
	switch v := vals.(type) {
	case nil:
		// The output's shape is set by the constructor; size it from the
		// expected shape given by the caller.
		raw = make([]byte, tensor.NumElements(shape)*dt.Size())
		t.Shape = nil
	case []float32:
		raw = convBytes(v)
	case []int8:
		raw = convBytes(v)
	case []uint8:
		raw = append([]byte(nil), v...)
	case []int16:
		raw = convBytes(v)
	case []int32:
		raw = convBytes(v)
	case []int64:
		raw = convBytes(v)
	default:
		panic("convT: unsupported values")
	}
	// Copy into 8-byte aligned storage so that views are aligned.
	buf := make([]uint64, (len(raw)+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), len(buf)*8)[:len(raw)]
	copy(b, raw)
	t.Data = b
	return t
}

func convBytes[T any](v []T) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	var z T
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(z)))...)
}

func convQ(scale float32, zp int32) *tensor.Quant {
	return &tensor.Quant{Scale: []float32{scale}, ZeroPoint: []int32{zp}}
}

func convPCQ(axis int, scales ...float32) *tensor.Quant {
	return &tensor.Quant{Scale: scales, ZeroPoint: make([]int32, len(scales)), Axis: axis}
}

func seq(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i + 1)
	}
	return v
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// convCheck evaluates k and compares out with want (same type as out).
func convCheck(t *testing.T, op, name string, k Kernel, out *tensor.Tensor, wantShape []int, want any) {
	t.Helper()
	if !tensor.SameShape(out.Shape, wantShape) {
		t.Fatalf("%s(%s) output shape = %v; want %v", op, name, out.Shape, wantShape)
	}
	if err := k.Eval(); err != nil {
		t.Fatalf("%s(%s) Eval: %v", op, name, err)
	}
	switch w := want.(type) {
	case []float32:
		got := out.Float32s()
		for i := range w {
			if d := math.Abs(float64(got[i] - w[i])); d > 1e-4+1e-4*math.Abs(float64(w[i])) {
				t.Errorf("%s(%s) output[%d] = %g; want %g", op, name, i, got[i], w[i])
			}
		}
	case []int8:
		got := out.Int8s()
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%s(%s) output[%d] = %d; want %d", op, name, i, got[i], w[i])
			}
		}
	case []uint8:
		got := out.UInt8s()
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%s(%s) output[%d] = %d; want %d", op, name, i, got[i], w[i])
			}
		}
	case []int16:
		got := out.Int16s()
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%s(%s) output[%d] = %d; want %d", op, name, i, got[i], w[i])
			}
		}
	default:
		t.Fatalf("convCheck: unsupported want %T", want)
	}
}

func TestConvPadding(t *testing.T) {
	tests := []struct {
		name                         string
		pad                          Padding
		in, filter, stride, dil      int
		wantOut, wantPad, wantOffset int
	}{
		// SAME: out = ceil(in/stride); total = (out-1)*stride + eff - in.
		{"same 3x3 s1", PaddingSame, 5, 3, 1, 1, 5, 1, 0},
		{"same 2x2 s2 odd", PaddingSame, 3, 2, 2, 1, 2, 0, 1},
		{"same 3x3 s2 even", PaddingSame, 96, 3, 2, 1, 48, 0, 1},
		{"same 3x3 d2", PaddingSame, 7, 3, 1, 2, 7, 2, 0},
		// VALID: out = (in + stride - eff) / stride, no padding.
		{"valid 3x3 s2", PaddingValid, 7, 3, 2, 1, 3, 0, 0},
		{"valid 3x3 d2", PaddingValid, 7, 3, 1, 2, 3, 0, 0},
	}
	for _, tc := range tests {
		out, err := convOutSize(tc.pad, tc.in, tc.filter, tc.stride, tc.dil)
		if err != nil {
			t.Fatalf("convOutSize(%s): %v", tc.name, err)
		}
		pad, off := convPadding(tc.stride, tc.dil, tc.in, tc.filter, out)
		if out != tc.wantOut || pad != tc.wantPad || off != tc.wantOffset {
			t.Errorf("padding(%s) = out %d pad %d offset %d; want %d %d %d", tc.name, out, pad, off, tc.wantOut, tc.wantPad, tc.wantOffset)
		}
	}
}

func TestConv2DFloat(t *testing.T) {
	// Input 1x3x3x1 holds 1..9 row-major.
	tests := []struct {
		name      string
		p         ConvParams
		inShape   []int
		in        []float32
		fShape    []int
		filter    []float32
		bias      []float32
		wantShape []int
		want      []float32
	}{
		{
			// 1*1+2*2+4*3+5*4 = 37, then 47, 67, 77; +1 bias.
			name: "valid 2x2 bias", p: ConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1},
			inShape: []int{1, 3, 3, 1}, in: seq(9), fShape: []int{1, 2, 2, 1}, filter: []float32{1, 2, 3, 4},
			bias: []float32{1}, wantShape: []int{1, 2, 2, 1}, want: []float32{38, 48, 68, 78},
		},
		{
			// SAME stride 2: pad 0 before, 1 after. (0,1) sees only column 2:
			// 3*1+6*3 = 21; (1,0) only row 2: 7+8*2 = 23; (1,1): 9.
			name: "same 2x2 stride 2", p: ConvParams{Padding: PaddingSame, StrideH: 2, StrideW: 2, DilationH: 1, DilationW: 1},
			inShape: []int{1, 3, 3, 1}, in: seq(9), fShape: []int{1, 2, 2, 1}, filter: []float32{1, 2, 3, 4},
			wantShape: []int{1, 2, 2, 1}, want: []float32{37, 21, 23, 9},
		},
		{
			// SAME 3x3 box filter, pad 1: corners 12, 16, 24, 28; edges; center 45.
			name: "same 3x3 box", p: ConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1},
			inShape: []int{1, 3, 3, 1}, in: seq(9), fShape: []int{1, 3, 3, 1}, filter: ones(9),
			wantShape: []int{1, 3, 3, 1}, want: []float32{12, 21, 16, 27, 45, 33, 24, 39, 28},
		},
		{
			// RELU6 clamps the box sums.
			name: "same 3x3 relu6", p: ConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Activation: ActRelu6},
			inShape: []int{1, 3, 3, 1}, in: seq(9), fShape: []int{1, 3, 3, 1}, filter: ones(9), bias: []float32{-20},
			wantShape: []int{1, 3, 3, 1}, want: []float32{0, 1, 0, 6, 6, 6, 4, 6, 6},
		},
		{
			// Dilation 2: taps at the four corners: 1*1+3*2+7*3+9*4 = 64.
			name: "valid dilation 2", p: ConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1, DilationH: 2, DilationW: 2},
			inShape: []int{1, 3, 3, 1}, in: seq(9), fShape: []int{1, 2, 2, 1}, filter: []float32{1, 2, 3, 4},
			wantShape: []int{1, 1, 1, 1}, want: []float32{64},
		},
		{
			// 1x1, 3 in and 2 out channels over 2 pixels: dot products.
			// pixel (1,2,3): oc0 w(1,0,-1) = -2, oc1 w(0.5,0.5,0.5) = 3.
			// pixel (4,5,6): oc0 = -2, oc1 = 7.5.
			name: "1x1 pointwise", p: ConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1},
			inShape: []int{1, 1, 2, 3}, in: seq(6), fShape: []int{2, 1, 1, 3}, filter: []float32{1, 0, -1, 0.5, 0.5, 0.5},
			wantShape: []int{1, 1, 2, 2}, want: []float32{-2, 3, -2, 7.5},
		},
		{
			// Two groups: oc0 reads channels 0-1 with (1,1) = 3; oc1 reads
			// channels 2-3 with (1,-1) = -1.
			name: "grouped", p: ConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1},
			inShape: []int{1, 1, 1, 4}, in: seq(4), fShape: []int{2, 1, 1, 2}, filter: []float32{1, 1, 1, -1},
			wantShape: []int{1, 1, 1, 2}, want: []float32{3, -1},
		},
		{
			// Two batches of the 1x1 filter 2.
			name: "batch 2", p: ConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1},
			inShape: []int{2, 1, 2, 1}, in: seq(4), fShape: []int{1, 1, 1, 1}, filter: []float32{2},
			wantShape: []int{2, 1, 2, 1}, want: []float32{2, 4, 6, 8},
		},
	}
	for _, tc := range tests {
		in := convT("in", tensor.Float32, tc.inShape, nil, tc.in)
		f := convT("w", tensor.Float32, tc.fShape, nil, tc.filter)
		var b *tensor.Tensor
		if tc.bias != nil {
			b = convT("b", tensor.Float32, []int{len(tc.bias)}, nil, tc.bias)
		}
		out := convT("out", tensor.Float32, tc.wantShape, nil, nil)
		k, err := Conv2D(&Config{}, tc.p, in, f, b, out)
		if err != nil {
			t.Fatalf("Conv2D(%s): %v", tc.name, err)
		}
		convCheck(t, "Conv2D", tc.name, k, out, tc.wantShape, tc.want)
	}
}

func TestConv2DQuant(t *testing.T) {
	valid := ConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	relu := valid
	relu.Activation = ActRelu
	// int8: input scale 0.5 zp -1, q (3,5 | -1,1) -> (4,6 | 0,2).
	// Filter oc0 (2,-1) scale 0.25, oc1 (1,3) scale 0.5; bias (-20,-4);
	// output scale 1 zp 3, so multipliers 0.125 and 0.25.
	// pixel0: oc0 8-6-20 = -18 -> -2.25 -> -2 (+3 = 1); oc1 4+18-4 = 18 -> 4.5 -> 5 (8).
	// pixel1: oc0 -2-20 = -22 -> -2.75 -> -3 (0); oc1 6-4 = 2 -> 0.5 -> 1 (4).
	// RELU clamps at the zero point 3.
	int8Case := func(p ConvParams) (*tensor.Tensor, *tensor.Tensor, *tensor.Tensor, *tensor.Tensor) {
		in := convT("in", tensor.Int8, []int{1, 1, 2, 2}, convQ(0.5, -1), []int8{3, 5, -1, 1})
		f := convT("w", tensor.Int8, []int{2, 1, 1, 2}, convPCQ(0, 0.25, 0.5), []int8{2, -1, 1, 3})
		b := convT("b", tensor.Int32, []int{2}, convPCQ(0, 0.125, 0.25), []int32{-20, -4})
		out := convT("out", tensor.Int8, []int{1, 1, 2, 2}, convQ(1, 3), nil)
		return in, f, b, out
	}
	tests := []struct {
		name string
		p    ConvParams
		make func(ConvParams) (*tensor.Tensor, *tensor.Tensor, *tensor.Tensor, *tensor.Tensor)
		want any
	}{
		{"int8 per-channel", valid, int8Case, []int8{1, 8, 0, 4}},
		{"int8 per-channel relu", relu, int8Case, []int8{3, 8, 3, 4}},
		{
			// uint8: input zp 128 scale 0.5 -> (2,-2); filter zp 100 scale
			// 0.25 -> (4,-2); acc 8+4+2 = 14; 14*0.125 = 1.75 -> 2; +50.
			"uint8 per-tensor", valid,
			func(ConvParams) (*tensor.Tensor, *tensor.Tensor, *tensor.Tensor, *tensor.Tensor) {
				in := convT("in", tensor.UInt8, []int{1, 1, 1, 2}, convQ(0.5, 128), []uint8{130, 126})
				f := convT("w", tensor.UInt8, []int{1, 1, 1, 2}, convQ(0.25, 100), []uint8{104, 98})
				b := convT("b", tensor.Int32, []int{1}, convQ(0.125, 0), []int32{2})
				out := convT("out", tensor.UInt8, []int{1, 1, 1, 1}, convQ(1, 50), nil)
				return in, f, b, out
			},
			[]uint8{52},
		},
		{
			// int16x8: inputs (100,-50), weights (3,2) scale 0.5, input
			// scale 1, output scale 4: multiplier 0.125. acc 300-100+1000 =
			// 1200 -> 150. The 64-bit path reduces the multiplier to 16
			// bits: 0.125 exactly.
			"int16 int64 bias", valid,
			func(ConvParams) (*tensor.Tensor, *tensor.Tensor, *tensor.Tensor, *tensor.Tensor) {
				in := convT("in", tensor.Int16, []int{1, 1, 1, 2}, convQ(1, 0), []int16{100, -50})
				f := convT("w", tensor.Int8, []int{1, 1, 1, 2}, convPCQ(0, 0.5), []int8{3, 2})
				b := convT("b", tensor.Int64, []int{1}, convQ(0.5, 0), []int64{1000})
				out := convT("out", tensor.Int16, []int{1, 1, 1, 1}, convQ(4, 0), nil)
				return in, f, b, out
			},
			[]int16{150},
		},
	}
	for _, tc := range tests {
		in, f, b, out := tc.make(tc.p)
		wantShape := append([]int(nil), out.Shape...)
		if wantShape == nil {
			wantShape = []int{1, 1, in.Shape[2], f.Shape[0]}
		}
		k, err := Conv2D(&Config{}, tc.p, in, f, b, out)
		if err != nil {
			t.Fatalf("Conv2D(%s): %v", tc.name, err)
		}
		convCheck(t, "Conv2D", tc.name, k, out, wantShape, tc.want)
	}
}

func TestConv2DErrors(t *testing.T) {
	valid := ConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	tests := []struct {
		name       string
		p          ConvParams
		in, f, b   *tensor.Tensor
		wantUnsupp bool
	}{
		{"hybrid with asymmetric weights", valid,
			convT("in", tensor.Float32, []int{1, 1, 1, 1}, nil, []float32{1}),
			convT("w", tensor.Int8, []int{1, 1, 1, 1}, convQ(1, 3), []int8{1}), nil, true},
		{"hybrid with uint8 weights", valid,
			convT("in", tensor.Float32, []int{1, 1, 1, 1}, nil, []float32{1}),
			convT("w", tensor.UInt8, []int{1, 1, 1, 1}, convQ(1, 0), []uint8{1}), nil, true},
		{"stride 0", ConvParams{StrideH: 0, StrideW: 1, DilationH: 1, DilationW: 1},
			convT("in", tensor.Float32, []int{1, 1, 1, 1}, nil, []float32{1}),
			convT("w", tensor.Float32, []int{1, 1, 1, 1}, nil, []float32{1}), nil, false},
		{"channels", valid,
			convT("in", tensor.Float32, []int{1, 1, 1, 3}, nil, seq(3)),
			convT("w", tensor.Float32, []int{1, 1, 1, 2}, nil, seq(2)), nil, false},
		{"window larger than input", valid,
			convT("in", tensor.Float32, []int{1, 1, 1, 1}, nil, []float32{1}),
			convT("w", tensor.Float32, []int{1, 2, 2, 1}, nil, seq(4)), nil, false},
		{"int8 filter zero point", valid,
			convT("in", tensor.Int8, []int{1, 1, 1, 1}, convQ(1, 0), []int8{1}),
			convT("w", tensor.Int8, []int{1, 1, 1, 1}, convQ(1, 3), []int8{1}), nil, false},
		{"bias size", valid,
			convT("in", tensor.Float32, []int{1, 1, 1, 1}, nil, []float32{1}),
			convT("w", tensor.Float32, []int{1, 1, 1, 1}, nil, []float32{1}),
			convT("b", tensor.Float32, []int{2}, nil, []float32{1, 2}), false},
		{"int32 input", valid,
			convT("in", tensor.Int32, []int{1, 1, 1, 1}, nil, []int32{1}),
			convT("w", tensor.Int32, []int{1, 1, 1, 1}, nil, []int32{1}), nil, true},
	}
	for _, tc := range tests {
		out := convT("out", tc.in.Type, []int{1}, tc.in.Quant, nil)
		_, err := Conv2D(&Config{}, tc.p, tc.in, tc.f, tc.b, out)
		if err == nil {
			t.Errorf("Conv2D(%s) succeeded; want an error", tc.name)
			continue
		}
		if got := errors.Is(err, ErrUnsupported); got != tc.wantUnsupp {
			t.Errorf("Conv2D(%s) error %q: errors.Is(ErrUnsupported) = %v; want %v", tc.name, err, got, tc.wantUnsupp)
		}
	}
}

func TestDepthwiseConv2D(t *testing.T) {
	valid := ConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	relu := valid
	relu.Activation = ActRelu
	// Input 2x2 pixels with channels (1,2) (3,4) (5,6) (7,8); depth
	// multiplier 2. Filter per tap t: oc0 t+1, oc1 1, oc2 [t==0], oc3 -1.
	// oc0 = 1+6+15+28 = 50, oc1 = 16, oc2 = 2, oc3 = -20; bias (0.5,0,0,1).
	dmFilter := []float32{
		1, 1, 1, -1,
		2, 1, 0, -1,
		3, 1, 0, -1,
		4, 1, 0, -1,
	}
	tests := []struct {
		name      string
		p         ConvParams
		in, f, b  *tensor.Tensor
		wantShape []int
		want      any
	}{
		{"float depth multiplier 2", valid,
			convT("in", tensor.Float32, []int{1, 2, 2, 2}, nil, seq(8)),
			convT("w", tensor.Float32, []int{1, 2, 2, 4}, nil, dmFilter),
			convT("b", tensor.Float32, []int{4}, nil, []float32{0.5, 0, 0, 1}),
			[]int{1, 1, 1, 4}, []float32{50.5, 16, 2, -19}},
		{"float relu", relu,
			convT("in", tensor.Float32, []int{1, 2, 2, 2}, nil, seq(8)),
			convT("w", tensor.Float32, []int{1, 2, 2, 4}, nil, dmFilter),
			convT("b", tensor.Float32, []int{4}, nil, []float32{0.5, 0, 0, 1}),
			[]int{1, 1, 1, 4}, []float32{50.5, 16, 2, 0}},
		{
			// SAME 3x3 box, stride 2 on 1..9: pad 1; sums 12, 16, 24, 28.
			"float same stride 2", ConvParams{Padding: PaddingSame, StrideH: 2, StrideW: 2, DilationH: 1, DilationW: 1},
			convT("in", tensor.Float32, []int{1, 3, 3, 1}, nil, seq(9)),
			convT("w", tensor.Float32, []int{1, 3, 3, 1}, nil, ones(9)), nil,
			[]int{1, 2, 2, 1}, []float32{12, 16, 24, 28}},
		{
			// int8: input zp 2 (10,-10) -> (8,-12); weights (3,2) scales
			// (0.5,0.25); bias (1,0); output scale 1 zp -5.
			// oc0 25*0.5 = 12.5 -> 13 (8); oc1 -24*0.25 = -6 (-11).
			"int8 per-channel", valid,
			convT("in", tensor.Int8, []int{1, 1, 1, 2}, convQ(1, 2), []int8{10, -10}),
			convT("w", tensor.Int8, []int{1, 1, 1, 2}, convPCQ(3, 0.5, 0.25), []int8{3, 2}),
			convT("b", tensor.Int32, []int{2}, convPCQ(0, 0.5, 0.25), []int32{1, 0}),
			[]int{1, 1, 1, 2}, []int8{8, -11}},
		{
			// uint8: input zp 128 scale 0.5 (130,120) -> (2,-8); filter zp
			// 100 scale 0.25 (104,101) -> (4,1), depth multiplier 1;
			// multiplier 0.125, output zp 50: 8*0.125 = 1 (51); -8*0.125 = -1 (49).
			"uint8 per-tensor", valid,
			convT("in", tensor.UInt8, []int{1, 1, 1, 2}, convQ(0.5, 128), []uint8{130, 120}),
			convT("w", tensor.UInt8, []int{1, 1, 1, 2}, convQ(0.25, 100), []uint8{104, 101}), nil,
			[]int{1, 1, 1, 2}, []uint8{51, 49}},
		{
			// int16: 1000*3 = 3000 with multiplier 1*0.5/2 = 0.25 -> 750.
			"int16", valid,
			convT("in", tensor.Int16, []int{1, 1, 1, 1}, convQ(1, 0), []int16{1000}),
			convT("w", tensor.Int8, []int{1, 1, 1, 1}, convPCQ(3, 0.5), []int8{3}), nil,
			[]int{1, 1, 1, 1}, []int16{750}},
	}
	for _, tc := range tests {
		out := convT("out", tc.in.Type, tc.wantShape, nil, nil)
		switch tc.in.Type {
		case tensor.Int8:
			out.Quant = convQ(1, -5)
		case tensor.UInt8:
			out.Quant = convQ(1, 50)
		case tensor.Int16:
			out.Quant = convQ(2, 0)
		}
		k, err := DepthwiseConv2D(&Config{}, tc.p, tc.in, tc.f, tc.b, out)
		if err != nil {
			t.Fatalf("DepthwiseConv2D(%s): %v", tc.name, err)
		}
		convCheck(t, "DepthwiseConv2D", tc.name, k, out, tc.wantShape, tc.want)
	}
}

func TestTransposeConv(t *testing.T) {
	tests := []struct {
		name     string
		p        TransposeConvParams
		outShape []int
		in, f, b *tensor.Tensor
		outQ     *tensor.Quant
		want     any
	}{
		{
			// Stride 2 VALID: each input v spreads to a block (v,2v;3v,4v).
			"float stride 2", TransposeConvParams{Padding: PaddingValid, StrideH: 2, StrideW: 2},
			[]int{1, 4, 4, 1},
			convT("in", tensor.Float32, []int{1, 2, 2, 1}, nil, seq(4)),
			convT("w", tensor.Float32, []int{1, 2, 2, 1}, nil, seq(4)), nil, nil,
			[]float32{1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16}},
		{
			// Stride 1 SAME 2x2 (pad 0): out(1,1) = 4+6+6+4 = 20; bias 1.
			"float same bias", TransposeConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1},
			[]int{1, 2, 2, 1},
			convT("in", tensor.Float32, []int{1, 2, 2, 1}, nil, seq(4)),
			convT("w", tensor.Float32, []int{1, 2, 2, 1}, nil, seq(4)),
			convT("b", tensor.Float32, []int{1}, nil, []float32{1}), nil,
			[]float32{2, 5, 7, 21}},
		{
			// 3x3 ones, SAME pad 1: counts of neighbours; RELU6 clamps 9 to 6.
			"float same pad relu6", TransposeConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, Activation: ActRelu6},
			[]int{1, 3, 3, 1},
			convT("in", tensor.Float32, []int{1, 3, 3, 1}, nil, ones(9)),
			convT("w", tensor.Float32, []int{1, 3, 3, 1}, nil, ones(9)), nil, nil,
			[]float32{4, 6, 4, 6, 6, 6, 4, 6, 4}},
		{
			// int8: input scale 0.5 zp -2, q 6 -> 8; weights (3,-1) scales
			// (0.25,1); bias (0,3); output scale 1 zp 1.
			// oc0 24*0.125 = 3 (4); oc1 (-8+3)*0.5 = -2.5 -> -2 (-1): the
			// doubling high multiply rounds this negative tie toward zero.
			"int8 per-channel", TransposeConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1},
			[]int{1, 1, 1, 2},
			convT("in", tensor.Int8, []int{1, 1, 1, 1}, convQ(0.5, -2), []int8{6}),
			convT("w", tensor.Int8, []int{2, 1, 1, 1}, convPCQ(0, 0.25, 1), []int8{3, -1}),
			convT("b", tensor.Int32, []int{2}, convPCQ(0, 0.125, 0.5), []int32{0, 3}),
			convQ(1, 1), []int8{4, -1}},
		{
			// uint8: input zp 10 (12) -> 2; filter zp 5 (8) -> 3; scales
			// 1*1/2 = 0.5: 6*0.5 = 3, output zp 100 -> 103.
			"uint8", TransposeConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1},
			[]int{1, 1, 1, 1},
			convT("in", tensor.UInt8, []int{1, 1, 1, 1}, convQ(1, 10), []uint8{12}),
			convT("w", tensor.UInt8, []int{1, 1, 1, 1}, convQ(1, 5), []uint8{8}), nil,
			convQ(2, 100), []uint8{103}},
	}
	for _, tc := range tests {
		// Float: both the reference scatter and LiteRT's phase GEMM.
		for _, a := range []Arithmetic{Reference, LiteRT} {
			if a == LiteRT && tc.in.Type != tensor.Float32 {
				continue
			}
			out := convT("out", tc.in.Type, tc.outShape, tc.outQ, nil)
			k, err := TransposeConv(&Config{Arithmetic: a}, tc.p, tc.outShape, tc.f, tc.in, tc.b, out)
			if err != nil {
				t.Fatalf("TransposeConv(%s, %v): %v", tc.name, a, err)
			}
			convCheck(t, "TransposeConv", fmt.Sprintf("%s %v", tc.name, a), k, out, tc.outShape, tc.want)
		}
	}
}

func TestBatchMatMul(t *testing.T) {
	// lhs batch 0 (1,2,3;4,5,6), batch 1 (1,0,0;0,1,0); rhs (1,2;3,4;5,6).
	// Products: (22,28;49,64) and (1,2;3,4).
	lhs := []float32{1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0}
	lhsT := []float32{1, 4, 2, 5, 3, 6, 1, 0, 0, 1, 0, 0}
	rhs := []float32{1, 2, 3, 4, 5, 6}
	rhsT := []float32{1, 3, 5, 2, 4, 6}
	want := []float32{22, 28, 49, 64, 1, 2, 3, 4}
	tests := []struct {
		name      string
		p         BatchMatMulParams
		l, r      *tensor.Tensor
		outQ      *tensor.Quant
		wantShape []int
		want      any
	}{
		{"float broadcast rhs", BatchMatMulParams{},
			convT("l", tensor.Float32, []int{2, 2, 3}, nil, lhs), convT("r", tensor.Float32, []int{3, 2}, nil, rhs),
			nil, []int{2, 2, 2}, want},
		{"float adj_x", BatchMatMulParams{AdjX: true},
			convT("l", tensor.Float32, []int{2, 3, 2}, nil, lhsT), convT("r", tensor.Float32, []int{1, 3, 2}, nil, rhs),
			nil, []int{2, 2, 2}, want},
		{"float adj_y", BatchMatMulParams{AdjY: true},
			convT("l", tensor.Float32, []int{2, 2, 3}, nil, lhs), convT("r", tensor.Float32, []int{2, 3}, nil, rhsT),
			nil, []int{2, 2, 2}, want},
		{
			// Broadcasting on both sides: lhs [2,1,1,2] x rhs [1,2,2,1]:
			// out[i][j] = l_i · r_j with l = (1,2),(3,4), r = (1,0),(0,1).
			"float broadcast both", BatchMatMulParams{},
			convT("l", tensor.Float32, []int{2, 1, 1, 2}, nil, seq(4)), convT("r", tensor.Float32, []int{1, 2, 2, 1}, nil, []float32{1, 0, 0, 1}),
			nil, []int{2, 2, 1, 1}, []float32{1, 2, 3, 4}},
		{
			// int8: lhs scale 0.5 zp 1 (3,-1) -> (2,-2); rhs scale 0.25 zp
			// -1 (1,3) -> (2,4); output scale 0.125: multiplier 1; 4-8 = -4.
			"int8", BatchMatMulParams{},
			convT("l", tensor.Int8, []int{1, 2}, convQ(0.5, 1), []int8{3, -1}), convT("r", tensor.Int8, []int{2, 1}, convQ(0.25, -1), []int8{1, 3}),
			convQ(0.125, 0), []int{1, 1}, []int8{-4}},
		{
			// int16: (100,200)·(3,-1) = 100 with multiplier 1*1/4 -> 25.
			"int16", BatchMatMulParams{},
			convT("l", tensor.Int16, []int{1, 2}, convQ(1, 0), []int16{100, 200}), convT("r", tensor.Int16, []int{2, 1}, convQ(1, 0), []int16{3, -1}),
			convQ(4, 0), []int{1, 1}, []int16{25}},
	}
	for _, tc := range tests {
		out := convT("out", tc.l.Type, tc.wantShape, tc.outQ, nil)
		k, err := BatchMatMul(&Config{}, tc.p, tc.l, tc.r, out)
		if err != nil {
			t.Fatalf("BatchMatMul(%s): %v", tc.name, err)
		}
		convCheck(t, "BatchMatMul", tc.name, k, out, tc.wantShape, tc.want)
	}
}

func TestConvEvalAllocs(t *testing.T) {
	same := ConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	in := convT("in", tensor.Int8, []int{1, 4, 4, 2}, convQ(0.5, -1), make([]int8, 32))
	f := convT("w", tensor.Int8, []int{2, 3, 3, 2}, convPCQ(0, 0.25, 0.5), make([]int8, 36))
	dw := convT("dw", tensor.Int8, []int{1, 3, 3, 2}, convPCQ(3, 0.25, 0.5), make([]int8, 18))
	out := convT("out", tensor.Int8, []int{1, 4, 4, 2}, convQ(1, 3), nil)
	out2 := convT("out2", tensor.Int8, []int{1, 4, 4, 2}, convQ(1, 3), nil)
	out3 := convT("out3", tensor.Int8, []int{1, 4, 4, 2}, convQ(1, 3), nil)
	k1, err := Conv2D(&Config{}, same, in, f, nil, out)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := DepthwiseConv2D(&Config{}, same, in, dw, nil, out2)
	if err != nil {
		t.Fatal(err)
	}
	k3, err := TransposeConv(&Config{}, TransposeConvParams{Padding: PaddingSame, StrideH: 1, StrideW: 1}, []int{1, 4, 4, 2}, f, in, nil, out3)
	if err != nil {
		t.Fatal(err)
	}
	l := convT("l", tensor.Float32, []int{2, 3, 4}, nil, seq(24))
	r := convT("r", tensor.Float32, []int{3, 4}, nil, seq(12))
	o := convT("o", tensor.Float32, []int{2, 4, 4}, nil, nil)
	k4, err := BatchMatMul(&Config{}, BatchMatMulParams{AdjX: true}, l, r, o)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]Kernel{"Conv2D": k1, "DepthwiseConv2D": k2, "TransposeConv": k3, "BatchMatMul": k4} {
		if a := testing.AllocsPerRun(5, func() { _ = k.Eval() }); a != 0 {
			t.Errorf("%s Eval allocates %v times; want 0", name, a)
		}
	}
}
