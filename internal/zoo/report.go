package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// readKinds reads "file<TAB>kind" lines, from -kinds or kinds.tsv next to
// (or one level above) the models.
func readKinds(c *config) map[string]string {
	kinds := map[string]string{}
	files := []string{c.kindFile}
	if c.kindFile == "" {
		files = []string{filepath.Join(c.dir, "kinds.tsv"), filepath.Join(c.dir, "..", "kinds.tsv")}
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			name, kind, ok := strings.Cut(sc.Text(), "\t")
			if ok {
				kinds[strings.TrimSuffix(name, ".tflite")+".tflite"] = kind
			}
		}
		fh.Close()
		break
	}
	return kinds
}

var (
	unsupportedRE = regexp.MustCompile(`unsupported op:? (CUSTOM "[^"]*"|[A-Z0-9_]+)`)
	unresolvedRE  = regexp.MustCompile(`unresolved custom op: ([^.]+)\.`)
)

// reason shortens an error to its cause.
func (r *run) reason() string {
	if r.Class == "unsupported" {
		if m := unsupportedRE.FindStringSubmatch(r.Err); m != nil {
			return "unsupported " + m[1]
		}
	}
	if m := unresolvedRE.FindStringSubmatch(r.Err); m != nil {
		return "custom op " + m[1] + " not built in"
	}
	if strings.Contains(r.Err, "Variable tensors not yet supported") {
		return "variable tensors not supported (LiteRT.js)"
	}
	e := r.Err
	for _, p := range []string{"loading the model: ", "preparing the model: ", "running the model: ", "exit status 1: ", "oracle: "} {
		e = strings.ReplaceAll(e, p, "")
	}
	if len(e) > 140 {
		e = e[:140] + "…"
	}
	return e
}

func (r *run) cell() string {
	switch {
	case r.Arithmetic == "" && r.Ran && r.Via != "":
		return "ok (C library)"
	case r.Arithmetic == "" && r.Ran:
		return "ok"
	case r.Arithmetic == "":
		return "✗ " + r.reason()
	case !r.Ran:
		return "✗ " + r.reason()
	case r.Outputs == nil:
		return "runs (no oracle output)"
	case r.exact():
		return "= exact"
	case r.ok():
		return "≈ in tol"
	}
	bad, n := 0, 0
	top := ""
	for _, o := range r.Outputs {
		bad += o.Bad
		n += o.N
		if o.Top1 == "differs" {
			top = ", top-1 differs"
		}
	}
	return fmt.Sprintf("≠ %d/%d%s", bad, n, top)
}

// maxDiff is the largest absolute difference over the outputs ("" when
// not compared).
func (r *run) maxDiff() string {
	if !r.Ran || r.Outputs == nil {
		return "–"
	}
	m := 0.0
	for _, o := range r.Outputs {
		if o.Mismatch != "" {
			return "shape"
		}
		m = max(m, o.MaxAbs)
	}
	if m == 0 {
		return "0"
	}
	return fmt.Sprintf("%.3g", m)
}

func (b *benchResult) cell() string {
	if b == nil {
		return "–"
	}
	if b.Err != "" {
		return "err"
	}
	f := func(x float64) string {
		if x == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%s / %s (oracle %.3g ms)", f(b.Ratio[0]), f(b.Ratio[1]), b.OracleMS)
}

func (b *benchResult) worst() float64 { return max(b.Ratio[0], b.Ratio[1]) }

func ratio(x float64) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x)
}

func writeReport(c *config, results []*result, when time.Time) error {
	var sb strings.Builder
	w := &sb
	fmt.Fprintf(w, "# Zoo check: edged against the TFLite oracle on unseen models\n\n")
	fmt.Fprintf(w, "_Refreshed %s_ — %d models from %s.\n\n", when.UTC().Format("2006-01-02 15:04 UTC"), len(results), c.dir)
	if c.notes != "" {
		b, err := os.ReadFile(c.notes)
		if err != nil {
			return fmt.Errorf("notes: %w", err)
		}
		w.Write(b)
		fmt.Fprintln(w)
	}
	summary(w, results)
	fmt.Fprintf(w, "\n## Table\n\n")
	fmt.Fprintf(w, "Cells: `= exact` byte-identical outputs; `≈ in tol` float outputs within 1e-4 + 1e-4·|oracle|, quantized/integer outputs identical; `≠ bad/total` elements beyond that (top-1 noted for score vectors); `✗` refused or failed. Max diff = largest |edged − oracle| over the outputs (raw units for quantized outputs). Time = edged / oracle (reference / litert), 1 thread, ")
	if c.bench {
		fmt.Fprintf(w, "%d interleaved rounds of median times (the machine is shared: treat ±20%% as noise).\n\n", benchRounds)
	} else {
		fmt.Fprintf(w, "not measured in this run (ZOO_BENCH=1).\n\n")
	}
	fmt.Fprintf(w, "| model | kind | dtype | oracle | edged reference | edged litert | max diff (ref / litert) | time edged/oracle (ref / litert) |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s / %s | %s |\n", r.File, esc(r.Kind), esc(r.DType), esc(r.Oracle.cell()),
			esc(r.Edged[0].cell()), esc(r.Edged[1].cell()), r.Edged[0].maxDiff(), r.Edged[1].maxDiff(), r.Bench.cell())
	}
	causes(w, results, c.bench)
	fmt.Fprintf(w, "\n## How this was made\n\n`make zoo ZOO=%s` (internal/zoo). Inputs are derived from each file's SHA-256 (uniform over int8/uint8/int16, [-1, 1) for float, ids within the indexed dimension for GATHER/EMBEDDING_LOOKUP inputs, else [0, 8)); the oracle is LiteRT.js with XNNPACK (`oracle.mjs run`, 1 thread); edged runs in-process with 1 thread. Models with variable tensors, which the WebAssembly oracle refuses, and models with an output TFLite sizes at run time (TRANSPOSE_CONV with a computed output_shape), which it cannot return, go through TensorFlow Lite's C library (with -tflite-c / EDGED_TFLITE_C: three invocations in a row, state carried, compared as one sequence). On a mismatch every computed tensor is listed as an output of a copy of the model and compared, to find operators whose inputs agree with the oracle's but whose output does not.\n", c.dir)

	if c.report != "" {
		if err := os.WriteFile(c.report, []byte(sb.String()), 0o644); err != nil {
			return err
		}
	} else {
		io.WriteString(os.Stdout, sb.String())
	}
	if c.jsonOut != "" {
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(c.jsonOut, b, 0o644)
	}
	return nil
}

func esc(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func summary(w io.Writer, results []*result) {
	var oracleOK, both [2]int
	viaC := 0
	var edgedRuns, exact, inTol [2]int
	quantModels := [2]int{}
	quantExact := [2]int{}
	for _, r := range results {
		if r.Oracle.Ran {
			oracleOK[0]++
			if r.Oracle.Via != "" {
				viaC++
			}
		}
		for i := range r.Edged {
			e := &r.Edged[i]
			if e.Ran {
				edgedRuns[i]++
			}
			if e.Ran && r.Oracle.Ran {
				both[i]++
				if e.exact() {
					exact[i]++
				}
				if e.ok() {
					inTol[i]++
				}
				q := false
				qok := true
				for _, o := range e.Outputs {
					if !o.float() {
						q = true
						if !o.Exact {
							qok = false
						}
					}
				}
				if q {
					quantModels[i]++
					if qok {
						quantExact[i]++
					}
				}
			}
		}
	}
	fmt.Fprintf(w, "## Summary\n\n")
	if viaC > 0 {
		fmt.Fprintf(w, "- The oracle runs %d of %d models (%d of them through TensorFlow Lite's C library: variable tensors, which the WebAssembly oracle refuses, or outputs sized at run time, which it cannot return).\n", oracleOK[0], len(results), viaC)
	} else {
		fmt.Fprintf(w, "- The oracle runs %d of %d models.\n", oracleOK[0], len(results))
	}
	for i, a := range arithmetics {
		fmt.Fprintf(w, "- edged %s: runs %d of %d (%d of the %d the oracle runs); of those, %d byte-identical, %d within the check (quantized identical, float in tolerance); quantized/integer outputs identical on %d of %d models that have them.\n",
			a.name, edgedRuns[i], len(results), both[i], oracleOK[0], exact[i], inTol[i], quantExact[i], quantModels[i])
	}
}

type group struct {
	key    string
	models []string
	detail []string
}

func addTo(groups map[string]*group, key, model, detail string) {
	g := groups[key]
	if g == nil {
		g = &group{key: key}
		groups[key] = g
	}
	g.models = append(g.models, model)
	if detail != "" {
		g.detail = append(g.detail, detail)
	}
}

func printGroups(w io.Writer, title string, groups map[string]*group) {
	if len(groups) == 0 {
		return
	}
	var gs []*group
	for _, g := range groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool {
		if len(gs[i].models) != len(gs[j].models) {
			return len(gs[i].models) > len(gs[j].models)
		}
		return gs[i].key < gs[j].key
	})
	fmt.Fprintf(w, "\n### %s\n\n", title)
	for _, g := range gs {
		fmt.Fprintf(w, "- **%s** — %d: %s\n", g.key, len(g.models), strings.Join(g.models, ", "))
		for _, d := range g.detail {
			fmt.Fprintf(w, "  - %s\n", d)
		}
	}
}

func causes(w io.Writer, results []*result, bench bool) {
	fmt.Fprintf(w, "\n## What fails and why (generated; most models affected first)\n")
	panics := map[string]*group{}
	refused := map[string]*group{}
	both := map[string]*group{}
	onlyEdged := map[string]*group{}
	inspectWrong := map[string]*group{}
	var slow []*result
	mismatch := [2]map[string]*group{{}, {}}
	for _, r := range results {
		for i, a := range arithmetics {
			e := &r.Edged[i]
			switch {
			case e.Class == "panic":
				addTo(panics, a.name+": "+e.reason(), r.File, "")
			case !e.Ran && r.Oracle.Ran:
				name := r.File
				if o := &r.Edged[1-i]; o.Ran || o.reason() != e.reason() {
					name += " [" + a.name + "]"
				} else if i == 1 {
					continue // same reason in both arithmetics: listed once
				}
				detail := ""
				if len(r.Missing) > 0 && i == 0 {
					detail = r.File + " needs: " + strings.Join(r.Missing, "; ")
				}
				addTo(refused, e.reason(), name, detail)
			case !e.Ran && !r.Oracle.Ran && i == 0:
				detail := r.File + ": oracle: " + r.Oracle.reason()
				if len(r.Missing) > 0 {
					detail += "; edged needs: " + strings.Join(r.Missing, "; ")
				}
				addTo(both, "edged: "+e.reason(), r.File, detail)
			case e.Ran && !r.Oracle.Ran && i == 0 && r.Oracle.Class != "harness":
				addTo(onlyEdged, "oracle: "+r.Oracle.reason(), r.File, "")
			case e.Ran && r.Oracle.Ran && !e.ok():
				key, detail := mismatchCause(e)
				addTo(mismatch[i], key, r.File, r.File+": "+detail)
			}
		}
		if r.Inspect.Runnable != nil && r.Inspect.Extra == nil && r.Edged[0].Ran != r.Edged[1].Ran {
			addTo(inspectWrong, "inspect gives one answer; the arithmetics differ", r.File,
				fmt.Sprintf("%s: inspect runnable=%v; reference %s; litert %s", r.File, *r.Inspect.Runnable, r.Edged[0].cell(), r.Edged[1].cell()))
		} else if r.Inspect.Runnable != nil && *r.Inspect.Runnable != (r.Edged[0].Ran || r.Edged[1].Ran) {
			addTo(inspectWrong, fmt.Sprintf("inspect says runnable=%v", *r.Inspect.Runnable), r.File,
				fmt.Sprintf("%s: reference %s; litert %s", r.File, r.Edged[0].cell(), r.Edged[1].cell()))
		} else if r.Inspect.Err != "" {
			addTo(inspectWrong, "inspect fails", r.File, r.File+": "+r.Inspect.Err)
		}
		if b := r.Bench; b != nil && b.Err == "" && max(b.Ratio[0], b.Ratio[1]) > 0.5 {
			slow = append(slow, r)
		}
	}
	printGroups(w, "Panics (a model file must never panic the runtime)", panics)
	printGroups(w, "Runs in the oracle, refused or failed in edged", refused)
	printGroups(w, "Differs from the oracle — reference arithmetic (grouped by the first operator whose inputs agree but output differs)", mismatch[0])
	printGroups(w, "Differs from the oracle — litert arithmetic (grouped the same way)", mismatch[1])
	if bench && len(slow) > 0 {
		sort.Slice(slow, func(i, j int) bool { return slow[i].Bench.worst() > slow[j].Bench.worst() })
		fmt.Fprintf(w, "\n### Slower than half the oracle's time (worst first)\n\n")
		for _, r := range slow {
			b := r.Bench
			fmt.Fprintf(w, "- %s: reference %s, litert %s (oracle %.3g ms; edged %.3g / %.3g ms)\n", r.File, ratio(b.Ratio[0]), ratio(b.Ratio[1]), b.OracleMS, b.EdgedMS[0], b.EdgedMS[1])
		}
	}
	printGroups(w, "`edgectl inspect` disagrees with what edged does", inspectWrong)
	printGroups(w, "Refused by both (edged's reason; the oracle's below)", both)
	printGroups(w, "Runs in edged, not in the oracle (unchecked)", onlyEdged)
}

// mismatchCause names the first local mismatch of a run, if the
// intermediate comparison found one.
func mismatchCause(e *run) (string, string) {
	out := e.cell()
	if e.Cut == nil {
		return "no intermediate comparison", out
	}
	if e.Cut.Err != "" {
		return "intermediate comparison failed", out + "; " + e.Cut.Err
	}
	if len(e.Cut.Local) == 0 {
		return "no single operator found (all listed intermediates agree)", out
	}
	f := e.Cut.Local[0]
	var by []string
	for k, v := range e.Cut.LocalByOp {
		by = append(by, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(by)
	cons := ""
	if !e.Cut.Consistent {
		cons = " (listing changed the oracle's outputs: uncertain)"
	}
	return fmt.Sprintf("%s %s", f.Op, f.Types), fmt.Sprintf("%s; first: op %d %s v%d %s (%s) %d/%d differ, max %.3g; %d of %d intermediates differ; local mismatches: %s%s",
		out, f.Index, f.Op, f.Version, f.Types, f.Shapes, f.Diff, f.N, f.MaxAbs, e.Cut.Differing, e.Cut.Compared, strings.Join(by, "; "), cons)
}
