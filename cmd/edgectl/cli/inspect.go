package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/compress"
)

type inspectTensor struct {
	Position  int       `json:"position"`
	Tensor    int       `json:"tensor_index"`
	Name      string    `json:"name"`
	DType     string    `json:"dtype"`
	Shape     []int     `json:"shape"`
	Signature []int     `json:"shape_signature,omitempty"`
	Scale     []float32 `json:"scale,omitempty"`
	ZeroPoint []int32   `json:"zero_point,omitempty"`
	Axis      *int      `json:"quantized_dimension,omitempty"`
}

type inspectReport struct {
	Model      string          `json:"model"`
	SHA256     string          `json:"sha256"`
	Bytes      int             `json:"bytes"`
	Inputs     []inspectTensor `json:"inputs"`
	Outputs    []inspectTensor `json:"outputs"`
	Ops        map[string]int  `json:"ops"`
	Operators  int             `json:"operators"`
	Tensors    int             `json:"tensors"`
	Subgraphs  int             `json:"subgraphs"`
	Signatures []string        `json:"signatures,omitempty"`
	Params     int64           `json:"params"`
	MACs       int64           `json:"macs"`
	ArenaBytes int             `json:"arena_bytes"`
	// Operators with constant inputs, computed once at load, and the
	// memory their outputs take outside the arena.
	FoldedOps   int             `json:"folded_ops"`
	FoldedBytes int             `json:"folded_bytes"`
	Weights     []inspectWeight `json:"weights,omitempty"`
	// Runnable and Reason are for the default (litert) arithmetic;
	// Arithmetics has both, each with every problem.
	Runnable    bool                         `json:"runnable"`
	Reason      string                       `json:"reason,omitempty"`
	Arithmetics map[string]inspectArithmetic `json:"arithmetics"`
}

// inspectArithmetic says whether the model runs in one arithmetic and,
// if not, every reason.
type inspectArithmetic struct {
	Runnable bool             `json:"runnable"`
	Problems []inspectProblem `json:"problems,omitempty"`
}

type inspectProblem struct {
	Subgraph    int    `json:"subgraph"`
	Operator    int    `json:"operator"` // -1: the model as a whole
	Op          string `json:"op,omitempty"`
	Unsupported bool   `json:"unsupported"` // false: the model is malformed
	Downstream  bool   `json:"downstream"`  // an input comes from an operator with a problem
	Error       string `json:"error"`
}

// inspectWeight is the sparsity of a constant tensor of rank 2 or more
// (conv and fully-connected weights): exact zeros, or the zero point when
// quantized.
type inspectWeight struct {
	Tensor   int     `json:"tensor_index"`
	Name     string  `json:"name"`
	DType    string  `json:"dtype"`
	Shape    []int   `json:"shape"`
	Zeros    int     `json:"zeros"`
	Elements int     `json:"elements"`
	Sparsity float64 `json:"sparsity"`
}

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", stdout, stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("inspect: want one model file, got %d arguments", len(pos))
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	r, err := inspect(pos[0], data)
	if err != nil {
		return fmt.Errorf("inspect: %s: %w", pos[0], err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printInspect(stdout, r)
	return nil
}

func inspect(name string, data []byte) (*inspectReport, error) {
	m, err := tflite.Decode(data)
	if err != nil {
		return nil, err
	}
	sg := m.Subgraphs[0]
	r := &inspectReport{
		Model: name, SHA256: hex.EncodeToString(m.SHA256[:]), Bytes: len(data),
		Ops: m.OpHistogram(), Operators: len(sg.Operators), Tensors: len(sg.Tensors),
		Subgraphs: len(m.Subgraphs), Params: m.Params(),
	}
	for _, s := range m.Signatures {
		r.Signatures = append(r.Signatures, s.Key)
	}
	desc := func(pos, idx int) inspectTensor {
		t := sg.Tensors[idx]
		d := inspectTensor{Position: pos, Tensor: idx, Name: t.Name, DType: t.Type.String(), Shape: t.Shape, Signature: t.ShapeSignature}
		if d.Shape == nil {
			d.Shape = []int{}
		}
		if t.Quant != nil {
			d.Scale, d.ZeroPoint = t.Quant.Scale, t.Quant.ZeroPoint
			if len(t.Quant.Scale) > 1 {
				d.Axis = &t.Quant.Axis
			}
		}
		return d
	}
	for i, t := range sg.Tensors {
		if t.Data == nil || len(t.Shape) < 2 {
			continue
		}
		if z, n, ok := compress.Sparsity(t.Type, t.Data, t.Shape, t.Quant); ok && n > 0 {
			r.Weights = append(r.Weights, inspectWeight{Tensor: i, Name: t.Name, DType: t.Type.String(), Shape: t.Shape, Zeros: z, Elements: n, Sparsity: float64(z) / float64(n)})
		}
	}
	for i, idx := range sg.Inputs {
		r.Inputs = append(r.Inputs, desc(i, idx))
	}
	for i, idx := range sg.Outputs {
		r.Outputs = append(r.Outputs, desc(i, idx))
	}
	r.Arithmetics = map[string]inspectArithmetic{}
	for _, a := range []tflite.Arithmetic{tflite.LiteRT, tflite.Reference} {
		var ia inspectArithmetic
		for _, p := range m.Problems(&tflite.Options{Arithmetic: a}) {
			ia.Problems = append(ia.Problems, inspectProblem{Subgraph: p.Subgraph, Operator: p.Operator, Op: p.Op, Unsupported: p.Unsupported, Downstream: p.Downstream, Error: p.Err.Error()})
		}
		ia.Runnable = len(ia.Problems) == 0
		r.Arithmetics[a.String()] = ia
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		r.Reason = err.Error()
		return r, nil
	}
	r.Runnable = true
	r.MACs = it.MACs()
	r.ArenaBytes = it.ArenaBytes()
	r.FoldedOps, r.FoldedBytes = it.FoldedOps(), it.FoldedBytes()
	// Shapes the kernels set at prepare time (e.g. detection outputs).
	for i := range r.Outputs {
		r.Outputs[i].Shape = it.Output(i).Shape
	}
	return r, nil
}

func printInspect(w io.Writer, r *inspectReport) {
	fmt.Fprintf(w, "model      %s\nsha256     %s\nsize       %d bytes\n", r.Model, r.SHA256, r.Bytes)
	fmt.Fprintf(w, "graph      %d subgraph(s), %d operators, %d tensors", r.Subgraphs, r.Operators, r.Tensors)
	if len(r.Signatures) > 0 {
		fmt.Fprintf(w, ", signatures %s", strings.Join(r.Signatures, ", "))
	}
	fmt.Fprintln(w)
	tensorLine := func(kind string, t inspectTensor) {
		fmt.Fprintf(w, "%-6s %d  %s %s%v", kind, t.Position, t.Name, t.DType, t.Shape)
		switch {
		case len(t.Scale) == 1:
			fmt.Fprintf(w, " q(scale=%g, zero_point=%d)", t.Scale[0], t.ZeroPoint[0])
		case len(t.Scale) > 1:
			fmt.Fprintf(w, " q(per-channel, %d scales on dim %d)", len(t.Scale), *t.Axis)
		}
		fmt.Fprintln(w)
	}
	for _, t := range r.Inputs {
		tensorLine("input", t)
	}
	for _, t := range r.Outputs {
		tensorLine("output", t)
	}
	names := make([]string, 0, len(r.Ops))
	for n := range r.Ops {
		names = append(names, n)
	}
	sort.Slice(names, func(a, b int) bool {
		if r.Ops[names[a]] != r.Ops[names[b]] {
			return r.Ops[names[a]] > r.Ops[names[b]]
		}
		return names[a] < names[b]
	})
	fmt.Fprint(w, "ops       ")
	for _, n := range names {
		fmt.Fprintf(w, " %s×%d", n, r.Ops[n])
	}
	fmt.Fprintf(w, "\nparams     %d\n", r.Params)
	var zeros, elems int
	for _, t := range r.Weights {
		zeros, elems = zeros+t.Zeros, elems+t.Elements
	}
	if elems > 0 {
		fmt.Fprintf(w, "sparsity   %d of %d weights zero (%.1f%%) in %d tensors\n", zeros, elems, 100*float64(zeros)/float64(elems), len(r.Weights))
		for _, t := range r.Weights {
			fmt.Fprintf(w, "  %5.1f%%  %s %s%v\n", 100*t.Sparsity, t.Name, t.DType, t.Shape)
		}
	}
	if r.Runnable {
		fmt.Fprintf(w, "MACs       %d per inference (%.3f M)\narena      %d bytes\n", r.MACs, float64(r.MACs)/1e6, r.ArenaBytes)
		if r.FoldedOps > 0 {
			fmt.Fprintf(w, "folded     %d operators with constant inputs computed at load, %d bytes outside the arena\n", r.FoldedOps, r.FoldedBytes)
		}
	}
	printRunnable(w, r)
}

// printRunnable says per arithmetic whether the model runs and lists
// every problem; an arithmetic with the same problems as the one before
// refers to it.
func printRunnable(w io.Writer, r *inspectReport) {
	var prev []inspectProblem
	for i, name := range []string{"litert", "reference"} {
		a := r.Arithmetics[name]
		label := "runnable"
		if i > 0 {
			label = ""
		}
		switch {
		case a.Runnable:
			fmt.Fprintf(w, "%-10s %s arithmetic: yes (pure-Go CPU runtime)\n", label, name)
		case i > 0 && slices.Equal(a.Problems, prev):
			fmt.Fprintf(w, "%-10s %s arithmetic: no, for the same reasons\n", label, name)
		default:
			fmt.Fprintf(w, "%-10s %s arithmetic: no, %d problem(s):\n", label, name, len(a.Problems))
			for _, p := range a.Problems {
				where := "model     "
				if p.Operator >= 0 {
					where = fmt.Sprintf("op %-6d", p.Operator)
					if p.Subgraph > 0 {
						where = fmt.Sprintf("sg %d op %d", p.Subgraph, p.Operator)
					}
				}
				after := ""
				if p.Downstream {
					after = " (after an earlier problem)"
				}
				fmt.Fprintf(w, "             %s %s%s\n", where, p.Error, after)
			}
		}
		prev = a.Problems
	}
}
