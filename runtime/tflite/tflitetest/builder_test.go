package tflitetest_test

import (
	"errors"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// TestFullyConnectedModel writes a float FULLY_CONNECTED model and runs it
// through edged; the expected values are worked by hand.
func TestFullyConnectedModel(t *testing.T) {
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Float32, []int{1, 3}, nil, nil)
	w := b.Tensor("w", tensor.Float32, []int{2, 3}, nil, tflitetest.Float32Bytes([]float32{1, 2, 3, -1, 0, 1}))
	bias := b.Tensor("b", tensor.Float32, []int{2}, nil, tflitetest.Float32Bytes([]float32{0.5, -10}))
	out := b.Tensor("out", tensor.Float32, []int{1, 2}, nil, nil)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 1, []int{in, w, bias}, []int{out},
		tflitetest.FullyConnectedOptions(schema.ActivationFunctionTypeRELU, false))
	b.Inputs(in)
	b.Outputs(out)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := tflite.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(it.Input(0).Data, tflitetest.Float32Bytes([]float32{1, 1, 2}))
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	// [1+2+6+0.5, -1+0+2-10] = [9.5, -9] -> relu -> [9.5, 0]
	want := []float32{9.5, 0}
	got := it.Output(0).Float32s()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("FullyConnected output[%d] = %g; want %g", i, got[i], want[i])
		}
	}
}

func TestModelStructure(t *testing.T) {
	b := tflitetest.NewBuilder()
	q := &tensor.Quant{Scale: []float32{0.5, 0.25}, ZeroPoint: []int32{0, 0}, Axis: 1}
	in := b.Tensor("in", tensor.Int8, []int{3, 2}, q, nil)
	out := b.Tensor("out", tensor.Float32, []int{3, 2}, nil, nil)
	out2 := b.Tensor("out2", tensor.Float32, []int{3, 2}, nil, nil)
	b.Custom("MyOp", 2, []int{in, tflitetest.NoInput}, []int{out}, []byte{1, 2, 3})
	b.Op(schema.BuiltinOperatorGELU, 1, []int{out}, []int{out2}, nil) // code > 127
	b.Inputs(in)
	b.Outputs(out2)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := tflite.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	sg := m.Subgraphs[0]
	if got := sg.Tensors[0].Quant; got == nil || got.Axis != 1 || len(got.Scale) != 2 || got.Scale[1] != 0.25 {
		t.Errorf("quantization = %+v; want 2 scales on axis 1", got)
	}
	if got := sg.Operators[0].Inputs; len(got) != 2 || got[1] != -1 {
		t.Errorf("custom op inputs = %v; want [0 -1]", got)
	}
	if name := m.OpName(&sg.Operators[1]); name != "GELU" {
		t.Errorf("operator 1 is %q; want GELU", name)
	}
	if err := m.CheckOps(); !errors.Is(err, tflite.ErrUnsupportedOp) {
		t.Errorf("CheckOps = %v; want ErrUnsupportedOp for the custom op", err)
	}
}

func TestBuilderErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *tflitetest.Builder)
	}{
		{"short data", func(b *tflitetest.Builder) {
			b.Tensor("w", tensor.Float32, []int{2}, nil, []byte{1, 2, 3})
		}},
		{"duplicate name", func(b *tflitetest.Builder) {
			b.Tensor("x", tensor.Float32, []int{2}, nil, nil)
			b.Tensor("x", tensor.Float32, []int{2}, nil, nil)
		}},
		{"bad tensor index", func(b *tflitetest.Builder) {
			x := b.Tensor("x", tensor.Float32, []int{2}, nil, nil)
			b.Op(schema.BuiltinOperatorRELU, 1, []int{x}, []int{7}, nil)
		}},
		{"per-channel mismatch", func(b *tflitetest.Builder) {
			b.Tensor("x", tensor.Int8, []int{2, 3}, &tensor.Quant{Scale: []float32{1, 1}, ZeroPoint: []int32{0, 0}, Axis: 1}, nil)
		}},
		{"no operators", func(b *tflitetest.Builder) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tflitetest.NewBuilder()
			tt.build(b)
			if _, err := b.Bytes(); err == nil {
				t.Errorf("Bytes() = nil error; want an error")
			}
		})
	}
}
