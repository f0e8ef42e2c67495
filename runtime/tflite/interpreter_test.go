package tflite

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestIONames checks lookup by tensor name and by serving_default
// signature name, on facts read from the files with the oracle's `info`
// (simple_add_model: inputs serving_default_input_1:0 / input_1 and
// serving_default_input_2:0 / input_2, output PartitionedCall:0 / add).
func TestIONames(t *testing.T) {
	m, err := LoadFile("../../testdata/models/simple_add_model.tflite")
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		input bool
		want  int
	}{
		{"serving_default_input_1:0", true, 0},
		{"serving_default_input_2:0", true, 1},
		{"input_1", true, 0},
		{"input_2", true, 1},
		{"PartitionedCall:0", false, 0},
		{"add", false, 0},
		{"nope", true, -1},
		{"nope", false, -1},
	}
	for _, tc := range tests {
		got := it.OutputIndex(tc.name)
		if tc.input {
			got = it.InputIndex(tc.name)
		}
		if got != tc.want {
			t.Errorf("index of %q (input %v) = %d; want %d", tc.name, tc.input, got, tc.want)
		}
	}
	if s := m.Signature(DefaultSignature); s == nil || len(s.Inputs) != 2 || len(s.Outputs) != 1 {
		t.Errorf("serving_default = %+v", s)
	}
	if it.Input(2) != nil || it.Output(-1) != nil {
		t.Error("out-of-range Input/Output returned a tensor")
	}
}

// TestLoadErrors: errors name what is wrong; nothing panics.
func TestLoadErrors(t *testing.T) {
	good, err := os.ReadFile("../../testdata/models/hello_world_int8.tflite")
	if err != nil {
		t.Fatal(err)
	}
	tpu, err := os.ReadFile("../../testdata/models/fizzbuzz_model_quant_edgetpu.tflite")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantIs  error
		wantMsg string
	}{
		{"empty", nil, ErrMalformed, "too short"},
		{"not tflite", []byte("GIF89a...................."), ErrMalformed, "TFL3"},
		{"truncated", good[:len(good)/2], ErrMalformed, ""},
		{"edge tpu", tpu, ErrUnsupportedOp, "needs an Edge TPU"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.data)
			if !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Load = %v; want %v containing %q", err, tc.wantIs, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Load reached the panic backstop: %v", err)
			}
		})
	}
}

// TestInterpretersShareModel runs two interpreters of one model and checks
// they do not disturb each other.
func TestInterpretersShareModel(t *testing.T) {
	m, err := LoadFile("../../testdata/models/hello_world_int8.tflite")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewInterpreter(m, nil)
	b, _ := NewInterpreter(m, nil)
	wantA, _ := os.ReadFile("../../testdata/golden_ref_tflm/hello_world_int8/q_-96/output_0.bin")
	wantB, _ := os.ReadFile("../../testdata/golden_ref_tflm/hello_world_int8/q_0/output_0.bin")
	var q0 int8 = -96
	a.Input(0).Data[0] = byte(q0)
	b.Input(0).Data[0] = 0
	if err := a.Invoke(); err != nil {
		t.Fatal(err)
	}
	if err := b.Invoke(); err != nil {
		t.Fatal(err)
	}
	if a.Output(0).Data[0] != wantA[0] || b.Output(0).Data[0] != wantB[0] {
		t.Errorf("outputs %d, %d; want %d, %d", int8(a.Output(0).Data[0]), int8(b.Output(0).Data[0]), int8(wantA[0]), int8(wantB[0]))
	}
}
