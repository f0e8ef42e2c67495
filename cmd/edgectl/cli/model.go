package cli

import (
	"fmt"
	"os"

	"github.com/edged-dev/edged/runtime/tflite"
)

// arithmeticUsage is the help text of every --arithmetic flag.
const arithmeticUsage = "quantized arithmetic: litert (the official runtime's, LiteRT with XNNPACK: bit-exact with it) or reference (TFLite's reference kernels, as TFLite Micro)"

// parseArithmetic reads the --arithmetic flag.
func parseArithmetic(s string) (tflite.Arithmetic, error) {
	a, err := tflite.ParseArithmetic(s)
	if err != nil {
		return 0, fmt.Errorf("--arithmetic %q: want litert or reference", s)
	}
	return a, nil
}

// openInterpreter loads a model and prepares an interpreter.
func openInterpreter(path string, threads int, arith string) (*tflite.Interpreter, error) {
	it, _, err := openModel(path, threads, arith)
	return it, err
}

// openModel is openInterpreter that also returns the model.
func openModel(path string, threads int, arith string) (*tflite.Interpreter, *tflite.Model, error) {
	a, err := parseArithmetic(arith)
	if err != nil {
		return nil, nil, err
	}
	if path == "" {
		return nil, nil, fmt.Errorf("--model is required")
	}
	if threads < 1 {
		return nil, nil, fmt.Errorf("--threads %d: want at least 1", threads)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, nil, err
	}
	m, err := tflite.LoadFile(path)
	if err != nil {
		return nil, nil, err
	}
	it, err := tflite.NewInterpreter(m, &tflite.Options{Threads: threads, Arithmetic: a})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return it, m, nil
}
