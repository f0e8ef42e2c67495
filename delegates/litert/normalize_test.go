package litert

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edged-dev/edged/internal/golden"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// TestNormalizePersonDetect: person_detect.tflite has 14 rank-1 bias
// tensors with quantized_dimension 3 (the oracle's patch list in its
// golden cases.json names the same 14); each becomes 0, nothing else
// changes, and the file still loads in edged's runtime.
func TestNormalizePersonDetect(t *testing.T) {
	root, err := golden.Root()
	if err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(filepath.Join(root, "models", "person_detect.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	orig := bytes.Clone(model)
	out, fixes, err := Normalize(model)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(model, orig) {
		t.Error("Normalize modified its argument")
	}
	var got []int
	for _, f := range fixes {
		if f.Subgraph != 0 || f.From != 3 || f.To != 0 {
			t.Errorf("fix %v; want subgraph 0, 3 -> 0", f)
		}
		got = append(got, f.Tensor)
	}
	want := []int{33, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84}
	if !slices.Equal(got, want) {
		t.Errorf("fixed tensors %v; want %v", got, want)
	}
	differ := 0
	for i := range out {
		if out[i] != model[i] {
			differ++
		}
	}
	// 3 -> 0 changes the low byte of each little-endian int32.
	if len(out) != len(model) || differ != len(want) {
		t.Errorf("%d bytes differ (length %d -> %d); want %d", differ, len(model), len(out), len(want))
	}
	if _, again, err := Normalize(out); err != nil || len(again) != 0 {
		t.Errorf("Normalize of the result = %v, %v; want nothing left to fix", again, err)
	}
	if _, err := tflite.Load(out); err != nil {
		t.Errorf("edged cannot load the normalized model: %v", err)
	}
}

func TestNormalizeBuilt(t *testing.T) {
	build := func(q *tensor.Quant, shape []int) []byte {
		b := tflitetest.NewBuilder()
		x := b.Tensor("x", tensor.Int8, shape, q, nil)
		y := b.Tensor("y", tensor.Int8, shape, q, nil)
		b.Op(builtinADD, 1, []int{x, x}, []int{y}, tflitetest.AddOptions(actNone))
		b.Inputs(x)
		b.Outputs(y)
		m, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name  string
		q     *tensor.Quant
		shape []int
		fixes int
	}{
		{name: "per-tensor, dimension 5 of rank 2", q: &tensor.Quant{Scale: []float32{0.5}, ZeroPoint: []int32{0}, Axis: 5}, shape: []int{2, 3}, fixes: 2},
		{name: "per-tensor, dimension 1 of rank 2", q: &tensor.Quant{Scale: []float32{0.5}, ZeroPoint: []int32{0}, Axis: 1}, shape: []int{2, 3}},
		{name: "per-channel on dimension 1", q: &tensor.Quant{Scale: []float32{0.5, 0.25, 1}, ZeroPoint: []int32{0, 0, 0}, Axis: 1}, shape: []int{2, 3}},
		{name: "not quantized", shape: []int{2, 3}},
	}
	for _, tt := range tests {
		m := build(tt.q, tt.shape)
		out, fixes, err := Normalize(m)
		if err != nil || len(fixes) != tt.fixes {
			t.Errorf("%s: Normalize = %v, %v; want %d fixes", tt.name, fixes, err, tt.fixes)
			continue
		}
		if tt.fixes == 0 && &out[0] != &m[0] {
			t.Errorf("%s: nothing to fix, but Normalize copied the model", tt.name)
		}
		for _, f := range fixes {
			if f.From != 5 || f.To != 0 {
				t.Errorf("%s: fix %v; want 5 -> 0", tt.name, f)
			}
		}
	}
}

func TestNormalizeMalformed(t *testing.T) {
	for _, m := range [][]byte{nil, []byte("TFL3"), {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0}} {
		out, fixes, err := Normalize(m)
		if err == nil || fixes != nil || !bytes.Equal(out, m) {
			t.Errorf("Normalize(%q) = %q, %v, %v; want the bytes back and an error", m, out, fixes, err)
		}
	}
}

// FuzzNormalize: any bytes, no panic; what was fixed needs no second fix
// and keeps its length.
func FuzzNormalize(f *testing.F) {
	root, err := golden.Root()
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"person_detect.tflite", "hello_world_int8.tflite"} {
		if b, err := os.ReadFile(filepath.Join(root, "models", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, fixes, err := Normalize(b)
		if err != nil || len(fixes) == 0 {
			return
		}
		if len(out) != len(b) {
			t.Fatalf("length %d -> %d", len(b), len(out))
		}
		if _, again, err := Normalize(out); err != nil || len(again) != 0 {
			t.Fatalf("second pass: %v, %v", again, err)
		}
	})
}
