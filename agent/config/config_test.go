package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimal = `
version: 1
models:
  - name: person_detect
    path: models/person_detect.tflite
`

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), "/etc/edged")
	if err != nil {
		t.Fatal(err)
	}
	m := c.Models[0]
	if c.HTTP.MaxConnections != 256 {
		t.Errorf("default http.max_connections = %d; want 256", c.HTTP.MaxConnections)
	}
	if c.HTTP.Listen != "127.0.0.1:9410" || m.Version != "1" || m.Batch.MaxBatch != 1 || m.Batch.Overload != "reject" || c.StateDir != "/var/lib/edged" {
		t.Errorf("defaults = listen %q, version %q, max_batch %d, overload %q, state %q", c.HTTP.Listen, m.Version, m.Batch.MaxBatch, m.Batch.Overload, c.StateDir)
	}
	if got := c.Path(m.Path); got != "/etc/edged/models/person_detect.tflite" {
		t.Errorf("Path = %q; want it resolved against the config's directory", got)
	}
	if c.Runtime.Arithmetic != "litert" || m.Arithmetic != "" {
		t.Errorf("arithmetic = runtime %q, model %q; want litert and empty (the runtime's)", c.Runtime.Arithmetic, m.Arithmetic)
	}
}

func TestParseModelArithmetic(t *testing.T) {
	doc := "version: 1\nruntime:\n  arithmetic: reference\nmodels:\n  - name: a\n    path: a.tflite\n    arithmetic: litert\n"
	c, err := Parse([]byte(doc), "/etc/edged")
	if err != nil {
		t.Fatal(err)
	}
	if c.Runtime.Arithmetic != "reference" || c.Models[0].Arithmetic != "litert" {
		t.Errorf("arithmetic = runtime %q, model %q; want reference and litert", c.Runtime.Arithmetic, c.Models[0].Arithmetic)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc, wantErr string
	}{
		{"unknown key", "version: 1\nhttp:\n  listne: 127.0.0.1:1\n", "field listne not found"},
		{"wrong version", "version: 2\n", "version: is 2"},
		{"no version", "log:\n  level: info\n", "version: is 0"},
		{"empty", "", "empty document"},
		{"two documents", "version: 1\n---\nversion: 1\n", "more than one"},
		{"bad duration", minimal + "    batch:\n      max_delay: soon\n", "invalid duration"},
		{"negative delay", minimal + "    batch:\n      max_delay: -1ms\n", "models[0].batch.max_delay: must be > 0"},
		{"bad overload", minimal + "    batch:\n      overload: drop_newest\n", "models[0].batch.overload: is \"drop_newest\""},
		{"path traversal name", "version: 1\nmodels:\n  - name: ../etc\n    path: x.tflite\n", "models[0].name"},
		{"duplicate name", minimal + "  - name: person_detect\n    path: b.tflite\n", "models[1].name: \"person_detect\" is used twice"},
		{"missing path", "version: 1\nmodels:\n  - name: a\n", "models[0].path: must be set"},
		{"public without token", "version: 1\nhttp:\n  listen: 0.0.0.0:9410\n", "http.listen: \"0.0.0.0:9410\" is not a loopback address"},
		{"bad listen", "version: 1\nhttp:\n  listen: nine\n", "http.listen"},
		{"bad log level", "version: 1\nlog:\n  level: loud\n", "log.level"},
		{"source unknown model", "version: 1\nsources:\n  - type: synthetic\n    model: nope\n", "sources[0].model: \"nope\" is not a configured model"},
		{"replay without files", minimal + "sources:\n  - type: synthetic\n    model: person_detect\n    pattern: replay\n", "sources[0].files"},
		{"wrong type", "version: \"one\"\n", "cannot unmarshal"},
		{"small body limit", "version: 1\nhttp:\n  max_request_bytes: 10\n", "http.max_request_bytes: is 10"},
		{"few connections", "version: 1\nhttp:\n  max_connections: 2\n", "http.max_connections: is 2"},
		{"negative connections", "version: 1\nhttp:\n  max_connections: -1\n", "http.max_connections: is -1"},
		{"bad arithmetic", "version: 1\nruntime:\n  arithmetic: fast\n", "runtime.arithmetic: is \"fast\"; want litert or reference"},
		{"bad model arithmetic", minimal + "    arithmetic: xnnpack\n", "models[0].arithmetic: is \"xnnpack\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "/tmp")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse error = %v; want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	doc := "version: 1\nlog:\n  format: xml\n  level: loud\n"
	_, err := Parse([]byte(doc), "/tmp")
	if err == nil || !strings.Contains(err.Error(), "log.format") || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("error = %v; want both log.format and log.level", err)
	}
}

func TestPublicWithToken(t *testing.T) {
	c, err := Parse([]byte("version: 1\nhttp:\n  listen: 0.0.0.0:9410\n  token: s3cret\n  request_timeout: 250ms\n"), "/tmp")
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.RequestTimeout.D() != 250*time.Millisecond {
		t.Errorf("request_timeout = %v", c.HTTP.RequestTimeout.D())
	}
}

// TestExampleFiles checks that every shipped example config is valid.
func TestExampleFiles(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example configs found in examples/")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	if b, err := os.ReadFile("../../examples/edged.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, "/tmp")
		if err == nil && c.Validate() != nil {
			t.Fatal("Parse accepted a config that does not validate")
		}
	})
}

func TestEnsembleConfig(t *testing.T) {
	base := "version: 1\nmodels:\n  - name: a\n    path: a.tflite\n  - name: b\n    path: b.tflite\n"
	tests := []struct{ name, doc, wantErr string }{
		{"ok", base + "  - name: e\n    ensemble: {members: [a, b], combine: vote}\n", ""},
		{"one member", base + "  - name: e\n    ensemble: {members: [a], combine: mean}\n", "models[2].ensemble.members: lists 1 models"},
		{"unknown member", base + "  - name: e\n    ensemble: {members: [a, z], combine: mean}\n", `models[2].ensemble.members[1]: "z" is not a model defined before this one`},
		{"nested", base + "  - name: e\n    ensemble: {members: [a, b], combine: mean}\n  - name: f\n    ensemble: {members: [a, e], combine: mean}\n", `"e" is an ensemble`},
		{"bad combine", base + "  - name: e\n    ensemble: {members: [a, b], combine: max}\n", `models[2].ensemble.combine: is "max"`},
		{"path too", base + "  - name: e\n    path: x.tflite\n    ensemble: {members: [a, b], combine: mean}\n", "models[2].path: an ensemble has no path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "/tmp")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v; want %q", err, tc.wantErr)
			}
		})
	}
}
