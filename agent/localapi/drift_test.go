package localapi

import (
	"strings"
	"testing"

	"github.com/edged-dev/edged/agent/status"
)

func TestDriftPlotSVG(t *testing.T) {
	tests := []struct {
		name    string
		p       status.DriftPlot
		want    []string
		wantNot []string
	}{
		{"two bins", status.DriftPlot{Edges: []float64{0.5}, Ref: []float64{0.5, 0.5}, Live: []float64{0.25, 0.75}},
			[]string{"<svg", "</svg>", `fill="#9ab"`, `fill="#d62"`, ">0.5<"}, nil},
		{"mismatched", status.DriftPlot{Edges: []float64{0.5}, Ref: []float64{0.5, 0.5}, Live: []float64{1}}, nil, []string{"<svg"}},
		{"empty", status.DriftPlot{}, nil, []string{"<svg"}},
	}
	for _, tt := range tests {
		got := driftSVG(tt.p)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("SVG(%s) lacks %q: %s", tt.name, w, got)
			}
		}
		for _, w := range tt.wantNot {
			if strings.Contains(got, w) {
				t.Errorf("SVG(%s) contains %q; want none", tt.name, w)
			}
		}
	}
	// Bars scale to the tallest proportion: live 0.75 fills the plot
	// height (120 − 16 = 104 px), reference 0.5 two thirds of it.
	got := driftSVG(status.DriftPlot{Edges: []float64{0.5}, Ref: []float64{0.5, 0.5}, Live: []float64{0.25, 0.75}})
	if !strings.Contains(got, `height="104.0" fill="#d62"`) || !strings.Contains(got, `height="69.3" fill="#9ab"`) {
		t.Errorf("SVG bar heights wrong: %s", got)
	}
}
