package agent

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/internal/testenv"
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

// testBMP writes a 96×96 8-bit BMP, top row first: bytes 0x20 in the top
// half and 0xe0 in the bottom half, with a 16×16 square of 0x7f at x
// 40..55, y 8..23. Read into person_detect's int8 input they are 32, −32
// and 127.
func testBMP(t *testing.T) string {
	t.Helper()
	const w, h, off = 96, 96, 54
	b := make([]byte, off+w*h)
	copy(b, "BM")
	binary.LittleEndian.PutUint32(b[2:], uint32(len(b)))
	binary.LittleEndian.PutUint32(b[10:], off)
	binary.LittleEndian.PutUint32(b[14:], 40)
	binary.LittleEndian.PutUint32(b[18:], w)
	binary.LittleEndian.PutUint32(b[22:], 1<<32-h) // −96: top-down
	binary.LittleEndian.PutUint16(b[26:], 1)
	binary.LittleEndian.PutUint16(b[28:], 8)
	for y := range h {
		for x := range w {
			v := byte(0x20)
			if y >= h/2 {
				v = 0xe0
			}
			if x >= 40 && x < 56 && y >= 8 && y < 24 {
				v = 0x7f
			}
			b[off+y*w+x] = v
		}
	}
	path := filepath.Join(t.TempDir(), "pattern.bmp")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSourceFrame: a picture read by a source shows as its thumbnail at
// GET /v1/sources/camera0/frame: person_detect's 96×96 input keeps its
// size, with a 15-pixel caption line under it; the int8 input's values
// come out shifted by 128 (32 → 160, −32 → 96, 127 → 255).
func TestSourceFrame(t *testing.T) {
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
`, t.TempDir(), abs("../testdata/models/person_detect.tflite"), abs("../examples/person_detect_labels.txt"), testBMP(t))
	a, base, stop := runConfig(t, []byte(doc))
	defer stop()
	testenv.WaitFor(t, "a thumbnail of camera0", 20*time.Second, func() bool {
		st := a.Status()
		return len(st.Sources) == 1 && st.Sources[0].Frame != nil
	})
	f := a.Status().Sources[0].Frame
	if f.Path != "/v1/sources/camera0/frame" || f.Width != 96 || f.Height != 111 {
		t.Errorf("status frame %+v; want /v1/sources/camera0/frame, 96x111", f)
	}
	resp, err := http.Get(base + f.Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: %d %s", f.Path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("thumbnail: %v", err)
	}
	if img.Bounds() != image.Rect(0, 0, 96, 111) {
		t.Fatalf("thumbnail %v; want 96x111 (the picture and a caption line)", img.Bounds())
	}
	for _, c := range []struct {
		x0, y0, x1, y1 int
		want           uint8
	}{{0, 0, 96, 8, 160}, {0, 24, 96, 48, 160}, {40, 8, 56, 24, 255}, {0, 8, 40, 24, 160}, {0, 48, 96, 96, 96}} {
		for y := c.y0; y < c.y1; y++ {
			for x := c.x0; x < c.x1; x++ {
				if r, g, b, _ := img.At(x, y).RGBA(); r>>8 != uint32(c.want) || g != r || b != r {
					t.Fatalf("thumbnail pixel (%d,%d) = %v; want gray %d", x, y, img.At(x, y), c.want)
				}
			}
		}
	}
	if code, _, _ := do(t, "GET", base+"/v1/sources/nosuch/frame", "", nil); code != http.StatusNotFound {
		t.Errorf("GET the frame of an unknown source: %d; want 404", code)
	}
}

// TestMQTTSourceRefusals: messages an MQTT source refuses before
// inference (not JSON; the wrong number of values) are counted as the
// source's errors in the status and in edged_source_errors_total, as the
// configuration's "dropped and counted" promises.
func TestMQTTSourceRefusals(t *testing.T) {
	checkAgentLeaks(t)
	br := mosquittotest.Start(t, nil)
	model, err := filepath.Abs("../testdata/models/person_detect.tflite")
	if err != nil {
		t.Fatal(err)
	}
	a, base := startDelegateAgent(t, fmt.Sprintf(`
models:
  - name: person_detect
    path: %s
sources:
  - name: mic0
    type: mqtt
    model: person_detect
    mqtt:
      broker: %s
      topic: sensors/+/in
      result_topic: edged/results/{topic}
`, model, br.URL()))
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(br.URL()).SetClientID("refusals-test"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connecting the publisher: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	// The source subscribes once the agent runs; publish until it counts.
	errorsNow := func() uint64 {
		if st := a.Status(); len(st.Sources) == 1 {
			return st.Sources[0].Errors
		}
		return 0
	}
	for deadline := time.Now().Add(20 * time.Second); errorsNow() < 2 && time.Now().Before(deadline); {
		for _, p := range []string{"not json", "[1, 2, 3]"} {
			pub.Publish("sensors/mic0/in", 1, false, p).WaitTimeout(5 * time.Second)
		}
		time.Sleep(200 * time.Millisecond)
	}
	st := a.Status()
	if len(st.Sources) != 1 || st.Sources[0].Errors < 2 || st.Sources[0].Out != 0 {
		t.Fatalf("sources = %+v; want mic0 with the refused messages among its errors and no result", st.Sources)
	}
	got := st.Sources[0].Errors
	body := get(t, base+"/metrics")
	m := regexp.MustCompile(`(?m)^edged_source_errors_total\{source="mic0"\} (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no edged_source_errors_total for mic0")
	}
	if n, _ := strconv.ParseUint(m[1], 10, 64); n < got {
		t.Errorf("edged_source_errors_total{source=\"mic0\"} = %d; want at least the status's %d", n, got)
	}
}
