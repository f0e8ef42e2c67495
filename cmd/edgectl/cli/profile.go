package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/edged-dev/edged/agent/drift"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/source"
)

// runProfile builds a drift reference profile: it runs the model on every
// file of a directory (one input sample each: raw tensor bytes, or a BMP
// image whose pixel bytes are the input, as the replay source feeds them)
// and records the features the agent will watch (drift.Schema).
func runProfile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("profile", stdout, stderr)
	model := fs.String("model", "", "model `file` (.tflite)")
	data := fs.String("data", "", "`dir` of reference inputs, one file per sample (raw tensor bytes or .bmp)")
	out := fs.String("out", "", "profile `file` to write (JSON)")
	labels := fs.String("labels", "", "optional labels `file` (one class per line)")
	bins := fs.Int("bins", drift.DefaultBins, "bins per feature (equal-frequency on the reference)")
	seed := fs.Uint64("seed", 1, "seed of the reservoir sampling, for reproducible profiles")
	threads := fs.Int("threads", 1, "threads per inference")
	arith := fs.String("arithmetic", "litert", arithmeticUsage+"; use the one the devices run")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("profile: unexpected argument %q", pos[0])
	}
	if *data == "" || *out == "" {
		return fmt.Errorf("profile: --data and --out are required")
	}
	it, err := openInterpreter(*model, *threads, *arith)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if it.NumInputs() != 1 {
		return fmt.Errorf("profile: the model has %d inputs; a data directory feeds one", it.NumInputs())
	}
	mi := infer.ModelInfo{Name: filepath.Base(*model)}
	for i := 0; i < it.NumInputs(); i++ {
		mi.Inputs = append(mi.Inputs, infer.SpecOf(it.Input(i), it.Input(i).Name))
	}
	for i := 0; i < it.NumOutputs(); i++ {
		mi.Outputs = append(mi.Outputs, infer.SpecOf(it.Output(i), it.Output(i).Name))
	}
	if *labels != "" {
		if mi.Labels, err = readLabels(*labels); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
	}
	schema, err := drift.NewSchema(mi)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	pr, err := drift.NewProfiler(schema.Features(), schema.Labels(mi), &drift.ProfilerOptions{Bins: *bins, Seed: *seed})
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	entries, err := os.ReadDir(*data)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	want := len(it.Input(0).Data)
	var x []float64
	n := 0
	for _, e := range entries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if e.IsDir() {
			continue
		}
		path := filepath.Join(*data, e.Name())
		b, err := source.ReadInputFile(path)
		if err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		if len(b) != want {
			return fmt.Errorf("profile: %s has %d bytes of input; the model's input %v needs %d", path, len(b), it.Input(0), want)
		}
		copy(it.Input(0).Data, b)
		if err := it.Invoke(); err != nil {
			return fmt.Errorf("profile: %s: %w", path, err)
		}
		outs := make([]infer.Tensor, it.NumOutputs())
		for k := range outs {
			outs[k] = infer.Tensor{Data: it.Output(k).Data}
		}
		var class int
		if x, class, err = schema.Sample(x[:0], []infer.Tensor{{Data: b}}, outs); err != nil {
			return fmt.Errorf("profile: %s: %w", path, err)
		}
		if err := pr.Add(x, class); err != nil {
			return fmt.Errorf("profile: %s: %w", path, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("profile: no input files in %s", *data)
	}
	p, err := pr.Profile()
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	p.Model = mi.Name
	if mb, err := os.ReadFile(*model); err == nil {
		sum := sha256.Sum256(mb)
		p.ModelSHA256 = hex.EncodeToString(sum[:])
	}
	b, err := p.Marshal()
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	classes := 0
	if p.Classes != nil {
		classes = len(p.Classes.Counts)
	}
	fmt.Fprintf(stdout, "%s: %d samples, %d features, %d classes\n", *out, n, len(p.Features), classes)
	if n < 500 {
		fmt.Fprintf(stderr, "warning: %d samples is few for a reference; PSI and KS compare windows of hundreds against it\n", n)
	}
	return nil
}
