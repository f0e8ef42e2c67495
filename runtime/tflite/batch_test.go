package tflite

import (
	"bytes"
	"testing"

	"github.com/edged-dev/edged/internal/golden"
)

// TestResizeBatch resizes each golden model's input batch to the number of
// its cases and checks that every sample of the batched run equals the
// output of running that case alone. Models whose graph fixes the batch
// (a RESHAPE to a constant [1, N]) must refuse the resize with an error.
// The small fully-connected models must accept it.
func TestResizeBatch(t *testing.T) {
	mustBatch := map[string]bool{"hello_world_float": true, "hello_world_int8": true, "iris": true, "fizzbuzz_model": true}
	suites, err := golden.Suites()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range suites {
		t.Run(s.Name(), func(t *testing.T) {
			single := goldenInterpreter(t, s, nil)
			m := single.Model()
			if testing.Short() && single.MACs() > shortMaxMACs {
				t.Skip("large model; -short")
			}
			if single.NumInputs() != 1 {
				t.Skip("batching is tested on single-input models")
			}
			if heavyInShort(single) {
				t.Skip("a large model in -short mode")
			}
			n := len(s.Cases)
			var want [][][]byte
			var ins [][]byte
			for ci := range s.Cases {
				want = append(want, runCase(t, single, s, &s.Cases[ci]))
				in, err := s.ReadInputs(&s.Cases[ci])
				if err != nil {
					t.Fatal(err)
				}
				ins = append(ins, in[0])
			}
			batched, err := NewInterpreter(m, nil)
			if err != nil {
				t.Fatal(err)
			}
			shape := append([]int{n}, single.Input(0).Shape[1:]...)
			if err := batched.ResizeInput(0, shape); err != nil {
				if mustBatch[s.Name()] {
					t.Fatalf("ResizeInput(0, %v): %v", shape, err)
				}
				t.Logf("batch refused (graph fixes it): %v", err)
				// The interpreter must still work at its original shape.
				if got := runCase(t, batched, s, &s.Cases[0]); !bytes.Equal(got[0], want[0][0]) {
					t.Errorf("after a refused resize, output differs")
				}
				return
			}
			in := batched.Input(0)
			if len(in.Data) != n*len(ins[0]) {
				t.Fatalf("batched input has %d bytes; want %d", len(in.Data), n*len(ins[0]))
			}
			for i, b := range ins {
				copy(in.Data[i*len(b):], b)
			}
			if err := batched.Invoke(); err != nil {
				t.Fatal(err)
			}
			for k := 0; k < batched.NumOutputs(); k++ {
				out := batched.Output(k).Data
				per := len(want[0][k])
				if len(out) != n*per {
					t.Fatalf("output %d has %d bytes; want %d", k, len(out), n*per)
				}
				for i := 0; i < n; i++ {
					if !bytes.Equal(out[i*per:(i+1)*per], want[i][k]) {
						d, _ := golden.Compare(batched.Output(k).Type, out[i*per:(i+1)*per], want[i][k])
						t.Errorf("output %d sample %d (%s) differs from its single run: %+v", k, i, s.Cases[i].Dir, d)
					}
				}
			}
		})
	}
}
