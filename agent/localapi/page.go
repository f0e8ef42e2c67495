package localapi

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edged-dev/edged/agent/status"
)

// statusPage is the device console at /: everything GET /v1/status says,
// drawn for a person debugging the device.
type statusPage struct {
	Ready  bool
	Status status.Device
	// Models are the served models' metadata (inputs and outputs), by
	// name as in Status.Models.
	Models map[string]modelMetadata
	Drift  []status.DriftPlot
	// Refresh, when > 0, reloads the page every Refresh seconds without
	// JavaScript (?refresh=N).
	Refresh int
	// Now is the time of the page.
	Now time.Time
}

// canaryLine describes a candidate under evaluation.
func canaryLine(cs *status.Canary) string {
	f := cs.Figures
	var b strings.Builder
	fmt.Fprintf(&b, "version %s in %s for %s; shadow %d/%d comparisons, agreement %.1f%%, errors %.1f%%, latency %.2f× active",
		cs.Candidate, cs.Phase, f.Elapsed.Round(time.Second), f.Shadow.Samples, cs.MinSamples,
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
	return b.String()
}

const pageStyle = `<style>
:root{--fg:#1d2329;--mut:#66707a;--bd:#dde1e5;--bg:#f5f6f8;--ok:#1a7f37;--bad:#c0392b;--warn:#b7791f;--acc:#2463b4}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);background:var(--bg)}
header{background:#1d2329;color:#fff;padding:.8em 1.5em;display:flex;flex-wrap:wrap;gap:.4em 1.5em;align-items:baseline}
header h1{font-size:1.25em;margin:0}header .sub{color:#c9d1d9}header a{color:#9cc3ff}
main{padding:1em 1.5em;max-width:84em}
h2{font-size:1.1em;margin:1.4em 0 .5em;border-bottom:1px solid var(--bd);padding-bottom:.2em}
h3{font-size:1.05em;margin:0 0 .4em}
.pill{display:inline-block;padding:0 .55em;border-radius:1em;font-weight:600;font-size:.9em}
.pill.ok{background:#d7f5dd;color:var(--ok)}.pill.bad{background:#fbdcd8;color:var(--bad)}.pill.mut{background:#e6e9ec;color:var(--mut)}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}.mut{color:var(--mut)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(13em,1fr));gap:.6em}
.card{background:#fff;border:1px solid var(--bd);border-radius:6px;padding:.6em .8em}
.card .k{color:var(--mut);font-size:.85em}.card .v{font-size:1.35em;font-weight:600}
.model{background:#fff;border:1px solid var(--bd);border-radius:6px;padding:.8em 1em;margin:.6em 0}
.figs{display:flex;flex-wrap:wrap;gap:.3em 1.6em;margin:.3em 0 .6em}.figs b{font-size:1.15em}
.charts{display:flex;flex-wrap:wrap;gap:1em}.chart .k{color:var(--mut);font-size:.85em}
img.frame{margin-top:.3em;border:1px solid var(--bd);image-rendering:pixelated}
.bar{height:.45em;background:#e6e9ec;border-radius:3px;overflow:hidden;margin-top:.25em}.bar i{display:block;height:100%;background:var(--acc)}
table{border-collapse:collapse;margin:.3em 0 .8em;background:#fff}td,th{border:1px solid var(--bd);padding:.2em .55em;text-align:left;vertical-align:top}
th{background:#eef0f3;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{background:#eef0f3;padding:0 .2em;border-radius:3px}
.chain span{display:inline-block;border:1px solid var(--bd);border-radius:4px;padding:0 .4em;margin:.1em .1em}
details{margin:.3em 0}summary{cursor:pointer;color:var(--acc)}
footer{padding:1em 1.5em;color:var(--mut)}
</style>`

// render writes the page. It is written out by hand rather than with
// html/template: the template package's reflective method calls make the
// linker keep every exported method of every reachable type, 2.3 MB of
// the stripped arm64 binary. Every string from outside (device, model,
// tensor, label, source and feature names, reasons, events) goes through
// esc; the SVG charts are built from numbers only.
func (p *statusPage) render(w io.Writer) error {
	var b strings.Builder
	st := p.Status
	esc := html.EscapeString
	title := "edged"
	if st.DeviceID != "" {
		title += " · " + st.DeviceID
	}
	b.WriteString("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">")
	fmt.Fprintf(&b, "<title>%s</title>", esc(title))
	if p.Refresh > 0 {
		fmt.Fprintf(&b, `<meta http-equiv="refresh" content="%d">`, p.Refresh)
	}
	b.WriteString(pageStyle + "</head><body>\n")

	// Header: who and what the device is, and whether it is well.
	b.WriteString(`<header id="head"><h1>edged</h1>`)
	fmt.Fprintf(&b, `<span class="sub"><b data-f="device">%s</b> · %s · version %s</span>`, esc(orDash(st.DeviceID)), esc(orDash(st.Board.Name)), esc(orDash(st.Version)))
	if p.Ready {
		b.WriteString(`<span>Status: <b class="pill ok">ready</b></span>`)
	} else {
		b.WriteString(`<span>Status: <b class="pill bad">not ready</b></span>`)
	}
	fmt.Fprintf(&b, `<span>up <b data-f="uptime">%s</b></span>`, duration(st.UptimeSec))
	fmt.Fprintf(&b, `<span>fleet link %s</span>`, linkPill(st.Link))
	b.WriteString(`<span class="sub"><a href="/v1/status">/v1/status</a> · <a href="/v1/drift">/v1/drift</a> · <a href="/metrics">/metrics</a> · <a href="/v2/health/ready">/v2/health/ready</a></span></header>
<main>
`)
	for _, m := range st.Missing {
		fmt.Fprintf(&b, "<p class=\"bad\">Model %s does not serve: %s</p>\n", esc(m.Model), esc(m.Reason))
	}
	p.renderSystem(&b)
	p.renderModels(&b)
	p.renderSources(&b)
	p.renderCommands(&b)
	p.renderEvents(&b)
	fmt.Fprintf(&b, "</main>\n<footer>Page of %s UTC · <span id=\"live\" data-f=\"live\">reload for new figures (or <a href=\"?refresh=10\">reload every 10 s</a>)</span></footer>\n", p.Now.UTC().Format("2006-01-02 15:04:05"))
	b.WriteString(pageScript)
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func linkPill(l *status.Link) string {
	switch {
	case l == nil:
		return `<b class="pill mut" data-f="link">no broker</b>`
	case l.Connected:
		return `<b class="pill ok" data-f="link">connected</b>`
	}
	return `<b class="pill bad" data-f="link">disconnected</b>`
}

// card writes one figure of the device section.
func card(b *strings.Builder, key, label, value, note string, fill float64) {
	fmt.Fprintf(b, `<div class="card"><div class="k">%s</div><div class="v" data-f="%s">%s</div>`, label, key, value)
	if fill >= 0 {
		fmt.Fprintf(b, `<div class="bar"><i data-f="%s.bar" style="width:%.0f%%"></i></div>`, key, 100*min(fill, 1))
	}
	if note != "" {
		fmt.Fprintf(b, `<div class="k">%s</div>`, note)
	}
	b.WriteString("</div>")
}

func (p *statusPage) renderSystem(b *strings.Builder) {
	st := p.Status
	esc := html.EscapeString
	b.WriteString("<section id=\"system\"><h2>Device</h2>\n<div class=\"grid\">")
	sys := st.System
	if sys == nil {
		sys = &status.System{}
	}
	cpu, load := "—", "—"
	if sys.Collectors["cpu"] {
		cpu = fmt.Sprintf("%.0f%%", 100*sys.CPU)
	}
	if sys.Collectors["load"] {
		load = fmt.Sprintf("%.2f", sys.Load1)
	}
	cores := ""
	if st.Board.CPU.Cores > 0 {
		cores = fmt.Sprintf("%d cores", st.Board.CPU.Cores)
	}
	card(b, "cpu", "CPU busy", cpu, cores, -1)
	card(b, "load", "load (1 min)", load, "", -1)
	if sys.MemTotal > 0 {
		card(b, "mem", "memory used", mib(sys.MemUsed), "of "+mib(sys.MemTotal), float64(sys.MemUsed)/float64(sys.MemTotal))
	} else {
		card(b, "mem", "memory used", "—", "", -1)
	}
	if sys.DiskTotal > 0 {
		card(b, "disk", "data disk free", mib(sys.DiskFree), "of "+mib(sys.DiskTotal), 1-float64(sys.DiskFree)/float64(sys.DiskTotal))
	} else {
		card(b, "disk", "data disk free", "—", "", -1)
	}
	temp := "—"
	if sys.CPUTemp != nil {
		temp = fmt.Sprintf("%.1f °C", *sys.CPUTemp)
	}
	var zones []string
	for z, c := range sys.Zones {
		zones = append(zones, fmt.Sprintf("%s %.1f", esc(z), c))
	}
	sort.Strings(zones)
	card(b, "temp", "CPU temperature", temp, strings.Join(zones, " · "), -1)
	switch {
	case sys.ThrottleFlags == nil:
		card(b, "throttle", "throttling", `<span class="mut">n/a</span>`, "Raspberry Pi only", -1)
	case *sys.ThrottleFlags&0xf != 0:
		card(b, "throttle", "throttling", `<span class="bad">now</span>`, esc(sys.Throttle), -1)
	case *sys.ThrottleFlags != 0:
		card(b, "throttle", "throttling", `<span class="warn">since boot</span>`, esc(sys.Throttle), -1)
	default:
		card(b, "throttle", "throttling", `<span class="ok">none</span>`, "", -1)
	}
	if l := st.Link; l != nil {
		state := `<span class="ok">connected</span>`
		if !l.Connected {
			state = `<span class="bad">disconnected</span>`
		}
		note := fmt.Sprintf("%s · %d connects, %d lost", esc(l.Broker), l.Connects, l.Lost)
		if l.LastError != "" {
			note += " · last error: " + esc(l.LastError)
		}
		card(b, "linkstate", "fleet link", state, note, -1)
		card(b, "outbox", "outbox", strconv.Itoa(l.Outbox), fmt.Sprintf("%s waiting · %d dropped", byteSize(float64(l.OutboxBytes)), l.Dropped), -1)
		card(b, "sent", "sent to broker", byteSize(float64(l.SentBytes)), fmt.Sprintf("%d messages", l.Published), -1)
	} else {
		card(b, "linkstate", "fleet link", `<span class="mut">none</span>`, "no fleet.broker configured", -1)
	}
	b.WriteString("</div>\n")
	var missing []string
	for name, ok := range sys.Collectors {
		if !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		fmt.Fprintf(b, "<p class=\"mut\">No reading on this host: %s.</p>\n", esc(strings.Join(missing, ", ")))
	}
	b.WriteString("</section>\n")
}

func (p *statusPage) renderModels(b *strings.Builder) {
	esc := html.EscapeString
	b.WriteString("<section id=\"models\"><h2>Models</h2>\n")
	if len(p.Status.Models) == 0 {
		b.WriteString("<p>No models served.</p>\n")
	}
	for i, m := range p.Status.Models {
		key := "m" + strconv.Itoa(i)
		fmt.Fprintf(b, "<article class=\"model\" id=\"model-%s\"><h3><a href=\"/v2/models/%s\">%s</a> version %s", esc(m.Name), esc(m.Name), esc(m.Name), esc(m.Version))
		if m.Previous != "" {
			fmt.Fprintf(b, " <span class=\"mut\">(previous %s)</span>", esc(m.Previous))
		}
		if m.Drift != "" {
			class := "bad"
			if m.Drift == "ok" {
				class = "ok"
			}
			fmt.Fprintf(b, " · drift <span class=\"%s\">%s</span>", class, esc(m.Drift))
		}
		b.WriteString("</h3>\n")
		if m.Reason != "" {
			fmt.Fprintf(b, "<p class=\"warn\">%s</p>\n", esc(m.Reason))
		}
		b.WriteString(`<div class="figs">`)
		fig := func(k, label, v string) {
			fmt.Fprintf(b, `<span>%s <b data-f="%s.%s">%s</b></span>`, label, key, k, v)
		}
		r := m.Requests
		if r == nil {
			r = &status.Requests{}
		}
		rate := "—"
		if h := m.History; h != nil && len(h.Rate) > 0 {
			rate = fmt.Sprintf("%.2f/s", h.Rate[len(h.Rate)-1])
		}
		fig("answered", "answered", strconv.FormatUint(r.Answered, 10))
		fig("rate", "now", rate)
		fig("errors", "errors", errorsText(r))
		fig("hit", "cache hits", hitRatio(r))
		fig("p50", "p50", ms(r.P50))
		fig("p99", "p99", ms(r.P99))
		fig("queue", "queued", fmt.Sprintf("%d/%d", m.Queued, m.Capacity))
		b.WriteString("</div>\n<div class=\"charts\">")
		var rates, p50, p99 []float64
		step := 5.0
		if h := m.History; h != nil {
			rates, p50, p99, step = h.Rate, h.P50, h.P99, h.Step
		}
		span := duration(step * float64(max(len(rates)-1, 0)))
		fmt.Fprintf(b, `<div class="chart"><div class="k">requests/s, last %s</div><div data-f="%s.sparkrate">%s</div></div>`, span, key, sparkline([][]float64{rates}, []string{"#2463b4"}, "/s"))
		fmt.Fprintf(b, `<div class="chart"><div class="k">latency p50 <span style="color:#2463b4">■</span> p99 <span style="color:#d9822b">■</span> (ms)</div><div data-f="%s.sparklat">%s</div></div>`, key, sparkline([][]float64{p50, p99}, []string{"#2463b4", "#d9822b"}, " ms"))
		fmt.Fprintf(b, `<div class="chart"><div class="k">batch sizes (batches run)</div>%s</div>`, batchChart(r.BatchSizes))
		b.WriteString("</div>\n")
		renderChain(b, m)
		if m.Canary != nil {
			fmt.Fprintf(b, "<p><b>Canary</b>: %s</p>\n", esc(canaryLine(m.Canary)))
		}
		for _, d := range p.Drift {
			if d.Model != m.Name {
				continue
			}
			class := "bad"
			if d.State == "ok" {
				class = "ok"
			}
			fmt.Fprintf(b, "<div><b>Drift</b> · %s · <span class=\"%s\">%s</span> · PSI %.3f · KS p %.2g<br>%s</div>\n", esc(d.Feature), class, esc(d.State), d.PSI, d.KSP, driftSVG(d))
		}
		if md, ok := p.Models[m.Name]; ok {
			renderTensors(b, md)
		}
		b.WriteString("</article>\n")
	}
	b.WriteString("</section>\n")
}

func errorsText(r *status.Requests) string {
	if r.Errors == 0 {
		return "0"
	}
	var parts []string
	for k, n := range r.Outcomes {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d (%s)", r.Errors, html.EscapeString(strings.Join(parts, ", ")))
}

func hitRatio(r *status.Requests) string {
	if r.Answered == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(r.CacheHits)/float64(r.Answered))
}

func ms(v float64) string {
	if v == 0 {
		return "—"
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + " ms"
}

// renderChain draws the delegate chain in order, the CPU fallback last,
// then the backends left out of it.
func renderChain(b *strings.Builder, m status.Model) {
	esc := html.EscapeString
	if len(m.Delegates) == 0 {
		return
	}
	b.WriteString(`<div class="chain"><b>Delegates</b>: `)
	for i, d := range m.Delegates {
		if i > 0 {
			b.WriteString(" → ")
		}
		class := "ok"
		if d.State != "healthy" {
			class = "mut"
			if d.State == "failed" {
				class = "bad"
			}
		}
		title := d.Reason
		if d.Auto != nil {
			title = strings.TrimSpace(title + " auto: " + d.Auto.String())
		}
		fmt.Fprintf(b, `<span title="%s"><b class="%s">%s</b>`, esc(title), class, esc(d.Delegate))
		if d.Variant != "" && d.Variant != d.Delegate {
			fmt.Fprintf(b, " (%s)", esc(d.Variant))
		}
		fmt.Fprintf(b, " %s · %d served", esc(d.State), d.Served)
		if d.Failures > 0 {
			fmt.Fprintf(b, ", <span class=\"bad\">%d failed</span>", d.Failures)
		}
		if d.Fallback {
			b.WriteString(" · fallback")
		}
		if d.Reason != "" && d.State == "failed" {
			fmt.Fprintf(b, " — %s", esc(d.Reason))
		}
		b.WriteString("</span>")
	}
	b.WriteString("</div>\n")
}

func renderTensors(b *strings.Builder, md modelMetadata) {
	esc := html.EscapeString
	fmt.Fprintf(b, "<details><summary>inputs and outputs · sha256 %s", esc(short(md.SHA256)))
	if md.Labels > 0 {
		fmt.Fprintf(b, " · %d labels", md.Labels)
	}
	fmt.Fprintf(b, "</summary><p>sha256 <code>%s</code> · <code>POST /v2/models/%s/infer</code></p>\n", esc(md.SHA256), esc(md.Name))
	b.WriteString("<table><tr><th></th><th>name</th><th>datatype</th><th>shape</th><th>quantization</th></tr>\n")
	row := func(kind string, t tensorMetadata) {
		q := ""
		if t.ZeroPoint != nil {
			q = fmt.Sprintf("scale %g, zero point %d", t.Scale, *t.ZeroPoint)
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%v</td><td>%s</td></tr>\n", kind, esc(t.Name), esc(t.Datatype), t.Shape, q)
	}
	for _, t := range md.Inputs {
		row("input", t)
	}
	for _, t := range md.Outputs {
		row("output", t)
	}
	b.WriteString("</table></details>\n")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func (p *statusPage) renderSources(b *strings.Builder) {
	esc := html.EscapeString
	b.WriteString("<section id=\"sources\"><h2>Sources</h2>\n")
	if len(p.Status.Sources) == 0 {
		b.WriteString("<p class=\"mut\">No input sources configured.</p></section>\n")
		return
	}
	b.WriteString("<table><tr><th>source</th><th>model</th><th>readings</th><th>results</th><th>errors</th><th>last reading</th><th>last result</th></tr>\n")
	for i, s := range p.Status.Sources {
		key := "s" + strconv.Itoa(i)
		last := "never"
		if !s.Last.IsZero() {
			last = duration(p.Now.Sub(s.Last).Seconds()) + " ago"
		}
		errClass := ""
		if s.Errors > 0 {
			errClass = " bad"
		}
		fmt.Fprintf(b, `<tr><td><b>%s</b> <span class="mut">%s</span>%s</td><td>%s</td><td class="n" data-f="%s.in">%d</td><td class="n" data-f="%s.out">%d</td><td class="n%s" data-f="%s.errors">%d</td><td data-f="%s.last">%s</td><td data-f="%s.result">%s</td></tr>`+"\n",
			esc(s.Name), esc(s.Type), frameHTML(key, s), esc(s.Model), key, s.In, key, s.Out, errClass, key, s.Errors, key, last, key, resultHTML(s.Result))
	}
	b.WriteString("</table></section>\n")
}

// frameHTML is the thumbnail of a source's last picture, if it has one:
// an <img> of the agent's own path (the time in the query keeps a cached
// copy from standing in for a newer one).
func frameHTML(key string, s status.Source) string {
	f := s.Frame
	if f == nil {
		return ""
	}
	src := fmt.Sprintf("%s?t=%d", f.Path, f.Time.UnixMilli())
	return fmt.Sprintf(`<br><img class="frame" data-f="%s.frame" src="%s" width="%d" height="%d" alt="last picture read by %s">`,
		key, html.EscapeString(src), f.Width, f.Height, html.EscapeString(s.Name))
}

// resultHTML shows a source's last result: the top scores as bars.
func resultHTML(r *status.Result) string {
	esc := html.EscapeString
	switch {
	case r == nil:
		return `<span class="mut">none yet</span>`
	case r.Error != "":
		return `<span class="bad">` + esc(r.Error) + `</span>`
	case len(r.Top) == 0:
		return esc(r.Summary)
	}
	var b strings.Builder
	for i, s := range r.Top {
		label := s.Label
		if label == "" {
			label = "class " + strconv.Itoa(s.Index)
		}
		weight := ""
		if i == 0 {
			weight = "font-weight:600;"
		}
		fmt.Fprintf(&b, `<div style="%s">%s %.2f<div class="bar" style="width:10em"><i style="width:%.0f%%"></i></div></div>`, weight, esc(label), s.Score, 100*math.Max(0, math.Min(1, s.Score)))
	}
	return b.String()
}

func (p *statusPage) renderCommands(b *strings.Builder) {
	esc := html.EscapeString
	b.WriteString("<section id=\"ota\"><h2>Deployments and fleet commands</h2>\n")
	if o := p.Status.OTA; o != nil {
		for _, d := range o.Downloads {
			frac := 0.0
			if d.Size > 0 {
				frac = math.Min(1, float64(d.Bytes)/float64(d.Size))
			}
			fmt.Fprintf(b, `<p>Downloading <b>%s</b> version %s: %.1f of %.1f MiB (%.0f%%)<span class="bar" style="display:block;width:20em"><i style="width:%.0f%%"></i></span></p>`+"\n",
				esc(d.Model), esc(d.Version), float64(d.Bytes)/(1<<20), float64(d.Size)/(1<<20), 100*frac, 100*frac)
		}
		if o.Rollbacks > 0 {
			fmt.Fprintf(b, "<p class=\"warn\">%d rollback(s) since the agent started.</p>\n", o.Rollbacks)
		}
	}
	if len(p.Status.Commands) == 0 {
		if p.Status.Link == nil {
			b.WriteString("<p class=\"mut\">No fleet link: deployments come over the fleet broker.</p></section>\n")
		} else {
			b.WriteString("<p class=\"mut\">No fleet command since the agent started.</p></section>\n")
		}
		return
	}
	b.WriteString("<table><tr><th>time (UTC)</th><th>command</th><th>id</th><th>outcome</th><th>reason</th></tr>\n")
	for _, c := range p.Status.Commands {
		class := ""
		switch c.State {
		case "failed", "rejected", "rolled_back", "expired":
			class = "bad"
		case "done", "active", "promoted":
			class = "ok"
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td><code>%s</code></td><td class=\"%s\">%s</td><td>%s</td></tr>\n",
			c.Time.UTC().Format("01-02 15:04:05"), esc(c.Op), esc(c.ID), class, esc(outcome(c)), esc(c.Reason))
	}
	b.WriteString("</table></section>\n")
}

// outcome is a command's state, with a download's progress.
func outcome(c status.Command) string {
	if c.Progress > 0 && c.Progress < 1 {
		return fmt.Sprintf("%s %.0f%%", c.State, 100*c.Progress)
	}
	return c.State
}

func (p *statusPage) renderEvents(b *strings.Builder) {
	esc := html.EscapeString
	b.WriteString("<section id=\"events\"><h2>Events</h2>\n")
	if len(p.Status.Events) == 0 {
		b.WriteString("<p class=\"mut\">No events since the agent started.</p></section>\n")
		return
	}
	b.WriteString("<table><tr><th>time (UTC)</th><th>kind</th><th>model</th><th>detail</th></tr>\n")
	for _, e := range p.Status.Events {
		detail := string(e.Detail)
		if len(detail) > 300 {
			detail = strings.ToValidUTF8(detail[:300], "") + "…"
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td><code>%s</code></td></tr>\n", e.Time.UTC().Format("01-02 15:04:05"), esc(e.Kind), esc(e.Model), esc(detail))
	}
	b.WriteString("</table></section>\n")
}

// duration is seconds as a person reads them: "3d 4h", "2h 05m", "5m 12s",
// "12s". The page's script spells it the same way.
func duration(sec float64) string {
	s := int64(math.Max(0, sec))
	switch {
	case s >= 86400:
		return fmt.Sprintf("%dd %dh", s/86400, s%86400/3600)
	case s >= 3600:
		return fmt.Sprintf("%dh %02dm", s/3600, s%3600/60)
	case s >= 60:
		return fmt.Sprintf("%dm %02ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

func mib(v uint64) string {
	if v >= 1024 {
		return fmt.Sprintf("%.1f GiB", float64(v)/1024)
	}
	return fmt.Sprintf("%d MiB", v)
}

func byteSize(v float64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.1f GiB", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}

// sparkline draws series (oldest first, sharing one scale from 0) as
// lines, the first one filled, with the scale's top and the first
// series' last value written. The page's script draws the same.
func sparkline(series [][]float64, colors []string, unit string) string {
	const w, h = 240.0, 48.0
	n, top := 0, 0.0
	for _, s := range series {
		n = max(n, len(s))
		for _, v := range s {
			top = math.Max(top, v)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" role="img">`, w, h+2, w, h+2)
	b.WriteString(`<rect x="0" y="0" width="240" height="50" fill="#f7f8fa" stroke="#dde1e5"/>`)
	if n < 2 {
		b.WriteString(`<text x="8" y="29" font-size="11" fill="#66707a">collecting samples…</text></svg>`)
		return b.String()
	}
	if top <= 0 {
		top = 1
	}
	for k, s := range series {
		if len(s) < 2 {
			continue
		}
		var pts strings.Builder
		for i, v := range s {
			x := w * float64(i+n-len(s)) / float64(n-1)
			y := 14 + (h-16)*(1-v/top)
			fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
		}
		if k == 0 {
			fmt.Fprintf(&b, `<polygon points="%s%.1f,%.1f %.1f,%.1f" fill="%s" fill-opacity=".12"/>`, pts.String(), w, h, w*float64(n-len(s))/float64(n-1), h, colors[k])
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`, strings.TrimSpace(pts.String()), colors[k])
	}
	last := series[0][len(series[0])-1]
	fmt.Fprintf(&b, `<text x="4" y="11" font-size="10" fill="#66707a">max %s%s</text><text x="236" y="46" font-size="11" text-anchor="end" fill="#1d2329">%s%s</text></svg>`,
		strconv.FormatFloat(top, 'g', 3, 64), unit, strconv.FormatFloat(last, 'g', 3, 64), unit)
	return b.String()
}

// batchChart draws the batch size histogram as bars labelled by size.
func batchChart(sizes []status.BatchSize) string {
	var total uint64
	top := uint64(0)
	for _, s := range sizes {
		total += s.Batches
		top = max(top, s.Batches)
	}
	if total == 0 {
		return `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="50" role="img"><rect x="0" y="0" width="160" height="50" fill="#f7f8fa" stroke="#dde1e5"/><text x="8" y="29" font-size="11" fill="#66707a">no batches yet</text></svg>`
	}
	const h = 36.0
	bw := math.Min(28, 220/float64(len(sizes)))
	w := bw*float64(len(sizes)) + 4
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="50" role="img">`, w)
	for i, s := range sizes {
		bh := h * float64(s.Batches) / float64(top)
		x := 2 + bw*float64(i)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2463b4"><title>≤%d: %d batches</title></rect>`, x, h-bh, bw-3, bh, s.Size, s.Batches)
		fmt.Fprintf(&b, `<text x="%.1f" y="48" font-size="10" text-anchor="middle" fill="#66707a">%d</text>`, x+bw/2-1.5, s.Size)
	}
	b.WriteString("</svg>")
	return b.String()
}

// pageScript refreshes the figures from GET /v1/status every 5 s without
// reloading the page (it only sets text and numbers-only SVG), and reloads
// it when a command or event arrives. Without JavaScript the page is
// complete as served.
const pageScript = `<script>
(function(){
var n0=null;
function dur(s){s=Math.max(0,Math.floor(s));var p=function(v){return(v<10?"0":"")+v};
if(s>=86400)return Math.floor(s/86400)+"d "+Math.floor(s%86400/3600)+"h";
if(s>=3600)return Math.floor(s/3600)+"h "+p(Math.floor(s%3600/60))+"m";
if(s>=60)return Math.floor(s/60)+"m "+p(s%60)+"s";return s+"s"}
function g(v){return String(Number(v.toPrecision(3)))}
function ms(v){return v?g(v)+" ms":"\u2014"}
function mib(v){return v>=1024?(v/1024).toFixed(1)+" GiB":v+" MiB"}
function spark(series,colors,unit){var w=240,h=48,n=0,top=0,i,k;
series.forEach(function(s){n=Math.max(n,s.length);s.forEach(function(v){top=Math.max(top,v)})});
var o='<svg xmlns="http://www.w3.org/2000/svg" width="240" height="50" viewBox="0 0 240 50" role="img"><rect x="0" y="0" width="240" height="50" fill="#f7f8fa" stroke="#dde1e5"/>';
if(n<2)return o+'<text x="8" y="29" font-size="11" fill="#66707a">collecting samples\u2026</text></svg>';
if(top<=0)top=1;
for(k=0;k<series.length;k++){var s=series[k];if(s.length<2)continue;var pts="";
for(i=0;i<s.length;i++){pts+=(w*(i+n-s.length)/(n-1)).toFixed(1)+","+(14+(h-16)*(1-s[i]/top)).toFixed(1)+" "}
if(k==0)o+='<polygon points="'+pts+w.toFixed(1)+","+h.toFixed(1)+" "+(w*(n-s.length)/(n-1)).toFixed(1)+","+h.toFixed(1)+'" fill="'+colors[k]+'" fill-opacity=".12"/>';
o+='<polyline points="'+pts.trim()+'" fill="none" stroke="'+colors[k]+'" stroke-width="1.5"/>'}
var last=series[0][series[0].length-1];
return o+'<text x="4" y="11" font-size="10" fill="#66707a">max '+g(top)+unit+'</text><text x="236" y="46" font-size="11" text-anchor="end" fill="#1d2329">'+g(last)+unit+'</text></svg>'}
function set(k,v){var e=document.querySelector('[data-f="'+k+'"]');if(e)e.textContent=v}
function svg(k,v){var e=document.querySelector('[data-f="'+k+'"]');if(e)e.innerHTML=v}
function tick(){fetch("/v1/status",{cache:"no-store"}).then(function(r){return r.json()}).then(function(st){
var n=(st.commands||[]).length+"/"+(st.events||[]).length+"/"+(st.models||[]).length;
if(n0!==null&&n!==n0){location.reload();return}n0=n;
set("uptime",dur(st.uptime_s));
var l=document.querySelector('[data-f="link"]');if(l&&st.link){l.textContent=st.link.connected?"connected":"disconnected";l.className="pill "+(st.link.connected?"ok":"bad")}
var y=st.system||{},c=y.collectors||{};
if(c.cpu)set("cpu",Math.round(100*(y.cpu||0))+"%");if(c.load)set("load",(y.load1||0).toFixed(2));
if(y.mem_total_mb)set("mem",mib(y.mem_used_mb||0));if(y.disk_total_mb)set("disk",mib(y.disk_free_mb||0));
if(y.cpu_temp_c!=null)set("temp",y.cpu_temp_c.toFixed(1)+" \u00b0C");
if(st.link){set("outbox",String(st.link.outbox))}
(st.models||[]).forEach(function(m,i){var k="m"+i,r=m.requests||{},h=m.history||{rate:[],p50_ms:[],p99_ms:[]};
set(k+".answered",String(r.answered||0));set(k+".rate",h.rate.length?h.rate[h.rate.length-1].toFixed(2)+"/s":"\u2014");
set(k+".hit",r.answered?Math.round(100*(r.cache_hits||0)/r.answered)+"%":"\u2014");
set(k+".p50",ms(r.p50_ms));set(k+".p99",ms(r.p99_ms));set(k+".queue",m.queued+"/"+m.capacity);
svg(k+".sparkrate",spark([h.rate],["#2463b4"],"/s"));svg(k+".sparklat",spark([h.p50_ms,h.p99_ms],["#2463b4","#d9822b"]," ms"))});
(st.sources||[]).forEach(function(s,i){var k="s"+i;set(k+".in",String(s.in));set(k+".out",String(s.out));set(k+".errors",String(s.errors));
if(s.last)set(k+".last",dur((Date.now()-Date.parse(s.last))/1000)+" ago");
var f=document.querySelector('[data-f="'+k+'.frame"]');if(f&&s.frame&&s.frame.path.charAt(0)=="/")f.src=s.frame.path+"?t="+Date.parse(s.frame.time)});
set("live","live: figures updated "+new Date().toISOString().substring(11,19)+" UTC from /v1/status")
}).catch(function(e){set("live","live updates stopped: "+e)})}
tick();setInterval(tick,5000)})();
</script>
`
