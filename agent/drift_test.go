package agent

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/drift"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/runtime/tensor"
)

var falseAlarmWindows = flag.Int("falsealarm.windows", 200, "windows of stable input TestDriftFalseAlarms feeds")

func irisPath(t testing.TB) string {
	p, err := filepath.Abs("../testdata/models/iris.tflite")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// noise is one iris input of four values uniform in [-1, 1) plus shift,
// the distribution the synthetic noise source draws.
func noise(rng *rand.Rand, shift float64) []infer.Tensor {
	b := make([]byte, 16)
	for k := range 4 {
		binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(float32(rng.Float64()*2-1+shift)))
	}
	return []infer.Tensor{{DType: tensor.Float32, Shape: []int{1, 4}, Data: b}}
}

// irisProfile profiles iris on 8192 noise inputs, as edgectl profile
// does on a directory of inputs, and writes profile.json.
func irisProfile(t testing.TB) string {
	t.Helper()
	doc := fmt.Sprintf("version: 1\nstate_dir: %s\nmodels:\n  - name: iris\n    path: %s\n", t.TempDir(), irisPath(t))
	cfg, err := config.Parse([]byte(doc), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mi, _ := a.Model("iris", "")
	schema, err := drift.NewSchema(mi)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := drift.NewProfiler(schema.Features(), schema.Labels(mi), &drift.ProfilerOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var x []float64
	for range 8192 {
		in := noise(rng, 0)
		out, err := a.Infer(context.Background(), "iris", "", in)
		if err != nil {
			t.Fatal(err)
		}
		var class int
		if x, class, err = schema.Sample(x[:0], in, out); err != nil {
			t.Fatal(err)
		}
		if err := pr.Add(x, class); err != nil {
			t.Fatal(err)
		}
	}
	p, err := pr.Profile()
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "iris.profile.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkAgentLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// startBroker runs mosquitto on a free loopback port until the test ends
// and returns its address.
func startBroker(t *testing.T) string {
	t.Helper()
	return mosquittotest.Start(t, nil).Addr()
}

// TestDriftShiftReported is the end-to-end check: a synthetic
// source whose input mean moves by 0.5 after 1000 requests (two windows of
// 500) makes the device publish a drift event within the first window
// after the shift, with its drift reports and telemetry, over a real
// mosquitto.
func TestDriftShiftReported(t *testing.T) {
	checkAgentLeaks(t)
	addr := startBroker(t)
	profile := irisProfile(t)
	doc := fmt.Sprintf(`
version: 1
state_dir: %s
http: {listen: "127.0.0.1:0"}
device: {id: pi-drift}
fleet: {broker: "tcp://%s", min_backoff: 50ms, max_backoff: 200ms}
telemetry: {interval: 1s}
drift:
  window: {max_samples: 500, min_samples: 500}
models:
  - name: iris
    path: %s
    drift: {profile: %s}
sources:
  - type: synthetic
    model: iris
    pattern: noise
    interval: 1ms
    shift: {after: 1000, mean: 0.5}
`, t.TempDir(), addr, irisPath(t), profile)
	cfg, err := config.Parse([]byte(doc), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var reports []drift.Report
	var reportBytes int
	var events []fleet.Event
	var telemetry int
	changed := make(chan struct{}, 1)
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("operator").SetOrderMatters(true)
	sub := mqtt.NewClient(o)
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(100)
	h := func(_ mqtt.Client, m mqtt.Message) {
		tp, _ := fleet.ParseTopic(m.Topic())
		mu.Lock()
		defer mu.Unlock()
		switch tp.Kind {
		case fleet.KindDrift:
			var r struct {
				Seq uint64 `json:"seq"`
				drift.Report
			}
			if err := json.Unmarshal(m.Payload(), &r); err != nil {
				t.Errorf("drift report %s: %v", m.Payload(), err)
			}
			reports = append(reports, r.Report)
			reportBytes = len(m.Payload())
		case fleet.KindEvents:
			var ev fleet.Event
			if err := fleet.Decode(m.Payload(), &ev); err != nil {
				t.Errorf("event %s: %v", m.Payload(), err)
			}
			events = append(events, ev)
			var c drift.StateChange
			json.Unmarshal(ev.Detail, &c)
			if c.To == drift.Drift {
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		case fleet.KindTelemetry:
			telemetry++
		}
	}
	if tok := sub.SubscribeMultiple(map[string]byte{"edged/v1/dev/+/drift": 1, "edged/v1/dev/+/events": 1, "edged/v1/dev/+/telemetry": 0}, h); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	a, err := New(cfg, slog.New(slog.DiscardHandler))
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
	select {
	case <-changed:
	case <-time.After(60 * time.Second):
		mu.Lock()
		t.Fatalf("no drift event within 60s; %d reports, events %v", len(reports), events)
	}
	// Telemetry comes every second.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := telemetry
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no telemetry within 5s")
		}
	}
	mu.Lock()
	var states []string
	for _, r := range reports {
		states = append(states, fmt.Sprintf("%s(n=%d psi=%.3f ks_p=%.2g)", r.State, r.N, r.PSI, r.KSP))
	}
	t.Logf("reports: %s", strings.Join(states, ", "))
	t.Logf("drift samples dropped: %d; a published report (summary, no detail) is %d bytes", a.Drift()[0].Dropped, reportBytes)
	// Windows 1 and 2 hold requests 1..1000 (before the shift), window 3
	// the first 500 after it: the change must come with window 3 (one
	// more if samples were dropped before the shift).
	dropped := a.Drift()[0].Dropped
	limit := 3
	if dropped > 0 {
		limit = 4
	}
	if len(reports) > limit || reports[len(reports)-1].State != drift.Drift {
		t.Errorf("drift reported in window %d; want by window %d (the first after the shift)", len(reports), limit)
	}
	for i, r := range reports[:len(reports)-1] {
		if r.State != drift.OK {
			t.Errorf("window %d (before the shift) state %s; want ok", i+1, r.State)
		}
	}
	mu.Unlock()

	base := "http://" + a.addr.String()
	get := func(path string) string {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var ds []status.Drift
	if err := json.Unmarshal([]byte(get("/v1/drift")), &ds); err != nil || len(ds) != 1 || ds[0].State != drift.Drift {
		t.Errorf("GET /v1/drift = %+v (%v); want iris in state drift", ds, err)
	}
	if m := get("/metrics"); !strings.Contains(m, `edged_drift_state{model="iris"} 2`) {
		t.Errorf("/metrics lacks edged_drift_state{model=\"iris\"} 2")
	}
	if page := get("/"); !strings.Contains(page, "<svg") || !strings.Contains(page, "input0[") {
		t.Errorf("status page has no drift histogram")
	}
}

// TestDriftFalseAlarms feeds a stable input for many windows and counts
// the windows whose level is warn or drift, and the state changes.
func TestDriftFalseAlarms(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	checkAgentLeaks(t)
	profile := irisProfile(t)
	doc := fmt.Sprintf("version: 1\nstate_dir: %s\ndrift:\n  window: {max_samples: 500, min_samples: 500}\n  queue: 4096\nmodels:\n  - name: iris\n    path: %s\n    drift: {profile: %s}\n",
		t.TempDir(), irisPath(t), profile)
	cfg, err := config.Parse([]byte(doc), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	windows := float64(*falseAlarmWindows)
	rng := rand.New(rand.NewPCG(11, 11))
	windowsDone := func() float64 { return float64(a.Drift()[0].Windows) }
	for i := 0; windowsDone() < windows; i++ {
		if _, err := a.Infer(context.Background(), "iris", "", noise(rng, 0)); err != nil {
			t.Fatal(err)
		}
		if i > 10*500*int(windows) {
			t.Fatal("windows do not close")
		}
	}
	warn := counter(t, a, "edged_drift_window_levels_total", "iris", "warn")
	drifts := counter(t, a, "edged_drift_window_levels_total", "iris", "drift")
	toDrift := counter(t, a, "edged_drift_state_changes_total", "iris", "drift")
	t.Logf("stable input, %d windows of 500: %g warn windows, %g drift windows, %g changes to drift; %d samples dropped",
		int(windowsDone()), warn, drifts, toDrift, a.Drift()[0].Dropped)
	if drifts > 0 || toDrift > 0 {
		t.Errorf("stable input: %g drift windows, %g drift events in %g windows; want none", drifts, toDrift, windows)
	}
}

// counter reads a counter of the agent's registry whose labels are the
// model and one more value (in the order of their names).
func counter(t *testing.T, a *Agent, name, model, value string) float64 {
	t.Helper()
	mfs, err := a.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, l := range m.GetLabel() {
				vals = append(vals, l.GetValue())
			}
			if slices.Contains(vals, model) && slices.Contains(vals, value) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
