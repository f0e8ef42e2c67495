package tflite

import (
	"errors"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// customModel is x → CUSTOM name → y, float32[1, 2].
func customModel(t *testing.T, name string) []byte {
	t.Helper()
	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Float32, []int{1, 2}, nil, nil)
	y := b.Tensor("y", tensor.Float32, []int{1, 2}, nil, nil)
	b.Custom(name, 3, []int{x}, []int{y}, []byte{7, 8})
	b.Inputs(x)
	b.Outputs(y)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRegisterCustom(t *testing.T) {
	const name = "edged.test.Negate"
	data := customModel(t, name)
	if _, err := Load(data); !errors.Is(err, ErrUnsupportedOp) || !strings.Contains(err.Error(), name) {
		t.Fatalf("Load before registering = %v; want ErrUnsupportedOp naming %s", err, name)
	}
	var seen *CustomOp
	err := RegisterCustom(name, CustomKernelFunc(func(op *CustomOp) (func() error, error) {
		seen = op
		in, out := op.Inputs[0], op.Outputs[0]
		return func() error {
			for i, v := range in.Float32s() {
				out.Float32s()[i] = -v
			}
			return nil
		}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Arithmetic{LiteRT, Reference} {
		it, err := NewInterpreter(m, &Options{Arithmetic: a})
		if err != nil {
			t.Fatal(err)
		}
		if seen.Name != name || seen.Version != 3 || string(seen.Options) != "\x07\x08" || seen.Arithmetic != a || len(seen.Inputs) != 1 || len(seen.Outputs) != 1 {
			t.Errorf("%s: kernel saw %+v; want name %s, version 3, options 07 08, arithmetic %s, one input and output", a, seen, name, a)
		}
		copy(it.Input(0).Float32s(), []float32{1.5, -2})
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		if got := it.Output(0).Float32s(); got[0] != -1.5 || got[1] != 2 {
			t.Errorf("%s: output %v; want [-1.5 2]", a, got)
		}
		if n := testing.AllocsPerRun(10, func() { it.Invoke() }); n != 0 {
			t.Errorf("Invoke allocates %v times with a custom operator; want 0", n)
		}
		if ps := m.Problems(&Options{Arithmetic: a}); len(ps) != 0 {
			t.Errorf("Problems = %v; want none once registered", ps)
		}
	}
	if _, ok := SupportedOps()["CUSTOM "+name]; !ok {
		t.Errorf("SupportedOps lacks CUSTOM %s", name)
	}
}

func TestRegisterCustomErrors(t *testing.T) {
	ok := CustomKernelFunc(func(*CustomOp) (func() error, error) { return func() error { return nil }, nil })
	if err := RegisterCustom("", ok); err == nil {
		t.Error("RegisterCustom with an empty name succeeded")
	}
	if err := RegisterCustom("edged.test.Nil", nil); err == nil {
		t.Error("RegisterCustom with a nil kernel succeeded")
	}
	if err := RegisterCustom("TFLite_Detection_PostProcess", ok); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("RegisterCustom over the runtime's own operator = %v; want an error saying it is registered", err)
	}
	if err := RegisterCustom("edged.test.Twice", ok); err != nil {
		t.Fatal(err)
	}
	if err := RegisterCustom("edged.test.Twice", ok); err == nil {
		t.Error("registering a name twice succeeded")
	}
	// A kernel's refusal is NewInterpreter's error; a nil function is one.
	refuse := errors.New("operands not handled")
	if err := RegisterCustom("edged.test.Refuses", CustomKernelFunc(func(*CustomOp) (func() error, error) { return nil, refuse })); err != nil {
		t.Fatal(err)
	}
	if err := RegisterCustom("edged.test.NoFunc", CustomKernelFunc(func(*CustomOp) (func() error, error) { return nil, nil })); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"edged.test.Refuses": "operands not handled", "edged.test.NoFunc": "no function"} {
		m, err := Load(customModel(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewInterpreter(m, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: NewInterpreter = %v; want an error containing %q", name, err, want)
		}
	}
}
