package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// TestCheckModel runs the whole check on a small int8 network against the
// oracle: both runtimes must run it and litert must match the oracle
// byte for byte (XNNPACK's arithmetic, which the differential tests hold
// edged to); the report must say so.
func TestCheckModel(t *testing.T) {
	oracle := testenv.Oracle(t)
	model, err := tflitetest.Int8MLP(7, 16, 32, 10)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "mlp.tflite")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	c := &config{dir: dir, oracle: oracle, node: "node", edgectl: filepath.Join(dir, "no-edgectl"), work: t.TempDir(), cut: true, timeout: 5 * time.Minute}
	r := checkModel(context.Background(), c, path)
	if !r.Oracle.Ran {
		t.Fatalf("oracle did not run: %s", r.Oracle.Err)
	}
	for i, e := range r.Edged {
		if !e.Ran || len(e.Outputs) != 1 {
			t.Fatalf("edged %s: ran=%v outputs=%d err=%s", e.Arithmetic, e.Ran, len(e.Outputs), e.Err)
		}
		if o := e.Outputs[0]; o.N != 10 || o.DType != "int8" {
			t.Errorf("edged %s output: %d %s elements; want 10 int8", e.Arithmetic, o.N, o.DType)
		}
		if i == 1 && !e.exact() {
			t.Errorf("litert differs from the oracle: %+v (cut %+v)", e.Outputs[0], e.Cut)
		}
	}
	if r.Inspect.Err == "" {
		t.Errorf("inspect with a missing edgectl reported no error")
	}
	c.report = filepath.Join(dir, "report.md")
	if err := writeReport(c, []*result{r}, time.Now()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(c.report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| mlp.tflite |") || !strings.Contains(string(b), "= exact") {
		t.Errorf("report lacks the model's row or its exact litert result:\n%s", b)
	}
}
