package rollout

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// gatePlan: 10 devices in waves 1, 100% (sizes 1, 9), success 100%,
// abort after the first outcome at any failure.
func gatePlan() Plan {
	p := DefaultPlan()
	p.Waves = []Size{{Count: 1}, {Percent: 100}}
	p.Success, p.AbortAfter, p.AbortFailures = 1, 1, 0
	return p
}

func newGated(t *testing.T, p Plan, n int) (*Rollout, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: t0}
	r, err := New(p, devices(n), clk)
	if err != nil {
		t.Fatal(err)
	}
	return r, clk
}

func mustReport(t *testing.T, r *Rollout, id string, s Status) Decision {
	t.Helper()
	d, err := r.Report(id, s, "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustObserve(t *testing.T, r *Rollout, id string, o Observation) Decision {
	t.Helper()
	d, err := r.Observe(id, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBake(t *testing.T) {
	p := gatePlan()
	p.Bake = Duration(5 * time.Minute)
	r, clk := newGated(t, p, 10)
	r.Tick()
	if d := mustReport(t, r, "dev-0000", Active); d.Action != Wait {
		t.Fatalf("wave 0 active at once: %s %q; want to wait for the bake", d.Action, d.Reason)
	}
	if w := r.Summary().Waiting; w != "wave 0: 1 of 1 active; baking, 5m0s of 5m0s left" {
		t.Errorf("Waiting = %q", w)
	}
	clk.t = clk.t.Add(4*time.Minute + 59*time.Second)
	if d := r.Tick(); d.Action != Wait {
		t.Fatalf("after 4m59s: %s; want wait", d.Action)
	}
	if w := r.Summary().Waiting; !strings.Contains(w, "baking, 1s of 5m0s left") {
		t.Errorf("Waiting = %q; want 1s left", w)
	}
	clk.t = clk.t.Add(time.Second)
	d := r.Tick()
	if d.Action != StartWave || d.Wave != 1 || len(d.Devices) != 9 || !strings.Contains(d.Reason, "wave 0: 1 of 1 active (1 needed), baked") {
		t.Fatalf("after 5m: %s wave %d %v %q; want wave 1 of 9 devices", d.Action, d.Wave, d.Devices, d.Reason)
	}
	// The last wave bakes too before the rollout finishes.
	for _, id := range devices(10)[1:] {
		mustReport(t, r, id, Active)
	}
	if r.Phase() != Running {
		t.Fatalf("phase %s before the last bake; want running", r.Phase())
	}
	clk.t = clk.t.Add(5 * time.Minute)
	if d := r.Tick(); d.Action != Finish {
		t.Fatalf("after the last bake: %s; want finish", d.Action)
	}
}

func TestMinRequests(t *testing.T) {
	p := gatePlan()
	p.MinRequests = 100
	r, _ := newGated(t, p, 10)
	r.Tick()
	mustReport(t, r, "dev-0000", Active)
	if w := r.Summary().Waiting; !strings.Contains(w, "1 device(s) below 100 requests on the new version (fewest 0)") {
		t.Errorf("Waiting = %q", w)
	}
	if d := mustObserve(t, r, "dev-0000", Observation{Requests: 99}); d.Action != Wait {
		t.Fatalf("99 requests: %s; want wait", d.Action)
	}
	if d := mustObserve(t, r, "dev-0000", Observation{Requests: 100}); d.Action != StartWave || d.Wave != 1 {
		t.Fatalf("100 requests: %s wave %d; want wave 1", d.Action, d.Wave)
	}
}

func TestHealthGates(t *testing.T) {
	tests := []struct {
		name   string
		health Health
		obs    Observation
		want   string // "" healthy, else a substring of the reason
	}{
		// 6 errors of 60 requests = 10% > 5%.
		{"error rate", Health{MaxErrorRate: 0.05}, Observation{Requests: 54, Errors: 6}, "error rate 10.0% (6 of 60 requests) > 5.0%"},
		{"error rate at the limit", Health{MaxErrorRate: 0.1}, Observation{Requests: 54, Errors: 6}, ""},
		// 19 requests are too few to judge: 10 errors say nothing yet.
		{"error rate on too few requests", Health{MaxErrorRate: 0.05}, Observation{Requests: 9, Errors: 10}, ""},
		// 9 ms over 3 ms = 3× > 2×, and 6 ms more.
		{"p99 ratio", Health{MaxP99Ratio: 2}, Observation{Requests: 50, P99: 9, BaseP99: 3}, "p99 latency 9 ms, 3.00× the previous version's 3 ms > 2.00×"},
		// 0.9 ms over 0.3 ms is 3× but only 0.6 ms more: noise.
		{"p99 ratio of tiny latencies", Health{MaxP99Ratio: 2}, Observation{Requests: 50, P99: 0.9, BaseP99: 0.3}, ""},
		{"p99 without a baseline", Health{MaxP99Ratio: 2}, Observation{Requests: 50, P99: 90}, ""},
		{"crash loop", Health{MaxRestarts: 2}, Observation{Restarts: 3}, "crash loop: 3 restarts since the deploy > 2"},
		{"restarts within the limit", Health{MaxRestarts: 2}, Observation{Restarts: 2}, ""},
		{"drift", Health{Drift: true}, Observation{Drift: "drift"}, "input drift on the new version"},
		{"drift warn", Health{Drift: true}, Observation{Drift: "warn"}, ""},
		{"drift not gated", Health{}, Observation{Drift: "drift"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gatePlan()
			p.Health = tt.health
			r, _ := newGated(t, p, 10)
			r.Tick()
			mustReport(t, r, "dev-0000", Deploying)
			d := mustObserve(t, r, "dev-0000", tt.obs)
			if d.Action != Wait {
				t.Fatalf("observation while deploying decided %s; want wait (only installed devices are judged)", d.Action)
			}
			d = mustReport(t, r, "dev-0000", Active)
			dev, _ := r.Device("dev-0000")
			if tt.want == "" {
				if dev.Status != Active || d.Action != StartWave {
					t.Fatalf("device %s (%q), decision %s; want active and wave 1", dev.Status, dev.Reason, d.Action)
				}
				return
			}
			if dev.Status != Unhealthy || !strings.Contains(dev.Reason, tt.want) {
				t.Errorf("device %s %q; want unhealthy with %q", dev.Status, dev.Reason, tt.want)
			}
			if d.Action != Abort || !slices.Equal(d.Devices, []string{"dev-0000"}) {
				t.Errorf("decision %s %v; want abort rolling back dev-0000", d.Action, d.Devices)
			}
			// A late "active" does not make it healthy again.
			mustReport(t, r, "dev-0000", Active)
			if dev, _ := r.Device("dev-0000"); dev.Status != Unhealthy {
				t.Errorf("after a repeated active report: %s; want unhealthy", dev.Status)
			}
		})
	}
}

// TestHealthAbortRollsBackInstalled: wave 1 of 9; three devices active,
// one unhealthy, two failed (never installed), three deploying. The
// abort names the installed and the deploying ones, not the failed.
func TestHealthAbortRollsBackInstalled(t *testing.T) {
	p := gatePlan()
	p.Success, p.AbortAfter, p.AbortFailures = 0.5, 6, 0.5
	p.Health.MaxErrorRate = 0.1
	r, _ := newGated(t, p, 10)
	r.Tick()
	mustReport(t, r, "dev-0000", Active)
	for _, id := range devices(4)[1:] {
		mustReport(t, r, id, Active)
	}
	for _, id := range []string{"dev-0004", "dev-0005"} {
		r.Report(id, Failed, "rejected: expired")
	}
	// Outcomes 6, failures 2: 33% <= 50%. Then dev-0001 errs: 3 of 6 = 50%, no abort yet.
	if d := mustObserve(t, r, "dev-0001", Observation{Requests: 40, Errors: 40}); d.Action == Abort {
		t.Fatalf("aborted at 3 of 6 failures: %q", d.Reason)
	}
	mustReport(t, r, "dev-0006", Active)
	// 7 outcomes, 3 failures; dev-0002 unhealthy: 4 of 7 = 57% > 50%.
	d := mustObserve(t, r, "dev-0002", Observation{Requests: 40, Errors: 40})
	want := []string{"dev-0000", "dev-0001", "dev-0002", "dev-0003", "dev-0006", "dev-0007", "dev-0008", "dev-0009"}
	if d.Action != Abort || !slices.Equal(d.Devices, want) {
		t.Fatalf("decision %s %v %q; want abort of %v", d.Action, d.Devices, d.Reason, want)
	}
	if !strings.Contains(d.Reason, "4 of 7 devices with an outcome failed") {
		t.Errorf("reason %q", d.Reason)
	}
}

// TestRateLimit: 6 a minute is one device every 10 s, a burst of one.
func TestRateLimit(t *testing.T) {
	p := gatePlan()
	p.Waves = []Size{{Percent: 100}}
	p.PerMinute = 6
	r, clk := newGated(t, p, 5)
	d := r.Tick()
	if d.Action != StartWave || !slices.Equal(d.Devices, devices(1)) || d.Reason != "start wave 0 of 1: 5 devices (1 now, then 6 a minute)" {
		t.Fatalf("first tick: %s %v %q", d.Action, d.Devices, d.Reason)
	}
	var sent []time.Duration
	for s := 1; s <= 60; s++ {
		clk.t = t0.Add(time.Duration(s) * time.Second)
		if d := r.Tick(); d.Action == Release {
			if len(d.Devices) != 1 {
				t.Fatalf("at %ds released %v; want one", s, d.Devices)
			}
			sent = append(sent, time.Duration(s)*time.Second)
		}
		if s == 15 {
			if w := r.Summary().Waiting; w != "wave 0: 2 of 5 sent; at most 6 a minute, next in 5s" {
				t.Errorf("Waiting at 15s = %q", w)
			}
		}
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second}
	if !slices.Equal(sent, want) {
		t.Errorf("released at %v; want %v", sent, want)
	}
	// A state with pending devices in the current wave restores.
	r2, _ := newGated(t, p, 5)
	r2.Tick()
	b, _ := r2.Marshal()
	if _, err := Restore(b, clk); err != nil {
		t.Errorf("Restore of a rate-limited wave: %v", err)
	}
}

// TestRateLimitBurst: 600 a minute is one every 100 ms, bursts of ten.
func TestRateLimitBurst(t *testing.T) {
	p := gatePlan()
	p.Waves = []Size{{Percent: 100}}
	p.PerMinute = 600
	p.DeviceTimeout = Duration(2 * time.Hour)
	r, clk := newGated(t, p, 40)
	if d := r.Tick(); len(d.Devices) != 10 {
		t.Fatalf("first tick sent %d; want a burst of 10", len(d.Devices))
	}
	clk.t = t0.Add(time.Second)
	if d := r.Tick(); d.Action != Release || len(d.Devices) != 10 {
		t.Fatalf("1s later: %s %d devices; want 10", d.Action, len(d.Devices))
	}
	// An hour's silence does not save up more than the burst.
	clk.t = t0.Add(time.Hour)
	if d := r.Tick(); d.Action != Release || len(d.Devices) != 10 {
		t.Fatalf("an hour later: %s %d devices; want the burst of 10", d.Action, len(d.Devices))
	}
}

func TestPauseResume(t *testing.T) {
	p := gatePlan()
	r, _ := newGated(t, p, 10)
	r.Tick()
	if _, err := r.Pause("operator"); err != nil {
		t.Fatal(err)
	}
	if d := mustReport(t, r, "dev-0000", Active); d.Action != Wait {
		t.Fatalf("paused: %s; want wait", d.Action)
	}
	if s := r.Summary(); !s.Paused || s.Waiting != "paused: operator" {
		t.Errorf("summary paused %v, waiting %q", s.Paused, s.Waiting)
	}
	// The state keeps the pause across a restart.
	b, _ := r.Marshal()
	r, err := Restore(b, &fakeClock{t: t0})
	if err != nil || !r.Paused() {
		t.Fatalf("restored: paused %v, %v", r != nil && r.Paused(), err)
	}
	d, err := r.Resume()
	if err != nil || d.Action != StartWave || d.Wave != 1 {
		t.Fatalf("resume: %s wave %d, %v; want wave 1", d.Action, d.Wave, err)
	}
	// A pause does not stop the abort criteria.
	r.Pause("")
	if d := mustReport(t, r, "dev-0001", Failed); d.Action != Abort {
		t.Errorf("failure while paused: %s; want abort", d.Action)
	}
	if _, err := r.Resume(); err == nil {
		t.Error("resume after the abort succeeded; want an error")
	}
}

func TestCancel(t *testing.T) {
	r, _ := newGated(t, gatePlan(), 10)
	r.Tick()
	mustReport(t, r, "dev-0000", Active)
	mustReport(t, r, "dev-0001", Active)
	d, err := r.Cancel("operator cancelled")
	if err != nil || d.Action != Cancel || !slices.Equal(d.Devices, devices(10)[2:]) {
		t.Fatalf("cancel: %s %v, %v; want the 8 devices still deploying", d.Action, d.Devices, err)
	}
	if r.Phase() != Cancelled {
		t.Errorf("phase %s; want cancelled", r.Phase())
	}
	b, _ := r.Marshal()
	if _, err := Restore(b, &fakeClock{t: t0}); err != nil {
		t.Errorf("restore a cancelled rollout: %v", err)
	}
	if _, err := r.Cancel(""); err == nil {
		t.Error("second cancel succeeded; want an error")
	}
}

// TestRestoreVersion1 reads a state written before gates existed.
func TestRestoreVersion1(t *testing.T) {
	v1 := `{"v":1,"plan":{"waves":["1","100%"],"success":0.95,"abort_after":3,"abort_failures":0.1,"device_timeout":"30m0s","order":"sorted"},` +
		`"created":"2026-11-27T03:00:00Z","phase":"running","wave":0,"wave_sizes":[1,1],` +
		`"devices":[{"id":"a","wave":0,"status":"deploying","since":"2026-11-27T03:00:00Z"},{"id":"b","wave":1,"status":"pending"}]}`
	r, err := Restore([]byte(v1), &fakeClock{t: t0})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := r.Report("a", Active, ""); d.Action != StartWave || !slices.Equal(d.Devices, []string{"b"}) {
		t.Errorf("after restore: %s %v; want wave 1 to b", d.Action, d.Devices)
	}
}

func TestPlanValidateGates(t *testing.T) {
	p := DefaultPlan()
	p.Bake, p.PerMinute = -1, -1
	p.Health = Health{MaxErrorRate: 2, MaxP99Ratio: 0.5, MaxRestarts: -1}
	err := p.Validate()
	for _, f := range []string{"plan.bake", "plan.per_minute", "plan.health.max_error_rate", "plan.health.max_p99_ratio", "plan.health.max_restarts"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("Validate() = %v; want %s", err, f)
		}
	}
}

// The reason a rollout waits is printed when it changes, not every
// second while a bake counts down.
func TestWaitNote(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	var n waitNote
	steps := []struct {
		after time.Duration
		w     string
		print bool
	}{
		{0, "wave 0: 1 of 1 active; baking, 30s of 30s left", true},
		{time.Second, "wave 0: 1 of 1 active; baking, 29s of 30s left", false},
		{2 * time.Second, "wave 0: 1 of 1 active; baking, 28s of 30s left", false},
		{3 * time.Second, "wave 0: 1 of 1 active; baking, 27s of 30s left; 1 device(s) below 30 requests on the new version (fewest 4)", true},
		{4 * time.Second, "wave 0: 1 of 1 active; baking, 26s of 30s left", true},
		{5 * time.Second, "", false},
		{6 * time.Second, "wave 0: 1 of 1 active; baking, 24s of 30s left", true},
		{66 * time.Second, "wave 0: 1 of 1 active; baking, 29m of 30m left", true}, // a minute on: again
		{67 * time.Second, "wave 0: 1 of 1 active; baking, 29m of 30m left", false},
	}
	for i, s := range steps {
		if got := n.changed(s.w, t0.Add(s.after)); got != s.print {
			t.Errorf("step %d (%q at +%v): printed %v; want %v", i, s.w, s.after, got, s.print)
		}
	}
}
