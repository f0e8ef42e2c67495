package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/edged-dev/edged/runtime/tflite/compress"
)

// runQuantizeDynamic writes the dynamic-range version of a float model
// and, given calibration samples, compares it with the float model on
// them.
func runQuantizeDynamic(model, out, calib string, opts *compress.DynamicOptions, runs int, stdout io.Writer) error {
	if model == "" || out == "" {
		return fmt.Errorf("quantize --dynamic: --model and --out are required")
	}
	if opts.MinElements < 0 {
		return fmt.Errorf("quantize --dynamic: --min-elements %d: want 0 or more", opts.MinElements)
	}
	data, err := os.ReadFile(model)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	q, rep, err := compress.QuantizeDynamic(data, opts)
	if err != nil {
		return fmt.Errorf("quantize --dynamic %s: %w", model, err)
	}
	if err := os.WriteFile(out, q, 0o644); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d weight tensors int8 (%d → %d bytes), %d kept in float32\n", out, len(rep.Quantized), rep.FloatBytes, rep.Int8Bytes, len(rep.Kept))
	if calib == "" {
		return nil
	}
	it, err := openInterpreter(model, 1, "reference")
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	samples, _, err := loadSamples(calib, it)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	before, err := compress.Measure(data, samples, runs)
	if err != nil {
		return fmt.Errorf("quantize: float model: %w", err)
	}
	after, err := compress.Measure(q, samples, runs)
	if err != nil {
		return fmt.Errorf("quantize: dynamic-range model: %w", err)
	}
	t := compress.Compare(before, after)
	t.Note("accuracy of the dynamic-range model against the float model on %d samples", len(samples))
	return t.Print(stdout)
}
