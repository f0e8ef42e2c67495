package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nmodels:\n  - name: a\n    path: a.tflite\n    batch:\n      max_delay: -1ms\n"), 0o644)
	tests := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"version", []string{"--version"}, "edged dev", ""},
		{"check demo", []string{"--config", exampleConfig(t, "demo.yaml"), "--check"}, "ok (1 models)", ""},
		{"check full example", []string{"--config", exampleConfig(t, "edged.yaml"), "--check"}, "ok (1 models)", ""},
		{"missing config", []string{"--config", filepath.Join(dir, "none.yaml")}, "", "no such file"},
		{"invalid config", []string{"--config", bad, "--check"}, "", "models[0].batch.max_delay: must be > 0"},
		{"stray argument", []string{"serve"}, "", "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errb)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("run(%v) error = %v; want %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("run(%v) = %v, %q; want output containing %q", tc.args, err, out.String(), tc.wantOut)
			}
		})
	}
}

// exampleConfig copies examples/NAME into a temporary directory with its
// relative paths made absolute, its state directory a temporary one and
// its HTTP port chosen by the kernel, so that a test neither shares state
// with a demo running on the same machine nor writes outside its own
// directories.
func exampleConfig(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../examples", name))
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.ReplaceAll(string(b), "../testdata", filepath.Join(abs, "..", "testdata"))
	doc = strings.ReplaceAll(doc, "person_detect_labels.txt", filepath.Join(abs, "person_detect_labels.txt"))
	doc = strings.ReplaceAll(doc, "127.0.0.1:9410", "127.0.0.1:0")
	doc = regexp.MustCompile(`(?m)^state_dir: .*$`).ReplaceAllString(doc, "state_dir: "+t.TempDir())
	cfg := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestRunStops: the daemon serves the demo until its context ends, then
// exits cleanly (SIGTERM in production cancels the context).
func TestRunStops(t *testing.T) {
	cfg := exampleConfig(t, "demo.yaml")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"--config", cfg}, &out, &errb) }()
	time.Sleep(500 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v; want nil on cancellation\n%s", err, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(errb.String(), "local endpoint listening") {
		t.Errorf("log lacks the listening line:\n%s", errb.String())
	}
}

// TestCheckWritesNothing: --check of a configuration whose state
// directory does not exist leaves it so (it used to create it, with the
// cache, outbox and model store inside).
func TestCheckWritesNothing(t *testing.T) {
	cfg := exampleConfig(t, "demo.yaml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state")
	doc := regexp.MustCompile(`(?m)^state_dir: .*$`).ReplaceAllString(string(b), "state_dir: "+state)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--check", "--config", cfg}, &out, &out); err != nil {
		t.Fatalf("--check: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("--check left the state directory %s (stat: %v); want it not created", state, err)
	}
}
