package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edged-dev/edged/agent/drift"
	"github.com/edged-dev/edged/agent/link"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/outbox"
)

func TestProfile(t *testing.T) {
	data := t.TempDir()
	// 600 samples of hello_world_int8's one int8 input, values -100..99.
	for i := range 600 {
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("%04d.bin", i)), []byte{byte(int8(i%200 - 100))}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "p.json")
	msg, err := edgectl(t, "profile", "--model", "../../../testdata/models/hello_world_int8.tflite", "--data", data, "--out", out)
	if err != nil {
		t.Fatalf("edgectl profile: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p, err := drift.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	// A [1,1] input and a [1,1] output: one feature each, no classes.
	if len(p.Features) != 2 || p.Features[0].Name != "input0[0]" || p.Features[1].Name != "output0[0]" || p.Classes != nil {
		t.Fatalf("profile features %v, classes %v; want input0[0], output0[0] and none", p.Features, p.Classes)
	}
	if f := p.Features[0]; f.Stats.Count != 600 {
		t.Errorf("input0[0] count = %d; want 600", f.Stats.Count)
	}
	os.WriteFile(filepath.Join(data, "bad.bin"), []byte{1, 2}, 0o644)
	if _, err := edgectl(t, "profile", "--model", "../../../testdata/models/hello_world_int8.tflite", "--data", data, "--out", out); err == nil || !strings.Contains(err.Error(), "bad.bin has 2 bytes") {
		t.Errorf("profile with a 2-byte file: %v; want it named", err)
	}
}

// fakeFleetDevice runs a link (birth, ping answers) and keeps publishing
// a drift report and a telemetry snapshot until the test ends.
func fakeFleetDevice(t *testing.T, broker, id string, groups []string, state drift.State) {
	t.Helper()
	l, err := link.New(link.Options{
		Fleet: fleet.Options{Broker: broker, DeviceID: id, Groups: groups, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Log: slog.New(slog.DiscardHandler)},
		Birth: func() fleet.State {
			return fleet.State{Version: "v-test", Models: []fleet.ModelState{{Name: "iris", Active: "3"}}, Uptime: 3600}
		},
		OutboxPath: filepath.Join(t.TempDir(), "outbox.db"), Outbox: &outbox.Options{NoSync: true}, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.Run(ctx) }()
	go func() {
		defer wg.Done()
		temp := 47.5
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			now := time.Now().UTC()
			l.Drift(&drift.Report{V: 1, Model: "iris", Start: now.Add(-time.Minute), End: now, N: 500, State: state, Level: state,
				Worst: drift.Score{Stat: "psi", Feature: "input0[2]", Value: 0.42, Level: state}, PSI: 0.42, KSP: 1e-9})
			b, _ := fleet.Encode(&fleet.Telemetry{Time: now, Uptime: 3600, CPUTemp: &temp,
				Models: []fleet.ModelTelemetry{{Name: "iris", Version: "3", Inferences: 12345, P50: 0.8, P99: 2.5, CacheHit: 0.25}}})
			l.Publish(ctx, fleet.TelemetryTopic(id), b, 0, false)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		l.Close()
	})
}

func TestDriftAndStatusTables(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	broker := startMosquitto(t)
	fakeFleetDevice(t, broker, "pi-kitchen", []string{"kitchen"}, drift.Drift)
	fakeFleetDevice(t, broker, "pi-garage", nil, drift.OK)

	msg, err := edgectl(t, "drift", "--broker", broker, "--group", "kitchen", "--wait", "1500ms")
	if err != nil {
		t.Fatalf("edgectl drift: %v\n%s", err, msg)
	}
	t.Logf("edgectl drift --group kitchen:\n%s", msg)
	if !strings.Contains(msg, "pi-kitchen") || !strings.Contains(msg, "drift") || !strings.Contains(msg, "psi input0[2]=0.42") || strings.Contains(msg, "pi-garage") {
		t.Errorf("drift table lacks pi-kitchen in drift, or shows pi-garage (not in the group)")
	}

	// The online devices are asked for their figures; status ends once
	// both have sent them, long before --wait.
	start := time.Now()
	msg, err = edgectl(t, "status", "--broker", broker, "--wait", "30s")
	if err != nil {
		t.Fatalf("edgectl status: %v\n%s", err, msg)
	}
	t.Logf("edgectl status:\n%s", msg)
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("status took %v with every device answering; want it to end when they have", el)
	}
	for _, want := range []string{"pi-kitchen", "pi-garage", "online", "AGENT", "MODEL VERSION", "v-test", "12345", "0.80", "2.50", "25%", "47.5", "now"} {
		if !strings.Contains(msg, want) {
			t.Errorf("status table lacks %q", want)
		}
	}
	for _, l := range strings.Split(msg, "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[0] == "pi-garage" && (f[4] != "iris" || f[5] != "3") {
			t.Errorf("pi-garage's row %q; want model iris, model version 3 in their own columns", l)
		}
	}

	// The context's default group applies; --all lifts it.
	t.Setenv("EDGECTL_GROUP", "kitchen")
	msg, err = edgectl(t, "status", "--broker", broker, "--wait", "1500ms")
	if err != nil || !strings.Contains(msg, "pi-kitchen") || strings.Contains(msg, "pi-garage") {
		t.Errorf("status with the default group kitchen: %v; want pi-kitchen only\n%s", err, msg)
	}
	msg, err = edgectl(t, "status", "--broker", broker, "--wait", "10s", "--all")
	if err != nil || !strings.Contains(msg, "pi-kitchen") || !strings.Contains(msg, "pi-garage") {
		t.Errorf("status --all: %v; want both devices\n%s", err, msg)
	}
}

// One device's status adds its host, link, sources and commands.
func TestPrintDevice(t *testing.T) {
	temp, flags := 48.3, uint32(0x50005)
	d := &deviceView{telemetry: &fleet.Telemetry{CPUTemp: &temp,
		System:  &fleet.SystemTelemetry{CPU: 0.25, Load1: 0.5, MemUsed: 760, MemTotal: 3793, DiskFree: 22370, DiskTotal: 30436, ThrottleFlags: &flags},
		Link:    &fleet.LinkTelemetry{Reconnects: 2, Outbox: 3, Dropped: 1, SentBytes: 4096, LastError: "connection lost: EOF"},
		Sources: []fleet.SourceTelemetry{{Name: "camera0", In: 10, Out: 9, Errors: 1, Age: 2}}},
		commands: []fleet.CommandRecord{{Op: "deploy", CommandStatus: fleet.CommandStatus{ID: "d1", State: fleet.StatusRejected, Reason: "bad signature", Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}}}
	var b strings.Builder
	printDevice(&b, d)
	out := b.String()
	for _, want := range []string{
		"host: CPU 25% busy, load 0.50, memory 760 of 3793 MiB used, data disk 22370 of 30436 MiB free, CPU 48.3 °C, throttling 0x50005: under-voltage, throttled",
		"fleet link: 2 connections lost, outbox 3 waiting (1 dropped), 4096 bytes sent; last error: connection lost: EOF",
		"camera0  10        9        1       2s ago",
		"2026-03-01 12:00:00  deploy   d1  rejected",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("printDevice lacks %q:\n%s", want, out)
		}
	}
}

// A candidate's figures come from the device's telemetry: in shadow the
// comparisons and their errors, in canary each arm's requests, errors and
// median latency and the p-value.
func TestCanaryRowsFromTelemetry(t *testing.T) {
	p := 0.0123
	devs := map[string]*deviceView{
		"pi1": {state: &fleet.State{State: fleet.Online, Models: []fleet.ModelState{{Name: "person", Active: "1", Canary: "3"}}},
			telemetry: &fleet.Telemetry{Canaries: []fleet.CanaryTelemetry{{Model: "person", Candidate: "3", Phase: "shadow",
				Shadow: &fleet.ShadowTelemetry{N: 20, Errors: 2, ActiveP50: 0.25, CandP50: 0.5}}}}},
		"pi2": {state: &fleet.State{State: fleet.Online, Models: []fleet.ModelState{{Name: "person", Active: "1", Canary: "3"}}},
			telemetry: &fleet.Telemetry{Canaries: []fleet.CanaryTelemetry{{Model: "person", Candidate: "3", Phase: "canary",
				Active: &fleet.ArmTelemetry{N: 40, Errors: 1, P50: 1.5}, Cand: &fleet.ArmTelemetry{N: 38, Errors: 0, P50: 2}, P: &p, Test: "fisher"}}}},
		// No telemetry heard: the state's candidate, phase unknown.
		"pi3": {state: &fleet.State{State: fleet.Online, Models: []fleet.ModelState{{Name: "person", Active: "1", Canary: "3"}}}},
		// On hold, out of time in shadow: the shadow figures it reached,
		// and why it holds.
		"pi4": {state: &fleet.State{State: fleet.Online, Models: []fleet.ModelState{{Name: "person", Active: "1", Canary: "3"}}},
			telemetry: &fleet.Telemetry{Canaries: []fleet.CanaryTelemetry{{Model: "person", Candidate: "3", Phase: "hold",
				Shadow: &fleet.ShadowTelemetry{N: 500, Errors: 1, ActiveP50: 0.25, CandP50: 0.75}}}},
			commands: []fleet.CommandRecord{{Op: fleet.OpDeploy, CommandStatus: fleet.CommandStatus{ID: "d1", State: "hold",
				Reason: "shadow: 500 of 1000 comparisons after 1h0m0s", Time: time.Unix(100, 0)}}}},
		// Held by the operator in canary: the arms.
		"pi5": {state: &fleet.State{State: fleet.Online, Models: []fleet.ModelState{{Name: "person", Active: "1", Canary: "3"}}},
			telemetry: &fleet.Telemetry{Canaries: []fleet.CanaryTelemetry{{Model: "person", Candidate: "3", Phase: "hold",
				Shadow: &fleet.ShadowTelemetry{N: 1000, ActiveP50: 0.25, CandP50: 0.75},
				Active: &fleet.ArmTelemetry{N: 90, Errors: 2, P50: 1}, Cand: &fleet.ArmTelemetry{N: 10, P50: 1.25}}}}},
	}
	var b strings.Builder
	if err := printCanary(&b, canaryRows(devs)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	for _, want := range []string{
		"pi1  person  1       3          shadow   20 shadow     2 shadow    0.25ms/0.50ms",
		"pi2  person  1       3          canary   40/38         1/0         1.50ms/2.00ms  0.0123 (fisher)",
		"pi3  person  1       3          unknown",
		"pi4  person  1       3          hold     500 shadow    1 shadow    0.25ms/0.75ms  -  holding (shadow: 500 of 1000 comparisons after 1h0m0s); the active version serves every request until edgectl resume, promote or rollback",
		"pi5  person  1       3          hold     90/10         2/0         1.00ms/1.25ms  -  holding (no reason heard)",
	} {
		re := regexp.MustCompile(strings.Join(strings.Fields(regexp.QuoteMeta(want)), `\s+`))
		if !re.MatchString(out) {
			t.Errorf("canary table lacks %q", want)
		}
	}
}

// On hold, a device's local status gives the reason of the decision that
// held it, not the A/B statement of its figures.
func TestCanaryFromURLHold(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"device_id":"pi4","models":[{"name":"person","version":"1","canary":{"candidate":"3","phase":"hold",
			"figures":{"shadow":{"samples":500,"errors":1},"statement":"no A/B data yet"},
			"last":{"reason":"shadow: 500 of 1000 comparisons after 1h0m0s"}}}]}`)
	}))
	defer srv.Close()
	rows, err := canaryFromURL(context.Background(), srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].phase != "hold" || rows[0].reason != "shadow: 500 of 1000 comparisons after 1h0m0s" {
		t.Errorf("rows %+v; want person on hold with the hold's reason", rows)
	}
}
