package delegates

import (
	"context"
	"os"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// TestCPUStatefulModel serves TFLite Micro's mnist_lstm model (an LSTM
// with variable state) on the CPU backend: the same request gives the
// same answer however many requests came before (the state is reset for
// each), and the runner does not batch it.
func TestCPUStatefulModel(t *testing.T) {
	model, err := os.ReadFile("../testdata/models/trained_lstm_int8.tflite")
	if err != nil {
		t.Fatal(err)
	}
	r, err := CPU{MaxBatch: 4}.Prepare(context.Background(), model, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.(*CPURunner).Batchable() {
		t.Error("a stateful model is batchable")
	}
	var answers [][]byte
	for _, sample := range []string{"sample3_int8.bin", "sample7_int8.bin", "sample3_int8.bin"} {
		x, err := os.ReadFile("../testdata/models/testdata/mnist_lstm/" + sample)
		if err != nil {
			t.Fatal(err)
		}
		in := []tensor.Tensor{{Type: tensor.Int8, Shape: []int{1, 28, 28}, Data: x}}
		out := make([]tensor.Tensor, 1)
		if err := r.Invoke(context.Background(), in, out); err != nil {
			t.Fatal(err)
		}
		answers = append(answers, append([]byte(nil), out[0].Data...))
	}
	if string(answers[0]) != string(answers[2]) {
		t.Errorf("sample 3 after sample 7 gives %v; first time %v", answers[2], answers[0])
	}
	if string(answers[0]) == string(answers[1]) {
		t.Errorf("samples 3 and 7 give the same output %v", answers[0])
	}
}
