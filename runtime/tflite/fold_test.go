package tflite

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// f16 encodes values that float16 holds exactly.
func f16(vals ...float32) []byte {
	b := make([]byte, 2*len(vals))
	for i, v := range vals {
		bits := math.Float32bits(v)
		sign := uint16(bits>>16) & 0x8000
		var h uint16
		if v != 0 {
			exp := int((bits>>23)&0xff) - 127 + 15
			h = sign | uint16(exp)<<10 | uint16((bits>>13)&0x3ff)
		} else {
			h = sign
		}
		binary.LittleEndian.PutUint16(b[2*i:], h)
	}
	return b
}

// foldModel is MediaPipe's pattern: float16 weights and bias, each turned
// into float32 by a DEQUANTIZE, feeding a 1×1 CONV_2D of a [1,1,2,2]
// input with 3 output channels; then a RESHAPE of a constant (folded to
// the constant's own data) added to the convolution's output.
func foldModel(t *testing.T) []byte {
	t.Helper()
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Float32, []int{1, 1, 2, 2}, nil, nil)
	w16 := b.Const("w16", tensor.Float16, []int{3, 1, 1, 2}, nil, f16(0.5, -2, 1, 1, 0.25, 4))
	b16 := b.Const("b16", tensor.Float16, []int{3}, nil, f16(1, 0, -0.5))
	w := b.Tensor("w", tensor.Float32, []int{3, 1, 1, 2}, nil, nil)
	bias := b.Tensor("bias", tensor.Float32, []int{3}, nil, nil)
	conv := b.Tensor("conv", tensor.Float32, []int{1, 1, 2, 3}, nil, nil)
	k := b.Const("k", tensor.Float32, []int{6}, nil, tflitetest.Float32Bytes([]float32{10, 20, 30, 40, 50, 60}))
	shape := b.Const("shape", tensor.Int32, []int{4}, nil, tflitetest.Int32Bytes([]int32{1, 1, 2, 3}))
	kr := b.Tensor("k_reshaped", tensor.Float32, []int{1, 1, 2, 3}, nil, nil)
	out := b.Tensor("out", tensor.Float32, []int{1, 1, 2, 3}, nil, nil)
	b.Op(schema.BuiltinOperatorDEQUANTIZE, 1, []int{w16}, []int{w}, nil)
	b.Op(schema.BuiltinOperatorDEQUANTIZE, 1, []int{b16}, []int{bias}, nil)
	b.Op(schema.BuiltinOperatorCONV_2D, 1, []int{in, w, bias}, []int{conv}, tflitetest.Conv2DOptions(schema.PaddingVALID, 1, 1, schema.ActivationFunctionTypeNONE, 1, 1))
	b.Op(schema.BuiltinOperatorRESHAPE, 1, []int{k, shape}, []int{kr}, nil)
	b.Op(schema.BuiltinOperatorADD, 1, []int{conv, kr}, []int{out}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
	b.Inputs(in)
	b.Outputs(out)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestConstantFolding(t *testing.T) {
	m, err := Load(foldModel(t))
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := it.FoldedOps(); got != 3 {
		t.Errorf("FoldedOps = %d; want 3 (two DEQUANTIZE, one RESHAPE)", got)
	}
	// 6 float32 weights and 3 biases; the reshaped constant shares its
	// input's bytes.
	if got := it.FoldedBytes(); got != 9*4 {
		t.Errorf("FoldedBytes = %d; want 36", got)
	}
	ops := it.Ops()
	for i, want := range []bool{true, true, false, true, false} {
		if ops[i].Folded != want {
			t.Errorf("operator %d (%s) folded = %v; want %v", i, ops[i].Op, ops[i].Folded, want)
		}
	}
	// The convolution sees constant weights: the packed GEMM takes it.
	if !strings.HasPrefix(ops[2].Kernel, "gemm") {
		t.Errorf("CONV_2D runs kernel %q; want the packed GEMM", ops[2].Kernel)
	}
	copy(it.Input(0).Data, tflitetest.Float32Bytes([]float32{1, 2, 3, -1}))
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	// pixel (1,2): 0.5·1 − 2·2 + 1 = −2.5; 1·1 + 1·2 + 0 = 3; 0.25·1 + 4·2 − 0.5 = 7.75
	// pixel (3,−1): 1.5 + 2 + 1 = 4.5; 3 − 1 = 2; 0.75 − 4 − 0.5 = −3.75
	// plus 10…60.
	want := []float32{7.5, 23, 37.75, 44.5, 52, 56.25}
	got := it.Output(0).Float32s()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("output = %v; want %v", got, want)
		}
	}
	// The arena holds only the input, the convolution and the output.
	if a := it.ArenaBytes(); a != 3*arenaAlign {
		t.Errorf("ArenaBytes = %d; want %d", a, 3*arenaAlign)
	}
}

// A graph output computed from constants only is still written by Invoke
// (folding keeps graph outputs in the arena), and an operator whose
// output would be far larger than its inputs stays in the graph.
func TestConstantFoldingLimits(t *testing.T) {
	const n = 100000
	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Float32, []int{1}, nil, nil)
	c := b.Const("c", tensor.Float16, []int{2}, nil, f16(1.5, -3))
	cf := b.Tensor("cf", tensor.Float32, []int{2}, nil, nil)
	seven := b.Const("seven", tensor.Float32, []int{1}, nil, tflitetest.Float32Bytes([]float32{7}))
	pads := b.Const("pads", tensor.Int32, []int{1, 2}, nil, tflitetest.Int32Bytes([]int32{0, n - 1}))
	padded := b.Tensor("padded", tensor.Float32, []int{n}, nil, nil)
	sum := b.Tensor("sum", tensor.Float32, []int{n}, nil, nil)
	b.Op(schema.BuiltinOperatorDEQUANTIZE, 1, []int{c}, []int{cf}, nil)
	b.Op(schema.BuiltinOperatorPAD, 1, []int{seven, pads}, []int{padded}, nil)
	b.Op(schema.BuiltinOperatorADD, 1, []int{padded, x}, []int{sum}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
	b.Inputs(x)
	b.Outputs(cf, sum)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := it.FoldedOps(); got != 0 {
		t.Errorf("FoldedOps = %d; want 0 (a graph output, and a PAD from 4 to 400000 bytes)", got)
	}
	copy(it.Input(0).Data, tflitetest.Float32Bytes([]float32{0.5}))
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	if got := it.Output(0).Float32s(); got[0] != 1.5 || got[1] != -3 {
		t.Errorf("output 0 = %v; want [1.5 -3]", got)
	}
	if got := it.Output(1).Float32s(); got[0] != 7.5 || got[1] != 0.5 || got[n-1] != 0.5 {
		t.Errorf("output 1 starts %v, ends %v; want 7.5, 0.5, ..., 0.5", got[:2], got[n-1])
	}
}

func TestProfile(t *testing.T) {
	m, err := Load(foldModel(t))
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := it.Profile(context.Background(), 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Ops) != 5 || p.Runs != 5 {
		t.Fatalf("profile has %d operators over %d runs; want 5 over 5", len(p.Ops), p.Runs)
	}
	var share float64
	for _, o := range p.Ops {
		if o.Folded && (o.MedianUS != 0 || o.Kernel != "folded") {
			t.Errorf("folded operator %d: median %v µs, kernel %q; want 0 and \"folded\"", o.Index, o.MedianUS, o.Kernel)
		}
		if o.MinUS > o.MedianUS {
			t.Errorf("operator %d: min %v > median %v", o.Index, o.MinUS, o.MedianUS)
		}
		share += o.Share
	}
	if p.Ops[2].Op != "CONV_2D" || !tensorShapeIs(p.Ops[2].Shape, 1, 1, 2, 3) || p.Ops[2].Type != "float32" {
		t.Errorf("operator 2 = %+v; want CONV_2D [1 1 2 3] float32", p.Ops[2].OpInfo)
	}
	if math.Abs(share-1) > 1e-9 && share != 0 {
		t.Errorf("shares sum to %v; want 1", share)
	}
	counts := map[string]int{}
	for _, ty := range p.Types {
		counts[ty.Op] = ty.Count
	}
	if counts["DEQUANTIZE"] != 2 || counts["CONV_2D"] != 1 || counts["RESHAPE"] != 1 || counts["ADD"] != 1 || len(counts) != 4 {
		t.Errorf("types = %v; want DEQUANTIZE×2, CONV_2D, RESHAPE, ADD", counts)
	}
	var sb strings.Builder
	if err := p.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CONV_2D", "[1,1,2,3]", "folded", "by operator type"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("text profile lacks %q:\n%s", want, sb.String())
		}
	}
	ns := make([]int64, 2)
	if err := it.InvokeTimed(ns); err == nil {
		t.Error("InvokeTimed with 2 slots for 5 operators succeeded")
	}
	ns = make([]int64, 5)
	if a := testing.AllocsPerRun(20, func() {
		if err := it.InvokeTimed(ns); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("InvokeTimed allocates %v times per run; want 0", a)
	}
}

func tensorShapeIs(s []int, want ...int) bool { return tensor.SameShape(s, want) }
