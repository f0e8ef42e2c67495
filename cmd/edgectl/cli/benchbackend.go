package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/litert"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// benchSpec is what `edgectl bench --backend A,B` times.
type benchSpec struct {
	model        string
	inputs       []string
	backends     []string
	tflite       string
	threads      int
	runs, warmup int
	arith        string
}

// benchBackends times the model on each backend on the same inputs,
// interleaved (one run of each in turn, so that a busy machine slows them
// alike), through the delegates' runners: the CPU is edged's runtime, the
// others the vendor's library (edgectl built with -tags edged_dynamic).
func benchBackends(ctx context.Context, s benchSpec, asJSON bool, stdout io.Writer) error {
	model, err := os.ReadFile(s.model)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	a, err := parseArithmetic(s.arith)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if s.threads < 1 {
		return fmt.Errorf("bench: --threads %d: want at least 1", s.threads)
	}
	var runners []delegates.Runner
	defer func() {
		for _, r := range runners {
			r.Close()
		}
	}()
	for _, name := range s.backends {
		var b delegates.Backend
		switch name {
		case "cpu":
			b = delegates.CPU{Options: &tflite.Options{Threads: s.threads, Arithmetic: a}}
		case litert.XNNPACK, litert.GPU, litert.EdgeTPU:
			b = litert.New(name, litert.Options{Paths: litert.Paths{TFLite: s.tflite}, Threads: s.threads})
		default:
			return fmt.Errorf("bench: --backend %q: want cpu, xnnpack, gpu or edgetpu", name)
		}
		r, err := b.Prepare(ctx, model, "cpu")
		if err != nil {
			return fmt.Errorf("bench: %s: %w", name, err)
		}
		runners = append(runners, r)
	}
	d, ok := runners[0].(delegates.Describer)
	if !ok {
		return fmt.Errorf("bench: the %s runner does not describe the model's inputs", s.backends[0])
	}
	if len(s.inputs) > 0 && len(s.inputs) != len(d.Inputs()) {
		return fmt.Errorf("bench: the model has %d inputs; got %d --input files", len(d.Inputs()), len(s.inputs))
	}
	r := rand.New(rand.NewPCG(1, 2))
	// The model as edged reads it, for the inputs that are indices; a
	// model only the vendor's library reads gets plain random inputs.
	m, _ := tflite.LoadFile(s.model)
	ins := make([]tensor.Tensor, len(d.Inputs()))
	for i, spec := range d.Inputs() {
		ins[i] = tensor.Tensor{Type: spec.Type, Shape: spec.Shape, Data: make([]byte, spec.Bytes())}
		if len(s.inputs) > 0 {
			b, err := os.ReadFile(s.inputs[i])
			if err != nil {
				return fmt.Errorf("bench: input %d: %w", i, err)
			}
			if len(b) != len(ins[i].Data) {
				return fmt.Errorf("bench: input %d: %s has %d bytes; the model wants %d (%s)", i, s.inputs[i], len(b), len(ins[i].Data), spec)
			}
			copy(ins[i].Data, b)
			continue
		}
		fillRandom(r, ins[i].Data, spec.Type.String(), inputRange(m, i))
	}
	outs := make([][]tensor.Tensor, len(runners))
	for k := range runners {
		outs[k] = make([]tensor.Tensor, len(d.Outputs()))
	}
	invoke := func(k int) (float64, error) {
		start := time.Now()
		if err := runners[k].Invoke(ctx, ins, outs[k]); err != nil {
			return 0, fmt.Errorf("bench: %s: %w", s.backends[k], err)
		}
		return float64(time.Since(start).Nanoseconds()) / 1e6, nil
	}
	for range s.warmup {
		for k := range runners {
			if _, err := invoke(k); err != nil {
				return err
			}
		}
	}
	times := make([][]float64, len(runners))
	for range s.runs {
		for k := range runners {
			if err := ctx.Err(); err != nil {
				return err
			}
			ms, err := invoke(k)
			if err != nil {
				return err
			}
			times[k] = append(times[k], ms)
		}
	}
	results := make([]benchResult, len(runners))
	for k := range runners {
		res := summarize(times[k])
		res.Model, res.Backend, res.Warmup, res.Threads = s.model, s.backends[k], s.warmup, s.threads
		if s.backends[k] == "cpu" {
			res.Arithmetic = s.arith
		}
		results[k] = res
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		if len(results) == 1 {
			return enc.Encode(results[0])
		}
		return enc.Encode(results)
	}
	for _, res := range results {
		how := fmt.Sprintf("%d threads", res.Threads)
		if res.Arithmetic != "" {
			how += ", " + res.Arithmetic + " arithmetic"
		}
		fmt.Fprintf(stdout, "%s on %s: median %.4g ms, min %.4g ms, p90 %.4g ms over %d runs (%s)\n",
			res.Model, res.Backend, res.MedianMS, res.MinMS, res.P90MS, res.Runs, how)
	}
	if len(results) == 2 && results[1].MedianMS > 0 {
		fmt.Fprintf(stdout, "%s/%s median ratio %.2f (interleaved runs)\n", results[0].Backend, results[1].Backend, results[0].MedianMS/results[1].MedianMS)
	}
	return nil
}

// parseBackends reads --backend: one name or a comma-separated list.
func parseBackends(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
