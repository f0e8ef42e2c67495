package rollout

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// testPlan: 20 devices in waves 1, 25%, 100% give sizes 1, 4, 15 (targets
// 1, ceil(5) = 5, 20); success 95% needs 1, 4 (ceil 3.8) and 15 (ceil
// 14.25) active.
func testPlan() Plan {
	p := DefaultPlan()
	p.Waves = []Size{{Count: 1}, {Percent: 25}, {Percent: 100}}
	return p
}

type step func(r *Rollout, c *fakeClock) Decision

func tick(after time.Duration) step {
	return func(r *Rollout, c *fakeClock) Decision {
		c.t = c.t.Add(after)
		return r.Tick()
	}
}

// report sends status s for devices dev-lo … dev-hi (inclusive); the
// returned decision is the last one that was not Wait.
func report(lo, hi int, s Status) step {
	return func(r *Rollout, c *fakeClock) Decision {
		last := r.wait()
		for _, id := range devices(hi + 1)[lo:] {
			d, err := r.Report(id, s, "test says "+s.String())
			if err != nil {
				panic(err)
			}
			if d.Action != Wait {
				last = d
			}
		}
		return last
	}
}

type want struct {
	action  Action
	wave    int
	devices []string // nil: not checked
	reason  string   // substring
}

func TestRolloutTransitions(t *testing.T) {
	tests := []struct {
		name      string
		plan      func(p *Plan)
		steps     []step
		want      []want // decisions other than Wait, in order
		wantPhase Phase
	}{
		{name: "first tick starts wave 0", steps: []step{tick(0)},
			want: []want{{StartWave, 0, devices(1), "start wave 0 of 3: 1 devices"}}, wantPhase: Running},
		{name: "a second tick waits", steps: []step{tick(0), tick(time.Minute)},
			want: []want{{StartWave, 0, devices(1), ""}}, wantPhase: Running},
		{name: "wave advances on success", steps: []step{tick(0), report(0, 0, Active)},
			want: []want{{StartWave, 0, nil, ""}, {StartWave, 1, devices(5)[1:], "wave 0: 1 of 1 active (1 needed); start wave 1 of 3: 4 devices"}}, wantPhase: Running},
		{name: "every wave, then finish", steps: []step{tick(0), report(0, 0, Active), report(1, 4, Active), report(5, 19, Active)},
			want:      []want{{StartWave, 0, nil, ""}, {StartWave, 1, nil, ""}, {StartWave, 2, devices(20)[5:], ""}, {Finish, 2, nil, "20 of 20 devices active, 0 failed"}},
			wantPhase: Done},
		{name: "deploying reports do not advance", steps: []step{tick(0), report(0, 0, Deploying)},
			want: []want{{StartWave, 0, nil, ""}}, wantPhase: Running},
		{name: "failed first device aborts", steps: []step{tick(0), report(0, 0, Failed)},
			want:      []want{{StartWave, 0, nil, ""}, {Abort, 0, []string{}, "wave 0 can no longer succeed: 0 active, 0 deploying, 1 failed of 1; 1 needed (95%)"}},
			wantPhase: Aborted},
		{name: "device that rolled back itself is not sent a rollback", steps: []step{tick(0), report(0, 0, RolledBack)},
			want: []want{{StartWave, 0, nil, ""}, {Abort, 0, []string{}, "can no longer succeed"}}, wantPhase: Aborted},
		{name: "timeout counts as failure", steps: []step{tick(0), tick(29 * time.Minute), tick(time.Minute)},
			want: []want{{StartWave, 0, nil, ""}, {Abort, 0, devices(1), "wave 0 can no longer succeed: 0 active, 0 deploying, 1 failed"}}, wantPhase: Aborted},
		{name: "a report restarts the timeout", steps: []step{tick(0), tick(20 * time.Minute), report(0, 0, Deploying), tick(20 * time.Minute), tick(10 * time.Minute)},
			want: []want{{StartWave, 0, nil, ""}, {Abort, 0, devices(1), ""}}, wantPhase: Aborted},
		{name: "wave that cannot reach success aborts before it ends", steps: []step{tick(0), report(0, 0, Active), report(1, 1, Failed)},
			want:      []want{{StartWave, 0, nil, ""}, {StartWave, 1, nil, ""}, {Abort, 1, []string{"dev-0000", "dev-0002", "dev-0003", "dev-0004"}, "wave 1 can no longer succeed: 0 active, 3 deploying, 1 failed of 4; 4 needed"}},
			wantPhase: Aborted},
		// success 50%: wave 1 needs 2 of 4. After dev-2: 3 outcomes, 1
		// failure: 33% > 10% once abort_after 3 is reached.
		{name: "failure fraction after abort_after rolls back every updated device", plan: func(p *Plan) { p.Success = 0.5 },
			steps:     []step{tick(0), report(0, 0, Active), report(1, 1, Failed), report(2, 2, Active)},
			want:      []want{{StartWave, 0, nil, ""}, {StartWave, 1, nil, ""}, {Abort, 1, []string{"dev-0000", "dev-0002", "dev-0003", "dev-0004"}, "1 of 3 devices with an outcome failed (33.3% > 10.0%, checked after 3)"}},
			wantPhase: Aborted},
		{name: "failures under the fraction do not abort", plan: func(p *Plan) { p.Success = 0.5; p.AbortFailures = 0.5 },
			steps: []step{tick(0), report(0, 0, Active), report(1, 1, Failed), report(2, 3, Active)},
			want:  []want{{StartWave, 0, nil, ""}, {StartWave, 1, nil, ""}, {StartWave, 2, nil, "wave 1: 2 of 4 active (2 needed)"}}, wantPhase: Running},
		{name: "abort_after holds the fraction back", plan: func(p *Plan) { p.Success = 0.25; p.AbortAfter = 5 },
			steps: []step{tick(0), report(0, 0, Active), report(1, 2, Failed)},
			want:  []want{{StartWave, 0, nil, ""}, {StartWave, 1, nil, ""}}, wantPhase: Running},
		{name: "finish waits for stragglers", plan: func(p *Plan) { p.Waves = []Size{{Percent: 100}}; p.Success = 0.5; p.AbortFailures = 1 },
			steps: []step{tick(0), report(0, 9, Active), tick(time.Minute), report(10, 18, Active), report(19, 19, Failed)},
			want:  []want{{StartWave, 0, devices(20), ""}, {Finish, 0, nil, "19 of 20 devices active, 1 failed"}}, wantPhase: Done},
		{name: "timeouts of stragglers finish", plan: func(p *Plan) { p.Waves = []Size{{Percent: 100}}; p.Success = 0.5; p.AbortFailures = 1 },
			steps: []step{tick(0), report(0, 9, Active), tick(30 * time.Minute)},
			want:  []want{{StartWave, 0, nil, ""}, {Finish, 0, nil, "10 of 20 devices active, 10 failed"}}, wantPhase: Done},
		{name: "reports after abort change nothing", steps: []step{tick(0), report(0, 0, Failed), report(0, 0, Active), tick(time.Hour)},
			want: []want{{StartWave, 0, nil, ""}, {Abort, 0, nil, ""}}, wantPhase: Aborted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan()
			if tt.plan != nil {
				tt.plan(&p)
			}
			clk := &fakeClock{t: t0}
			r, err := New(p, devices(20), clk)
			if err != nil {
				t.Fatal(err)
			}
			var got []Decision
			for _, s := range tt.steps {
				if d := s(r, clk); d.Action != Wait {
					got = append(got, d)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("decisions = %+v; want %d: %+v", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Action != w.action || g.Wave != w.wave || (w.devices != nil && !slices.Equal(g.Devices, w.devices)) || !strings.Contains(g.Reason, w.reason) {
					t.Errorf("decision %d = %s wave %d %v %q; want %s wave %d %v %q", i, g.Action, g.Wave, g.Devices, g.Reason, w.action, w.wave, w.devices, w.reason)
				}
			}
			if r.Phase() != tt.wantPhase {
				t.Errorf("Phase() = %s; want %s", r.Phase(), tt.wantPhase)
			}
		})
	}
}

func TestReport(t *testing.T) {
	clk := &fakeClock{t: t0}
	p := testPlan()
	p.AbortFailures, p.Success = 1, 0.25
	r, _ := New(p, devices(20), clk)
	r.Tick()
	tests := []struct {
		name    string
		id      string
		s       Status
		wantErr string
	}{
		{"unknown device", "dev-9999", Active, "not in this rollout"},
		{"device of a later wave", "dev-0010", Active, `report active from "dev-0010", which has not been sent the deploy (wave 2 not started)`},
		{"pending is no report", "dev-0000", Pending, "status pending; want deploying"},
		{"bad status", "dev-0000", Status(42), "status status(42)"},
		{"fine", "dev-0000", Deploying, ""},
	}
	for _, tt := range tests {
		_, err := r.Report(tt.id, tt.s, "")
		if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Report(%s) error = %v; want %q", tt.name, err, tt.wantErr)
		}
	}
	if _, err := r.Report("nobody", Active, ""); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("Report(nobody) error = %v; want ErrUnknownDevice", err)
	}
	// A timeout followed by a late report: the report wins.
	clk.t = clk.t.Add(time.Hour)
	r.Tick()
	if d, _ := r.Device("dev-0000"); d.Status != Timeout || d.Reason != "no report for 1h0m0s" {
		t.Fatalf("after an hour dev-0000 = %+v; want timeout, no report for 1h0m0s", d)
	}
	if _, err := r.Report("dev-0000", Active, ""); err != nil {
		t.Fatal(err)
	}
	if d, _ := r.Device("dev-0000"); d.Status != Active || !d.Since.Equal(clk.t) {
		t.Errorf("late report: dev-0000 = %+v; want active since %s", d, clk.t)
	}
}

func TestSummary(t *testing.T) {
	clk := &fakeClock{t: t0}
	p := testPlan()
	p.Success = 0.5
	p.AbortFailures = 1
	r, _ := New(p, devices(20), clk)
	for _, s := range []step{tick(0), report(0, 0, Active), report(1, 1, Failed), report(2, 3, Active)} {
		s(r, clk)
	}
	s := r.Summary()
	if s.Phase != Running || s.Wave != 2 || len(s.Waves) != 3 {
		t.Fatalf("Summary() = %+v; want running in wave 2 of 3", s)
	}
	want := []WaveSummary{
		{0, "1", 1, Counts{Active: 1}},
		{1, "25%", 4, Counts{Active: 2, Failed: 1, Deploying: 1}},
		{2, "100%", 15, Counts{Deploying: 15}},
	}
	for i, w := range want {
		if s.Waves[i] != w {
			t.Errorf("Summary().Waves[%d] = %+v; want %+v", i, s.Waves[i], w)
		}
	}
	if s.Total != (Counts{Active: 3, Failed: 1, Deploying: 16}) {
		t.Errorf("Summary().Total = %+v; want 3 active, 1 failed, 16 deploying", s.Total)
	}
	if len(s.Failures) != 1 || s.Failures[0].ID != "dev-0001" || s.Failures[0].Reason != "test says failed" {
		t.Errorf("Summary().Failures = %+v; want dev-0001 with its reason", s.Failures)
	}
	if got, want := r.Deploying(), devices(20)[4:]; !slices.Equal(got, want) {
		t.Errorf("Deploying() = %v; want %v", got, want)
	}
}
