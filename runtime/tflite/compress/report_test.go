package compress

import (
	"bytes"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func TestMeasure(t *testing.T) {
	model := fzModel(t)
	in := [][][]byte{{tflitetest.Float32Bytes([]float32{1, 0, 0, 0, 0, 0, 0, 0})}, {make([]byte, 32)}}
	s, err := Measure(model, in, 3)
	if err != nil {
		t.Fatal(err)
	}
	// 6×8 weights + 6 biases; 48 MACs for one row.
	if s.FileBytes != len(model) || s.Params != 54 || s.MACs != 48 || s.Samples != 2 || s.Runs != 3 || s.GzipBytes <= 0 {
		t.Errorf("Measure = %+v; want %d bytes, 54 params, 48 MACs, 2 samples, 3 runs", s, len(model))
	}
	// x = 0 gives the bias.
	for i, b := range fzBias {
		if got := s.outputs[1][0][i]; got != float64(b) {
			t.Errorf("Measure output of x=0 [%d] = %g; want the bias %g", i, got, b)
		}
	}
	if _, err := Measure(model, [][][]byte{{make([]byte, 5)}}, 1); err == nil {
		t.Errorf("Measure(5-byte input) succeeded; want an error naming the size")
	}
	if _, err := Measure([]byte("not a model"), nil, 1); err == nil {
		t.Errorf("Measure(garbage) succeeded; want an error")
	}
}

func TestCompare(t *testing.T) {
	before := &Stats{FileBytes: 1000, GzipBytes: 800, Params: 100, MACs: 400, Runs: 5, Samples: 2,
		outShapes: [][]int{{1, 3}, {1, 1}},
		outputs: [][][]float64{
			{{0.1, 0.9, 0}, {1}},
			{{0.8, 0.1, 0.1}, {2}},
		}}
	after := &Stats{FileBytes: 500, GzipBytes: 200, Params: 50, MACs: 100, Runs: 5, Samples: 2,
		outShapes: [][]int{{1, 3}, {1, 1}},
		outputs: [][][]float64{
			{{0.6, 0.3, 0.1}, {1.5}}, // top-1 moves from class 1 to 0
			{{0.7, 0.2, 0.1}, {1}},   // stays class 0
		}}
	var buf bytes.Buffer
	if err := Compare(before, after).Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"file size", "-50.0%", // 1000 → 500
		"-75.0%", // gzip 800 → 200, MACs 400 → 100
		"top-1 agreement, output 0", "1/2", "50.0%",
		"mean abs error, output 1", "0.75", // (0.5 + 1) / 2
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Compare table lacks %q:\n%s", want, out)
		}
	}

	none := *after
	none.Samples, none.outputs = 0, nil
	buf.Reset()
	Compare(before, &none).Print(&buf)
	if !strings.Contains(buf.String(), "accuracy not measured") {
		t.Errorf("Compare without samples:\n%s\nwant a note that accuracy was not measured", buf.String())
	}
}

func TestIsClassifier(t *testing.T) {
	tests := []struct {
		shape []int
		want  bool
	}{
		{[]int{1, 1001}, true},
		{[]int{1, 896, 1}, false}, // BlazeFace's score per anchor
		{[]int{1, 1, 1, 10}, true},
		{[]int{1, 896, 16}, false},
		{[]int{1, 1}, false},
		{[]int{3}, true},
	}
	for _, tt := range tests {
		if got := isClassifier(tt.shape); got != tt.want {
			t.Errorf("isClassifier(%v) = %v; want %v", tt.shape, got, tt.want)
		}
	}
}

func TestConvertInput(t *testing.T) {
	i8 := &tensor.Tensor{Type: tensor.Int8, Shape: []int{4}, Quant: &tensor.Quant{Scale: []float32{0.1}, ZeroPoint: []int32{-3}}}
	u8 := &tensor.Tensor{Type: tensor.UInt8, Shape: []int{2}, Quant: &tensor.Quant{Scale: []float32{0.5}, ZeroPoint: []int32{128}}}
	tests := []struct {
		name    string
		in      []byte
		t       *tensor.Tensor
		want    []byte
		wantErr bool
	}{
		{name: "raw int8 as is", in: []byte{1, 2, 3, 4}, t: i8, want: []byte{1, 2, 3, 4}},
		// 0.26/0.1 = 2.6 rounds to 3, -3 → 0; 100 clamps
		// to 127; -1/0.1 - 3 = -13; -100 clamps to -128.
		{name: "float to int8", in: tflitetest.Float32Bytes([]float32{0.26, 100, -1, -100}), t: i8, want: tflitetest.Int8Bytes([]int8{0, 127, -13, -128})},
		// 1/0.5 + 128 = 130; -70/0.5 + 128 = -12 clamps to 0.
		{name: "float to uint8", in: tflitetest.Float32Bytes([]float32{1, -70}), t: u8, want: []byte{130, 0}},
		{name: "wrong size", in: []byte{1, 2, 3}, t: i8, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convertInput(tt.in, tt.t)
			if (err != nil) != tt.wantErr {
				t.Fatalf("convertInput error = %v; wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !bytes.Equal(got, tt.want) {
				t.Errorf("convertInput = %v; want %v", got, tt.want)
			}
		})
	}
}
