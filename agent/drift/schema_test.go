package drift

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

func TestDriftSchemaIris(t *testing.T) {
	mi := infer.ModelInfo{Name: "iris",
		Inputs:  []infer.TensorSpec{{DType: tensor.Float32, Shape: []int{1, 4}}},
		Outputs: []infer.TensorSpec{{DType: tensor.Float32, Shape: []int{1, 3}}}}
	s, err := NewSchema(mi)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"input0[0]", "input0[1]", "input0[2]", "input0[3]"}
	if len(s.Features()) != len(want) || s.ClassOutput != 0 || s.Classes != 3 {
		t.Fatalf("NewSchema(iris) = %d features, class output %d of %d classes; want %v and output 0 of 3", len(s.Features()), s.ClassOutput, s.Classes, want)
	}
	for i, f := range s.Features() {
		if f.Name != want[i] {
			t.Errorf("feature %d = %q; want %q", i, f.Name, want[i])
		}
	}
	out := make([]byte, 12)
	binary.LittleEndian.PutUint32(out[8:], math.Float32bits(0.9))
	x, class, err := s.Sample(nil, []infer.Tensor{{Data: make([]byte, 16)}}, []infer.Tensor{{Data: out}})
	if err != nil || class != 2 || len(x) != 4 {
		t.Errorf("Sample = %v, class %d, %v; want 4 zeros, class 2", x, class, err)
	}
}
