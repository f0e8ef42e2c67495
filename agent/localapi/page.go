package localapi

import (
	"fmt"
	"html"
	"io"
	"strings"
	"time"

	"github.com/edged-dev/edged/agent/status"
)

type statusPage struct {
	Ready  bool
	Models []modelMetadata
	Drift  []status.DriftPlot
	// Canary has one line per candidate under evaluation.
	Canary []string
	// Delegates: one line per backend of each model's delegate chain.
	Delegates []string
}

// delegateLines are one line per backend of every model whose chain has
// more than the CPU (or that has backends left out of it).
func delegateLines(st status.Device) []string {
	var lines []string
	for _, m := range st.Models {
		if len(m.Delegates) < 2 {
			continue
		}
		for _, d := range m.Delegates {
			l := fmt.Sprintf("%s · %s (%s variant): %s, %d served, %d failed", m.Name, d.Delegate, d.Variant, d.State, d.Served, d.Failures)
			if d.Fallback {
				l += " · fallback"
			}
			if d.Auto != nil {
				l += " · auto: " + d.Auto.String()
			}
			if d.Reason != "" {
				l += " — " + d.Reason
			}
			lines = append(lines, l)
		}
	}
	return lines
}

// canaryLines are one line per candidate under evaluation.
func canaryLines(st status.Device) []string {
	var out []string
	for _, m := range st.Models {
		cs := m.Canary
		if cs == nil {
			continue
		}
		f := cs.Figures
		var b strings.Builder
		fmt.Fprintf(&b, "%s: version %s in %s for %s; shadow %d/%d comparisons, agreement %.1f%%, errors %.1f%%, latency %.2f× active",
			m.Name, cs.Candidate, cs.Phase, f.Elapsed.Round(time.Second), f.Shadow.Samples, cs.MinSamples,
			100*cs.Agreement, 100*f.Shadow.ErrorRate, f.Shadow.LatencyRatio)
		if cs.Phase != "shadow" {
			fmt.Fprintf(&b, "; canary: active %d requests (errors %.1f%%), candidate %d (errors %.1f%%), latency %.2f× active",
				f.Active.Requests, 100*f.Active.ErrorRate, f.Candidate.Requests, 100*f.Candidate.ErrorRate, f.LatencyRatio)
		}
		if f.Statement != "" {
			fmt.Fprintf(&b, "; %s", f.Statement)
		}
		if cs.Last != nil {
			fmt.Fprintf(&b, "; last decision %s: %s", cs.Last.Action, cs.Last.Reason)
		}
		out = append(out, b.String())
	}
	return out
}

const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edged</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:60em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}.ok{color:#080}.bad{color:#b00}code{background:#f4f4f4;padding:0 .2em}
</style></head><body>
<h1>edged</h1>
`

// render writes the status page. It is written out by hand rather than
// with html/template: the template package's reflective method calls make
// the linker keep every exported method of every reachable type, 2.3 MB
// of the stripped arm64 binary. Every string from outside (model, tensor
// and feature names, delegate and canary lines) goes through esc.
func (p *statusPage) render(w io.Writer) error {
	var b strings.Builder
	esc := html.EscapeString
	b.WriteString(pageHead)
	if p.Ready {
		b.WriteString(`<p>Status: <b class="ok">ready</b> · `)
	} else {
		b.WriteString(`<p>Status: <b class="bad">not ready</b> · `)
	}
	b.WriteString(`<a href="/v1/status">/v1/status</a> · <a href="/v1/drift">/v1/drift</a> · <a href="/metrics">/metrics</a> · <a href="/v2/health/ready">/v2/health/ready</a></p>
<h2>Models</h2>
`)
	if len(p.Models) == 0 {
		b.WriteString("<p>No models configured.</p>\n")
	}
	for _, m := range p.Models {
		version := ""
		if len(m.Versions) > 0 {
			version = m.Versions[0]
		}
		fmt.Fprintf(&b, "<h3><a href=\"/v2/models/%s\">%s</a> version %s</h3>\n", esc(m.Name), esc(m.Name), esc(version))
		fmt.Fprintf(&b, "<p>sha256 <code>%s</code>", esc(m.SHA256))
		if m.Labels > 0 {
			fmt.Fprintf(&b, " · %d labels", m.Labels)
		}
		b.WriteString("</p>\n<table><tr><th></th><th>name</th><th>datatype</th><th>shape</th><th>quantization</th></tr>\n")
		row := func(kind string, t tensorMetadata) {
			q := ""
			if t.ZeroPoint != nil {
				q = fmt.Sprintf("scale %g, zero point %d", t.Scale, *t.ZeroPoint)
			}
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%v</td><td>%s</td></tr>\n", kind, esc(t.Name), esc(t.Datatype), t.Shape, q)
		}
		for _, t := range m.Inputs {
			row("input", t)
		}
		for _, t := range m.Outputs {
			row("output", t)
		}
		fmt.Fprintf(&b, "</table>\n<p>Infer: <code>POST /v2/models/%s/infer</code></p>\n", esc(m.Name))
	}
	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "<h2>%s</h2>\n<ul>", title)
		for _, it := range items {
			fmt.Fprintf(&b, "<li>%s</li>", esc(it))
		}
		b.WriteString("</ul>\n")
	}
	list("Delegates", p.Delegates)
	list("Canary", p.Canary)
	if len(p.Drift) > 0 {
		b.WriteString(`<h2>Drift</h2>
<p>The most shifted features of the last window (<a href="/v1/drift">/v1/drift</a>): reference and live proportions per reference bin.</p>
`)
		for _, d := range p.Drift {
			class := "bad"
			if d.State == "ok" {
				class = "ok"
			}
			fmt.Fprintf(&b, "<h3>%s · %s · <span class=\"%s\">%s</span></h3>\n", esc(d.Model), esc(d.Feature), class, esc(d.State))
			fmt.Fprintf(&b, "<p>PSI %.3f · KS p %.2g</p>\n%s\n", d.PSI, d.KSP, driftSVG(d))
		}
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
