package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-dev/edged/internal/golden"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func edgectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), err
}

// TestInferGolden runs `edgectl infer` on the first case of every golden
// model and compares the files it writes with the oracle's outputs: in the
// default arithmetic quantized outputs bit-exact, floats within tolerance;
// with --arithmetic reference, bit-exact with TFLite Micro's where
// testdata/golden_ref_tflm has the case. Models with an operator the
// runtime lacks are skipped.
func TestInferGolden(t *testing.T) {
	suites, err := golden.Suites()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range suites {
		t.Run(s.Name(), func(t *testing.T) {
			c := &s.Cases[0]
			run := func(arith string) [][]byte {
				args := []string{"infer", "--model", s.ModelFile(), "--out", t.TempDir()}
				if arith != "" {
					args = append(args, "--arithmetic", arith)
				}
				for _, in := range c.Inputs {
					args = append(args, "--input", filepath.Join(s.Dir, c.Dir, in))
				}
				if msg, err := edgectl(t, args...); err != nil {
					if strings.Contains(err.Error(), "unsupported") {
						t.Skipf("not runnable yet: %v", err)
					}
					t.Fatalf("edgectl %v: %v\n%s", args, err, msg)
				}
				var outs [][]byte
				for k := range s.Outputs {
					b, err := os.ReadFile(filepath.Join(args[4], c.Outputs[k]))
					if err != nil {
						t.Fatal(err)
					}
					outs = append(outs, b)
				}
				return outs
			}
			compare := func(what string, got, want [][]byte, exact bool) {
				for k, o := range s.Outputs {
					dt, err := tensor.ParseDType(o.DType)
					if err != nil {
						t.Fatal(err)
					}
					d, err := golden.Compare(dt, got[k], want[k])
					if err != nil {
						t.Fatalf("output %d: %v", k, err)
					}
					switch {
					case dt == tensor.Float32 && d.OverTol > 0:
						t.Errorf("output %d: %d floats outside tolerance of %s; worst [%d] = %g, want %g", k, d.OverTol, what, d.WorstAt, d.Got, d.Want)
					case dt != tensor.Float32 && exact && d.Differ > 0:
						t.Errorf("output %d: %d values differ from %s; [%d] = %g, want %g", k, d.Differ, what, d.WorstAt, d.Got, d.Want)
					}
				}
			}
			oracle, err := s.ReadOutputs(c)
			if err != nil {
				t.Fatal(err)
			}
			compare("the oracle", run(""), oracle, true)
			ref, haveRef, err := s.ReadRefOutputs(c)
			if err != nil {
				t.Fatal(err)
			}
			if haveRef {
				compare("TFLite Micro", run("reference"), ref, true)
			}
		})
	}
}

func TestInferErrors(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join("..", "..", "..", "testdata", "models", "hello_world_int8.tflite")
	short := filepath.Join(dir, "short.bin")
	good := filepath.Join(dir, "good.bin")
	garbage := filepath.Join(dir, "garbage.tflite")
	os.WriteFile(short, nil, 0o644)
	os.WriteFile(good, []byte{0x80}, 0o644)
	os.WriteFile(garbage, []byte("this is not a flatbuffer at all"), 0o644)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no model", []string{"infer", "--input", good, "--out", dir}, "--model is required"},
		{"missing model", []string{"infer", "--model", filepath.Join(dir, "nope.tflite"), "--input", good, "--out", dir}, "no such file"},
		{"not a model", []string{"infer", "--model", garbage, "--input", good, "--out", dir}, "malformed model"},
		{"edge tpu", []string{"infer", "--model", filepath.Join("..", "..", "..", "testdata", "models", "fizzbuzz_model_quant_edgetpu.tflite"), "--input", good, "--out", dir}, "needs an Edge TPU"},
		{"too few inputs", []string{"infer", "--model", model, "--out", dir}, "has 1 inputs; got 0"},
		{"too many inputs", []string{"infer", "--model", model, "--input", good, "--input", good, "--out", dir}, "has 1 inputs; got 2"},
		{"wrong size", []string{"infer", "--model", model, "--input", short, "--out", dir}, "has 0 bytes"},
		{"no out", []string{"infer", "--model", model, "--input", good}, "--out is required"},
		{"bad threads", []string{"infer", "--model", model, "--input", good, "--out", dir, "--threads", "0"}, "--threads 0"},
		{"bad arithmetic", []string{"infer", "--model", model, "--input", good, "--out", dir, "--arithmetic", "fast"}, "--arithmetic"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := edgectl(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("edgectl %v: error %v; want one containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
}

// TestInspectJSON checks `edgectl inspect --json` against facts about
// hello_world_int8 (PROVENANCE.md: int8[1,1] in and out, three
// FULLY_CONNECTED layers 1→16→16→1, so 16+256+16 = 288 MACs and
// 288 weights + 33 biases = 321 parameters).
func TestInspectJSON(t *testing.T) {
	out, err := edgectl(t, "inspect", "--json", filepath.Join("..", "..", "..", "testdata", "models", "hello_world_int8.tflite"))
	if err != nil {
		t.Fatal(err, out)
	}
	var r inspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err, out)
	}
	if !r.Runnable || r.MACs != 288 || r.Params != 321 || r.Ops["FULLY_CONNECTED"] != 3 || len(r.Ops) != 1 {
		t.Errorf("inspect = runnable %v, MACs %d, params %d, ops %v; want true, 288, 321, FULLY_CONNECTED×3", r.Runnable, r.MACs, r.Params, r.Ops)
	}
	if r.SHA256 != "505ee4fae7fa46ab67bea4c08b4969eb3eb8b9114c50595ec4a29d9a27993202" {
		t.Errorf("sha256 = %s", r.SHA256)
	}
	in := r.Inputs[0]
	if in.DType != "int8" || len(in.Shape) != 2 || in.Shape[0] != 1 || in.Shape[1] != 1 || in.ZeroPoint[0] != -128 || in.Scale[0] < 0.02447 || in.Scale[0] > 0.02449 {
		t.Errorf("input = %+v; want int8[1 1] q(0.02448, -128)", in)
	}
	out, err = edgectl(t, "inspect", "--json", filepath.Join("..", "..", "..", "testdata", "models", "fizzbuzz_model_quant_edgetpu.tflite"))
	if err != nil {
		t.Fatal(err, out)
	}
	r = inspectReport{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Runnable || !strings.Contains(r.Reason, "edgetpu-custom-op") {
		t.Errorf("edge tpu model: runnable %v, reason %q; want false and a reason naming edgetpu-custom-op", r.Runnable, r.Reason)
	}
	for _, a := range []string{"litert", "reference"} {
		if ia := r.Arithmetics[a]; ia.Runnable || len(ia.Problems) != 1 || ia.Problems[0].Op != `CUSTOM "edgetpu-custom-op"` || !ia.Problems[0].Unsupported {
			t.Errorf("edge tpu model, %s arithmetic: %+v; want not runnable, one unsupported CUSTOM \"edgetpu-custom-op\"", a, ia)
		}
	}
}

// TestInspectListsEveryProblem: a model with two unregistered custom
// operators gets both reported, per arithmetic, in text and JSON.
func TestInspectListsEveryProblem(t *testing.T) {
	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Float32, []int{1, 4}, nil, nil)
	a := b.Tensor("a", tensor.Float32, []int{1, 4}, nil, nil)
	c := b.Tensor("c", tensor.Float32, []int{1, 4}, nil, nil)
	b.Custom("PosenetDecoderOp", 1, []int{x}, []int{a}, nil)
	b.Custom("NoSuchOp", 1, []int{a}, []int{c}, nil)
	b.Inputs(x)
	b.Outputs(c)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "m.tflite")
	if err := os.WriteFile(model, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := edgectl(t, "inspect", model)
	if err != nil {
		t.Fatal(err, out)
	}
	for _, want := range []string{
		"litert arithmetic: no, 2 problem(s)",
		`op 0      unsupported op CUSTOM "PosenetDecoderOp"`,
		`op 1      unsupported op CUSTOM "NoSuchOp"`,
		"reference arithmetic: no, for the same reasons",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	out, err = edgectl(t, "inspect", "--json", model)
	if err != nil {
		t.Fatal(err, out)
	}
	var r inspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err, out)
	}
	for _, a := range []string{"litert", "reference"} {
		if ia := r.Arithmetics[a]; ia.Runnable || len(ia.Problems) != 2 {
			t.Errorf("%s arithmetic: %+v; want not runnable with 2 problems", a, ia)
		}
	}
}

func TestBenchJSON(t *testing.T) {
	out, err := edgectl(t, "bench", "--model", filepath.Join("..", "..", "..", "testdata", "models", "hello_world_float.tflite"), "--runs", "7", "--warmup", "1", "--json")
	if err != nil {
		t.Fatal(err, out)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err, out)
	}
	if r.Runs != 7 || r.Threads != 1 || !(r.MinMS > 0) || r.MinMS > r.MedianMS || r.MedianMS > r.P90MS {
		t.Errorf("bench = %+v; want 7 runs, 1 thread, 0 < min <= median <= p90", r)
	}
}

// bench --profile times each of hello_world_float's three
// FULLY_CONNECTED operators (its whole graph).
func TestBenchProfile(t *testing.T) {
	model := filepath.Join("..", "..", "..", "testdata", "models", "hello_world_float.tflite")
	out, err := edgectl(t, "bench", "--model", model, "--runs", "5", "--warmup", "1", "--json", "--profile")
	if err != nil {
		t.Fatal(err, out)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err, out)
	}
	if r.Profile == nil || len(r.Profile.Ops) != 3 || len(r.Profile.Types) != 1 || r.Profile.Types[0].Op != "FULLY_CONNECTED" || r.Profile.Types[0].Count != 3 {
		t.Fatalf("profile = %+v; want 3 operators, one type FULLY_CONNECTED×3", r.Profile)
	}
	for i, o := range r.Profile.Ops {
		if o.Index != i || o.Op != "FULLY_CONNECTED" || o.Type != "float32" || o.Kernel == "" {
			t.Errorf("operator %d = %+v; want FULLY_CONNECTED float32 with its kernel named", i, o)
		}
	}
	if got := r.Profile.Ops[2].Shape; len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Errorf("last operator's output shape = %v; want [1 1]", got)
	}
	out, err = edgectl(t, "bench", "--model", model, "--runs", "3", "--profile")
	if err != nil {
		t.Fatal(err, out)
	}
	for _, want := range []string{"index", "FULLY_CONNECTED", "[1,16]", "by operator type", "cumulative"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench --profile output lacks %q:\n%s", want, out)
		}
	}
}

func TestSummarize(t *testing.T) {
	// Worked by hand: sorted 1..10, median (5+6)/2, p90 nearest rank 9.
	r := summarize([]float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1})
	if r.MedianMS != 5.5 || r.MinMS != 1 || r.P90MS != 9 || r.MeanMS != 5.5 {
		t.Errorf("summarize = %+v; want median 5.5, min 1, p90 9, mean 5.5", r)
	}
}

func TestParseNPY(t *testing.T) {
	// A v1 .npy of int8 [2,3] as numpy writes it.
	hdr := "{'descr': '|i1', 'fortran_order': False, 'shape': (2, 3), }"
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), byte(len(hdr)>>8))
	b = append(b, hdr...)
	b = append(b, 1, 2, 3, 4, 5, 6)
	dt, shape, data, err := parseNPY(b)
	if err != nil {
		t.Fatal(err)
	}
	if dt != tensor.Int8 || len(shape) != 2 || shape[0] != 2 || shape[1] != 3 || !bytes.Equal(data, []byte{1, 2, 3, 4, 5, 6}) {
		t.Errorf("parseNPY = %v %v %v", dt, shape, data)
	}
	for _, bad := range [][]byte{nil, []byte("\x93NUMPY\x01\x00\xff\xff"), []byte("PK\x03\x04")} {
		if _, _, _, err := parseNPY(bad); err == nil {
			t.Errorf("parseNPY(%q) succeeded", bad)
		}
	}
}

// bench --backend times each backend on the same inputs; the default
// build has no vendor library and says so.
func TestBenchBackends(t *testing.T) {
	model := filepath.Join("..", "..", "..", "testdata", "models", "hello_world_float.tflite")
	out, err := edgectl(t, "bench", "--model", model, "--runs", "4", "--warmup", "1", "--json", "--backend", "cpu,cpu")
	if err != nil {
		t.Fatal(err, out)
	}
	var rs []benchResult
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatal(err, out)
	}
	if len(rs) != 2 {
		t.Fatalf("bench --backend cpu,cpu = %s; want two results", out)
	}
	for _, r := range rs {
		if r.Backend != "cpu" || r.Runs != 4 || !(r.MinMS > 0) || r.MinMS > r.MedianMS {
			t.Errorf("result %+v; want cpu, 4 runs, 0 < min <= median", r)
		}
	}
	out, err = edgectl(t, "bench", "--model", model, "--runs", "2", "--backend", "cpu,cpu")
	if err != nil || !strings.Contains(out, "on cpu: median") || !strings.Contains(out, "cpu/cpu median ratio") {
		t.Errorf("bench --backend cpu,cpu = %v\n%s; want a line per backend and the ratio", err, out)
	}
	for _, tt := range []struct{ backend, want string }{
		{"xnnpack", "edged_dynamic"},
		{"npu", `--backend "npu": want cpu, xnnpack, gpu or edgetpu`},
		{",", "names no backend"},
	} {
		if out, err := edgectl(t, "bench", "--model", model, "--backend", tt.backend); err == nil || !strings.Contains(err.Error()+out, tt.want) {
			t.Errorf("bench --backend %s = %v, %s; want an error saying %q", tt.backend, err, out, tt.want)
		}
	}
}
