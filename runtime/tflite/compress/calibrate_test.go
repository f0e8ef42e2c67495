package compress

import (
	"errors"
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tflite"
)

// TestClipRange: hand-worked percentile clipping.
func TestClipRange(t *testing.T) {
	flat := make([]int64, 100) // one value in each of 100 bins over [0, 100]
	for i := range flat {
		flat[i] = 1
	}
	spike := make([]int64, 100) // 1000 values in [0, 10), one outlier at 99
	for i := range 10 {
		spike[i] = 100
	}
	spike[99] = 1
	tests := []struct {
		name string
		h    []int64
		p    float64
		want Range
	}{
		// tail = 1% of 100 = 1 value: the first bin holding more than 1
		// cumulative value is bin 1 from below and bin 98 from above.
		{"flat 99", flat, 99, Range{1, 99}},
		// tail = 0.1% of 1001 = 1.001: the outlier alone is clipped.
		{"outlier 99.9", spike, 99.9, Range{0, 10}},
		{"empty", make([]int64, 100), 99, Range{0, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clipRange(Range{0, 100}, tt.h, tt.p); got != tt.want {
				t.Errorf("clipRange(%s, %g) = %v; want %v", tt.name, tt.p, got, tt.want)
			}
		})
	}
}

// TestCalibrateRanges: the graph input's range is the samples' min and
// max, and the output's the min and max of what the float model computes
// for them in the default arithmetic, which calibration runs (here through
// runtime/tflite directly; the two arithmetics sum float products in
// different orders).
func TestCalibrateRanges(t *testing.T) {
	model := readModel(t, "hello_world_float")
	xs := []float32{0.5, 3, 1.25, 6}
	var samples [][][]byte
	for _, x := range xs {
		samples = append(samples, [][]byte{f32bytes(x)})
	}
	cal, err := Calibrate(model, samples, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tflite.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	sg := m.Subgraphs[0]
	if got, want := cal.Ranges[sg.Inputs[0]], (Range{0.5, 6}); got != want {
		t.Errorf("Calibrate input range = %v; want %v", got, want)
	}
	outs := runEdged(t, model, samples, tflite.LiteRT)
	want := Range{float32(math.Inf(1)), float32(math.Inf(-1))}
	for _, o := range outs {
		y := f32s(o[0])[0]
		want.Min, want.Max = min(want.Min, y), max(want.Max, y)
	}
	if got := cal.Ranges[sg.Outputs[0]]; got != want {
		t.Errorf("Calibrate output range = %v; want %v", got, want)
	}
	// Every operator output is covered (3 FULLY_CONNECTED + the input).
	if len(cal.Ranges) != 4 {
		t.Errorf("Calibrate recorded %d ranges; want 4", len(cal.Ranges))
	}
	if _, err := Calibrate(model, nil, nil); !errors.Is(err, ErrNoSamples) {
		t.Errorf("Calibrate(no samples) = %v; want %v", err, ErrNoSamples)
	}
}
