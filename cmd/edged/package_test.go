package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstalledConfig: the configuration scripts/install.sh and the .deb
// install (packaging/edged.yaml) passes --check with the demo model they
// install in /usr/share/edged/models, here taken from where they copy it.
func TestInstalledConfig(t *testing.T) {
	b, err := os.ReadFile("../../packaging/edged.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for src, dst := range map[string]string{
		"../../testdata/models/person_detect.tflite": "person_detect.tflite",
		"../../examples/person_detect_labels.txt":    "person_detect_labels.txt",
	} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("the packaged file %s: %v", src, err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := string(b)
	for _, from := range []string{"/usr/share/edged/models", "/var/lib/edged"} {
		if !strings.Contains(cfg, from) {
			t.Fatalf("packaging/edged.yaml no longer names %s; update this test", from)
		}
	}
	cfg = strings.ReplaceAll(cfg, "/usr/share/edged/models", dir)
	cfg = strings.ReplaceAll(cfg, "/var/lib/edged", filepath.Join(dir, "state"))
	path := filepath.Join(dir, "edged.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o640); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--check", "--config", path}, &out, &out); err != nil {
		t.Fatalf("edged --check on the installed configuration: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "ok (1 models)") {
		t.Errorf("--check said %q; want ok with the demo model", out.String())
	}
}
