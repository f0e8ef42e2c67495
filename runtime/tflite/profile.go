package tflite

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edged-dev/edged/runtime/kernels"
)

// OpInfo describes one operator of a prepared interpreter.
type OpInfo struct {
	Index int    `json:"index"`
	Op    string `json:"op"`
	// Shape and Type are those of the operator's first output.
	Shape []int  `json:"shape"`
	Type  string `json:"type"`
	// Kernel names the code path the operator runs ("gemm avx2",
	// "table", ...), "folded" when Prepare computed it once, or "" when
	// the kernel does not say.
	Kernel string `json:"kernel"`
	Folded bool   `json:"folded,omitempty"`
}

// Ops describes the operators of subgraph 0 in execution order.
func (it *Interpreter) Ops() []OpInfo {
	out := make([]OpInfo, len(it.kernels))
	for i, k := range it.kernels {
		op := &it.sg.Operators[i]
		t := &it.tensors[op.Outputs[0]]
		info := OpInfo{Index: i, Op: it.model.OpName(op), Shape: slices.Clone(t.Shape), Type: t.Type.String(), Kernel: kernels.Description(k)}
		if it.folded[i] {
			info.Kernel, info.Folded = "folded", true
		}
		out[i] = info
	}
	return out
}

// InvokeTimed runs the graph like Invoke and stores in ns[i] the wall
// time of operator i in nanoseconds (0 for folded operators). ns must
// hold at least len(Ops()) values. It allocates nothing.
func (it *Interpreter) InvokeTimed(ns []int64) error {
	if !it.prepared {
		return ErrNotPrepared
	}
	if len(ns) < len(it.kernels) {
		return fmt.Errorf("timing the model: %d slots for %d operators", len(ns), len(it.kernels))
	}
	for i, k := range it.kernels {
		if it.folded[i] {
			ns[i] = 0
			continue
		}
		start := time.Now()
		err := k.Eval()
		ns[i] = int64(time.Since(start))
		if err != nil {
			return fmt.Errorf("running the model: operator %d (%s): %w", i, it.model.OpName(&it.sg.Operators[i]), err)
		}
	}
	return nil
}

// OpProfile is one operator's timing over the runs of a Profile.
type OpProfile struct {
	OpInfo
	MedianUS float64 `json:"median_us"`
	MinUS    float64 `json:"min_us"`
	// Share is the operator's median over the sum of all operators'
	// medians.
	Share float64 `json:"share"`
}

// TypeProfile sums the operators of one type.
type TypeProfile struct {
	Op       string  `json:"op"`
	Count    int     `json:"count"`
	MedianUS float64 `json:"median_us"` // sum of the operators' medians
	Share    float64 `json:"share"`
}

// Profile is a per-operator timing of an interpreter, like TFLite's
// benchmark_model --enable_op_profiling.
type Profile struct {
	Runs    int `json:"runs"`
	Threads int `json:"threads"`
	// InvokeMedianUS and InvokeMinUS time whole invocations (the sum
	// of the operators plus the timer's own cost).
	InvokeMedianUS float64       `json:"invoke_median_us"`
	InvokeMinUS    float64       `json:"invoke_min_us"`
	Ops            []OpProfile   `json:"ops"`
	Types          []TypeProfile `json:"types"`
}

// Profile runs the graph warmup times untimed, then runs times with
// every operator timed (InvokeTimed), on whatever the inputs hold.
func (it *Interpreter) Profile(ctx context.Context, warmup, runs int) (*Profile, error) {
	if runs < 1 {
		return nil, fmt.Errorf("profiling the model: %d runs; want at least 1", runs)
	}
	for i := 0; i < warmup; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := it.Invoke(); err != nil {
			return nil, err
		}
	}
	ops := it.Ops()
	samples := make([]int64, runs*len(ops))
	total := make([]float64, runs)
	for r := 0; r < runs; r++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := time.Now()
		if err := it.InvokeTimed(samples[r*len(ops) : (r+1)*len(ops)]); err != nil {
			return nil, err
		}
		total[r] = float64(time.Since(start).Nanoseconds()) / 1e3
	}
	p := &Profile{Runs: runs, Threads: it.cfg.Threads}
	p.InvokeMedianUS, p.InvokeMinUS = medianMin(total)
	col := make([]float64, runs)
	var sum float64
	for i, info := range ops {
		for r := range col {
			col[r] = float64(samples[r*len(ops)+i]) / 1e3
		}
		med, lo := medianMin(col)
		p.Ops = append(p.Ops, OpProfile{OpInfo: info, MedianUS: med, MinUS: lo})
		sum += med
	}
	byType := map[string]*TypeProfile{}
	for i := range p.Ops {
		o := &p.Ops[i]
		if sum > 0 {
			o.Share = o.MedianUS / sum
		}
		t := byType[o.Op]
		if t == nil {
			t = &TypeProfile{Op: o.Op}
			byType[o.Op] = t
		}
		t.Count++
		t.MedianUS += o.MedianUS
		t.Share += o.Share
	}
	for _, t := range byType {
		p.Types = append(p.Types, *t)
	}
	sort.Slice(p.Types, func(a, b int) bool {
		if p.Types[a].MedianUS != p.Types[b].MedianUS {
			return p.Types[a].MedianUS > p.Types[b].MedianUS
		}
		return p.Types[a].Op < p.Types[b].Op
	})
	return p, nil
}

func medianMin(v []float64) (median, lo float64) {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[0]
}

// WriteText writes the profile as two tables: the operators in run order,
// then the sums by operator type, most expensive first.
func (p *Profile) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "index\top\toutput shape\ttype\tkernel\tmedian µs\tmin µs\tshare\t\n")
	for _, o := range p.Ops {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f%%\t\n", o.Index, o.Op, shapeString(o.Shape), o.Type, orDash(o.Kernel), o.MedianUS, o.MinUS, 100*o.Share)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nby operator type (invoke: median %.1f µs, min %.1f µs over %d runs, %d threads):\n", p.InvokeMedianUS, p.InvokeMinUS, p.Runs, p.Threads)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "op\tcount\tmedian µs\tshare\tcumulative\t\n")
	var cum float64
	for _, t := range p.Types {
		cum += t.Share
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f%%\t%.1f%%\t\n", t.Op, t.Count, t.MedianUS, 100*t.Share, 100*cum)
	}
	return tw.Flush()
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
