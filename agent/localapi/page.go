package localapi

import "html/template"

type statusPage struct {
	Status any
	Ready  bool
	Models []modelMetadata
	Drift  []DriftPlot
	Canary []string
	// Delegates: one line per backend of each model's delegate chain.
	Delegates []string
}

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edged</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:60em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}.ok{color:#080}.bad{color:#b00}code{background:#f4f4f4;padding:0 .2em}
</style></head><body>
<h1>edged</h1>
<p>Status: {{if .Ready}}<b class="ok">ready</b>{{else}}<b class="bad">not ready</b>{{end}} ·
<a href="/v1/status">/v1/status</a> · <a href="/v1/drift">/v1/drift</a> · <a href="/metrics">/metrics</a> · <a href="/v2/health/ready">/v2/health/ready</a></p>
<h2>Models</h2>
{{range .Models}}
<h3><a href="/v2/models/{{.Name}}">{{.Name}}</a> version {{index .Versions 0}}</h3>
<p>sha256 <code>{{.SHA256}}</code>{{if .Labels}} · {{.Labels}} labels{{end}}</p>
<table><tr><th></th><th>name</th><th>datatype</th><th>shape</th><th>quantization</th></tr>
{{range .Inputs}}<tr><td>input</td><td>{{.Name}}</td><td>{{.Datatype}}</td><td>{{.Shape}}</td><td>{{if .ZeroPoint}}scale {{.Scale}}, zero point {{.ZeroPoint}}{{end}}</td></tr>{{end}}
{{range .Outputs}}<tr><td>output</td><td>{{.Name}}</td><td>{{.Datatype}}</td><td>{{.Shape}}</td><td>{{if .ZeroPoint}}scale {{.Scale}}, zero point {{.ZeroPoint}}{{end}}</td></tr>{{end}}
</table>
<p>Infer: <code>POST /v2/models/{{.Name}}/infer</code></p>
{{else}}<p>No models configured.</p>{{end}}
{{if .Delegates}}<h2>Delegates</h2>
<ul>{{range .Delegates}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Canary}}<h2>Canary</h2>
<ul>{{range .Canary}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Drift}}<h2>Drift</h2>
<p>The most shifted features of the last window (<a href="/v1/drift">/v1/drift</a>): reference and live proportions per reference bin.</p>
{{range .Drift}}<h3>{{.Model}} · {{.Feature}} · <span class="{{if eq .State "ok"}}ok{{else}}bad{{end}}">{{.State}}</span></h3>
<p>PSI {{printf "%.3f" .PSI}} · KS p {{printf "%.2g" .KSP}}</p>
{{.SVG}}
{{end}}{{end}}
</body></html>
`))
