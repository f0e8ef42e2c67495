package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/edged-dev/edged/runtime/tflite"
)

// The WebAssembly oracle cannot run models with variable tensors (LSTM,
// SVDF). With -tflite-c (or $EDGED_TFLITE_C) such models are run by
// TensorFlow Lite's C library through runtime/tflite/testdata/capi_run.c
// (compiled here with gcc), capiRuns times in a row without resetting the
// state, and edged is compared on the same sequence.
const capiRuns = 3

// inputSequence returns n input sets: first, then sets seeded by the
// file's digest and the set's position.
func inputSequence(sum [32]byte, specs []ioSpec, m *tflite.Model, first [][]byte, n int) [][][]byte {
	sets := [][][]byte{first}
	for j := 1; j < n; j++ {
		s := sha256.Sum256(append(sum[:], byte(j)))
		in, _, err := makeInputs(s, specs, m)
		if err != nil {
			break
		}
		sets = append(sets, in)
	}
	return sets
}

// capiBinary compiles capi_run.c once into the work directory.
func (c *config) capiBinary(ctx context.Context) (string, error) {
	if c.capiBin != "" {
		return c.capiBin, nil
	}
	src := filepath.Join("runtime", "tflite", "testdata", "capi_run.c")
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("run from the repository root: %w", err)
	}
	bin := filepath.Join(c.work, "capi_run")
	if out, err := exec.CommandContext(ctx, "gcc", "-O1", "-o", bin, src, "-ldl").CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc: %v: %s", err, out)
	}
	c.capiBin = bin
	return bin, nil
}

// capiRun runs the model on the input sets in order and returns each
// output with the results of all invocations one after the other.
func (c *config) capiRun(ctx context.Context, model string, sets [][][]byte, outs []ioSpec, dir string) ([]tensorBytes, error) {
	bin, err := c.capiBinary(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := []string{c.capi, model, dir, fmt.Sprint(len(sets)), "0"}
	for i := range sets[0] {
		var b []byte
		for _, s := range sets {
			b = append(b, s[i]...)
		}
		f := filepath.Join(dir, fmt.Sprintf("input_%d.bin", i))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return nil, err
		}
		args = append(args, f)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, lastLines(stderr.String(), 3))
	}
	var got []tensorBytes
	for k, o := range outs {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("output_%d.bin", k)))
		if err != nil {
			return nil, err
		}
		got = append(got, tensorBytes{DType: o.DType, Shape: o.Shape, Data: b})
	}
	return got, nil
}
