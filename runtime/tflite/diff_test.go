package tflite

// Differential tests against the TFLite oracle.
//
// TestDifferential builds random single-operator models with the
// generators registered in diffGens, runs all of them through the official
// TFLite runtime (LiteRT.js, via scripts/oracle-batch.mjs, one Node process
// for every case) and through this interpreter in both arithmetics, and
// compares the outputs. In the default (LiteRT) arithmetic, the subtest
// "litert" of each case (diff_litert_test.go):
//
//   - float32: |got-want| <= 1e-4 + 1e-4*|want|
//   - everything else: exactly
//
// In reference arithmetic (TFLite's reference kernels), the case itself:
//
//   - float32: as above
//   - int8, uint8, int16: |got-want| <= 1 per element (XNNPACK's
//     requantization rounds differently from TFLite's reference kernels);
//     the number of ±1 elements is logged per generator
//   - int32, int64, bool and anything else: exactly
//
// Adding a generator, from any _test.go file of this package:
//
//	func init() {
//		addDiffGen("MEAN/int8", func(r *rand.Rand) ([]byte, [][]byte, error) {
//			b := tflitetest.NewBuilder()
//			... describe a model with one MEAN operator, random shapes,
//			    quantization and options drawn from r ...
//			model, err := b.Bytes()
//			return model, [][]byte{inputBytes}, err
//		})
//	}
//
// The name is "OP/variant" (OP as in schema.BuiltinOperator.String()); case
// i of a generator uses the seed diffSeed(name, i), so every case is
// reproducible by name:
//
//	go test ./runtime/tflite/ -run 'TestDifferential/CONV_2D/int8/7' -v
//
// Inputs are raw little-endian bytes in subgraph input order. A generator
// must stay within what the oracle (LiteRT 2.5.3 + XNNPACK) accepts; a case
// the oracle rejects fails as a generator bug. The helpers below (diffShape,
// diffQuant, diffPerChannelQuant, diffTensorBytes, diffPick...) draw the
// usual random parameters.
//
// Environment:
//
//	EDGED_ORACLE       oracle directory (oracle.mjs + node_modules); default:
//	                   the cache of scripts/oracle-setup.sh (<repo>/.cache/oracle
//	                   or $EDGED_ORACLE_CACHE); the test skips when there is none
//	EDGED_DIFF_CASES   cases per generator (default 20, 5 with -short); e.g. 2000 for a soak:
//	                   EDGED_DIFF_CASES=2000 go test ./runtime/tflite/ -run TestDifferential -timeout 2h
//	EDGED_DIFF_STRICT  1: a case whose op or type combination this runtime does
//	                   not implement fails instead of being skipped
//	EDGED_DIFF_DIR     keep the generated models, inputs and oracle outputs in
//	                   this directory (default: a temporary one)
//
// The -run pattern is applied before generating, so running one case only
// builds and runs that case.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/edged-dev/edged/internal/testenv"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// diffGen generates one random case: a model and its inputs.
type diffGen func(r *rand.Rand) (model []byte, inputs [][]byte, err error)

var (
	diffGens = map[string]diffGen{}
	// diffDups lists names registered more than once; TestDifferential
	// fails on them (a panic in init would stop every test of the package).
	diffDups []string
)

// diffGenCases caps the number of cases of generators that need fewer
// than the default (operators that only move elements, whose few code
// paths a handful of random shapes covers); EDGED_DIFF_CASES overrides it.
var diffGenCases = map[string]int{}

// addDiffGen registers a generator; call it from init functions. A
// duplicate name is kept under name+"_dupN" and reported as an error.
func addDiffGen(name string, g diffGen) {
	if _, dup := diffGens[name]; dup {
		diffDups = append(diffDups, name)
		for k := 2; ; k++ {
			if n := fmt.Sprintf("%s_dup%d", name, k); diffGens[n] == nil {
				name = n
				break
			}
		}
	}
	diffGens[name] = g
}

// diffSeed is the seed of case i of generator name.
func diffSeed(name string, i int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s#%d", name, i)
	return h.Sum64()
}

// diffRand returns the random source of case i of generator name.
func diffRand(name string, i int) *rand.Rand {
	s := diffSeed(name, i)
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

const defaultDiffCases = 20

type diffCase struct {
	gen   string
	index int
	seed  uint64
	dir   string
	// The model and inputs live in dir (model.tflite, input_K.bin), and
	// the oracle's outputs in dir/oracle, so that thousands of cases do
	// not have to fit in memory.
	nInputs   int
	genErr    error
	oracleErr error
}

type diffStats struct {
	cases, passed, failed, skipped int
	elems, offByOne                int
	skipReason                     string
}

func TestDifferential(t *testing.T) {
	for _, d := range diffDups {
		t.Errorf("diff generator %q is registered twice; give one of them another variant name", d)
	}
	oracleDir, why := testenv.OracleDir(t)
	if oracleDir == "" {
		testenv.Missing(t, "no TFLite oracle (%s). Set EDGED_ORACLE=/path/to/oracle (a directory with oracle.mjs and node_modules), or run scripts/oracle-setup.sh once", why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node is not installed; the oracle needs Node.js >= 20 (%v)", err)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	n := defaultDiffCases
	if testing.Short() {
		n = 5
	}
	if s := os.Getenv("EDGED_DIFF_CASES"); s != "" {
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("EDGED_DIFF_CASES=%q: want a positive integer", s)
		}
	}
	strict := os.Getenv("EDGED_DIFF_STRICT") == "1"
	work := os.Getenv("EDGED_DIFF_DIR")
	if work == "" {
		work = t.TempDir()
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	filter := newDiffFilter()

	names := make([]string, 0, len(diffGens))
	for name := range diffGens {
		names = append(names, name)
	}
	sort.Strings(names)

	// Generate every selected case first: the oracle runs them all at once.
	start := time.Now()
	var cases []*diffCase
	byGen := map[string][]*diffCase{}
	for _, name := range names {
		count := n
		if c, ok := diffGenCases[name]; ok && os.Getenv("EDGED_DIFF_CASES") == "" {
			count = min(c, n)
		}
		for i := 0; i < count; i++ {
			if !filter.match(name, i) {
				continue
			}
			c := &diffCase{gen: name, index: i, seed: diffSeed(name, i)}
			c.dir = filepath.Join(work, strings.ReplaceAll(name, "/", "_"), strconv.Itoa(i))
			model, inputs, err := runDiffGen(diffGens[name], diffRand(name, i))
			if err == nil {
				err = writeDiffCase(c, model, inputs)
			}
			c.genErr = err
			cases = append(cases, c)
			byGen[name] = append(byGen[name], c)
		}
	}
	if len(cases) == 0 {
		t.Skip("no generator matches the -run pattern")
	}
	genTime := time.Since(start)
	start = time.Now()
	if err := runOracleBatch(t, node, filepath.Join(root, "scripts", "oracle-batch.mjs"), oracleDir, work, cases); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cases: generated in %v, oracle ran in %v", len(cases), genTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	stats := map[string]*diffStats{}
	for _, op := range diffGroup(names) {
		t.Run(op.op, func(t *testing.T) {
			for _, v := range op.variants {
				name := op.op
				if v != "" {
					name += "/" + v
				}
				st := &diffStats{}
				stats[name] = st
				run := func(t *testing.T) {
					for _, c := range byGen[name] {
						st.cases++
						var ok bool
						t.Run(strconv.Itoa(c.index), func(t *testing.T) {
							diffRunCase(t, c, st, strict)
							ok = !t.Failed() && !t.Skipped()
						})
						if ok {
							st.passed++
						}
					}
				}
				if v == "" {
					run(t)
				} else {
					t.Run(v, run)
				}
			}
		})
	}

	var sum strings.Builder
	fmt.Fprintf(&sum, "%-36s %6s %6s %6s %6s %10s\n", "generator", "cases", "pass", "FAIL", "skip", "±1 elems")
	for _, name := range names {
		st := stats[name]
		if st == nil || st.cases == 0 {
			continue
		}
		fmt.Fprintf(&sum, "%-36s %6d %6d %6d %6d %10s", name, st.cases, st.passed, st.failed, st.skipped, fmt.Sprintf("%d/%d", st.offByOne, st.elems))
		if st.skipReason != "" {
			fmt.Fprintf(&sum, "  (skipped: %s)", st.skipReason)
		}
		sum.WriteByte('\n')
	}
	t.Logf("summary:\n%s", sum.String())
}

func runDiffGen(g diffGen, r *rand.Rand) (model []byte, inputs [][]byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("generator panicked: %v", p)
		}
	}()
	return g(r)
}

func writeDiffCase(c *diffCase, model []byte, inputs [][]byte) error {
	// Drop the oracle results of an earlier run (EDGED_DIFF_DIR).
	if err := os.RemoveAll(filepath.Join(c.dir, "oracle")); err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "model.tflite"), model, 0o644); err != nil {
		return err
	}
	c.nInputs = len(inputs)
	for k, in := range inputs {
		if err := os.WriteFile(filepath.Join(c.dir, fmt.Sprintf("input_%d.bin", k)), in, 0o644); err != nil {
			return err
		}
	}
	return nil
}

type diffOp struct {
	op       string
	variants []string
}

// diffGroup groups "OP/variant" names by OP, keeping the sorted order.
func diffGroup(names []string) []diffOp {
	var out []diffOp
	for _, name := range names {
		op, v, _ := strings.Cut(name, "/")
		if len(out) == 0 || out[len(out)-1].op != op {
			out = append(out, diffOp{op: op})
		}
		out[len(out)-1].variants = append(out[len(out)-1].variants, v)
	}
	return out
}

// diffFilter applies the -run pattern's subtest elements
// (TestDifferential/OP/variant/case) to cases before they are generated.
// It only narrows when it is sure: an unparsable pattern selects all.
type diffFilter struct {
	elems []*regexp.Regexp // OP, variant, case
}

func newDiffFilter() diffFilter {
	f := flag.Lookup("test.run")
	if f == nil || f.Value.String() == "" {
		return diffFilter{}
	}
	parts := splitRunPattern(f.Value.String())
	var out diffFilter
	for _, p := range parts[1:] {
		re, err := regexp.Compile(p)
		if err != nil {
			return diffFilter{}
		}
		out.elems = append(out.elems, re)
	}
	return out
}

// splitRunPattern splits a -run pattern into its per-level elements the
// way package testing does: at slashes outside brackets and parentheses.
func splitRunPattern(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[', '(':
			depth++
		case ']', ')':
			depth--
		case '/':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func (f diffFilter) match(name string, i int) bool {
	elems := strings.Split(name, "/")
	elems = append(elems, strconv.Itoa(i))
	for k, re := range f.elems {
		if k < len(elems) && !re.MatchString(elems[k]) {
			return false
		}
	}
	return true
}

type oracleJob struct {
	Model  string   `json:"model"`
	Inputs []string `json:"inputs"`
	OutDir string   `json:"out_dir"`
}

// runOracleBatch runs every generated case through the oracle in one Node
// process, restarting it after a case that crashes it, and sets
// oracleErr of the cases it rejected.
func runOracleBatch(t *testing.T, node, script, oracleDir, work string, cases []*diffCase) error {
	var pending []*diffCase
	for _, c := range cases {
		if c.genErr == nil {
			pending = append(pending, c)
		}
	}
	// Chunks bound what one Node process accumulates (the Wasm heap of
	// models that failed to compile is not always freed).
	const chunk = 5000
	for attempt := 0; len(pending) > 0; attempt++ {
		batch := pending[:min(len(pending), chunk)]
		jobs := make([]oracleJob, len(batch))
		for k, c := range batch {
			j := oracleJob{Model: filepath.Join(c.dir, "model.tflite"), Inputs: []string{}, OutDir: filepath.Join(c.dir, "oracle")}
			for i := 0; i < c.nInputs; i++ {
				j.Inputs = append(j.Inputs, filepath.Join(c.dir, fmt.Sprintf("input_%d.bin", i)))
			}
			jobs[k] = j
		}
		jf := filepath.Join(work, fmt.Sprintf("oracle_jobs_%d.json", attempt))
		data, err := json.Marshal(jobs)
		if err != nil {
			return err
		}
		if err := os.WriteFile(jf, data, 0o644); err != nil {
			return err
		}
		cmd := exec.Command(node, script, "--oracle", oracleDir, jf)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Stdout = nil
		runErr := cmd.Run()

		next := -1
		for k, c := range batch {
			done, err := readOracleResult(c)
			if !done {
				next = k
				break
			}
			c.oracleErr = err
		}
		if next < 0 {
			if runErr != nil {
				t.Logf("oracle-batch exited with %v after finishing every case; stderr:\n%s", runErr, tail(stderr.String(), 2000))
			}
			pending = pending[len(batch):]
			continue
		}
		c := pending[next]
		if _, err := os.Stat(filepath.Join(c.dir, "oracle", "started")); err != nil {
			// The case never started: the script itself is broken.
			return fmt.Errorf("oracle-batch stopped before case %s/%d (%v); stderr:\n%s", c.gen, c.index, runErr, tail(stderr.String(), 4000))
		}
		c.oracleErr = fmt.Errorf("the oracle process crashed on this case (%v): %s", runErr, tail(stderr.String(), 1000))
		pending = pending[next+1:]
	}
	return nil
}

// readOracleResult reports whether the oracle finished case c, and its
// error if it rejected it.
func readOracleResult(c *diffCase) (done bool, err error) {
	dir := filepath.Join(c.dir, "oracle")
	if msg, err := os.ReadFile(filepath.Join(dir, "error.txt")); err == nil {
		return true, errors.New(strings.TrimSpace(string(msg)))
	}
	if _, err := os.Stat(filepath.Join(dir, "ok")); err != nil {
		return false, nil
	}
	return true, nil
}

// readDiffCase reads a case's model, inputs and oracle outputs back.
func readDiffCase(c *diffCase) (model []byte, inputs, want [][]byte, err error) {
	if model, err = os.ReadFile(filepath.Join(c.dir, "model.tflite")); err != nil {
		return nil, nil, nil, err
	}
	for k := 0; k < c.nInputs; k++ {
		b, err := os.ReadFile(filepath.Join(c.dir, fmt.Sprintf("input_%d.bin", k)))
		if err != nil {
			return nil, nil, nil, err
		}
		inputs = append(inputs, b)
	}
	for k := 0; ; k++ {
		b, err := os.ReadFile(filepath.Join(c.dir, "oracle", fmt.Sprintf("output_%d.bin", k)))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, nil, nil, err
		}
		want = append(want, b)
	}
	return model, inputs, want, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// diffRunCase runs one case through the interpreter and compares it with
// the oracle's outputs.
func diffRunCase(t *testing.T, c *diffCase, st *diffStats, strict bool) {
	repro := fmt.Sprintf("seed %#x; reproduce: go test ./runtime/tflite/ -run 'TestDifferential/%s/%d' -v", c.seed, c.gen, c.index)
	defer func() {
		if t.Failed() {
			st.failed++
			t.Log(repro)
		}
	}()
	if c.genErr != nil {
		t.Fatalf("generator %s: %v", c.gen, c.genErr)
	}
	if c.oracleErr != nil {
		t.Fatalf("the oracle rejected the case; narrow the generator to what TFLite accepts: %v", c.oracleErr)
	}
	model, inputs, oracleOuts, err := readDiffCase(c)
	if err != nil {
		t.Fatal(err)
	}
	unsupported := func(err error) {
		if strict {
			t.Fatalf("not implemented in edged (EDGED_DIFF_STRICT=1): %v", err)
		}
		st.skipped++
		if st.skipReason == "" {
			st.skipReason = err.Error()
		}
		t.Skipf("not implemented in edged yet: %v", err)
	}
	m, err := Load(model)
	if err != nil {
		if errors.Is(err, ErrUnsupportedOp) {
			unsupported(err)
		}
		t.Fatalf("Load: %v", err)
	}
	it, err := NewInterpreter(m, &Options{Arithmetic: Reference})
	if err != nil {
		if errors.Is(err, ErrUnsupportedOp) || errors.Is(err, kernels.ErrUnsupported) {
			unsupported(err)
		}
		t.Fatalf("NewInterpreter: %v", err)
	}
	if len(inputs) != it.NumInputs() {
		t.Fatalf("case has %d inputs; model has %d", len(inputs), it.NumInputs())
	}
	for i, b := range inputs {
		in := it.Input(i)
		if len(b) != len(in.Data) {
			t.Fatalf("input %d: %d bytes; tensor %v needs %d", i, len(b), in, len(in.Data))
		}
		copy(in.Data, b)
	}
	if err := it.Invoke(); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if len(oracleOuts) != it.NumOutputs() {
		t.Fatalf("%d outputs; the oracle has %d", it.NumOutputs(), len(oracleOuts))
	}
	if diffIsHybrid(c.gen) || diffLiteRTOnly[c.gen] {
		// Only LiteRT arithmetic quantizes hybrid inputs as the oracle does.
		diffLiteRT(t, c.gen, model, inputs, oracleOuts)
		return
	}
	for k, want := range oracleOuts {
		o := it.Output(k)
		if len(o.Data) != len(want) {
			t.Errorf("output %d %v: %d bytes; the oracle's has %d", k, o, len(o.Data), len(want))
			continue
		}
		diffCompare(t, c.gen, k, o, want, st)
	}
	diffLiteRT(t, c.gen, model, inputs, oracleOuts)
}

// diffLiteRTOnly lists the generators whose reference arithmetic follows
// TFLite Micro where it differs from TFLite's optimized kernel by more
// than 1 (only the LiteRT arithmetic is compared with the oracle).
var diffLiteRTOnly = map[string]bool{}

// diffReferenceOff2 lists the generators whose reference arithmetic may
// differ from XNNPACK's by 2: int8 RESIZE_BILINEAR, where TFLite's 10-bit
// fixed-point weights and XNNPACK's 11-bit ones each round once per axis.
// (The LiteRT arithmetic is exact there.)
var diffReferenceOff2 = map[string]bool{"RESIZE_BILINEAR/int8": true}

// diffCompare compares output k with the oracle's bytes.
func diffCompare(t *testing.T, gen string, k int, o *tensor.Tensor, want []byte, st *diffStats) {
	const maxReport = 5
	bad := 0
	report := func(i int, got, want any) {
		bad++
		if bad <= maxReport {
			t.Errorf("%s output %d %v: [%d] (at %v) = %v; oracle %v", gen, k, o, i, diffCoords(o.Shape, i), got, want)
		}
	}
	switch o.Type {
	case tensor.Float32:
		got := o.Float32s()
		for i := range got {
			w := math.Float32frombits(binary.LittleEndian.Uint32(want[4*i:]))
			d := math.Abs(float64(got[i]) - float64(w))
			if math.IsNaN(float64(got[i])) != math.IsNaN(float64(w)) || d > 1e-4+1e-4*math.Abs(float64(w)) {
				report(i, got[i], w)
			}
		}
		st.elems += len(got)
	case tensor.Int8, tensor.UInt8, tensor.Int16:
		n := o.NumElements()
		for i := 0; i < n; i++ {
			var g, w int
			switch o.Type {
			case tensor.Int8:
				g, w = int(int8(o.Data[i])), int(int8(want[i]))
			case tensor.UInt8:
				g, w = int(o.Data[i]), int(want[i])
			default:
				g, w = int(int16(binary.LittleEndian.Uint16(o.Data[2*i:]))), int(int16(binary.LittleEndian.Uint16(want[2*i:])))
			}
			switch d := g - w; {
			case d == 0:
			case d == 1 || d == -1:
				st.offByOne++
			case (d == 2 || d == -2) && diffReferenceOff2[gen]:
				st.offByOne++
			default:
				report(i, g, w)
			}
		}
		st.elems += n
	default:
		size := o.Type.Size()
		if size == 0 {
			size = 1
		}
		for i := 0; i*size < len(want); i++ {
			g, w := o.Data[i*size:(i+1)*size], want[i*size:(i+1)*size]
			if !bytes.Equal(g, w) {
				report(i, diffScalar(o.Type, g), diffScalar(o.Type, w))
			}
		}
		st.elems += o.NumElements()
	}
	if bad > maxReport {
		t.Errorf("%s output %d: %d of %d elements differ (first %d shown)", gen, k, bad, o.NumElements(), maxReport)
	}
}

func diffScalar(dt tensor.DType, b []byte) any {
	switch dt {
	case tensor.Int32:
		return int32(binary.LittleEndian.Uint32(b))
	case tensor.Int64:
		return int64(binary.LittleEndian.Uint64(b))
	case tensor.Bool:
		return b[0] != 0
	}
	return b
}

// diffCoords turns a flat index into coordinates of shape.
func diffCoords(shape []int, i int) []int {
	c := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			c[d] = i % shape[d]
			i /= shape[d]
		}
	}
	return c
}

// ---- helpers for generators ------------------------------------------------

// diffPick returns one of vals at random.
func diffPick[T any](r *rand.Rand, vals ...T) T { return vals[r.IntN(len(vals))] }

// diffInt returns a random int in [lo, hi].
func diffInt(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// diffLogUniform returns a float in [lo, hi] uniform in log space (for
// scales).
func diffLogUniform(r *rand.Rand, lo, hi float64) float64 {
	return math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo)))
}

// diffShape returns a random shape of the given rank with dimensions in
// [lo, hi].
func diffShape(r *rand.Rand, rank, lo, hi int) []int {
	s := make([]int, rank)
	for i := range s {
		s[i] = diffInt(r, lo, hi)
	}
	return s
}

// diffActivation returns a fused activation that every TFLite kernel with
// a fused activation accepts.
func diffActivation(r *rand.Rand) schema.ActivationFunctionType {
	return diffPick(r, schema.ActivationFunctionTypeNONE, schema.ActivationFunctionTypeRELU,
		schema.ActivationFunctionTypeRELU_N1_TO_1, schema.ActivationFunctionTypeRELU6)
}

// diffQuant returns per-tensor quantization for dt with a scale in
// [scaleLo, scaleHi] (log-uniform) and a zero point anywhere in the type's
// range but away from its ends (int16: zero, as TFLite requires).
func diffQuant(r *rand.Rand, dt tensor.DType, scaleLo, scaleHi float64) *tensor.Quant {
	var zp int
	switch dt {
	case tensor.Int8:
		zp = diffInt(r, -100, 100)
	case tensor.UInt8:
		zp = diffInt(r, 28, 228)
	}
	return &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, scaleLo, scaleHi))}, ZeroPoint: []int32{int32(zp)}}
}

// diffPerChannelQuant returns symmetric per-channel quantization (zero
// points 0, as TFLite requires for int8 weights) with n scales on axis.
func diffPerChannelQuant(r *rand.Rand, n, axis int, scaleLo, scaleHi float64) *tensor.Quant {
	q := &tensor.Quant{Scale: make([]float32, n), ZeroPoint: make([]int32, n), Axis: axis}
	for i := range q.Scale {
		q.Scale[i] = float32(diffLogUniform(r, scaleLo, scaleHi))
	}
	return q
}

// diffTensorBytes returns n random elements of dt: float32 in [-1, 1),
// integer types over their whole range (int32/int64 in [-1000, 1000]),
// bools 0/1.
func diffTensorBytes(r *rand.Rand, dt tensor.DType, n int) []byte {
	b := make([]byte, n*max(dt.Size(), 1))
	switch dt {
	case tensor.Float32:
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.Float64()*2-1)))
		}
	case tensor.Int8, tensor.UInt8:
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	case tensor.Int16:
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(r.Uint32()))
		}
	case tensor.Int32:
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(int32(diffInt(r, -1000, 1000))))
		}
	case tensor.Int64:
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(int64(diffInt(r, -1000, 1000))))
		}
	case tensor.Bool:
		for i := range b {
			b[i] = byte(r.IntN(2))
		}
	default:
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
	return b
}

// diffFloatBytes returns n random float32 values in [lo, hi).
func diffFloatBytes(r *rand.Rand, n int, lo, hi float64) []byte {
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(lo+r.Float64()*(hi-lo))))
	}
	return b
}

// diffInt8Weights returns n symmetric int8 weights in [-127, 127].
func diffInt8Weights(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(int8(diffInt(r, -127, 127)))
	}
	return b
}

// diffInt32Bytes returns n random int32 values in [lo, hi].
func diffInt32Bytes(r *rand.Rand, n, lo, hi int) []byte {
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(int32(diffInt(r, lo, hi))))
	}
	return b
}

// TestOracleBatchRestart checks that a case which kills the oracle process
// is reported and the remaining cases still run, with a fake batch script
// that follows oracle-batch.mjs's protocol.
func TestOracleBatchRestart(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node is not installed")
	}
	work := t.TempDir()
	script := filepath.Join(work, "fake-batch.mjs")
	const fake = `import fs from 'node:fs';
const jobs = JSON.parse(fs.readFileSync(process.argv[process.argv.length - 1], 'utf8'));
for (const j of jobs) {
  fs.mkdirSync(j.out_dir, {recursive: true});
  fs.writeFileSync(j.out_dir + '/started', '');
  const m = fs.readFileSync(j.model, 'utf8');
  if (m === 'CRASH') { process.stderr.write('boom'); process.exit(3); }
  if (m === 'ERR') { fs.writeFileSync(j.out_dir + '/error.txt', 'rejected\\n'); continue; }
  fs.writeFileSync(j.out_dir + '/output_0.bin', m);
  fs.writeFileSync(j.out_dir + '/ok', '');
}
`
	if err := os.WriteFile(script, []byte(fake), 0o644); err != nil {
		t.Fatal(err)
	}
	models := []string{"a", "CRASH", "CRASH", "ERR", "b"}
	want := []string{"", "crashed", "crashed", "rejected", ""}
	var cases []*diffCase
	for i, m := range models {
		c := &diffCase{gen: "FAKE", index: i, dir: filepath.Join(work, strconv.Itoa(i))}
		if err := writeDiffCase(c, []byte(m), nil); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	if err := runOracleBatch(t, node, script, work, work, cases); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		got := ""
		if c.oracleErr != nil {
			got = c.oracleErr.Error()
		}
		if want[i] == "" && got != "" || !strings.Contains(got, want[i]) {
			t.Errorf("case %d (%s): oracle error %q; want one containing %q", i, models[i], got, want[i])
		}
	}
	if _, _, out, err := readDiffCase(cases[4]); err != nil || len(out) != 1 || string(out[0]) != "b" {
		t.Errorf("case 4 outputs = %q, %v; want [b]", out, err)
	}
}
