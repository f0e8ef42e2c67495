package tflite

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// problemModel has two custom operators nobody registered and a SOFTMAX
// on int32 (which TFLite has no kernel for either), between valid ones.
func problemModel(t *testing.T) []byte {
	t.Helper()
	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Float32, []int{1, 4}, nil, nil)
	a := b.Tensor("a", tensor.Float32, []int{1, 4}, nil, nil)
	c := b.Tensor("c", tensor.Float32, []int{1, 4}, nil, nil)
	d := b.Tensor("d", tensor.Float32, []int{1, 4}, nil, nil)
	z := b.Tensor("z", tensor.Int32, []int{1, 4}, nil, nil)
	w := b.Tensor("w", tensor.Int32, []int{1, 4}, nil, nil)
	b.Custom("NoSuchOpA", 1, []int{x}, []int{a}, nil)
	b.Op(schema.BuiltinOperatorLOGISTIC, 1, []int{a}, []int{c}, nil)
	b.Custom("NoSuchOpB", 1, []int{c}, []int{d}, nil)
	b.Op(schema.BuiltinOperatorSOFTMAX, 1, []int{z}, []int{w}, tflitetest.SoftmaxOptions(1))
	b.Inputs(x, z)
	b.Outputs(d, w)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestProblemsListsEveryOne(t *testing.T) {
	m, err := Decode(problemModel(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Arithmetic{LiteRT, Reference} {
		ps := m.Problems(&Options{Arithmetic: a})
		var got []string
		for _, p := range ps {
			got = append(got, p.Op)
			if p.Subgraph != 0 || !p.Unsupported {
				t.Errorf("%s: problem %v: subgraph %d, unsupported %v; want 0 and true", a, p, p.Subgraph, p.Unsupported)
			}
		}
		want := []string{`CUSTOM "NoSuchOpA"`, `CUSTOM "NoSuchOpB"`, "SOFTMAX"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: Problems ops = %q; want %q", a, got, want)
		}
		if ps[0].Operator != 0 || ps[1].Operator != 2 || ps[2].Operator != 3 {
			t.Errorf("%s: operators %d, %d, %d; want 0, 2, 3", a, ps[0].Operator, ps[1].Operator, ps[2].Operator)
		}
		if !errors.Is(ps[0].Err, ErrUnsupportedOp) || !errors.Is(ps[2].Err, kernels.ErrUnsupported) {
			t.Errorf("%s: errors %v, %v; want ErrUnsupportedOp and kernels.ErrUnsupported", a, ps[0].Err, ps[2].Err)
		}
		if s := ps[2].String(); !strings.Contains(s, "operator 3 (SOFTMAX)") || !strings.Contains(s, "int32") {
			t.Errorf("%s: %q; want it to name operator 3 (SOFTMAX) and the int32 input", a, s)
		}
	}
}

// TestProblemsNoneWhenRunnable: no problems exactly when NewInterpreter
// succeeds, on every model of testdata, in both arithmetics.
func TestProblemsNoneWhenRunnable(t *testing.T) {
	for _, f := range modelFiles(t) {
		f = filepath.Base(f)
		data := readModel(t, f)
		m, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode(%s): %v", f, err)
		}
		for _, a := range []Arithmetic{LiteRT, Reference} {
			ps := m.Problems(&Options{Arithmetic: a})
			_, err := NewInterpreter(m, &Options{Arithmetic: a})
			if (len(ps) == 0) != (err == nil) {
				t.Errorf("%s %s: %d problems %v; NewInterpreter error %v", f, a, len(ps), ps, err)
			}
		}
	}
}

// TestProblemsDownstream: a CONV_2D whose input comes from an unknown
// custom operator is checked with the file's shape ([1,1,1,3], too small
// for its 3x3 window) and flagged as downstream of the first problem.
func TestProblemsDownstream(t *testing.T) {
	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Float32, []int{1, 8, 8, 3}, nil, nil)
	a := b.Tensor("a", tensor.Float32, []int{1, 1, 1, 3}, nil, nil)
	w := b.Const("w", tensor.Float32, []int{2, 3, 3, 3}, nil, make([]byte, 2*3*3*3*4))
	y := b.Tensor("y", tensor.Float32, []int{1, 6, 6, 2}, nil, nil)
	b.Custom("NoSuchOp", 1, []int{x}, []int{a}, nil)
	b.Op(schema.BuiltinOperatorCONV_2D, 1, []int{a, w, -1}, []int{y}, tflitetest.Conv2DOptions(schema.PaddingVALID, 1, 1, 0, 1, 1))
	b.Inputs(x)
	b.Outputs(y)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Problems(nil)
	if len(ps) != 2 || ps[0].Downstream || !ps[1].Downstream || ps[1].Op != "CONV_2D" {
		t.Fatalf("Problems = %v (downstream %v); want the custom op, then CONV_2D downstream of it", ps, []bool{len(ps) > 0 && ps[0].Downstream, len(ps) > 1 && ps[1].Downstream})
	}
}
