package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/compress"
)

// runQuantize writes a full-integer int8 version of a float model,
// calibrated on a directory of inputs, and compares it with the float
// model on the held-back part of those inputs.
func runQuantize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quantize", stdout, stderr)
	model := fs.String("model", "", "float model `file` (.tflite)")
	calib := fs.String("calibration", "", "`dir` of calibration inputs: one file per sample (raw little-endian float32 or .npy) for a one-input model, or one subdirectory per sample holding input_0.bin, input_1.bin, ...")
	out := fs.String("out", "", "int8 model `file` to write")
	perChannel := fs.Bool("per-channel", false, "per-channel weights for FULLY_CONNECTED too (CONV_2D and DEPTHWISE_CONV_2D always are)")
	ioType := fs.String("io", "float32", "type of the model's inputs and outputs: float32 (QUANTIZE/DEQUANTIZE at the edges), int8 or uint8")
	percentile := fs.Float64("percentile", 0, "clip activation ranges to this percentile (e.g. 99.99); 0 means min/max")
	holdout := fs.Float64("holdout", 0.2, "share of the calibration samples held back to measure accuracy (0: measure on all of them)")
	dynamic := fs.Bool("dynamic", false, "weight-only (dynamic-range) quantization: int8 weights for FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D, float activations (no calibration needed; --calibration, if given, only measures accuracy)")
	minElems := fs.Int("min-elements", 1024, "with --dynamic: leave weight tensors smaller than this in float32")
	asymInputs := fs.Bool("asymmetric-inputs", false, "with --dynamic: FULLY_CONNECTED quantizes its inputs asymmetrically (reference arithmetic)")
	runs := fs.Int("runs", 20, "timed invocations for the latency row")
	threads := fs.Int("threads", 1, "threads per calibration inference")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("quantize: unexpected argument %q", pos[0])
	}
	if *dynamic {
		return runQuantizeDynamic(*model, *out, *calib, &compress.DynamicOptions{MinElements: *minElems, PerChannelFC: *perChannel, AsymmetricInputs: *asymInputs}, *runs, stdout)
	}
	if *model == "" || *calib == "" || *out == "" {
		return fmt.Errorf("quantize: --model, --calibration and --out are required")
	}
	if *holdout < 0 || *holdout >= 1 {
		return fmt.Errorf("quantize: --holdout %g: want a share in [0, 1)", *holdout)
	}
	ioT := compress.IOType(strings.ToLower(*ioType))
	data, err := os.ReadFile(*model)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if err := compress.CheckFloat(data); err != nil {
		return fmt.Errorf("quantize %s: %w", *model, err)
	}
	it, err := openInterpreter(*model, 1, "")
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	samples, names, err := loadSamples(*calib, it)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	calSet, held := splitHoldout(samples, *holdout)
	if len(calSet) == 0 {
		return fmt.Errorf("quantize: %d samples in %s and --holdout %g leave none to calibrate on", len(samples), *calib, *holdout)
	}
	cal, err := compress.Calibrate(data, calSet, &compress.CalibrationOptions{Percentile: *percentile, Threads: *threads})
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	q, err := compress.Quantize(data, cal, &compress.QuantizeOptions{PerChannelFC: *perChannel, IO: ioT})
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if err := os.WriteFile(*out, q, 0o644); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d calibration samples from %s (%s .. %s), %d held back\n", *out, len(calSet), *calib, names[0], names[len(names)-1], len(held))
	eval := held
	if len(eval) == 0 {
		eval = samples
	}
	before, err := compress.Measure(data, eval, *runs)
	if err != nil {
		return fmt.Errorf("quantize: float model: %w", err)
	}
	after, err := compress.Measure(q, eval, *runs)
	if err != nil {
		return fmt.Errorf("quantize: int8 model: %w", err)
	}
	t := compress.Compare(before, after)
	if len(held) == 0 {
		t.Note("accuracy measured on the calibration samples themselves (--holdout 0)")
	} else {
		t.Note("accuracy of the int8 model against the float model on %d held-back samples", len(held))
	}
	return t.Print(stdout)
}

// splitHoldout holds back a share of the samples spread evenly over the
// set (every 1/share-th), so that sorted names do not bias either part.
func splitHoldout(samples [][][]byte, share float64) (calib, held [][][]byte) {
	for i, s := range samples {
		if share > 0 && int(float64(i+1)*share) > int(float64(i)*share) {
			held = append(held, s)
		} else {
			calib = append(calib, s)
		}
	}
	return calib, held
}

// loadSamples reads a calibration directory for the model of it (see the
// --calibration flag), in name order.
func loadSamples(dir string, it *tflite.Interpreter) ([][][]byte, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("calibration: %w", err)
	}
	sort.Slice(entries, func(a, b int) bool { return entries[a].Name() < entries[b].Name() })
	var samples [][][]byte
	var names []string
	perDir := false
	for _, e := range entries {
		if e.IsDir() && inputFile(filepath.Join(dir, e.Name()), 0) != "" {
			perDir = true
			break
		}
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") {
			continue
		}
		if perDir {
			if !e.IsDir() {
				continue
			}
			var s [][]byte
			for k := 0; k < it.NumInputs(); k++ {
				f := inputFile(p, k)
				if f == "" {
					return nil, nil, fmt.Errorf("calibration sample %s: no input_%d.bin or input_%d.npy (the model has %d inputs)", p, k, k, it.NumInputs())
				}
				b, err := readTensorFile(f, it.Input(k))
				if err != nil {
					return nil, nil, fmt.Errorf("calibration sample %s: %w", p, err)
				}
				s = append(s, b)
			}
			samples, names = append(samples, s), append(names, name)
			continue
		}
		if e.IsDir() {
			continue
		}
		switch strings.ToLower(filepath.Ext(name)) {
		case ".json", ".txt", ".md", ".csv":
			continue
		}
		if it.NumInputs() != 1 {
			return nil, nil, fmt.Errorf("calibration: the model has %d inputs; give one subdirectory per sample with input_0.bin ... input_%d.bin", it.NumInputs(), it.NumInputs()-1)
		}
		b, err := readTensorFile(p, it.Input(0))
		if err != nil {
			return nil, nil, fmt.Errorf("calibration sample: %w", err)
		}
		samples, names = append(samples, [][]byte{b}), append(names, name)
	}
	if len(samples) == 0 {
		want := "?"
		if it.NumInputs() > 0 {
			want = fmt.Sprintf("%d-byte %v", it.Input(0).NumBytes(), it.Input(0))
		}
		return nil, nil, fmt.Errorf("calibration dir %s holds no samples; want one file per sample (%s raw little-endian, or .npy) or subdirectories with input_K.bin", dir, want)
	}
	return samples, names, nil
}

// inputFile returns dir/input_K.bin or dir/input_K.npy, or "".
func inputFile(dir string, k int) string {
	for _, ext := range []string{".bin", ".npy"} {
		p := filepath.Join(dir, fmt.Sprintf("input_%d%s", k, ext))
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}
