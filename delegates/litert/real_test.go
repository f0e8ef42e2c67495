//go:build edged_dynamic && linux

package litert

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/internal/golden"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
)

// These tests run the real TensorFlow Lite C library (built from
// TensorFlow's sources with XNNPACK; ../shared/vendor/tflite-c, named by
// EDGED_TFLITE_C, which the Makefile sets). Outputs are checked against
// the golden files: the official runtime with XNNPACK.

// realLib returns the path of the library for this architecture.
func realLib(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("EDGED_TFLITE_C")
	if dir == "" {
		testenv.Missing(t, "EDGED_TFLITE_C does not name the directory of the TFLite C library (make sets it to ../shared/vendor/tflite-c)")
	}
	p := filepath.Join(dir, "linux-"+runtime.GOARCH, "libtensorflowlite_c.so")
	if _, err := os.Stat(p); err != nil {
		testenv.Missing(t, "the TFLite C library: %v", err)
	}
	return p
}

// largeModel: models above this size take seconds to minutes per call
// under qemu; -short leaves them out.
const largeModel = 400_000

// TestRealGolden: every golden case through the xnnpack backend gives the
// golden outputs: quantized outputs byte for byte, floats within the
// oracle's tolerance.
func TestRealGolden(t *testing.T) {
	lib := realLib(t)
	suites, err := golden.Suites()
	if err != nil {
		t.Fatal(err)
	}
	b := New(XNNPACK, Options{Paths: Paths{TFLite: lib}, Threads: 1})
	for _, s := range suites {
		t.Run(s.Name(), func(t *testing.T) {
			model, err := os.ReadFile(s.ModelFile())
			if err != nil {
				t.Fatal(err)
			}
			if testing.Short() && len(model) > largeModel {
				t.Skipf("%d-byte model; -short", len(model))
			}
			r, err := b.Prepare(context.Background(), model, "cpu")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			d := r.(delegates.Describer)
			for ci := range s.Cases {
				c := &s.Cases[ci]
				ins, err := s.ReadInputs(c)
				if err != nil {
					t.Fatal(err)
				}
				want, err := s.ReadOutputs(c)
				if err != nil {
					t.Fatal(err)
				}
				in := make([]tensor.Tensor, len(ins))
				for i, data := range ins {
					in[i] = tensor.Tensor{Type: d.Inputs()[i].Type, Shape: d.Inputs()[i].Shape, Data: data}
				}
				out := make([]tensor.Tensor, len(d.Outputs()))
				if err := r.Invoke(context.Background(), in, out); err != nil {
					t.Fatalf("%s: %v", c.Dir, err)
				}
				for j := range want {
					diff, err := golden.Compare(out[j].Type, out[j].Data, want[j])
					if err != nil {
						t.Fatalf("%s output %d: %v", c.Dir, j, err)
					}
					if out[j].Type == tensor.Float32 {
						if diff.OverTol > 0 {
							t.Errorf("%s output %d: %d of %d floats beyond the tolerance (max |diff| %g)", c.Dir, j, diff.OverTol, diff.N, diff.MaxAbs)
						}
					} else if diff.Differ > 0 {
						t.Errorf("%s output %d: %d of %d values differ from the golden file (max %g)", c.Dir, j, diff.Differ, diff.N, diff.MaxAbs)
					}
				}
			}
		})
	}
}

// TestRealXNNPACKApplied: the delegate is created with the quantized
// operators on, and the library's builtin kernels (no delegate) answer
// person_detect's no_person image differently from XNNPACK: [57 -57]
// instead of the golden [60 -60], so the golden result proves XNNPACK ran.
func TestRealXNNPACKApplied(t *testing.T) {
	lib := realLib(t)
	c, err := loadCAPI(lib)
	if err != nil {
		t.Fatal(err)
	}
	d, flags, err := c.newXNNPACK(2)
	if err != nil {
		t.Fatal(err)
	}
	c.xnnDelete(d)
	if flags&(xnnFlagQS8|xnnFlagQU8) != xnnFlagQS8|xnnFlagQU8 {
		t.Errorf("XNNPACK flags %#x; want QS8 and QU8 (0x3) set", flags)
	}
	s, err := golden.LoadSuite(goldenDir(t, "person_detect"))
	if err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(s.ModelFile())
	if err != nil {
		t.Fatal(err)
	}
	var cs *golden.Case
	for i := range s.Cases {
		if s.Cases[i].Dir == "no_person" {
			cs = &s.Cases[i]
		}
	}
	ins, err := s.ReadInputs(cs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(XNNPACK, Options{Paths: Paths{TFLite: lib}}).Prepare(context.Background(), model, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := make([]tensor.Tensor, 1)
	if err := r.Invoke(context.Background(), []tensor.Tensor{{Type: tensor.Int8, Shape: []int{1, 96, 96, 1}, Data: ins[0]}}, out); err != nil {
		t.Fatal(err)
	}
	if got := out[0].Int8s(); len(got) != 2 || got[0] != 60 || got[1] != -60 {
		t.Errorf("person_detect no_person = %v; want [60 -60] (XNNPACK; the builtin kernels give [57 -57])", got)
	}
}

// TestRealErrorText: what the library says is the cause in the error.
func TestRealErrorText(t *testing.T) {
	lib := realLib(t)
	model := addModel(t, 99) // ADD version 99: no such kernel
	_, err := New(XNNPACK, Options{Paths: Paths{TFLite: lib}}).Prepare(context.Background(), model, "cpu")
	if err == nil {
		t.Fatal("Prepare of a model with ADD version 99 succeeded; want an error")
	}
	if !strings.Contains(err.Error(), "TFLite says: ") || !strings.Contains(err.Error(), "version '99'") {
		t.Errorf("Prepare error = %v; want the library's own text naming version '99'", err)
	}
	if errors.Is(err, delegates.ErrNotPresent) {
		t.Errorf("Prepare error = %v; a refused model is not an absent library", err)
	}
}

func goldenDir(t testing.TB, name string) string {
	t.Helper()
	root, err := golden.Root()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "golden", name)
}

func addModel(t testing.TB, version int) []byte {
	t.Helper()
	m, err := checkModel(version)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRealCheckModel: the library answers the check model as worked out
// by hand (x + c, exact in float32).
func TestRealCheckModel(t *testing.T) {
	lib := realLib(t)
	r, err := New(XNNPACK, Options{Paths: Paths{TFLite: lib}}).Prepare(context.Background(), addModel(t, 1), "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := make([]tensor.Tensor, 1)
	if err := r.Invoke(context.Background(), []tensor.Tensor{{Type: tensor.Float32, Shape: []int{1, 4}, Data: floats(checkInput...)}}, out); err != nil {
		t.Fatal(err)
	}
	if got := out[0].Float32s(); !slices.Equal(got, checkOutput) || !slices.Equal(checkOutput, []float32{1.25, 1, 0, 1023}) {
		t.Errorf("check model: %v + %v = %v; want %v", checkInput, checkConst, got, checkOutput)
	}
}
