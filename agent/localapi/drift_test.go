package localapi

import (
	"strings"
	"testing"
)

func TestDriftPlotSVG(t *testing.T) {
	tests := []struct {
		name    string
		p       DriftPlot
		want    []string
		wantNot []string
	}{
		{"two bins", DriftPlot{Edges: []float64{0.5}, Ref: []float64{0.5, 0.5}, Live: []float64{0.25, 0.75}},
			[]string{"<svg", "</svg>", `fill="#9ab"`, `fill="#d62"`, ">0.5<"}, nil},
		{"mismatched", DriftPlot{Edges: []float64{0.5}, Ref: []float64{0.5, 0.5}, Live: []float64{1}}, nil, []string{"<svg"}},
		{"empty", DriftPlot{}, nil, []string{"<svg"}},
	}
	for _, tt := range tests {
		got := string(tt.p.SVG())
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
	got := string(DriftPlot{Edges: []float64{0.5}, Ref: []float64{0.5, 0.5}, Live: []float64{0.25, 0.75}}.SVG())
	if !strings.Contains(got, `height="104.0" fill="#d62"`) || !strings.Contains(got, `height="69.3" fill="#9ab"`) {
		t.Errorf("SVG bar heights wrong: %s", got)
	}
}
