package localapi

import (
	"fmt"
	"math"
	"strings"

	"github.com/edged-dev/edged/agent/status"
)

// driftSVG draws the two histograms as bars, bins of equal width (they are
// equal-frequency bins of the reference, so the reference is flat when
// the data was continuous) with the outer edges labelled. Only numbers
// reach the markup; the page escapes the names.
func driftSVG(p status.DriftPlot) string {
	const w, h, pad = 360.0, 120.0, 16.0
	k := len(p.Ref)
	if k == 0 || len(p.Live) != k {
		return ""
	}
	top := 0.0
	for i := range k {
		top = math.Max(top, math.Max(p.Ref[i], p.Live[i]))
	}
	if top <= 0 {
		top = 1
	}
	bw := (w - 2*pad) / float64(k)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" role="img">`, w, h+pad, w, h+pad)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#999"/>`, pad, h, w-pad, h)
	bar := func(i int, v float64, dx float64, color string) {
		bh := (h - pad) * v / top
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, pad+float64(i)*bw+dx, h-bh, bw/2-0.5, bh, color)
	}
	for i := range k {
		bar(i, p.Ref[i], 0, "#9ab")
		bar(i, p.Live[i], bw/2, "#d62")
	}
	if len(p.Edges) > 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="10">%.3g</text>`, pad+bw-8, h+12, p.Edges[0])
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="10" text-anchor="end">%.3g</text>`, w-pad-bw+8, h+12, p.Edges[len(p.Edges)-1])
	}
	fmt.Fprintf(&b, `<text x="%g" y="12" font-size="10" fill="#9ab">reference</text><text x="%g" y="24" font-size="10" fill="#d62">live</text>`, w-pad-60, w-pad-60)
	b.WriteString(`</svg>`)
	return b.String() // built from numbers only
}
