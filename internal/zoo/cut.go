package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/compress"
)

// Finding the first differing operator: a copy of the model lists every
// computed tensor as a subgraph output (signatures dropped, so that the
// oracle returns them all in subgraph order); the oracle and edged run
// that copy on the same inputs and every tensor is compared. An operator
// whose inputs all agree with the oracle's but whose output does not is
// where edged's arithmetic departs from the oracle's ("local" mismatch);
// later differences may only be its consequences.

// cutResult is what the intermediate comparison found for one arithmetic.
type cutResult struct {
	Err string `json:"error,omitempty"`
	// Consistent is false when listing the intermediates changed the
	// oracle's final outputs (its delegate may partition differently);
	// the findings are then less certain.
	Consistent bool     `json:"consistent"`
	Compared   int      `json:"tensors_compared"`
	Differing  int      `json:"tensors_differing"`
	Local      []opDiff `json:"local_mismatches,omitempty"`
	// LocalByOp counts local mismatches by operator and types.
	LocalByOp map[string]int `json:"local_by_op,omitempty"`
	// Tensors has every compared tensor in operator order (with -trace).
	Tensors []opDiff `json:"tensors,omitempty"`
}

// opDiff is one operator whose output departs from the oracle's.
type opDiff struct {
	Index   int     `json:"op_index"`
	Op      string  `json:"op"`
	Types   string  `json:"types"` // input types → output type
	Shapes  string  `json:"shapes"`
	Output  string  `json:"output"`
	Diff    int     `json:"differing"`
	N       int     `json:"elements"`
	MaxAbs  float64 `json:"max_abs"`
	MaxRel  float64 `json:"max_rel"`
	Version int     `json:"version"`
}

// oracleIntermediates is the oracle's run of the listing copy.
type oracleIntermediates struct {
	err        error
	m          *tflite.Model
	patched    []byte
	extra      []int // tensor indices listed after the original outputs
	nOrig      int
	dir        string
	consistent bool
}

// oracleIntermediates runs the listing copy through the oracle: the
// WebAssembly one on inFiles, or with viaC TensorFlow Lite's C library on
// the input sequence sets.
func (c *config) oracleIntermediates(ctx context.Context, data []byte, m *tflite.Model, inFiles []string, sets [][][]byte, viaC bool, want []tensorBytes, dir string) *oracleIntermediates {
	oi := &oracleIntermediates{m: m, dir: dir}
	if m == nil || want == nil {
		oi.err = fmt.Errorf("no oracle outputs to compare with")
		return oi
	}
	mo, err := compress.Read(data)
	if err != nil {
		oi.err = err
		return oi
	}
	sg := m.Subgraphs[0]
	isConst := make([]bool, len(sg.Tensors))
	for i, t := range sg.Tensors {
		isConst[i] = t.Data != nil
	}
	listed := map[int]bool{}
	for _, o := range sg.Outputs {
		listed[o] = true
	}
	for _, op := range sg.Operators {
		allConst := true
		for _, in := range op.Inputs {
			if in >= 0 && !isConst[in] {
				allConst = false
			}
		}
		for _, o := range op.Outputs {
			if allConst {
				isConst[o] = true // folded at prepare; not an activation
				continue
			}
			t := sg.Tensors[o]
			if listed[o] || t.IsVariable || len(t.Shape) == 0 && t.Shape == nil || slices.Contains(t.Shape, 0) || t.Type.String() == "string" {
				continue
			}
			listed[o] = true
			oi.extra = append(oi.extra, o)
		}
	}
	oi.nOrig = len(sg.Outputs)
	outs := slices.Clone(mo.Subgraphs[0].Outputs)
	for _, t := range oi.extra {
		outs = append(outs, int32(t))
	}
	mo.Subgraphs[0].Outputs = outs
	mo.SignatureDefs = nil
	oi.patched, err = compress.Write(mo)
	if err != nil {
		oi.err = err
		return oi
	}
	pf := filepath.Join(dir, "listing.tflite")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		oi.err = err
		return oi
	}
	if err := os.WriteFile(pf, oi.patched, 0o644); err != nil {
		oi.err = err
		return oi
	}
	var got []tensorBytes
	if viaC {
		var specs []ioSpec
		for _, t := range outs {
			specs = append(specs, ioSpec{DType: sg.Tensors[t].Type.String()})
		}
		got, err = c.capiRun(ctx, pf, sets, specs, filepath.Join(dir, "out"))
	} else {
		got, err = c.oracleRun(ctx, pf, inFiles, filepath.Join(dir, "out"))
	}
	if err != nil {
		oi.err = fmt.Errorf("oracle on the listing copy: %w", err)
		return oi
	}
	oi.consistent = len(got) == oi.nOrig+len(oi.extra)
	for k := 0; oi.consistent && k < oi.nOrig; k++ {
		oi.consistent = bytes.Equal(got[k].Data, want[k].Data)
	}
	return oi
}

// oracleTensor reads the oracle's value of listed output k.
func (oi *oracleIntermediates) oracleTensor(k int, dtype string) (tensorBytes, error) {
	b, err := os.ReadFile(filepath.Join(oi.dir, "out", fmt.Sprintf("output_%d.bin", k)))
	return tensorBytes{DType: dtype, Data: b}, err
}

func (oi *oracleIntermediates) compareEdged(sets [][][]byte, a tflite.Arithmetic, trace bool) *cutResult {
	if oi.err != nil {
		return &cutResult{Err: oi.err.Error()}
	}
	_, outs, _, err := runEdgedSeq(oi.patched, sets, a)
	if err != nil {
		return &cutResult{Err: "edged on the listing copy: " + err.Error()}
	}
	cr := &cutResult{Consistent: oi.consistent, LocalByOp: map[string]int{}}
	m := oi.m
	sg := m.Subgraphs[0]
	agrees := map[int]bool{}
	producer := map[int]int{}
	for i, op := range sg.Operators {
		for _, o := range op.Outputs {
			producer[o] = i
		}
	}
	for k, t := range oi.extra {
		got := outs[oi.nOrig+k]
		want, err := oi.oracleTensor(oi.nOrig+k, got.DType)
		if err != nil {
			cr.Err = err.Error()
			return cr
		}
		d := compare(want, got)
		cr.Compared++
		agrees[t] = d.ok()
		if trace {
			op := &sg.Operators[producer[t]]
			od := opDiff{Index: producer[t], Op: m.OpName(op), Version: m.OpVersion(op), Output: sg.Tensors[t].Name, Diff: d.Bad, N: d.N, MaxAbs: d.MaxAbs, MaxRel: d.MaxRel}
			od.Types, od.Shapes = opSignature(sg, op, got.Shape)
			cr.Tensors = append(cr.Tensors, od)
		}
		if !d.ok() {
			cr.Differing++
		}
	}
	// Tensors not listed (constants, model inputs) agree by construction.
	agree := func(t int) bool {
		v, ok := agrees[t]
		return !ok || v
	}
	for i := range sg.Operators {
		op := &sg.Operators[i]
		inOK := true
		for _, in := range op.Inputs {
			if in >= 0 && !agree(in) {
				inOK = false
			}
		}
		if !inOK {
			continue
		}
		for _, o := range op.Outputs {
			if agree(o) {
				continue
			}
			k := slices.Index(oi.extra, o)
			got := outs[oi.nOrig+k]
			want, _ := oi.oracleTensor(oi.nOrig+k, got.DType)
			d := compare(want, got)
			od := opDiff{Index: i, Op: m.OpName(op), Version: m.OpVersion(op), Output: sg.Tensors[o].Name, Diff: d.Bad, N: d.N, MaxAbs: d.MaxAbs, MaxRel: d.MaxRel}
			if d.Mismatch != "" {
				od.Diff, od.N = -1, 0
			}
			od.Types, od.Shapes = opSignature(sg, op, got.Shape)
			cr.LocalByOp[od.Op+" "+od.Types]++
			if len(cr.Local) < 20 {
				cr.Local = append(cr.Local, od)
			}
		}
	}
	return cr
}

// opSignature renders an operator's input/output types and shapes, with
// constants marked "c".
func opSignature(sg *tflite.Subgraph, op *tflite.Operator, outShape []int) (types, shapes string) {
	var ts, ss []string
	for _, in := range op.Inputs {
		if in < 0 {
			continue
		}
		t := sg.Tensors[in]
		c := ""
		if t.Data != nil {
			c = "c"
		}
		ts = append(ts, t.Type.String()+c)
		ss = append(ss, fmt.Sprint(t.Shape))
	}
	var ot []string
	for _, o := range op.Outputs {
		ot = append(ot, sg.Tensors[o].Type.String())
	}
	return strings.Join(ts, ",") + "→" + strings.Join(ot, ","), strings.Join(ss, " ") + " → " + fmt.Sprint(outShape)
}
