package cli

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edged-dev/edged/internal/golden"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// irisCalibration writes iris.csv's 150 feature rows as raw float32 files.
func irisCalibration(t *testing.T) (dir, root string) {
	t.Helper()
	root, err := golden.Root()
	if err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile(filepath.Join(root, "models", "testdata", "iris.csv"))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(csv)), "\n")[1:] {
		p := strings.Split(line, ",")
		b := make([]byte, 16)
		for k := range 4 {
			x, err := strconv.ParseFloat(p[k], 32)
			if err != nil {
				t.Fatal(err)
			}
			binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(float32(x)))
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("row_%03d.bin", n)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return dir, root
}

func argmaxFloat(b []byte) int {
	best, bv := 0, float32(math.Inf(-1))
	for i := 0; i < len(b)/4; i++ {
		if v := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])); v > bv {
			best, bv = i, v
		}
	}
	return best
}

func TestQuantizeCommand(t *testing.T) {
	calib, root := irisCalibration(t)
	model := filepath.Join(root, "models", "iris.tflite")
	tests := []struct {
		name      string
		calib     string
		extra     []string
		wantType  tensor.DType
		wantLines []string
	}{
		{"files, float io", calib, nil, tensor.Float32, []string{"120 calibration samples", "30 held back", "top-1 agreement", "file size", "latency"}},
		{"golden case dirs, int8 io", filepath.Join(root, "golden", "iris"), []string{"--io", "int8", "--holdout", "0.25", "--per-channel"}, tensor.Int8, []string{"3 calibration samples", "1 held back"}},
		{"percentile, no holdout", calib, []string{"--percentile", "99.9", "--holdout", "0"}, tensor.Float32, []string{"150 calibration samples", "calibration samples themselves"}},
		{"dynamic range", calib, []string{"--dynamic", "--min-elements", "0"}, tensor.Float32, []string{"2 weight tensors int8 (448 → 112 bytes)", "top-1 agreement", "dynamic-range model against the float model on 150 samples"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "iris_int8.tflite")
			args := append([]string{"quantize", "--model", model, "--calibration", tt.calib, "--out", out}, tt.extra...)
			msg, err := edgectl(t, args...)
			if err != nil {
				t.Fatalf("edgectl %v: %v\n%s", args, err, msg)
			}
			for _, l := range tt.wantLines {
				if !strings.Contains(msg, l) {
					t.Errorf("edgectl quantize output lacks %q:\n%s", l, msg)
				}
			}
			m, err := tflite.LoadFile(out)
			if err != nil {
				t.Fatalf("LoadFile(%s): %v", out, err)
			}
			if got := m.Subgraphs[0].Tensors[m.Subgraphs[0].Inputs[0]].Type; got != tt.wantType {
				t.Errorf("input type = %s; want %s", got, tt.wantType)
			}
			if tt.wantType != tensor.Float32 {
				return
			}
			// `edgectl infer` on the written model: golden row_1 (setosa)
			// gets the float model's class.
			in := filepath.Join(root, "golden", "iris", "row_1", "input_0.bin")
			for _, mp := range []string{model, out} {
				dir := t.TempDir()
				if msg, err := edgectl(t, "infer", "--model", mp, "--input", in, "--out", dir); err != nil {
					t.Fatalf("edgectl infer %s: %v\n%s", mp, err, msg)
				}
				b, err := os.ReadFile(filepath.Join(dir, "output_0.bin"))
				if err != nil {
					t.Fatal(err)
				}
				if got := argmaxFloat(b); got != 0 {
					t.Errorf("edgectl infer %s on row_1: class %d; want 0 (Iris-setosa)", filepath.Base(mp), got)
				}
			}
		})
	}
}

func TestQuantizeCommandErrors(t *testing.T) {
	calib, root := irisCalibration(t)
	model := filepath.Join(root, "models", "iris.tflite")
	out := filepath.Join(t.TempDir(), "x.tflite")
	empty := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"empty calibration dir", []string{"--model", model, "--calibration", empty, "--out", out}, "holds no samples"},
		{"int8 model", []string{"--model", filepath.Join(root, "models", "hello_world_int8.tflite"), "--calibration", calib, "--out", out}, "not a float model"},
		{"dynamic without out", []string{"--dynamic", "--model", model}, "--out"},
		{"missing out", []string{"--model", model, "--calibration", calib}, "--out"},
		{"bad io", []string{"--model", model, "--calibration", calib, "--out", out, "--io", "int4"}, `"int4"`},
		{"bad holdout", []string{"--model", model, "--calibration", calib, "--out", out, "--holdout", "1"}, "--holdout"},
		{"bad percentile", []string{"--model", model, "--calibration", calib, "--out", out, "--percentile", "20"}, "percentile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := edgectl(t, append([]string{"quantize"}, tt.args...)...)
			if err == nil {
				t.Fatalf("edgectl quantize %v succeeded; want an error\n%s", tt.args, msg)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("edgectl quantize %v = %q; want it to mention %s", tt.args, err, tt.wantErr)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed quantize wrote %s", out)
	}
}
