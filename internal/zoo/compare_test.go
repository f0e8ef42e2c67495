package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func f32(v ...float32) tensorBytes {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return tensorBytes{DType: "float32", Shape: []int{len(v)}, Data: b}
}

func TestCompare(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name      string
		want, got tensorBytes
		diff, bad int
		maxAbs    float64
		exact, ok bool
		top1      string
	}{
		{"int8 identical", tensorBytes{"int8", []int{3}, []byte{1, 0xff, 7}}, tensorBytes{"int8", []int{3}, []byte{1, 0xff, 7}}, 0, 0, 0, true, true, ""},
		// -1 vs 1 and 7 vs 6: two elements off, the larger by 2.
		{"int8 off", tensorBytes{"int8", []int{3}, []byte{1, 0xff, 7}}, tensorBytes{"int8", []int{3}, []byte{1, 1, 6}}, 2, 2, 2, false, false, ""},
		// 1e-4 + 1e-4*100 = 0.0101 allowed at 100; 0.01 is inside, at 0 the allowance is 1e-4.
		{"float in tolerance", f32(100, 0), f32(100.01, 0.00009), 2, 0, 0.01, false, true, ""},
		{"float beyond tolerance", f32(100, 0), f32(100.02, 0.0002), 2, 2, 0.02, false, false, ""},
		{"NaN on both sides", f32(nan, 1), f32(nan, 1), 0, 0, 0, true, true, ""},
		{"NaN on one side", f32(1, 1), f32(nan, 1), 1, 1, 0, false, false, ""},
		{"top-1 moves", f32(0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.4), f32(0, 0, 0, 0, 0, 0, 0, 0, 0.4, 0.5), 2, 2, 0.1, false, false, "differs"},
		{"top-1 stays", f32(0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.4), f32(0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.3), 1, 1, 0.1, false, false, "same"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compare(tt.want, tt.got)
			if c.Diff != tt.diff || c.Bad != tt.bad || c.Exact != tt.exact || c.ok() != tt.ok || c.Top1 != tt.top1 || math.Abs(c.MaxAbs-tt.maxAbs) > 1e-5 {
				t.Errorf("compare = diff %d bad %d exact %v ok %v top1 %q maxAbs %g; want %d %d %v %v %q %g",
					c.Diff, c.Bad, c.Exact, c.ok(), c.Top1, c.MaxAbs, tt.diff, tt.bad, tt.exact, tt.ok, tt.top1, tt.maxAbs)
			}
		})
	}
}

func TestCompareShapeMismatch(t *testing.T) {
	c := compare(tensorBytes{"uint8", []int{4}, make([]byte, 4)}, tensorBytes{"uint8", []int{2}, make([]byte, 2)})
	if c.ok() || c.Mismatch == "" {
		t.Errorf("different sizes: ok=%v mismatch=%q; want a mismatch", c.ok(), c.Mismatch)
	}
	c = compare(tensorBytes{"uint8", []int{4}, make([]byte, 4)}, tensorBytes{"int8", []int{4}, make([]byte, 4)})
	if c.ok() {
		t.Errorf("different types compare as ok")
	}
}

func TestFloat16(t *testing.T) {
	// IEEE 754 binary16 encodings.
	tests := []struct {
		f    float32
		bits uint16
	}{
		{1, 0x3c00}, {0.5, 0x3800}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00},
		{0, 0}, {float32(math.Pow(2, -24)), 0x0001}, {float32(math.Pow(2, -14)), 0x0400},
	}
	for _, tt := range tests {
		if got := float16Bits(tt.f); got != tt.bits {
			t.Errorf("float16Bits(%g) = %#04x; want %#04x", tt.f, got, tt.bits)
		}
		if got := float16Value(tt.bits); tt.bits != 0x7c00 && float32(got) != tt.f {
			t.Errorf("float16Value(%#04x) = %g; want %g", tt.bits, got, tt.f)
		}
	}
	// Halfway cases round to the even neighbour: 1 + 2^-11 lies between
	// 0x3c00 and 0x3c01, 1 + 3·2^-11 between 0x3c01 and 0x3c02.
	for f, want := range map[float32]uint16{1 + float32(math.Pow(2, -11)): 0x3c00, 1 + 3*float32(math.Pow(2, -11)): 0x3c02} {
		if got := float16Bits(f); got != want {
			t.Errorf("float16Bits(%.10g) = %#04x; want %#04x", f, got, want)
		}
	}
}

func TestMakeInputs(t *testing.T) {
	specs := []ioSpec{
		{Name: "img", DType: "int8", Shape: []int{1, 64, 64, 1}},
		{Name: "wave", DType: "float32", Shape: []int{4096}},
		{Name: "mask", DType: "bool", Shape: []int{100}},
		{Name: "ids", DType: "int32", Shape: []int{1000}},
	}
	sum := sha256File([]byte("model"))
	a, _, err := makeInputs(sum, specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := makeInputs(sum, specs, nil)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Errorf("input %d differs between two runs on the same file", i)
		}
	}
	other, _, _ := makeInputs(sha256File([]byte("other model")), specs, nil)
	if bytes.Equal(a[0], other[0]) {
		t.Errorf("two files get the same input")
	}
	if len(a[0]) != 64*64 || len(a[1]) != 4*4096 || len(a[2]) != 100 || len(a[3]) != 4*1000 {
		t.Fatalf("sizes %d %d %d %d; want 4096 16384 100 4000", len(a[0]), len(a[1]), len(a[2]), len(a[3]))
	}
	lo, hi := 0, 0
	for _, x := range a[0] {
		lo, hi = min(lo, int(int8(x))), max(hi, int(int8(x)))
	}
	if lo > -120 || hi < 120 {
		t.Errorf("int8 input spans [%d, %d]; want most of [-128, 127]", lo, hi)
	}
	for _, v := range mustValues(t, tensorBytes{DType: "float32", Data: a[1]}) {
		if v < -1 || v >= 1 {
			t.Fatalf("float input %g outside [-1, 1)", v)
		}
	}
	for _, x := range a[2] {
		if x > 1 {
			t.Fatalf("bool input %d", x)
		}
	}
	for _, v := range mustValues(t, tensorBytes{DType: "int32", Data: a[3]}) {
		if v < 0 || v >= defaultIntRange {
			t.Fatalf("integer input %g outside [0, %d)", v, defaultIntRange)
		}
	}
	if _, _, err := makeInputs(sum, []ioSpec{{Name: "text", DType: "string", Shape: []int{1}}}, nil); err == nil {
		t.Errorf("string input: no error")
	}
}

func mustValues(t *testing.T, tb tensorBytes) []float64 {
	t.Helper()
	v, ok := values(tb)
	if !ok {
		t.Fatalf("values(%s) failed", tb.DType)
	}
	return v
}
