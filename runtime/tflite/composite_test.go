package tflite

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// compositeModel builds main: (x, y) → composite A → (s, q); composite B(s)
// → t; out = t + q. A (subgraph 1): s = x + y, p = x · c (c a constant of
// the decomposition), q = B(p), a composite nested in A. B (subgraph 2): tanh.
// B is called twice, so its tensors are copied twice.
func compositeModel(shape []int, c []float32) ([]byte, error) {
	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Float32, shape, nil, nil)
	y := b.Tensor("y", tensor.Float32, shape, nil, nil)
	s := b.Tensor("s", tensor.Float32, shape, nil, nil)
	q := b.Tensor("q", tensor.Float32, shape, nil, nil)
	t := b.Tensor("t", tensor.Float32, shape, nil, nil)
	out := b.Tensor("out", tensor.Float32, shape, nil, nil)
	b.Op2(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, []int{x, y}, []int{s, q}, tflitetest.CompositeOptions("test.a", 1, 0, nil))
	b.Op2(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, []int{s}, []int{t}, tflitetest.CompositeOptions("test.b", 2, 0, nil))
	b.Op(schema.BuiltinOperatorADD, 1, []int{t, q}, []int{out}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
	b.Inputs(x, y)
	b.Outputs(out, s)

	b.Subgraph("test.a.impl")
	ax := b.Tensor("a_x", tensor.Float32, shape, nil, nil)
	ay := b.Tensor("a_y", tensor.Float32, shape, nil, nil)
	ac := b.Const("a_c", tensor.Float32, shape[len(shape)-1:], nil, tflitetest.Float32Bytes(c))
	as := b.Tensor("a_s", tensor.Float32, shape, nil, nil)
	ap := b.Tensor("a_p", tensor.Float32, shape, nil, nil)
	aq := b.Tensor("a_q", tensor.Float32, shape, nil, nil)
	b.Op(schema.BuiltinOperatorADD, 1, []int{ax, ay}, []int{as}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
	b.Op(schema.BuiltinOperatorMUL, 1, []int{ax, ac}, []int{ap}, tflitetest.MulOptions(schema.ActivationFunctionTypeNONE))
	b.Op2(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, []int{ap}, []int{aq}, tflitetest.CompositeOptions("test.b", 2, 0, nil))
	b.Inputs(ax, ay)
	b.Outputs(as, aq)

	b.Subgraph("test.b.impl")
	bx := b.Tensor("b_x", tensor.Float32, shape, nil, nil)
	by := b.Tensor("b_y", tensor.Float32, shape, nil, nil)
	b.Op(schema.BuiltinOperatorTANH, 1, []int{bx}, []int{by}, nil)
	b.Inputs(bx)
	b.Outputs(by)
	return b.Bytes()
}

func init() {
	addDiffGen("STABLEHLO_COMPOSITE/float32", func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 4), 1, 6)
		n := tensor.NumElements(shape)
		c := make([]float32, shape[len(shape)-1])
		for i := range c {
			c[i] = float32(r.Float64()*4 - 2)
		}
		model, err := compositeModel(shape, c)
		return model, [][]byte{diffFloatBytes(r, n, -2, 2), diffFloatBytes(r, n, -2, 2)}, err
	})
}

// The composites compute what their decompositions compute, worked by
// hand: s = x + y, out = tanh(s) + tanh(x·c).
func TestCompositeInlined(t *testing.T) {
	data, err := compositeModel([]int{1, 3}, []float32{1, 0, -1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for i := range m.Subgraphs[0].Operators {
		ops = append(ops, m.OpName(&m.Subgraphs[0].Operators[i]))
	}
	if got, want := strings.Join(ops, " "), "ADD MUL TANH TANH ADD"; got != want {
		t.Errorf("main subgraph after inlining: %s; want %s", got, want)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(it.Input(0).Float32s(), []float32{0, 0.5, 2})
	copy(it.Input(1).Float32s(), []float32{0, -0.5, -1})
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	// tanh(0)+tanh(0) = 0; tanh(0)+tanh(0) = 0; tanh(1)+tanh(-2) = 0.7615942-0.9640276.
	want := []float32{0, 0, -0.2024334}
	for i, v := range it.Output(0).Float32s() {
		if d := v - want[i]; d > 1e-6 || d < -1e-6 {
			t.Errorf("out[%d] = %v; want %v", i, v, want[i])
		}
	}
	if got := it.Output(1).Float32s(); got[0] != 0 || got[1] != 0 || got[2] != 1 {
		t.Errorf("s = %v; want [0 0 1]", got)
	}
}

func TestCompositeRefused(t *testing.T) {
	shape := []int{2}
	build := func(f func(b *tflitetest.Builder)) []byte {
		t.Helper()
		b := tflitetest.NewBuilder()
		f(b)
		data, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	// callSelf: main calls subgraph 1, which calls itself.
	callSelf := build(func(b *tflitetest.Builder) {
		x := b.Tensor("x", tensor.Float32, shape, nil, nil)
		y := b.Tensor("y", tensor.Float32, shape, nil, nil)
		b.Op2(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, []int{x}, []int{y}, tflitetest.CompositeOptions("c", 1, 0, nil))
		b.Inputs(x)
		b.Outputs(y)
		b.Subgraph("c.impl")
		x1 := b.Tensor("x1", tensor.Float32, shape, nil, nil)
		y1 := b.Tensor("y1", tensor.Float32, shape, nil, nil)
		b.Op2(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, []int{x1}, []int{y1}, tflitetest.CompositeOptions("c", 1, 0, nil))
		b.Inputs(x1)
		b.Outputs(y1)
	})
	// identity: the decomposition returns its input.
	identity := build(func(b *tflitetest.Builder) {
		x := b.Tensor("x", tensor.Float32, shape, nil, nil)
		y := b.Tensor("y", tensor.Float32, shape, nil, nil)
		b.Op2(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, []int{x}, []int{y}, tflitetest.CompositeOptions("c", 1, 0, nil))
		b.Inputs(x)
		b.Outputs(y)
		b.Subgraph("c.impl")
		x1 := b.Tensor("x1", tensor.Float32, shape, nil, nil)
		y1 := b.Tensor("y1", tensor.Float32, shape, nil, nil)
		b.Op(schema.BuiltinOperatorTANH, 1, []int{x1}, []int{y1}, nil)
		b.Inputs(x1)
		b.Outputs(x1)
	})
	// arity: two inputs to a one-input decomposition.
	arity := build(func(b *tflitetest.Builder) {
		x := b.Tensor("x", tensor.Float32, shape, nil, nil)
		y := b.Tensor("y", tensor.Float32, shape, nil, nil)
		b.Op2(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, []int{x, x}, []int{y}, tflitetest.CompositeOptions("c", 1, 0, nil))
		b.Inputs(x)
		b.Outputs(y)
		b.Subgraph("c.impl")
		x1 := b.Tensor("x1", tensor.Float32, shape, nil, nil)
		y1 := b.Tensor("y1", tensor.Float32, shape, nil, nil)
		b.Op(schema.BuiltinOperatorTANH, 1, []int{x1}, []int{y1}, nil)
		b.Inputs(x1)
		b.Outputs(y1)
	})
	// missing: the decomposition subgraph does not exist.
	missing := build(func(b *tflitetest.Builder) {
		x := b.Tensor("x", tensor.Float32, shape, nil, nil)
		y := b.Tensor("y", tensor.Float32, shape, nil, nil)
		b.Op2(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, []int{x}, []int{y}, tflitetest.CompositeOptions("c", 7, 0, nil))
		b.Inputs(x)
		b.Outputs(y)
	})
	// doubling: subgraph k calls subgraph k+1 twice, 14 levels deep:
	// 2^14 TANH operators from 29 in the file.
	const depth = 14
	doubling := build(func(b *tflitetest.Builder) {
		for k := 0; k <= depth; k++ {
			if k > 0 {
				b.Subgraph("level")
			}
			x := b.Tensor("x", tensor.Float32, shape, nil, nil)
			m := b.Tensor("m", tensor.Float32, shape, nil, nil)
			y := b.Tensor("y", tensor.Float32, shape, nil, nil)
			if k == depth {
				b.Op(schema.BuiltinOperatorTANH, 1, []int{x}, []int{y}, nil)
			} else {
				b.Op2(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, []int{x}, []int{m}, tflitetest.CompositeOptions("c", k+1, 0, nil))
				b.Op2(schema.BuiltinOperatorSTABLEHLO_COMPOSITE, 1, []int{m}, []int{y}, tflitetest.CompositeOptions("c", k+1, 0, nil))
			}
			b.Inputs(x)
			b.Outputs(y)
		}
	})
	for _, c := range []struct {
		name string
		data []byte
		is   error
		text string
	}{
		{"cycle", callSelf, ErrMalformed, "cycle"},
		{"identity", identity, ErrUnsupportedOp, "one of its inputs"},
		{"arity", arity, ErrMalformed, "2 inputs and 1 outputs; its decomposition (subgraph 1) takes 1"},
		{"missing", missing, ErrMalformed, "decomposition subgraph 7; the model has 1"},
		{"doubling", doubling, ErrUnsupportedOp, "expand to more than"},
	} {
		_, err := Load(c.data)
		if !errors.Is(err, c.is) || err == nil || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: Load: %v; want %v with %q", c.name, err, c.is, c.text)
		}
	}
}
