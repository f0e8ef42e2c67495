package tflite

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/edged-dev/edged/internal/testenv"
)

// The WebAssembly oracle refuses models with variable tensors (stateful
// LSTM and SVDF models). For those the tests compare with TensorFlow
// Lite's C library itself, the official runtime users install (with its
// default XNNPACK delegate): testdata/capi_run.c, compiled with gcc, runs
// a model through it. The library is found in EDGED_TFLITE_C, else in the
// shared vendor fixtures (<repo>/../shared/vendor/tflite-c/linux-GOARCH);
// without it, or without gcc, the tests skip.

var (
	capiOnce sync.Once
	capiBin  string
	capiLib  string
	capiWhy  string
)

// capiRunner returns the harness binary and the library, or skips.
func capiRunner(t *testing.T) (bin, lib string) {
	t.Helper()
	capiOnce.Do(func() {
		lib := os.Getenv("EDGED_TFLITE_C")
		if lib == "" {
			root, err := testenv.RepoRoot()
			if err != nil {
				capiWhy = err.Error()
				return
			}
			lib = filepath.Join(root, "..", "shared", "vendor", "tflite-c", "linux-"+runtime.GOARCH, "libtensorflowlite_c.so")
			if _, err := os.Stat(lib); err != nil {
				capiWhy = fmt.Sprintf("no TensorFlow Lite C library (set EDGED_TFLITE_C=/path/to/libtensorflowlite_c.so): %v", err)
				return
			}
		} else if _, err := os.Stat(lib); err != nil {
			capiWhy = "EDGED_TFLITE_C: " + err.Error()
			return
		}
		if os.Getenv("EDGED_TEST_EMULATOR") != "" {
			capiWhy = "under an emulator: the C harness is built for the host"
			return
		}
		gcc, err := exec.LookPath("gcc")
		if err != nil {
			capiWhy = "gcc is not installed: " + err.Error()
			return
		}
		dir, err := os.MkdirTemp("", "edged-capi-")
		if err != nil {
			capiWhy = err.Error()
			return
		}
		bin := filepath.Join(dir, "capi_run")
		out, err := exec.Command(gcc, "-O1", "-o", bin, filepath.Join("testdata", "capi_run.c"), "-ldl").CombinedOutput()
		if err != nil {
			capiWhy = fmt.Sprintf("building the C harness: %v\n%s", err, out)
			return
		}
		capiBin, capiLib = bin, lib
	})
	if capiBin == "" {
		if os.Getenv("EDGED_TFLITE_C") != "" {
			t.Fatal(capiWhy)
		}
		t.Skip(capiWhy)
	}
	return capiBin, capiLib
}

// capiRun runs model on TensorFlow Lite's C library: inputs[k] holds the
// data of input k for every run back to back; the interpreter's variables
// are reset before each run when reset is true, and carried over
// otherwise. It returns each output's data for all runs back to back.
func capiRun(t *testing.T, model []byte, runs int, reset bool, inputs [][]byte) [][]byte {
	t.Helper()
	bin, lib := capiRunner(t)
	dir := t.TempDir()
	mp := filepath.Join(dir, "model.tflite")
	if err := os.WriteFile(mp, model, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{lib, mp, dir, fmt.Sprint(runs), "0"}
	if reset {
		args[4] = "1"
	}
	for k, in := range inputs {
		p := filepath.Join(dir, fmt.Sprintf("input_%d.bin", k))
		if err := os.WriteFile(p, in, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("TensorFlow Lite C library: %v\n%s", err, stderr.String())
	}
	var outs [][]byte
	for k := 0; ; k++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("output_%d.bin", k)))
		if os.IsNotExist(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b)
	}
	return outs
}

// edgedRuns runs model in edged like capiRun does.
func edgedRuns(t *testing.T, model []byte, opts *Options, runs int, reset bool, inputs [][]byte) [][]byte {
	t.Helper()
	m, err := Load(model)
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	outs := make([][]byte, it.NumOutputs())
	for r := 0; r < runs; r++ {
		if reset {
			it.ResetVariables()
		}
		for k, in := range inputs {
			d := it.Input(k).Data
			copy(d, in[r*len(d):(r+1)*len(d)])
		}
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		for k := range outs {
			outs[k] = append(outs[k], it.Output(k).Data...)
		}
	}
	return outs
}
