package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/compress"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// sparseModel rewrites two shared models' weights with known zeros: iris's
// first float weights (16×4) get a 0 in every fourth place (16 zeros), its
// second (3×16) none; mobilenet_v1's first uint8 conv weights get their
// zero point in every third place and 0 (not a zero here) elsewhere.
func sparseModel(t *testing.T) (iris, mobilenet []byte) {
	t.Helper()
	rewrite := func(name string, set func(i int, zp int64) byte, elemSize int, only string) []byte {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "models", name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := compress.Read(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range m.Subgraphs[0].Tensors {
			if tt.Name != only {
				continue
			}
			var zp int64
			if tt.Quantization != nil && len(tt.Quantization.ZeroPoint) == 1 {
				zp = tt.Quantization.ZeroPoint[0]
			}
			n := 1
			for _, d := range tt.Shape {
				n *= int(d)
			}
			b := make([]byte, n*elemSize)
			for i := range b {
				b[i] = set(i, zp)
			}
			m.Buffers[tt.Buffer].Data = b
		}
		out, err := compress.Write(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// float32 1.0 is 00 00 80 3f; 0 is four zero bytes.
	one := []byte{0, 0, 0x80, 0x3f}
	iris = rewrite("iris.tflite", func(i int, _ int64) byte {
		if (i/4)%4 == 0 {
			return 0
		}
		return one[i%4]
	}, 4, "sequential/dense/MatMul")
	mobilenet = rewrite("mobilenet_v1_0.25_128_quant.tflite", func(i int, zp int64) byte {
		if zp == 0 {
			t.Fatal("want a non-zero zero point for this test")
		}
		if i%3 == 0 {
			return byte(zp)
		}
		return 0
	}, 1, mobilenetFirstConv)
	return iris, mobilenet
}

const mobilenetFirstConv = "MobilenetV1/MobilenetV1/Conv2d_0/Conv2D_Fold;MobilenetV1/MobilenetV1/Conv2d_0/weights_quant/FakeQuantWithMinMaxVars"

func TestInspectSparsity(t *testing.T) {
	iris, mobilenet := sparseModel(t)
	tests := []struct {
		name  string
		data  []byte
		want  map[string][2]int // zeros, elements
		total string
	}{
		{"iris", iris, map[string][2]int{"sequential/dense/MatMul": {16, 64}, "sequential/dense_1/MatMul": {0, 48}},
			"sparsity   16 of 112 weights zero (14.3%) in 2 tensors"},
		// 8×3×3×3 = 216 weights, every third one the zero point: 72.
		{"mobilenet", mobilenet, map[string][2]int{mobilenetFirstConv: {72, 216}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := inspect(tt.name, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, w := range r.Weights {
				want, ok := tt.want[w.Name]
				if !ok {
					continue
				}
				seen++
				if got := [2]int{w.Zeros, w.Elements}; got != want {
					t.Errorf("inspect sparsity of %s = %d of %d; want %d of %d", w.Name, got[0], got[1], want[0], want[1])
				}
			}
			if seen != len(tt.want) {
				t.Errorf("inspect reported %d of the %d tensors checked: %+v", seen, len(tt.want), r.Weights)
			}
			if tt.total == "" {
				return
			}
			path := filepath.Join(t.TempDir(), "m.tflite")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := edgectl(t, "inspect", path)
			if err != nil {
				t.Fatal(err, out)
			}
			if !strings.Contains(out, tt.total) || !strings.Contains(out, " 25.0%  sequential/dense/MatMul") {
				t.Errorf("inspect output lacks the sparsity lines:\n%s", out)
			}
		})
	}
}

func TestPruneCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join("..", "..", "..", "testdata", "models", "iris.tflite")
	// Two samples, one file each (single-input model).
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "a.bin"), tflitetest.Float32Bytes([]float32{5.1, 3.5, 1.4, 0.2}), 0o644)
	os.WriteFile(filepath.Join(data, "b.bin"), tflitetest.Float32Bytes([]float32{6.3, 3.3, 6.0, 2.5}), 0o644)
	os.WriteFile(filepath.Join(data, "cases.json"), []byte("{}"), 0o644)
	outPath := filepath.Join(dir, "p.tflite")
	out, err := edgectl(t, "prune", "--model", in, "--sparsity", "0.75", "--out", outPath, "--data", data, "--runs", "3")
	if err != nil {
		t.Fatal(err, out)
	}
	// iris has no zero weight; floor(0.75·64) = 48 and floor(0.75·48) = 36.
	for _, want := range []string{"zeros 0 (0.0%) → 84 (75.0%)", "gzip -9 size", "top-1 agreement", "/2", "accuracy on 2 samples"} {
		if !strings.Contains(out, want) {
			t.Errorf("prune output lacks %q:\n%s", want, out)
		}
	}
	out, err = edgectl(t, "inspect", "--json", outPath)
	if err != nil {
		t.Fatal(err, out)
	}
	var r inspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Weights) != 2 || r.Weights[0].Zeros != 48 || r.Weights[1].Zeros != 36 || !r.Runnable {
		t.Errorf("inspect after prune = %+v; want 48 and 36 zeros, runnable", r.Weights)
	}

	// A sample of the wrong size (iris takes 4 float32, 16 bytes) is
	// named before anything is written.
	bad := filepath.Join(data, "c.bin")
	os.WriteFile(bad, []byte{1, 2, 3}, 0o644)
	badOut := filepath.Join(dir, "bad.tflite")
	out, err = edgectl(t, "prune", "--model", in, "--sparsity", "0.5", "--out", badOut, "--data", data, "--runs", "1")
	if err == nil || !strings.Contains(err.Error(), bad+": 3 bytes") || !strings.Contains(err.Error(), "needs 16") || !strings.Contains(err.Error(), "nothing written") {
		t.Errorf("prune with a 3-byte sample: %v; want an error naming %s, 3 bytes, needs 16, nothing written\n%s", err, bad, out)
	}
	if _, err := os.Stat(badOut); err == nil {
		t.Errorf("prune wrote %s although a sample was refused", badOut)
	}

	for _, args := range [][]string{
		{"prune", "--model", in, "--out", outPath},                    // no sparsity
		{"prune", "--model", in, "--sparsity", "2", "--out", outPath}, // out of range
		{"prune", "--model", in, "--sparsity", "0.5"},                 // no --out
		{"prune", "--model", in, "--sparsity", "0.5", "--out", outPath, "--data", filepath.Join(dir, "nope")},
	} {
		if out, err := edgectl(t, args...); err == nil {
			t.Errorf("edgectl %q succeeded; want an error\n%s", args, out)
		}
	}
}

func TestFactorizeCommand(t *testing.T) {
	dir := t.TempDir()
	iris := filepath.Join("..", "..", "..", "testdata", "models", "iris.tflite")
	outPath := filepath.Join(dir, "f.tflite")
	// Golden case directories (input_0.bin each) serve as --data.
	out, err := edgectl(t, "factorize", "--model", iris, "--all-fc", "--rank", "2", "--out", outPath,
		"--data", filepath.Join("..", "..", "..", "testdata", "golden", "iris"), "--runs", "3")
	if err != nil {
		t.Fatal(err, out)
	}
	// 16×4 at rank 2: 2·20 = 40 weights (64 before); 3×16: 2·19 = 38 (48).
	for _, want := range []string{"weights 64 → 40", "weights 48 → 38", "34 weights saved", "accuracy on 4 samples", "parameters"} {
		if !strings.Contains(out, want) {
			t.Errorf("factorize output lacks %q:\n%s", want, out)
		}
	}
	m, err := tflite.LoadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	// 131 parameters - 34.
	if p := m.Params(); p != 97 {
		t.Errorf("Params(factorized iris) = %d; want 97", p)
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"rank saves nothing", []string{"--all-fc", "--rank", "4"}, "no layer was factorized"},
		{"layer and all", []string{"--all-fc", "--layer", "x", "--rank", "1"}, "either --layer"},
		{"rank and energy", []string{"--all-fc", "--rank", "1", "--energy", "0.9"}, "either --rank"},
		{"unknown layer", []string{"--layer", "nope", "--rank", "1"}, "the layers are"},
	} {
		args := append([]string{"factorize", "--model", iris, "--out", filepath.Join(dir, c.name+".tflite")}, c.args...)
		out, err := edgectl(t, args...)
		if err == nil || !strings.Contains(err.Error()+out, c.want) {
			t.Errorf("factorize %s: error %v; want one containing %q\n%s", c.name, err, c.want, out)
		}
	}
	int8 := filepath.Join("..", "..", "..", "testdata", "models", "hello_world_int8.tflite")
	out, err = edgectl(t, "factorize", "--model", int8, "--all-fc", "--rank", "1", "--out", filepath.Join(dir, "q.tflite"))
	if err == nil || !strings.Contains(out, "only float32 layers are factorized") {
		t.Errorf("factorize int8 model: error %v; want a refusal naming float32\n%s", err, out)
	}
}
