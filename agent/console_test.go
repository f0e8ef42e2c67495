package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/status"
)

// syncBuffer is a log sink safe for the agent's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSourceResults runs TFLite Micro's person detector on its person
// test image from a named source: the status shows the source's counters
// and its last result with "person" first (the model's documented answer
// for that image: its person score beats its no-person score), the log
// has a debug line per result and a sampled info line.
func TestSourceResults(t *testing.T) {
	checkAgentLeaks(t)
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	doc := fmt.Sprintf(`
version: 1
state_dir: %s
http: {listen: "127.0.0.1:0"}
models:
  - name: person_detect
    path: %s
    labels: %s
sources:
  - name: camera0
    type: synthetic
    model: person_detect
    pattern: replay
    interval: 20ms
    files: [%s]
`, t.TempDir(), abs("../testdata/models/person_detect.tflite"), abs("../examples/person_detect_labels.txt"), abs("../testdata/models/testdata/person.bmp"))
	cfg, err := config.Parse([]byte(doc), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a, err := New(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	debugLine := regexp.MustCompile(`level=DEBUG msg="source result" .*source=camera0`)
	var src status.Source
	// A result is counted before its log line is written: wait for both.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st := a.Status(); len(st.Sources) == 1 && st.Sources[0].Out >= 3 && len(debugLine.FindAllString(logs.String(), -1)) >= 3 {
			src = st.Sources[0]
			break
		}
	}
	if src.Name != "camera0" || src.Type != "synthetic" || src.Model != "person_detect" || src.Out < 3 || src.In < src.Out || src.Errors != 0 || src.Last.IsZero() {
		t.Fatalf("source status = %+v; want camera0, synthetic, person_detect, 3 results or more, no errors", src)
	}
	r := src.Result
	if r == nil || r.Error != "" || len(r.Top) != 2 || r.Top[0].Label != "person" || r.Top[1].Label != "no person" || r.Top[0].Score <= r.Top[1].Score {
		t.Fatalf("last result = %+v; want 'person' scored above 'no person'", r)
	}
	tel := a.SourceTelemetry()
	if len(tel) != 1 || tel[0].Name != "camera0" || tel[0].Out < src.Out {
		t.Errorf("source telemetry = %+v; want camera0 with %d results or more", tel, src.Out)
	}
	out := logs.String()
	info := regexp.MustCompile(`level=INFO msg="person_detect: 'person' 0\.\d\d from camera0"`)
	if n := len(info.FindAllString(out, -1)); n != 1 {
		t.Errorf("%d sampled info lines for the same answer within a minute; want 1:\n%s", n, out)
	}
	if n := len(debugLine.FindAllString(out, -1)); n < 3 {
		t.Errorf("%d debug lines of source results; want one per result (≥ 3)", n)
	}
}
