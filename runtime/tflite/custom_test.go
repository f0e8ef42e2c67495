package tflite

import (
	"errors"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
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

// scratchModel is x → CUSTOM name (reading x and a tensor nothing
// produces, as Vela's ethos-u operator reads its scratch areas) → y.
func scratchModel(t *testing.T, name string) []byte {
	t.Helper()
	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Int8, []int{1, 4}, nil, nil)
	scratch := b.Tensor("scratch", tensor.UInt8, []int{64}, nil, nil)
	y := b.Tensor("y", tensor.Int8, []int{1, 2}, nil, nil)
	b.Custom(name, 1, []int{x, scratch}, []int{y}, nil)
	b.Inputs(x)
	b.Outputs(y)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCustomOpScratch: an unsupported custom operator that reads a tensor
// nothing produces (an Ethos-U compiled model) is refused as an
// unsupported custom operator, and the file can still be described; a
// registered one is refused as malformed when prepared; a builtin
// operator reading such a tensor makes the file malformed.
func TestCustomOpScratch(t *testing.T) {
	data := scratchModel(t, "ethos-u")
	if _, err := Load(data); !errors.Is(err, ErrUnsupportedOp) || !strings.Contains(err.Error(), `"ethos-u"`) || !strings.Contains(err.Error(), "Ethos-U") {
		t.Errorf("Load = %v; want ErrUnsupportedOp naming the ethos-u custom operator", err)
	}
	m, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode = %v; want the model described", err)
	}
	ps := m.Problems(nil)
	if len(ps) != 1 || !ps[0].Unsupported || ps[0].Operator != 0 || !strings.Contains(ps[0].Err.Error(), "ethos-u") {
		t.Errorf("Problems = %v; want one: operator 0 unsupported (ethos-u)", ps)
	}

	const name = "edged.test.Scratch"
	err = RegisterCustom(name, CustomKernelFunc(func(*CustomOp) (func() error, error) { return func() error { return nil }, nil }))
	if err != nil {
		t.Fatal(err)
	}
	m, err = Load(scratchModel(t, name))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(errString(err), `tensor 1 "scratch" before any operator produces it`) {
		t.Errorf("Load with the custom operator registered = %v, %v; want ErrMalformed naming the scratch tensor", m, err)
	}
	if m, err := Decode(scratchModel(t, name)); err != nil {
		t.Error(err)
	} else if _, err := NewInterpreter(m, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("NewInterpreter = %v; want ErrMalformed", err)
	}

	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Int8, []int{1, 4}, nil, nil)
	scratch := b.Tensor("scratch", tensor.Int8, []int{1, 4}, nil, nil)
	y := b.Tensor("y", tensor.Int8, []int{1, 4}, nil, nil)
	b.Op(schema.BuiltinOperatorADD, 1, []int{x, scratch}, []int{y}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
	b.Inputs(x)
	b.Outputs(y)
	data, err = b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data); !errors.Is(err, ErrMalformed) {
		t.Errorf("Decode of a builtin reading an unproduced tensor = %v; want ErrMalformed", err)
	}
}

// TestResourceTensors: TensorFlow resource and variant handles (a
// Flex-delegate model) load for description; the operators using them
// are reported unsupported.
func TestResourceTensors(t *testing.T) {
	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Int32, []int{1}, nil, nil)
	h := b.Tensor("table", tensor.Resource, []int{}, nil, nil)
	l := b.Tensor("list", tensor.Variant, []int{}, nil, nil)
	y := b.Tensor("y", tensor.Int32, []int{1}, nil, nil)
	b.Custom("FlexHashTableV2", 1, nil, []int{h}, nil)
	b.Custom("FlexTensorListFromTensor", 1, []int{x}, []int{l}, nil)
	b.Custom("FlexLookupTableFindV2", 1, []int{h, x, l}, []int{y}, nil)
	b.Inputs(x)
	b.Outputs(y)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode = %v; want the model described", err)
	}
	if got := m.Subgraphs[0].Tensors[h].Type; got != tensor.Resource {
		t.Errorf("table has type %s; want resource", got)
	}
	if got := m.Subgraphs[0].Tensors[l].Type; got != tensor.Variant {
		t.Errorf("list has type %s; want variant", got)
	}
	ps := m.Problems(nil)
	if len(ps) != 3 {
		t.Fatalf("Problems = %v; want the three Flex operators", ps)
	}
	for i, p := range ps {
		if !p.Unsupported || p.Operator != i {
			t.Errorf("problem %d = %+v; want operator %d unsupported", i, p, i)
		}
	}
	if _, err := Load(data); !errors.Is(err, ErrUnsupportedOp) {
		t.Errorf("Load = %v; want ErrUnsupportedOp", err)
	}
}
