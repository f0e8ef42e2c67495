package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/edged-dev/edged/agent/source"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/compress"
)

// randomSamples is how many random inputs stand in for --data.
const randomSamples = 100

func runFactorize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("factorize", stdout, stderr)
	model := fs.String("model", "", "float model `file` (.tflite)")
	var layers multiFlag
	fs.Var(&layers, "layer", "FULLY_CONNECTED to factorize, by output or weight tensor `name` (repeatable)")
	allFC := fs.Bool("all-fc", false, "factorize every float FULLY_CONNECTED where it saves parameters")
	rank := fs.Int("rank", 0, "kept rank `R`")
	energy := fs.Float64("energy", 0, "keep the smallest rank holding this `fraction` of Σσ² (e.g. 0.95)")
	force := fs.Bool("force", false, "write the two layers even when they do not save parameters")
	out := fs.String("out", "", "output model `file`")
	cf := compareFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("factorize: unexpected argument %q", pos[0])
	}
	switch {
	case *model == "" || *out == "":
		return fmt.Errorf("factorize: --model and --out are required")
	case (len(layers) > 0) == *allFC:
		return fmt.Errorf("factorize: give either --layer NAME or --all-fc")
	case (*rank > 0) == (*energy > 0):
		return fmt.Errorf("factorize: give either --rank R (R ≥ 1) or --energy F (0 < F ≤ 1)")
	}
	data, err := os.ReadFile(*model)
	if err != nil {
		return fmt.Errorf("factorize: %w", err)
	}
	m, err := compress.Read(data)
	if err != nil {
		return fmt.Errorf("factorize: %s: %w", *model, err)
	}
	res, err := compress.Factorize(m, compress.FactorizeOptions{Layers: layers, Rank: *rank, Energy: *energy, Force: *force})
	if err != nil {
		return err
	}
	done := 0
	var pBefore, pAfter, macBefore, macAfter int64
	for _, f := range res {
		if f.Skipped != "" {
			fmt.Fprintf(stdout, "layer %s (%d×%d): left as is: %s\n", f.Layer, f.Out, f.In, f.Skipped)
			continue
		}
		done++
		next := "none (exact)"
		if f.Rank < len(f.Sigma) {
			next = fmt.Sprintf("%.4g", f.Sigma[f.Rank])
		}
		fmt.Fprintf(stdout, "layer %s (%d×%d): rank %d of %d, energy %.4f, largest dropped σ %s; weights %d → %d, MACs per row %d → %d\n",
			f.Layer, f.Out, f.In, f.Rank, len(f.Sigma), f.Energy, next, f.ParamsBefore, f.ParamsAfter, f.MACsBefore, f.MACsAfter)
		pBefore += f.ParamsBefore
		pAfter += f.ParamsAfter
		macBefore += f.MACsBefore
		macAfter += f.MACsAfter
	}
	if done == 0 {
		return fmt.Errorf("factorize: no layer was factorized (see above); nothing written")
	}
	fmt.Fprintf(stdout, "%d layer(s) factorized: %d weights saved, %d MACs per row saved\n", done, pBefore-pAfter, macBefore-macAfter)
	inputs, note, err := compareInputs(*cf.data, data, *cf.seed)
	if err != nil {
		return fmt.Errorf("factorize: %w; nothing written", err)
	}
	outData, err := compress.Write(m)
	if err != nil {
		return fmt.Errorf("factorize: %w", err)
	}
	if err := os.WriteFile(*out, outData, 0o644); err != nil {
		return fmt.Errorf("factorize: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return cf.print(stdout, data, outData, inputs, note, nil)
}

func runPrune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("prune", stdout, stderr)
	model := fs.String("model", "", "model `file` (.tflite)")
	sparsity := fs.Float64("sparsity", -1, "`fraction` of each conv / fully-connected weight tensor to zero (0 to 1)")
	out := fs.String("out", "", "output model `file`")
	opsFlag := fs.String("ops", "CONV_2D,DEPTHWISE_CONV_2D,FULLY_CONNECTED", "comma-separated `operators` whose weights are pruned")
	verbose := fs.Bool("v", false, "list every weight tensor")
	cf := compareFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("prune: unexpected argument %q", pos[0])
	}
	if *model == "" || *out == "" {
		return fmt.Errorf("prune: --model and --out are required")
	}
	if *sparsity < 0 || *sparsity > 1 {
		return fmt.Errorf("prune: --sparsity %g: want a fraction from 0 to 1", *sparsity)
	}
	data, err := os.ReadFile(*model)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	m, err := compress.Read(data)
	if err != nil {
		return fmt.Errorf("prune: %s: %w", *model, err)
	}
	var ops []string
	for _, o := range strings.Split(*opsFlag, ",") {
		if o = strings.TrimSpace(strings.ToUpper(o)); o != "" {
			ops = append(ops, o)
		}
	}
	res, err := compress.Prune(m, *sparsity, ops...)
	if err != nil {
		return err
	}
	var n, zb, za, pruned int
	var macs, skip int64
	for _, p := range res {
		if p.Skipped != "" {
			fmt.Fprintf(stdout, "%s %s: left as is: %s\n", p.Op, p.Tensor, p.Skipped)
			continue
		}
		pruned++
		n, zb, za = n+p.Elements, zb+p.ZerosBefore, za+p.ZerosAfter
		macs, skip = macs+p.MACs, skip+p.SkippableMACs
		if *verbose {
			fmt.Fprintf(stdout, "%-17s %-60s %8d weights, zeros %d → %d\n", p.Op, p.Tensor, p.Elements, p.ZerosBefore, p.ZerosAfter)
		}
	}
	if pruned == 0 {
		return fmt.Errorf("prune: the model has no float, int8 or uint8 CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED weights; nothing written")
	}
	inputs, note, err := compareInputs(*cf.data, data, *cf.seed)
	if err != nil {
		return fmt.Errorf("prune: %w; nothing written", err)
	}
	outData, err := compress.Write(m)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	if err := os.WriteFile(*out, outData, 0o644); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	fmt.Fprintf(stdout, "%d weight tensors, %d weights: zeros %d (%.1f%%) → %d (%.1f%%)\n",
		pruned, n, zb, pct(zb, n), za, pct(za, n))
	fmt.Fprintf(stdout, "a sparse kernel could skip %d of these layers' %d MACs per inference (%.1f%%)\n", skip, macs, 100*float64(skip)/float64(max(macs, 1)))
	fmt.Fprintf(stdout, "wrote %s (dense)\n", *out)
	return cf.print(stdout, data, outData, inputs, note, func(t *compress.Table) {
		t.Add("weight sparsity", fmt.Sprintf("%.1f%%", pct(zb, n)), fmt.Sprintf("%.1f%%", pct(za, n)), "")
	})
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// compareOpts are the flags of the before/after table shared by the
// compress commands.
type compareOpts struct {
	data *string
	runs *int
	seed *uint64
}

func compareFlags(fs interface {
	String(name, value, usage string) *string
	Int(name string, value int, usage string) *int
	Uint64(name string, value uint64, usage string) *uint64
}) compareOpts {
	return compareOpts{
		data: fs.String("data", "", "`dir` of inputs for the accuracy check: one file per sample (raw tensor bytes or .bmp, as edgectl profile reads), or one directory per sample holding input_K.bin (as testdata/golden); without it, random inputs"),
		runs: fs.Int("runs", 50, "timed Invokes per model for the latency (median)"),
		seed: fs.Uint64("seed", 1, "seed of the random inputs used without --data"),
	}
}

// print measures both models on the inputs compareInputs read and prints
// the before/after table. extra may add rows.
func (c compareOpts) print(w io.Writer, before, after []byte, inputs [][][]byte, note string, extra func(*compress.Table)) error {
	sb, err := compress.Measure(before, inputs, *c.runs)
	if err != nil {
		return fmt.Errorf("before: %w", err)
	}
	sa, err := compress.Measure(after, inputs, *c.runs)
	if err != nil {
		return fmt.Errorf("after: %w", err)
	}
	t := compress.Compare(sb, sa)
	if extra != nil {
		extra(t)
	}
	if note != "" {
		t.Note("%s", note)
	}
	// The writer's flatbuffer layout differs from the converter's; say how
	// much of the size change is that and not the compression.
	if m, err := compress.Read(before); err == nil {
		if rt, err := compress.Write(m); err == nil && len(rt) != len(before) {
			t.Note("the unchanged model re-written by edgectl is %d bytes (%+d): file sizes compare different flatbuffer layouts", len(rt), len(rt)-len(before))
		}
	}
	fmt.Fprintln(w)
	return t.Print(w)
}

// compareInputs reads --data, or makes random inputs with a note saying so.
func compareInputs(dir string, model []byte, seed uint64) ([][][]byte, string, error) {
	if dir == "" {
		in, err := compress.RandomInputs(model, randomSamples, seed)
		return in, fmt.Sprintf("accuracy on %d random inputs (no --data): it shows how far outputs move, not task accuracy", randomSamples), err
	}
	m, err := tflite.Load(model)
	if err != nil {
		return nil, "", err
	}
	in, names, err := readSamples(dir, len(m.Subgraphs[0].Inputs))
	if err != nil {
		return nil, "", err
	}
	// Check every sample's size now, naming its file, before anything is
	// written.
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		return nil, "", err
	}
	for s, sample := range in {
		for k, b := range sample {
			t := it.Input(k)
			quantizable := (t.Type == tensor.Int8 || t.Type == tensor.UInt8) && t.Quant != nil && len(t.Quant.Scale) == 1
			if len(b) != t.NumBytes() && !(quantizable && len(b) == 4*t.NumElements()) {
				want := fmt.Sprint(t.NumBytes())
				if quantizable {
					want += fmt.Sprintf(" (or %d bytes of float32 to quantize)", 4*t.NumElements())
				}
				return nil, "", fmt.Errorf("--data: %s: %d bytes for input %d %q %s%v, which needs %s", names[s][k], len(b), k, t.Name, t.Type, t.Shape, want)
			}
		}
	}
	return in, fmt.Sprintf("accuracy on %d samples from %s", len(in), dir), nil
}

// readSamples reads a directory of input samples, in name order: a file
// is one sample of a single-input model (raw tensor bytes, or a .bmp whose
// pixels are the input, as edgectl profile reads them); a directory is
// one sample holding input_0.bin ... input_{K-1}.bin (the layout of
// testdata/golden). JSON and text files are ignored.
func readSamples(dir string, numInputs int) ([][][]byte, [][]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("--data: %w", err)
	}
	var names [][]string
	sort.Slice(entries, func(a, b int) bool { return entries[a].Name() < entries[b].Name() })
	var out [][][]byte
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if e.IsDir() {
			var sample [][]byte
			var files []string
			for k := 0; k < numInputs; k++ {
				f := filepath.Join(path, fmt.Sprintf("input_%d.bin", k))
				b, err := os.ReadFile(f)
				if err != nil {
					return nil, nil, fmt.Errorf("--data: sample directory %s: %w", path, err)
				}
				sample, files = append(sample, b), append(files, f)
			}
			out, names = append(out, sample), append(names, files)
			continue
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".json", ".md", ".txt":
			continue
		}
		if numInputs != 1 {
			return nil, nil, fmt.Errorf("--data: %s is a file, but the model has %d inputs: use one directory per sample with input_K.bin", path, numInputs)
		}
		b, err := source.ReadInputFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("--data: %w", err)
		}
		out, names = append(out, [][]byte{b}), append(names, []string{path})
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("--data: no samples in %s", dir)
	}
	return out, names, nil
}
