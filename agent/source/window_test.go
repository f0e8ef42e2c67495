package source

import (
	"reflect"
	"strings"
	"testing"

	"github.com/edged-dev/edged/agent/infer"
)

func TestWindow(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		stride  int
		samples []float64 // one feature each
		wantDue []bool
		want    []float64 // Values after the last sample
	}{
		{name: "tumbling", n: 3, stride: 0, samples: []float64{1, 2, 3, 4, 5, 6, 7},
			wantDue: []bool{false, false, true, false, false, true, false}, want: []float64{5, 6, 7}},
		{name: "sliding", n: 3, stride: 1, samples: []float64{1, 2, 3, 4, 5},
			wantDue: []bool{false, false, true, true, true}, want: []float64{3, 4, 5}},
		{name: "hop 2", n: 3, stride: 2, samples: []float64{1, 2, 3, 4, 5, 6},
			wantDue: []bool{false, false, true, false, true, false}, want: []float64{4, 5, 6}},
		{name: "partial", n: 4, stride: 0, samples: []float64{1, 2},
			wantDue: []bool{false, false}, want: []float64{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWindow(tt.n, 1, tt.stride)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.samples {
				due, err := w.Add([]float64{s})
				if err != nil {
					t.Fatal(err)
				}
				if due != tt.wantDue[i] {
					t.Errorf("Add(sample %d) due = %v; want %v", i, due, tt.wantDue[i])
				}
			}
			if got := w.Values(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Values() = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestWindowFeaturesAndReset(t *testing.T) {
	w, err := NewWindow(2, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Add([]float64{1, 2})
	w.Reset()
	w.Add([]float64{3, 4})
	if due, _ := w.Add([]float64{5, 6}); !due {
		t.Error("second sample after Reset not due")
	}
	if got, want := w.Values(), []float64{3, 4, 5, 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("Values() = %v; want %v", got, want)
	}
	if _, err := w.Add([]float64{1}); err == nil {
		t.Error("Add of 1 value to a 2-feature window succeeded")
	}
}

func TestWindowShape(t *testing.T) {
	tests := []struct {
		name    string
		shape   []int
		want    []int
		wantErr string
	}{
		{name: "same", shape: []int{1, 10, 3}, want: []int{1, 10, 3}},
		{name: "flat", shape: []int{1, 30}, want: []int{1, 30}},
		{name: "dynamic", shape: []int{1, -1, 3}, want: []int{1, 10, 3}},
		{name: "mismatch", shape: []int{1, 8, 3}, wantErr: "holds 24 values; a window of 10 samples of 3 features has 30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := windowShape(10, 3, infer.TensorSpec{Name: "in", Shape: tt.shape})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("windowShape(%v) error = %v; want %q", tt.shape, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("windowShape(%v) = %v, %v; want %v", tt.shape, got, err, tt.want)
			}
		})
	}
}
