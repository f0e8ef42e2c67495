package tflite

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// BenchmarkBatch reports inferences per second for one interpreter resized
// to batch 1, 4 and 16: a fully-connected model, whose batch becomes one
// larger matrix product, and person_detect, whose graph fixes batch 1
// (its final RESHAPE is [1,2]) and so runs a batch of N as N invocations.
func BenchmarkBatch(b *testing.B) {
	mlp, err := tflitetest.Int8MLP(1, 256, 1024, 1024, 10)
	if err != nil {
		b.Fatal(err)
	}
	pd, err := os.ReadFile(filepath.Join(modelsDir, "person_detect.tflite"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name      string
		data      []byte
		batchable bool
	}{{"mlp_256x1024x1024x10", mlp, true}, {"person_detect", pd, false}} {
		m, err := Load(bc.data)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/batch=%d", bc.name, n), func(b *testing.B) {
				it, err := NewInterpreter(m, nil)
				if err != nil {
					b.Fatal(err)
				}
				calls := n
				if bc.batchable {
					shape := append([]int(nil), m.Subgraphs[0].Tensors[m.Subgraphs[0].Inputs[0]].Shape...)
					shape[0] = n
					if err := it.ResizeInput(0, shape); err != nil {
						b.Fatal(err)
					}
					calls = 1
				}
				if err := it.Prepare(); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					for range calls {
						if err := it.Invoke(); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "infer/s")
			})
		}
	}
}
