package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Expected values below are worked by hand from the formulas in litert.go
// (XNNPACK's fp32 requantization and its ADD multipliers).

func TestLiteRTRequant(t *testing.T) {
	tests := []struct {
		name             string
		acc              int32
		scale            float32
		zp, lo, hi, want int32
	}{
		{"tie rounds to even down", 5, 0.5, 0, -128, 127, 2}, // 2.5
		{"tie rounds to even up", 7, 0.5, 0, -128, 127, 4},   // 3.5
		{"negative tie", -5, 0.5, 0, -128, 127, -2},          // -2.5
		{"zero point added", 3, 1, 10, -128, 127, 13},
		{"clamped high", 1000, 1, 10, -128, 127, 127},
		{"clamped low", -3, 0.5, -128, -128, 127, -128}, // -1.5 -> -2, -130
		{"uint8", 101, 0.25, 128, 0, 255, 153},          // 25.25 -> 25
		{"huge accumulator", 1 << 30, 200, 0, -128, 127, 127},
	}
	for _, tt := range tests {
		if got := litertRequant(tt.acc, tt.scale, tt.zp, tt.lo, tt.hi); got != tt.want {
			t.Errorf("litertRequant(%s) = %d; want %d", tt.name, got, tt.want)
		}
	}
}

func TestLiteRTActivationRange(t *testing.T) {
	tests := []struct {
		name         string
		act          Activation
		dt           tensor.DType
		scale        float32
		zp           int32
		wantLo, want int32
	}{
		{"none int8", ActNone, tensor.Int8, 0.1, 3, -128, 127},
		{"relu", ActRelu, tensor.Int8, 0.1, -5, -5, 127},
		// 6/12 = 0.5 rounds to even (0), where TFLite's round gives 1.
		{"relu6 tie", ActRelu6, tensor.Int8, 12, 0, 0, 0},
		{"relu6 uint8", ActRelu6, tensor.UInt8, 0.05, 10, 10, 130},
		{"relu_n1_to_1", ActReluN1To1, tensor.Int8, 0.25, 0, -4, 4},
	}
	for _, tt := range tests {
		out := &tensor.Tensor{Name: "out", Type: tt.dt, Quant: &tensor.Quant{Scale: []float32{tt.scale}, ZeroPoint: []int32{tt.zp}}}
		lo, hi, err := litertActivationRange(tt.act, out)
		if err != nil {
			t.Errorf("litertActivationRange(%s) error: %v", tt.name, err)
			continue
		}
		if lo != tt.wantLo || hi != tt.want {
			t.Errorf("litertActivationRange(%s) = [%d, %d]; want [%d, %d]", tt.name, lo, hi, tt.wantLo, tt.want)
		}
	}
}

func TestLiteRTBinary(t *testing.T) {
	// ADD with scales 0.5 and 0.25 into 1: multipliers 2^20 and 2^19,
	// shift 21, rounding 2^20, so y = floor(x/2 + y/4 + 1/2): ties up.
	// MUL with scales 0.5·0.25/0.125 = 1: y = rne((a−1)(b+2)) with zero
	// points 1 and −2.
	tests := []struct {
		name   string
		op     BinaryOp
		sa, sb float32
		za, zb int32
		so     float32
		zo     int32
		a, b   []int8
		want   []int8
	}{
		{"add", OpAdd, 0.5, 0.25, 0, 0, 1, 0, []int8{3, 1, -1, 100, -128}, []int8{2, 0, 0, 100, -128}, []int8{2, 1, 0, 75, -96}},
		{"sub", OpSub, 0.5, 0.25, 0, 0, 1, 0, []int8{3, 1, 0}, []int8{2, 0, 2}, []int8{1, 1, 0}},
		{"add zero points", OpAdd, 0.5, 0.25, 4, -8, 1, 3, []int8{6, 0}, []int8{-4, -8}, []int8{5, 1}},
		{"mul", OpMul, 0.5, 0.25, 1, -2, 0.125, 0, []int8{3, 0, 1, 127}, []int8{1, -1, 50, 127}, []int8{6, -1, 0, 127}},
	}
	for _, tt := range tests {
		n := len(tt.a)
		a := actT(tensor.Int8, []int{n}, actQ(tt.sa, tt.za), tt.a)
		b := actT(tensor.Int8, []int{n}, actQ(tt.sb, tt.zb), tt.b)
		out := actT(tensor.Int8, []int{n}, actQ(tt.so, tt.zo), make([]int8, n))
		k, err := Binary(&Config{Arithmetic: LiteRT}, tt.op, BinaryParams{}, a, b, out)
		if err != nil {
			t.Errorf("Binary(%s) error: %v", tt.name, err)
			continue
		}
		if err := k.Eval(); err != nil {
			t.Errorf("Binary(%s).Eval: %v", tt.name, err)
			continue
		}
		for i, w := range tt.want {
			if got := int8(out.Data[i]); got != w {
				t.Errorf("Binary(%s) output [%d] = %d; want %d", tt.name, i, got, w)
			}
		}
	}
}

// TestLiteRTStoreRow checks the vector store against the scalar
// requantization (bit-identical by design) on random rows, ties included,
// for every tail length.
func TestLiteRTStoreRow(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 37; n++ {
		for _, zp := range []int32{-128, -3, 0, 77, 128, 255} {
			acc, cst, scale := make([]int32, n), make([]int32, n), make([]float32, n)
			for i := range acc {
				acc[i] = r.Int32N(1<<16) - 1<<15
				cst[i] = r.Int32N(1<<12) - 1<<11
				scale[i] = float32(math.Ldexp(1, -r.IntN(12))) // exact halves make ties
				if r.IntN(2) == 0 {
					scale[i] *= float32(r.Float64())
				}
			}
			off := r.Int32N(1000) - 500
			if zp > 127 || zp == 0 {
				lc := newLiteRTClamp(zp, 0, 255)
				got := make([]uint8, n)
				litertStoreRow(got, acc, cst, scale, off, lc)
				for i, g := range got {
					if want := uint8(lc.requant(acc[i]+cst[i]+off, scale[i])); g != want {
						t.Errorf("litertStoreRow(uint8, n=%d, zp=%d)[%d] = %d; want %d", n, zp, i, g, want)
					}
				}
			}
			if zp <= 127 {
				lc := newLiteRTClamp(zp, -128, 127)
				got := make([]int8, n)
				litertStoreRow(got, acc, cst, scale, off, lc)
				for i, g := range got {
					if want := int8(lc.requant(acc[i]+cst[i]+off, scale[i])); g != want {
						t.Errorf("litertStoreRow(int8, n=%d, zp=%d)[%d] = %d; want %d", n, zp, i, g, want)
					}
				}
			}
		}
	}
	// A tie by hand: 5·0.5 = 2.5 rounds to 2, 7·0.5 = 3.5 to 4.
	got := make([]int8, 4)
	litertStoreRow(got, []int32{5, 7, -5, -7}, make([]int32, 4), []float32{0.5, 0.5, 0.5, 0.5}, 0, newLiteRTClamp(0, -128, 127))
	if want := []int8{2, 4, -2, -4}; string(convAs[byte](got)) != string(convAs[byte](want)) {
		t.Errorf("litertStoreRow(ties) = %v; want %v", got, want)
	}
}
