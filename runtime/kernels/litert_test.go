package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

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

// TestLiteRTAddUInt8Broadcast checks uint8 ADD with a scalar operand
// (the broadcast path): scales 0.5 and 0.25 into 1 give multipliers 2^20
// and 2^19 with shift 21, so y = floor((a−128)/2 + b/4 + 1/2) + 10 before
// the clamp; ReLU6 clamps to [10, 16] (0 and 6 quantized with zero point
// 10).
func TestLiteRTAddUInt8Broadcast(t *testing.T) {
	tests := []struct {
		name string
		act  Activation
		want []uint8
	}{
		{"none", ActNone, []uint8{13, 12, 0, 75}},
		{"relu6", ActRelu6, []uint8{13, 12, 10, 16}},
	}
	for _, tt := range tests {
		a := actT(tensor.UInt8, []int{4}, actQ(0.5, 128), []uint8{130, 128, 0, 255})
		b := actT(tensor.UInt8, []int{1}, actQ(0.25, 0), []uint8{6})
		out := actT(tensor.UInt8, []int{4}, actQ(1, 10), make([]uint8, 4))
		k, err := Binary(&Config{Arithmetic: LiteRT}, OpAdd, BinaryParams{Activation: tt.act}, a, b, out)
		if err != nil {
			t.Fatalf("Binary(%s) error: %v", tt.name, err)
		}
		if err := k.Eval(); err != nil {
			t.Fatalf("Binary(%s).Eval: %v", tt.name, err)
		}
		for i, w := range tt.want {
			if got := out.Data[i]; got != w {
				t.Errorf("Binary(%s) output [%d] = %d; want %d", tt.name, i, got, w)
			}
		}
	}
}

func TestLiteRTAddLayout(t *testing.T) {
	var p litertAddParams
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"ma", unsafe.Offsetof(p.ma), 0},
		{"mb", unsafe.Offsetof(p.mb), 4},
		{"c", unsafe.Offsetof(p.c), 8},
		{"shift", unsafe.Offsetof(p.shift), 12},
		{"lo", unsafe.Offsetof(p.lo), 16},
		{"hi", unsafe.Offsetof(p.hi), 20},
		{"zp", unsafe.Offsetof(p.zp), 24},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Offsetof(litertAddParams.%s) = %d; want %d (the assembly's)", tt.name, tt.got, tt.want)
		}
	}
}

// TestLiteRTAddVariants checks the vector ADD and SUB against the
// portable loop, byte for byte, on random operands of every tail length,
// both types, several scale ratios (shifts from 12 to 30) and clamps.
func TestLiteRTAddVariants(t *testing.T) {
	type addCase struct {
		dt         tensor.DType
		op         BinaryOp
		n          int
		sa, sb, so float32
		za, zb, zo int32
		act        Activation
		seed       uint64
	}
	var cases []addCase
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 120; i++ {
		c := addCase{dt: []tensor.DType{tensor.Int8, tensor.UInt8}[i%2], op: []BinaryOp{OpAdd, OpSub}[(i/2)%2],
			n: []int{1, 7, 8, 9, 15, 16, 17, 63, 64, 100, 1000}[i%11],
			// Ratios to the output scale from 2^-8 to 2^4, inside
			// XNNPACK's range (else the reference kernel runs).
			sa: float32(math.Exp2(-6 + 6*r.Float64())), sb: float32(math.Exp2(-6 + 6*r.Float64())), so: float32(math.Exp2(-4 + 6*r.Float64())),
			act: []Activation{ActNone, ActRelu, ActRelu6}[i%3], seed: uint64(i)}
		lo := int32(-128)
		if c.dt == tensor.UInt8 {
			lo = 0
		}
		c.za = lo + int32(r.IntN(256))
		c.zb = lo + int32(r.IntN(256))
		c.zo = lo + int32(r.IntN(256))
		cases = append(cases, c)
	}
	build := func(c addCase) (Kernel, *tensor.Tensor, error) {
		rng := rand.New(rand.NewPCG(c.seed, 9))
		x, y := make([]byte, c.n), make([]byte, c.n)
		for i := range x {
			x[i], y[i] = byte(rng.IntN(256)), byte(rng.IntN(256))
		}
		mk := func(d []byte, s float32, zp int32) *tensor.Tensor {
			if c.dt == tensor.Int8 {
				return actT(c.dt, []int{c.n}, actQ(s, zp), unsafe.Slice((*int8)(unsafe.Pointer(&d[0])), len(d)))
			}
			return actT(c.dt, []int{c.n}, actQ(s, zp), d)
		}
		a, b, out := mk(x, c.sa, c.za), mk(y, c.sb, c.zb), mk(make([]byte, c.n), c.so, c.zo)
		for i := range out.Data {
			out.Data[i] = 0x5a
		}
		k, err := Binary(&Config{Arithmetic: LiteRT}, c.op, BinaryParams{Activation: c.act}, a, b, out)
		return k, out, err
	}
	start := Variant()
	t.Cleanup(func() { _, _ = SetVariant(start) })
	want := make([][]byte, len(cases))
	if _, err := SetVariant(VariantPortable); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		k, out, err := build(c)
		if err != nil {
			t.Fatalf("Binary(%v): %v", c, err)
		}
		if err := k.Eval(); err != nil {
			t.Fatalf("Eval(%v): %v", c, err)
		}
		want[i] = append([]byte(nil), out.Data[:c.n]...)
	}
	for _, v := range Variants() {
		if _, err := SetVariant(v); err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			k, out, err := build(c)
			if err != nil {
				t.Fatalf("%s: Binary(%v): %v", v, c, err)
			}
			if err := k.Eval(); err != nil {
				t.Fatalf("%s: Eval(%v): %v", v, c, err)
			}
			for j := 0; j < c.n; j++ {
				if out.Data[j] != want[i][j] {
					t.Errorf("%s: %v %s n=%d scales %g,%g,%g zp %d,%d,%d act %d: output [%d] = %d; want %d (portable)",
						v, c.op, c.dt, c.n, c.sa, c.sb, c.so, c.za, c.zb, c.zo, c.act, j, out.Data[j], want[i][j])
					break
				}
			}
		}
	}
}
