// Command zoo checks edged against the official TFLite runtime (the oracle)
// on a directory of real .tflite models that the runtime was not tuned
// for. For every model it runs `edgectl inspect`, the oracle and edged in
// both arithmetics on the same deterministic inputs, and reports whether
// each runs, how far the outputs are from the oracle's, where the first
// differing operator is, and (with -bench) edged's time against the
// oracle's. Expected values come only from the oracle.
//
//	make zoo ZOO=/path/to/models [ZOO_REPORT=report.md] [ZOO_BENCH=1]
//
// Inputs are derived from the model file's SHA-256 (see inputs.go), so a
// run is reproducible and two runs on the same file feed the same bytes.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

type config struct {
	dir      string
	oracle   string // directory holding oracle.mjs
	node     string
	edgectl  string
	report   string // markdown file to write ("" = stdout only)
	jsonOut  string
	notes    string // markdown inserted at the top of the report
	work     string
	only     *regexp.Regexp
	bench    bool
	cut      bool
	trace    bool
	timeout  time.Duration
	kindFile string
	from     string // re-render the report from this JSON file
	capi     string // TensorFlow Lite C library for models the oracle cannot run
	capiBin  string
}

func main() {
	var c config
	var only string
	flag.StringVar(&c.dir, "dir", os.Getenv("ZOO"), "directory of .tflite models (default $ZOO)")
	flag.StringVar(&c.oracle, "oracle", os.Getenv("EDGED_ORACLE"), "oracle directory with oracle.mjs (default $EDGED_ORACLE)")
	flag.StringVar(&c.node, "node", "node", "Node.js binary")
	flag.StringVar(&c.edgectl, "edgectl", "bin/edgectl", "edgectl binary, for `edgectl inspect`")
	flag.StringVar(&c.report, "report", os.Getenv("ZOO_REPORT"), "write the markdown report to this file")
	flag.StringVar(&c.jsonOut, "json", os.Getenv("ZOO_JSON"), "write every measurement as JSON to this file")
	flag.StringVar(&c.notes, "notes", os.Getenv("ZOO_NOTES"), "markdown file inserted below the report's date line")
	flag.StringVar(&c.work, "work", os.Getenv("ZOO_WORK"), "scratch directory (default: a temporary one, removed at the end)")
	flag.StringVar(&only, "only", os.Getenv("ZOO_ONLY"), "regular expression: check only the models whose file name matches")
	flag.BoolVar(&c.bench, "bench", os.Getenv("ZOO_BENCH") == "1", "also time edged against the oracle (1 thread, interleaved)")
	flag.BoolVar(&c.cut, "cut", os.Getenv("ZOO_CUT") != "0", "on a mismatch, compare every intermediate tensor to find the first differing operator")
	flag.BoolVar(&c.trace, "trace", os.Getenv("ZOO_TRACE") == "1", "keep every intermediate comparison in the JSON output, not only the local mismatches")
	flag.StringVar(&c.from, "from", os.Getenv("ZOO_FROM"), "write the report from a JSON file of an earlier run (-json) instead of running the models")
	flag.StringVar(&c.capi, "tflite-c", os.Getenv("EDGED_TFLITE_C"), "TensorFlow Lite C library (libtensorflowlite_c.so) for the models the WebAssembly oracle cannot run (variable tensors); needs gcc")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Minute, "limit for one oracle run")
	flag.StringVar(&c.kindFile, "kinds", "", "tab-separated file: model file name, kind (default: DIR/kinds.tsv or DIR/../kinds.tsv if present)")
	flag.Parse()
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			fmt.Fprintf(os.Stderr, "zoo: -only %q: %v\n", only, err)
			os.Exit(2)
		}
		c.only = re
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := check(ctx, &c); err != nil {
		fmt.Fprintf(os.Stderr, "zoo: %v\n", err)
		os.Exit(1)
	}
}

func check(ctx context.Context, c *config) error {
	if c.from != "" {
		return rerender(c)
	}
	if c.dir == "" {
		return fmt.Errorf("no model directory: set ZOO=/path/to/models or pass -dir")
	}
	if c.oracle == "" {
		return fmt.Errorf("no oracle: set EDGED_ORACLE to a directory with oracle.mjs (scripts/oracle-setup.sh prints one)")
	}
	c.oracle = filepath.Clean(c.oracle)
	if filepath.Base(c.oracle) == "oracle.mjs" {
		c.oracle = filepath.Dir(c.oracle)
	}
	if _, err := os.Stat(filepath.Join(c.oracle, "oracle.mjs")); err != nil {
		return fmt.Errorf("oracle: %w", err)
	}
	models, err := filepath.Glob(filepath.Join(c.dir, "*.tflite"))
	if err != nil {
		return err
	}
	if len(models) == 0 {
		return fmt.Errorf("no .tflite files in %s", c.dir)
	}
	if c.work == "" {
		w, err := os.MkdirTemp("", "zoo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(w)
		c.work = w
	}
	kinds := readKinds(c)
	var results []*result
	for _, m := range models {
		if c.only != nil && !c.only.MatchString(filepath.Base(m)) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "zoo: %s\n", filepath.Base(m))
		r := checkModel(ctx, c, m)
		r.Kind = kinds[r.File]
		fmt.Fprintf(os.Stderr, "zoo:   oracle %s; reference %s; litert %s\n", r.Oracle.cell(), r.Edged[0].cell(), r.Edged[1].cell())
		results = append(results, r)
	}
	return writeReport(c, results, time.Now())
}

// rerender writes the report of an earlier run's JSON (with the kinds
// and notes of now).
func rerender(c *config) error {
	b, err := os.ReadFile(c.from)
	if err != nil {
		return err
	}
	var results []*result
	if err := json.Unmarshal(b, &results); err != nil {
		return fmt.Errorf("%s: %w", c.from, err)
	}
	kinds := readKinds(c)
	for _, r := range results {
		if k, ok := kinds[r.File]; ok {
			r.Kind = k
		}
		c.bench = c.bench || r.Bench != nil
	}
	c.jsonOut = ""
	st, err := os.Stat(c.from)
	if err != nil {
		return err
	}
	return writeReport(c, results, st.ModTime())
}
