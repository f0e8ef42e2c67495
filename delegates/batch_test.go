package delegates_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// helloCase is one hello_world_int8 input with TensorFlow Lite Micro's
// output for it (testdata/golden_ref_tflm).
func helloCases(t *testing.T) ([]byte, [][2]int8) {
	t.Helper()
	model, err := os.ReadFile("../testdata/models/hello_world_int8.tflite")
	if err != nil {
		t.Fatal(err)
	}
	var cases [][2]int8
	for _, q := range []int{-96, -63, -34, 0} {
		b, err := os.ReadFile(filepath.Join("../testdata/golden_ref_tflm/hello_world_int8", fmt.Sprintf("q_%d", q), "output_0.bin"))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, [2]int8{int8(q), int8(b[0])})
	}
	return model, cases
}

// TestCPUBatch: a CPU runner readied for batches runs a batch of a model
// with a batch dimension as one invocation, and each request gets TFLite
// Micro's answer for its own input and its own [1 1] shape; a model whose
// graph fixes the batch (person_detect) runs a batch one request after
// another, also with the reference answers.
func TestCPUBatch(t *testing.T) {
	model, cases := helloCases(t)
	b := delegates.CPU{Options: &tflite.Options{Arithmetic: tflite.Reference}, MaxBatch: 4}
	r, err := b.Prepare(context.Background(), model, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	br := r.(delegates.BatchRunner)
	if !br.Batchable() {
		t.Fatal("hello_world_int8 is not batchable")
	}
	for _, n := range []int{4, 3, 1} { // 3: an interpreter made on first use
		ins, outs := make([][]tensor.Tensor, n), make([][]tensor.Tensor, n)
		for k := range n {
			ins[k] = []tensor.Tensor{{Type: tensor.Int8, Shape: []int{1, 1}, Data: []byte{byte(cases[k][0])}}}
			outs[k] = make([]tensor.Tensor, 1)
		}
		for k, err := range br.InvokeBatch(context.Background(), ins, outs) {
			if err != nil {
				t.Fatalf("batch of %d: request %d: %v", n, k, err)
			}
			if got := outs[k][0]; int8(got.Data[0]) != cases[k][1] || !tensor.SameShape(got.Shape, []int{1, 1}) {
				t.Errorf("batch of %d: input %d gives %d %v; want %d [1 1] (TFLite Micro)", n, cases[k][0], int8(got.Data[0]), got.Shape, cases[k][1])
			}
		}
	}

	pd, golden := personDetect(t)
	r, err = b.Prepare(context.Background(), pd, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	br = r.(delegates.BatchRunner)
	if br.Batchable() {
		t.Fatal("person_detect (fixed batch) reported batchable")
	}
	ins, outs := make([][]tensor.Tensor, len(golden)), make([][]tensor.Tensor, len(golden))
	for k, c := range golden {
		ins[k], outs[k] = inputs(c), make([]tensor.Tensor, 1)
	}
	for k, err := range br.InvokeBatch(context.Background(), ins, outs) {
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, "InvokeBatch", golden[k], outs[k])
	}
}

// TestRunBatch: a chain runs a batch through its healthy accelerator one
// request at a time, and once the accelerator fails, the rest of the
// batch goes to the CPU fallback in one call; every answer is TFLite
// Micro's and says who answered.
func TestRunBatch(t *testing.T) {
	model, golden := personDetect(t)
	acc := delegatetest.New("fake-tpu", cpu)
	c := newChain(t, acc, model, &delegates.Options{FallbackRunners: 1})
	run := func() ([]string, [][]tensor.Tensor) {
		ins, outs := make([][]tensor.Tensor, len(golden)), make([][]tensor.Tensor, len(golden))
		for k, g := range golden {
			ins[k], outs[k] = inputs(g), make([]tensor.Tensor, 1)
		}
		served, errs := c.RunBatch(context.Background(), ins, outs)
		for k, err := range errs {
			if err != nil {
				t.Fatalf("request %d: %v", k, err)
			}
			checkGolden(t, "RunBatch", golden[k], outs[k])
		}
		return served, outs
	}
	served, _ := run()
	for k, s := range served {
		if s != "fake-tpu" {
			t.Errorf("request %d served by %q; want fake-tpu", k, s)
		}
	}
	acc.FailAfter(1)
	served, _ = run()
	want := []string{"fake-tpu"}
	for range golden[1:] {
		want = append(want, "cpu")
	}
	if fmt.Sprint(served) != fmt.Sprint(want) {
		t.Errorf("served by %v after the accelerator failed; want %v", served, want)
	}
	c.Close()
	_, errs := c.RunBatch(context.Background(), [][]tensor.Tensor{inputs(golden[0])}, [][]tensor.Tensor{make([]tensor.Tensor, 1)})
	if errs[0] != delegates.ErrClosed {
		t.Errorf("RunBatch on a closed chain: %v; want ErrClosed", errs[0])
	}
}
