package kernels

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// actT makes a tensor holding vals ([]float32, []int8, []uint8, []int16,
// []int32, []int64, []bool), or zeroed data for n elements when vals is an
// int.
func actT(dt tensor.DType, shape []int, q *tensor.Quant, vals any) *tensor.Tensor {
	t := &tensor.Tensor{Name: "t", Type: dt, Shape: shape, Quant: q}
	t.Data = make([]byte, tensor.NumElements(shape)*dt.Size())
	switch v := vals.(type) {
	case []float32:
		for i, x := range v {
			binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(x))
		}
	case []int8:
		for i, x := range v {
			t.Data[i] = byte(x)
		}
	case []uint8:
		copy(t.Data, v)
	case []int16:
		for i, x := range v {
			binary.LittleEndian.PutUint16(t.Data[2*i:], uint16(x))
		}
	case []int32:
		for i, x := range v {
			binary.LittleEndian.PutUint32(t.Data[4*i:], uint32(x))
		}
	case []int64:
		for i, x := range v {
			binary.LittleEndian.PutUint64(t.Data[8*i:], uint64(x))
		}
	case []bool:
		for i, x := range v {
			if x {
				t.Data[i] = 1
			}
		}
	}
	return t
}

func actQ(scale float32, zp int32) *tensor.Quant {
	return &tensor.Quant{Scale: []float32{scale}, ZeroPoint: []int32{zp}}
}

// actValues returns a tensor's values as float64 for comparison.
func actValues(t *tensor.Tensor) []float64 {
	var out []float64
	switch t.Type {
	case tensor.Float32:
		for _, v := range t.Float32s() {
			out = append(out, float64(v))
		}
	case tensor.Int8:
		for _, v := range t.Int8s() {
			out = append(out, float64(v))
		}
	case tensor.UInt8:
		for _, v := range t.UInt8s() {
			out = append(out, float64(v))
		}
	case tensor.Int16:
		for _, v := range t.Int16s() {
			out = append(out, float64(v))
		}
	case tensor.Int32:
		for _, v := range t.Int32s() {
			out = append(out, float64(v))
		}
	case tensor.Int64:
		for _, v := range t.Int64s() {
			out = append(out, float64(v))
		}
	case tensor.Bool:
		for _, v := range t.Data {
			out = append(out, float64(v))
		}
	}
	return out
}

// actCase is one kernel run: build constructs the kernel, the output is
// compared with want (exactly for integers, within 1e-5 for floats).
type actCase struct {
	name    string
	build   func(cfg *Config, out *tensor.Tensor) (Kernel, error)
	out     *tensor.Tensor
	want    []float64
	wantErr bool
}

func runActCases(t *testing.T, op string, tests []actCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := tt.build(&Config{}, tt.out)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("%s(%s): no error; want one", op, tt.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s(%s): %v", op, tt.name, err)
			}
			if err := k.Eval(); err != nil {
				t.Fatalf("%s(%s) Eval: %v", op, tt.name, err)
			}
			if n := testing.AllocsPerRun(5, func() { _ = k.Eval() }); n != 0 {
				t.Errorf("%s(%s) Eval allocates %v times", op, tt.name, n)
			}
			got := actValues(tt.out)
			if len(got) != len(tt.want) {
				t.Fatalf("%s(%s) has %d outputs; want %d", op, tt.name, len(got), len(tt.want))
			}
			for i := range got {
				tol := 0.0
				if tt.out.Type == tensor.Float32 {
					tol = 1e-5 + 1e-5*math.Abs(tt.want[i])
				}
				if math.Abs(got[i]-tt.want[i]) > tol {
					t.Errorf("%s(%s) output[%d] = %g; want %g", op, tt.name, i, got[i], tt.want[i])
				}
			}
		})
	}
}

func unary(f func(*Config, *tensor.Tensor, *tensor.Tensor) (Kernel, error), in *tensor.Tensor) func(*Config, *tensor.Tensor) (Kernel, error) {
	return func(cfg *Config, out *tensor.Tensor) (Kernel, error) { return f(cfg, in, out) }
}

func TestSoftmax(t *testing.T) {
	sm := func(beta float32, in *tensor.Tensor) func(*Config, *tensor.Tensor) (Kernel, error) {
		return func(cfg *Config, out *tensor.Tensor) (Kernel, error) {
			return Softmax(cfg, SoftmaxParams{Beta: beta}, in, out)
		}
	}
	ln3 := float32(math.Log(3))
	runActCases(t, "SOFTMAX", []actCase{
		// exp(0) : exp(ln 3) = 1 : 3; with beta 2, 1 : 9.
		{name: "float32", build: sm(1, actT(tensor.Float32, []int{2, 2}, nil, []float32{0, ln3, 5, 5})),
			out: actT(tensor.Float32, []int{2, 2}, nil, 0), want: []float64{0.25, 0.75, 0.5, 0.5}},
		{name: "float32_beta2", build: sm(2, actT(tensor.Float32, []int{2}, nil, []float32{0, ln3})),
			out: actT(tensor.Float32, []int{2}, nil, 0), want: []float64{0.1, 0.9}},
		// Equal inputs: 0.5 each = 128/256, minus the -128 zero point.
		{name: "int8_equal", build: sm(1, actT(tensor.Int8, []int{1, 2}, actQ(0.1, 0), []int8{7, 7})),
			out: actT(tensor.Int8, []int{1, 2}, actQ(1.0/256, -128), 0), want: []float64{0, 0}},
		// Difference 255*0.1 = 25.5 beyond the input radius (248 steps):
		// the small one is exactly 0 (-128), the large one 1.0, clamped.
		{name: "int8_far", build: sm(1, actT(tensor.Int8, []int{2}, actQ(0.1, 0), []int8{127, -128})),
			out: actT(tensor.Int8, []int{2}, actQ(1.0/256, -128), 0), want: []float64{127, -128}},
		// 0.5*ln 3 ≈ 0.5493 = 8.79 steps of 1/16: take 16 steps = 1.0:
		// 1/(1+e) = 0.2689 → 68.8 → 69 - 128; e/(1+e) = 0.7311 → 187.2 → 187 - 128.
		{name: "int8_one", build: sm(1, actT(tensor.Int8, []int{2}, actQ(1.0/16, 3), []int8{3, 19})),
			out: actT(tensor.Int8, []int{2}, actQ(1.0/256, -128), 0), want: []float64{-59, 59}},
		{name: "uint8_equal", build: sm(1, actT(tensor.UInt8, []int{4}, actQ(0.05, 128), []uint8{9, 9, 9, 9})),
			out: actT(tensor.UInt8, []int{4}, actQ(1.0/256, 0), 0), want: []float64{64, 64, 64, 64}},
		{name: "int8_to_int16", build: sm(1, actT(tensor.Int8, []int{2}, actQ(1.0/16, 3), []int8{3, 19})),
			// 0.26894142*65536 = 17625.3 → 17625 - 32768; 0.73105858*65536 = 47910.7 → 47911 - 32768.
			out: actT(tensor.Int16, []int{2}, actQ(1.0/65536, -32768), 0), want: []float64{-15143, 15143}},
		{name: "bad_output_scale", build: sm(1, actT(tensor.Int8, []int{2}, actQ(0.1, 0), []int8{1, 2})),
			out: actT(tensor.Int8, []int{2}, actQ(1.0/128, -128), 0), wantErr: true},
	})
}

func TestLogSoftmax(t *testing.T) {
	runActCases(t, "LOG_SOFTMAX", []actCase{
		// log(1/4) = -1.3863 for four equal inputs.
		{name: "float32", build: unary(LogSoftmax, actT(tensor.Float32, []int{4}, nil, []float32{2, 2, 2, 2})),
			out: actT(tensor.Float32, []int{4}, nil, 0), want: []float64{-1.3862944, -1.3862944, -1.3862944, -1.3862944}},
		// log(0.5) = -0.6931 = -11.09 steps of 1/16 → -11 + 127.
		{name: "int8", build: unary(LogSoftmax, actT(tensor.Int8, []int{2}, actQ(0.1, 0), []int8{5, 5})),
			out: actT(tensor.Int8, []int{2}, actQ(16.0/256, 127), 0), want: []float64{116, 116}},
		{name: "uint8", build: unary(LogSoftmax, actT(tensor.UInt8, []int{2}, actQ(0.1, 0), []uint8{5, 5})),
			out: actT(tensor.UInt8, []int{2}, actQ(16.0/256, 255), 0), want: []float64{244, 244}},
	})
}

func TestLogisticTanh(t *testing.T) {
	in8 := actT(tensor.Int8, []int{5}, actQ(1.0/16, 0), []int8{0, 16, -16, 127, -128})
	inU8 := actT(tensor.UInt8, []int{3}, actQ(1.0/16, 128), []uint8{128, 144, 112})
	runActCases(t, "LOGISTIC", []actCase{
		{name: "float32", build: unary(Logistic, actT(tensor.Float32, []int{3}, nil, []float32{0, 1, -2})),
			out: actT(tensor.Float32, []int{3}, nil, 0), want: []float64{0.5, 0.7310586, 0.1192029}},
		// sigmoid(1) = 0.7311 → 187.15 → 187 - 128 = 59; sigmoid(7.94) → 255.9 → clamped.
		{name: "int8", build: unary(Logistic, in8),
			out: actT(tensor.Int8, []int{5}, actQ(1.0/256, -128), 0), want: []float64{0, 59, -59, 127, -128}},
		{name: "uint8", build: unary(Logistic, inU8),
			out: actT(tensor.UInt8, []int{3}, actQ(1.0/256, 0), 0), want: []float64{128, 187, 69}},
		// Input scale 2^-12: x*3 indexes the sigmoid(i/24) table at 512 steps
		// per entry; 1.0 hits entry 24 (47911/65536) exactly: (47911*512 +
		// 512) >> 10 = 23956; -1.0 gives (2^25 - 47911*512 + 511) >> 10.
		{name: "int16", build: unary(Logistic, actT(tensor.Int16, []int{3}, actQ(1.0/4096, 0), []int16{0, 4096, -4096})),
			out: actT(tensor.Int16, []int{3}, actQ(1.0/32768, 0), 0), want: []float64{16384, 23956, 8812}},
	})
	runActCases(t, "TANH", []actCase{
		{name: "float32", build: unary(Tanh, actT(tensor.Float32, []int{2}, nil, []float32{0, 1})),
			out: actT(tensor.Float32, []int{2}, nil, 0), want: []float64{0, 0.7615942}},
		// tanh(1) * 128 = 97.48; tanh(7.94) → 128, clamped.
		{name: "int8", build: unary(Tanh, in8),
			out: actT(tensor.Int8, []int{5}, actQ(1.0/128, 0), 0), want: []float64{0, 97, -97, 127, -128}},
		{name: "uint8", build: unary(Tanh, inU8),
			out: actT(tensor.UInt8, []int{3}, actQ(1.0/128, 128), 0), want: []float64{128, 225, 31}},
		// 1.0 hits entry 48 (57724): (57724*256 - 2^23 + 128) >> 8 = 24956
		// (tanh(1)*32768 = 24956.2).
		{name: "int16", build: unary(Tanh, actT(tensor.Int16, []int{2}, actQ(1.0/4096, 0), []int16{0, 4096})),
			out: actT(tensor.Int16, []int{2}, actQ(1.0/32768, 0), 0), want: []float64{0, 24956}},
	})
}

func TestReluFamily(t *testing.T) {
	relu := func(act Activation, in *tensor.Tensor) func(*Config, *tensor.Tensor) (Kernel, error) {
		return func(cfg *Config, out *tensor.Tensor) (Kernel, error) { return ReluX(cfg, act, in, out) }
	}
	f := actT(tensor.Float32, []int{5}, nil, []float32{-3, -0.5, 0.5, 2, 9})
	// Input real values: 0.5*(q+10): q = -20, -10, 0, 2, 10 → -5, 0, 5, 6, 10.
	// Output scale 0.25, zero point 5: real r → 5 + 4r.
	q8 := actT(tensor.Int8, []int{5}, actQ(0.5, -10), []int8{-20, -10, 0, 2, 10})
	runActCases(t, "RELU", []actCase{
		{name: "float32", build: relu(ActRelu, f), out: actT(tensor.Float32, []int{5}, nil, 0), want: []float64{0, 0, 0.5, 2, 9}},
		{name: "relu6_float32", build: relu(ActRelu6, f), out: actT(tensor.Float32, []int{5}, nil, 0), want: []float64{0, 0, 0.5, 2, 6}},
		{name: "n1to1_float32", build: relu(ActReluN1To1, f), out: actT(tensor.Float32, []int{5}, nil, 0), want: []float64{-1, -0.5, 0.5, 1, 1}},
		{name: "int8", build: relu(ActRelu, q8), out: actT(tensor.Int8, []int{5}, actQ(0.25, 5), 0), want: []float64{5, 5, 25, 29, 45}},
		{name: "relu6_int8", build: relu(ActRelu6, q8), out: actT(tensor.Int8, []int{5}, actQ(0.25, 5), 0), want: []float64{5, 5, 25, 29, 29}},
		{name: "n1to1_int8", build: relu(ActReluN1To1, q8), out: actT(tensor.Int8, []int{5}, actQ(0.25, 5), 0), want: []float64{1, 5, 9, 9, 9}},
		{name: "uint8", build: relu(ActRelu, actT(tensor.UInt8, []int{3}, actQ(0.5, 100), []uint8{90, 100, 110})),
			out: actT(tensor.UInt8, []int{3}, actQ(0.5, 100), 0), want: []float64{100, 100, 110}},
		{name: "tanh_is_not_relu", build: relu(ActTanh, f), out: actT(tensor.Float32, []int{5}, nil, 0), wantErr: true},
	})
}

func TestLeakyReluPreluHardSwish(t *testing.T) {
	leaky := func(alpha float32, in *tensor.Tensor) func(*Config, *tensor.Tensor) (Kernel, error) {
		return func(cfg *Config, out *tensor.Tensor) (Kernel, error) { return LeakyRelu(cfg, alpha, in, out) }
	}
	runActCases(t, "LEAKY_RELU", []actCase{
		{name: "float32", build: leaky(0.2, actT(tensor.Float32, []int{3}, nil, []float32{-5, 0, 3})),
			out: actT(tensor.Float32, []int{3}, nil, 0), want: []float64{-1, 0, 3}},
		// -10*0.5 real -5, times 0.5 → -2.5 real = -5 steps; 7 stays.
		{name: "int8", build: leaky(0.5, actT(tensor.Int8, []int{2}, actQ(0.5, 0), []int8{-10, 7})),
			out: actT(tensor.Int8, []int{2}, actQ(0.5, 0), 0), want: []float64{-5, 7}},
		// Output scale 0.25, zp 128: -5*0.5 = -2.5 → 128-10; 3.5 → 128+14.
		{name: "uint8", build: leaky(0.5, actT(tensor.UInt8, []int{2}, actQ(0.5, 10), []uint8{0, 17})),
			out: actT(tensor.UInt8, []int{2}, actQ(0.25, 128), 0), want: []float64{118, 142}},
	})

	prelu := func(in, alpha *tensor.Tensor) func(*Config, *tensor.Tensor) (Kernel, error) {
		return func(cfg *Config, out *tensor.Tensor) (Kernel, error) { return Prelu(cfg, in, alpha, out) }
	}
	runActCases(t, "PRELU", []actCase{
		{name: "float32_broadcast", build: prelu(actT(tensor.Float32, []int{2, 2}, nil, []float32{-1, 2, -3, -4}),
			actT(tensor.Float32, []int{2}, nil, []float32{0.5, 0.25})),
			out: actT(tensor.Float32, []int{2, 2}, nil, 0), want: []float64{-0.5, 2, -1.5, -1}},
		{name: "float32_rows", build: prelu(actT(tensor.Float32, []int{2, 2}, nil, []float32{-1, -2, -3, -4}),
			actT(tensor.Float32, []int{2, 1}, nil, []float32{0.5, 0.25})),
			out: actT(tensor.Float32, []int{2, 2}, nil, 0), want: []float64{-0.5, -1, -0.75, -1}},
		// Real x = 0.5q; alpha = 0.25(a-4): a=6 → 0.5, a=8 → 1. Output scale 0.5.
		{name: "int8", build: prelu(actT(tensor.Int8, []int{1, 2, 2}, actQ(0.5, 0), []int8{-8, 6, -8, -3}),
			actT(tensor.Int8, []int{2}, actQ(0.25, 4), []int8{6, 8})),
			out: actT(tensor.Int8, []int{1, 2, 2}, actQ(0.5, 0), 0), want: []float64{-4, 6, -4, -3}},
		{name: "alpha_too_big", build: prelu(actT(tensor.Float32, []int{2}, nil, []float32{1, 2}),
			actT(tensor.Float32, []int{3}, nil, []float32{1, 2, 3})),
			out: actT(tensor.Float32, []int{2}, nil, 0), wantErr: true},
	})

	runActCases(t, "HARD_SWISH", []actCase{
		// x*relu6(x+3)/6: 1 → 4/6; -4 → 0; 4 → 4; -1.5 → -0.375.
		{name: "float32", build: unary(HardSwish, actT(tensor.Float32, []int{4}, nil, []float32{1, -4, 4, -1.5})),
			out: actT(tensor.Float32, []int{4}, nil, 0), want: []float64{0.6666667, 0, 4, -0.375}},
		// Scale 0.1: 6.67 → 7, 0, 40, -3.75 → -4.
		{name: "int8", build: unary(HardSwish, actT(tensor.Int8, []int{4}, actQ(0.1, 0), []int8{10, -40, 40, -15})),
			out: actT(tensor.Int8, []int{4}, actQ(0.1, 0), 0), want: []float64{7, 0, 40, -4}},
		{name: "uint8", build: unary(HardSwish, actT(tensor.UInt8, []int{4}, actQ(0.1, 100), []uint8{110, 60, 140, 85})),
			out: actT(tensor.UInt8, []int{4}, actQ(0.1, 50), 0), want: []float64{57, 50, 90, 46}},
	})
}

func TestL2Normalization(t *testing.T) {
	l2 := func(in *tensor.Tensor) func(*Config, *tensor.Tensor) (Kernel, error) {
		return func(cfg *Config, out *tensor.Tensor) (Kernel, error) { return L2Normalization(cfg, ActNone, in, out) }
	}
	runActCases(t, "L2_NORMALIZATION", []actCase{
		{name: "float32", build: l2(actT(tensor.Float32, []int{2, 2}, nil, []float32{3, 4, 0, 0})),
			out: actT(tensor.Float32, []int{2, 2}, nil, 0), want: []float64{0.6, 0.8, 0, 0}},
		// 0.6*128 = 76.8, 0.8*128 = 102.4.
		{name: "int8", build: l2(actT(tensor.Int8, []int{2}, actQ(1, 1), []int8{4, 5})),
			out: actT(tensor.Int8, []int{2}, actQ(1.0/128, 0), 0), want: []float64{77, 102}},
		{name: "uint8", build: l2(actT(tensor.UInt8, []int{2}, actQ(1, 128), []uint8{125, 132})),
			out: actT(tensor.UInt8, []int{2}, actQ(1.0/128, 128), 0), want: []float64{51, 230}},
		{name: "fused_relu", build: func(cfg *Config, out *tensor.Tensor) (Kernel, error) {
			return L2Normalization(cfg, ActRelu, actT(tensor.Float32, []int{2}, nil, []float32{1, 2}), out)
		}, out: actT(tensor.Float32, []int{2}, nil, 0), wantErr: true},
	})
}

func TestQuantizeDequantizeCast(t *testing.T) {
	runActCases(t, "QUANTIZE", []actCase{
		// x/0.5 = 2.5 and -2.5 round away from zero; 1000 clamps.
		{name: "float32_int8", build: unary(Quantize, actT(tensor.Float32, []int{4}, nil, []float32{1.25, -1.25, 1000, 0})),
			out: actT(tensor.Int8, []int{4}, actQ(0.5, 3), 0), want: []float64{6, 0, 127, 3}},
		{name: "float32_uint8", build: unary(Quantize, actT(tensor.Float32, []int{3}, nil, []float32{1.25, -1000, 0.2})),
			out: actT(tensor.UInt8, []int{3}, actQ(0.5, 128), 0), want: []float64{131, 0, 128}},
		{name: "float32_int16", build: unary(Quantize, actT(tensor.Float32, []int{2}, nil, []float32{1, -1})),
			out: actT(tensor.Int16, []int{2}, actQ(1.0/32768, 0), 0), want: []float64{32767, -32768}},
		{name: "int8_uint8", build: unary(Quantize, actT(tensor.Int8, []int{3}, actQ(0.1, -128), []int8{-128, 0, 127})),
			out: actT(tensor.UInt8, []int{3}, actQ(0.1, 0), 0), want: []float64{0, 128, 255}},
		// Scale 0.1 → 0.2: q/2 by the Q31 multiplier 2^30, whose rounding
		// (SaturatingRoundingDoublingHighMul) takes ties up: 2.5 → 3, -2.5 → -2.
		{name: "int8_int8", build: unary(Quantize, actT(tensor.Int8, []int{3}, actQ(0.1, 0), []int8{5, -5, 100})),
			out: actT(tensor.Int8, []int{3}, actQ(0.2, 1), 0), want: []float64{4, -1, 51}},
		{name: "per_channel_int8", build: unary(Quantize, actT(tensor.Float32, []int{2, 2}, nil, []float32{1, 1, 1, 1})),
			out:  actT(tensor.Int8, []int{2, 2}, &tensor.Quant{Scale: []float32{0.5, 0.25}, ZeroPoint: []int32{0, 0}, Axis: 1}, 0),
			want: []float64{2, 4, 2, 4}},
	})
	runActCases(t, "DEQUANTIZE", []actCase{
		{name: "int8", build: unary(Dequantize, actT(tensor.Int8, []int{2}, actQ(0.5, 1), []int8{5, -3})),
			out: actT(tensor.Float32, []int{2}, nil, 0), want: []float64{2, -2}},
		{name: "uint8", build: unary(Dequantize, actT(tensor.UInt8, []int{2}, actQ(0.25, 128), []uint8{0, 255})),
			out: actT(tensor.Float32, []int{2}, nil, 0), want: []float64{-32, 31.75}},
		{name: "int16", build: unary(Dequantize, actT(tensor.Int16, []int{1}, actQ(1.0/32768, 0), []int16{-16384})),
			out: actT(tensor.Float32, []int{1}, nil, 0), want: []float64{-0.5}},
		// 1, -2, 65504 (largest half), Inf→ checked elsewhere, 2^-24.
		{name: "float16", build: unary(Dequantize, actT(tensor.Float16, []int{4}, nil, []int16{0x3c00, -16384, 0x7bff, 1})),
			out: actT(tensor.Float32, []int{4}, nil, 0), want: []float64{1, -2, 65504, 1.0 / (1 << 24)}},
	})
	runActCases(t, "CAST", []actCase{
		{name: "float32_int32", build: unary(Cast, actT(tensor.Float32, []int{3}, nil, []float32{-1.7, 2.9, 3e10})),
			out: actT(tensor.Int32, []int{3}, nil, 0), want: []float64{-1, 2, math.MaxInt32}},
		{name: "float32_uint8", build: unary(Cast, actT(tensor.Float32, []int{3}, nil, []float32{300.5, -4, 7.5})),
			out: actT(tensor.UInt8, []int{3}, nil, 0), want: []float64{255, 0, 7}},
		{name: "int32_uint8", build: unary(Cast, actT(tensor.Int32, []int{2}, nil, []int32{300, -1})),
			out: actT(tensor.UInt8, []int{2}, nil, 0), want: []float64{44, 255}},
		{name: "float32_bool", build: unary(Cast, actT(tensor.Float32, []int{3}, nil, []float32{0, -0.5, 2})),
			out: actT(tensor.Bool, []int{3}, nil, 0), want: []float64{0, 1, 1}},
		{name: "bool_float32", build: unary(Cast, actT(tensor.Bool, []int{2}, nil, []bool{true, false})),
			out: actT(tensor.Float32, []int{2}, nil, 0), want: []float64{1, 0}},
		{name: "int64_int16", build: unary(Cast, actT(tensor.Int64, []int{2}, nil, []int64{70000, -3})),
			out: actT(tensor.Int16, []int{2}, nil, 0), want: []float64{4464, -3}},
		{name: "string", build: unary(Cast, &tensor.Tensor{Type: tensor.String, Shape: []int{1}}),
			out: actT(tensor.Int32, []int{1}, nil, 0), wantErr: true},
	})
}

func TestActivationUnsupported(t *testing.T) {
	_, err := Logistic(&Config{}, actT(tensor.Int32, []int{1}, nil, 0), actT(tensor.Int32, []int{1}, nil, 0))
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("Logistic(int32) error = %v; want ErrUnsupported", err)
	}
}

// TestQuantizeLiteRT: hand-worked values of XNNPACK's arithmetic, where it
// differs from TFLite's.
func TestQuantizeLiteRT(t *testing.T) {
	tests := []struct {
		name    string
		in, out *tensor.Tensor
		want    []float64
	}{
		// Scale ratio 0.1/0.2 = 0.5: m = 128, y = ((x·128 + 128) >> 8) + 3,
		// so halves round up (TFLite: away from zero, -2.5 -> -3 -> 0).
		{"int8 requantize", actT(tensor.Int8, []int{4}, actQ(0.1, 0), []int8{5, -5, 3, -3}),
			actT(tensor.Int8, []int{4}, actQ(0.2, 3), nil), []float64{6, 1, 5, 2}},
		// uint8 with an input zero point: (x-100)·0.5 = 2.5, -2.5, 0 -> 3, -2, 0.
		{"uint8 requantize", actT(tensor.UInt8, []int{3}, actQ(0.1, 100), []uint8{105, 95, 100}),
			actT(tensor.UInt8, []int{3}, actQ(0.2, 128), nil), []float64{131, 126, 128}},
		// Ratio 1/1000 is outside XNNPACK's [2^-8, 2^7]: TFLite's kernel,
		// 100·0.001 = 0.1 -> 0; 127·0.001 -> 0.
		{"ratio out of XNNPACK's range", actT(tensor.Int8, []int{2}, actQ(0.001, 0), []int8{100, 127}),
			actT(tensor.Int8, []int{2}, actQ(1, -5), nil), []float64{-5, -5}},
		// Float ties: 0.25/0.5 = 0.5 -> 0, 0.75/0.5 = 1.5 -> 2, -0.25/0.5 =
		// -0.5 -> 0 (half to even; TFLite gives 1, 2, -1).
		{"float ties to even", actT(tensor.Float32, []int{3}, nil, []float32{0.25, 0.75, -0.25}),
			actT(tensor.Int8, []int{3}, actQ(0.5, 0), nil), []float64{0, 2, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Quantize(&Config{Arithmetic: LiteRT}, tt.in, tt.out)
			if err != nil {
				t.Fatalf("Quantize: %v", err)
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			if got := actValues(tt.out); !slices.Equal(got, tt.want) {
				t.Errorf("Quantize(litert) = %v; want %v", got, tt.want)
			}
		})
	}
}

// TestInt16SigmoidAccuracy checks the int16 LOGISTIC and TANH kernels over
// every input against float64 math: TFLite Micro's interpolated table is
// within 3 units of 2^-15.
func TestInt16SigmoidAccuracy(t *testing.T) {
	for _, tanh := range []bool{false, true} {
		for _, s := range []float32{1.0 / 4096, 1.0 / 2048, 1.0 / 8192, 0.0003} {
			in := actT(tensor.Int16, []int{1}, actQ(s, 0), 0)
			out := actT(tensor.Int16, []int{1}, actQ(1.0/32768, 0), 0)
			f, err := actInt16Sigmoid(&Config{Arithmetic: Reference}, in, out, tanh)
			if err != nil {
				t.Fatal(err)
			}
			worst, at := 0.0, 0
			for v := math.MinInt16; v <= math.MaxInt16; v++ {
				x := float64(s) * float64(v)
				want := 1 / (1 + math.Exp(-x))
				if tanh {
					want = math.Tanh(x)
				}
				if d := math.Abs(float64(f(int32(v))) - want*32768); d > worst {
					worst, at = d, v
				}
			}
			if worst > 3 {
				t.Errorf("int16 sigmoid (tanh %v, scale %g): error %.2f units at input %d; want <= 3", tanh, s, worst, at)
			}
		}
	}
}
