package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// bench's random inputs stay within the table a GATHER indexes: a model
// of one GATHER from a 400-entry table runs, where random int32 indices
// fail it.
func TestBenchIndexInputs(t *testing.T) {
	table := make([]float32, 400)
	model, err := tflitetest.Lookup(table)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "lookup.tflite")
	if err := os.WriteFile(p, model, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := edgectl(t, "bench", "--model", p, "--runs", "20", "--warmup", "0"); err != nil {
		t.Errorf("bench of a GATHER model on random inputs: %v\n%s", err, out)
	}
}

// When random inputs fail a model whose indices bench cannot see (they
// pass through an ADD first), the error says to give real inputs.
func TestBenchRandomInputsFail(t *testing.T) {
	const opAdd, opGather = 0, 36 // the TFLite schema's builtin codes
	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Int32, []int{1}, nil, nil)
	one := b.Const("one", tensor.Int32, []int{1}, nil, tflitetest.Int32Bytes([]int32{1}))
	idx := b.Tensor("idx", tensor.Int32, []int{1}, nil, nil)
	b.Op(opAdd, 1, []int{x, one}, []int{idx}, tflitetest.AddOptions(0))
	table := b.Const("table", tensor.Float32, []int{4}, nil, tflitetest.Float32Bytes([]float32{1, 2, 3, 4}))
	out := b.Tensor("out", tensor.Float32, []int{1}, nil, nil)
	b.Op(opGather, 1, []int{table, idx}, []int{out}, tflitetest.GatherOptions(0, 0))
	b.Inputs(x)
	b.Outputs(out)
	model, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "add_gather.tflite")
	if err := os.WriteFile(p, model, 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := edgectl(t, "bench", "--model", p, "--runs", "1", "--warmup", "0")
	if err == nil || !strings.Contains(err.Error(), "on random inputs: give the model's own with --input") {
		t.Errorf("bench = %v\n%s; want the failure and a pointer to --input", err, o)
	}
}
