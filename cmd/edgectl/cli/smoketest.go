package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edged-dev/edged/boards"
	"github.com/edged-dev/edged/delegates"
	_ "github.com/edged-dev/edged/delegates/litert" // registers the vendor backends (stubs without edged_dynamic)
	"github.com/edged-dev/edged/runtime/tensor"
)

// smokeRow is one model on one backend in `edgectl smoketest`.
type smokeRow struct {
	Model   string  `json:"model"`
	Backend string  `json:"backend"`
	Variant string  `json:"variant,omitempty"`
	State   string  `json:"state"` // ok, differs, absent, failed
	Reason  string  `json:"reason,omitempty"`
	MS      float64 `json:"ms,omitempty"`
	// MaxDiff is the largest absolute difference from the CPU runtime's
	// outputs over every output element (raw values: quantized units for
	// integer outputs).
	MaxDiff float64 `json:"max_diff"`
}

// runSmoketest is the on-board check an operator runs: detect the board,
// probe every backend, run each model on each available one on the same
// inputs, and compare the outputs with the pure-Go CPU runtime's.
func runSmoketest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("smoketest", stdout, stderr)
	var models, variants multiFlag
	fs.Var(&models, "model", "a .tflite model (the cpu variant); repeatable")
	fs.Var(&variants, "variant", "BACKEND=FILE: another compilation of the preceding --model (e.g. edgetpu=m_edgetpu.tflite); repeatable")
	runs := fs.Int("runs", 5, "invocations per model and backend (the median time is printed)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(models) == 0 {
		fs.Usage()
		return errors.New("smoketest: want at least one --model")
	}
	if *runs < 1 {
		return fmt.Errorf("smoketest: --runs %d; want at least 1", *runs)
	}
	extra := map[string]string{}
	for _, v := range variants {
		name, file, ok := strings.Cut(v, "=")
		if !ok || name == "" || file == "" {
			return fmt.Errorf("smoketest: --variant %q; want BACKEND=FILE", v)
		}
		extra[name] = file
	}

	b, berr := boards.Detect(os.DirFS("/"))
	checks := checkBackends(ctx)
	var rows []smokeRow
	for _, path := range models {
		cpuBytes, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("smoketest: %w", err)
		}
		ref, err := smokeRun(ctx, delegates.CPU{}, cpuBytes, "cpu", nil, 0, *runs)
		row := smokeRow{Model: path, Backend: "cpu", Variant: "cpu"}
		if err != nil {
			row.State, row.Reason = "failed", err.Error()
			rows = append(rows, row)
			continue
		}
		row.State, row.MS = "ok", ref.ms
		rows = append(rows, row)
		for _, be := range delegates.Backends() {
			if be.Name() == "cpu" {
				continue
			}
			r := smokeRow{Model: path, Backend: be.Name()}
			present, perr := be.Probe(ctx)
			switch delegates.ProbeState(present, perr) {
			case delegates.Absent:
				r.State, r.Reason = "absent", errString(perr)
				rows = append(rows, r)
				continue
			case delegates.Failed:
				r.State, r.Reason = "failed", errString(perr)
				rows = append(rows, r)
				continue
			}
			data, variant := cpuBytes, "cpu"
			if f, ok := extra[be.Name()]; ok {
				if data, err = os.ReadFile(f); err != nil {
					return fmt.Errorf("smoketest: %w", err)
				}
				variant = be.Name()
			}
			r.Variant = variant
			got, err := smokeRun(ctx, be, data, variant, ref.inputs, len(ref.outputs), *runs)
			if err != nil {
				r.State, r.Reason = "failed", err.Error()
				rows = append(rows, r)
				continue
			}
			r.MS = got.ms
			if r.MaxDiff, err = maxDiff(ref.outputs, got.outputs); err != nil {
				r.State, r.Reason = "failed", err.Error()
			} else if r.MaxDiff == 0 {
				r.State = "ok"
			} else {
				r.State, r.Reason = "differs", "outputs differ from the CPU runtime's (an accelerator's rounding may)"
			}
			rows = append(rows, r)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Board    boards.Board             `json:"board"`
			Backends []delegates.ProbeOutcome `json:"backends"`
			Results  []smokeRow               `json:"results"`
		}{b, checks, rows})
	}
	fmt.Fprintf(stdout, "board: %s\n", b.Summary())
	if berr != nil {
		fmt.Fprintf(stdout, "board warnings: %v\n", berr)
	}
	for _, o := range checks {
		fmt.Fprintf(stdout, "backend %s\n", o)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tBACKEND\tVARIANT\tSTATE\tMS\tMAX DIFF\tREASON")
	for _, r := range rows {
		ms := "-"
		if r.MS > 0 {
			ms = fmt.Sprintf("%.2f", r.MS)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%g\t%s\n", r.Model, r.Backend, r.Variant, r.State, ms, r.MaxDiff, r.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Backend == "cpu" && r.State != "ok" {
			return fmt.Errorf("smoketest: %s does not run on the CPU runtime: %s", r.Model, r.Reason)
		}
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

type smokeResult struct {
	inputs, outputs []tensor.Tensor
	ms              float64
}

// smokeRun prepares model on backend and invokes it runs times on inputs
// (nil: deterministic pseudo-random inputs of the model's input types);
// nout is the number of outputs when the runner does not describe them.
func smokeRun(ctx context.Context, be delegates.Backend, model []byte, variant string, inputs []tensor.Tensor, nout, runs int) (smokeResult, error) {
	r, err := be.Prepare(ctx, model, variant)
	if err != nil {
		return smokeResult{}, err
	}
	defer r.Close()
	var outSpecs []delegates.Spec
	if d, ok := r.(delegates.Describer); ok {
		outSpecs = d.Outputs()
		if inputs == nil {
			for i, s := range d.Inputs() {
				inputs = append(inputs, smokeInput(s, uint32(i+1)))
			}
		}
	}
	if inputs == nil {
		return smokeResult{}, fmt.Errorf("%s runner does not describe its inputs", be.Name())
	}
	outs := make([]tensor.Tensor, max(len(outSpecs), nout, 1))
	var times []float64
	for range runs {
		t0 := time.Now()
		if err := r.Invoke(ctx, inputs, outs); err != nil {
			return smokeResult{}, fmt.Errorf("invoke: %w", err)
		}
		times = append(times, float64(time.Since(t0).Microseconds())/1e3)
	}
	return smokeResult{inputs: inputs, outputs: outs, ms: median(times)}, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

// smokeInput fills an input with a fixed pseudo-random pattern: bytes for
// integer types, values in [-1, 1) for floats.
func smokeInput(s delegates.Spec, seed uint32) tensor.Tensor {
	t := tensor.Tensor{Name: s.Name, Type: s.Type, Shape: append([]int(nil), s.Shape...), Data: make([]byte, s.Bytes())}
	x := seed*2654435761 + 1
	next := func() uint32 { x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x }
	if s.Type == tensor.Float32 {
		f := t.Float32s()
		for i := range f {
			f[i] = float32(next()%2000)/1000 - 1
		}
		return t
	}
	for i := range t.Data {
		t.Data[i] = byte(next())
	}
	return t
}

// maxDiff compares two output lists element by element.
func maxDiff(want, got []tensor.Tensor) (float64, error) {
	if len(want) != len(got) {
		return 0, fmt.Errorf("%d outputs; the CPU runtime gives %d", len(got), len(want))
	}
	var m float64
	for i := range want {
		w, g := &want[i], &got[i]
		if w.Type != g.Type || tensor.NumElements(w.Shape) != tensor.NumElements(g.Shape) || len(w.Data) != len(g.Data) {
			return 0, fmt.Errorf("output %d is %s%v; the CPU runtime gives %s%v", i, g.Type, g.Shape, w.Type, w.Shape)
		}
		n := tensor.NumElements(w.Shape)
		for k := range n {
			d := math.Abs(elem(w, k) - elem(g, k))
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			m = math.Max(m, d)
		}
	}
	return m, nil
}

func elem(t *tensor.Tensor, k int) float64 {
	switch t.Type {
	case tensor.Float32:
		return float64(t.Float32s()[k])
	case tensor.Int8:
		return float64(t.Int8s()[k])
	case tensor.UInt8:
		return float64(t.UInt8s()[k])
	case tensor.Int32:
		return float64(t.Int32s()[k])
	}
	sz := t.Type.Size()
	var v uint64
	for b := range sz {
		v |= uint64(t.Data[k*sz+b]) << (8 * b)
	}
	return float64(v)
}
