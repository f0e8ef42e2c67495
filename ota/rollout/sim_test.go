package rollout

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// driver plays a fleet: each device sent the deploy answers with
// outcome(id), one report a second, in the order they were sent; a
// device whose outcome is Deploying never answers.
type driver struct {
	r         *Rollout
	clk       *fakeClock
	outcome   func(id string) Status
	queue     []string
	decisions []Decision
}

func (d *driver) handle(dec Decision) {
	if dec.Action == Wait {
		return
	}
	d.decisions = append(d.decisions, dec)
	if dec.Action == StartWave {
		d.queue = append(d.queue, dec.Devices...)
	}
}

// step delivers one report (or, with none left, lets the timeout pass);
// false when there is nothing more to do.
func (d *driver) step(t *testing.T) bool {
	if d.r.Phase() != Running {
		return false
	}
	if len(d.queue) == 0 {
		d.clk.t = d.clk.t.Add(d.r.Plan().DeviceTimeout.D())
		d.handle(d.r.Tick())
		return d.r.Phase() == Running && len(d.queue) > 0
	}
	id := d.queue[0]
	d.queue = d.queue[1:]
	s := d.outcome(id)
	if s == Deploying {
		return true
	}
	d.clk.t = d.clk.t.Add(time.Second)
	dec, err := d.r.Report(id, s, "")
	if err != nil {
		t.Fatalf("Report(%s, %s): %v", id, s, err)
	}
	d.handle(dec)
	return true
}

func (d *driver) run(t *testing.T) {
	d.handle(d.r.Tick())
	for d.step(t) {
	}
}

func num(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "dev-"))
	return n
}

func TestSimulatedFleet(t *testing.T) {
	good := func(string) Status { return Active }
	tests := []struct {
		name      string
		n         int
		order     Order
		outcome   func(id string) Status
		wantSizes []int // StartWave sizes, in order
		wantPhase Phase
		wantAbort string
	}{
		{"200 good devices", 200, OrderSorted, good, []int{1, 9, 40, 150}, Done, ""},
		{"1000 good devices", 1000, OrderSorted, good, []int{1, 49, 200, 750}, Done, ""},
		{"200 devices, 1 in 200 fails", 200, OrderSorted, func(id string) Status {
			if num(id) == 150 {
				return Failed
			}
			return Active
		}, []int{1, 9, 40, 150}, Done, ""},
		// Every fifth device (dev-0002, dev-0007, ...) rejects the candidate:
		// in wave 1 dev-0001 is active, dev-0002 fails: 1 of 3 outcomes.
		{"20% reject, sorted", 200, OrderSorted, func(id string) Status {
			if num(id)%5 == 2 {
				return RolledBack
			}
			return Active
		}, []int{1, 9}, Aborted, "1 of 3 devices with an outcome failed"},
		{"20% reject, shuffled", 200, OrderShuffle, func(id string) Status {
			if num(id)%5 == 2 {
				return Failed
			}
			return Active
		}, nil, Aborted, ""},
		// dev-0003 never answers: wave 1 has 8 of 9 active, needs 9, and
		// the timeout makes that impossible.
		{"a silent device times out and aborts its wave", 200, OrderSorted, func(id string) Status {
			if num(id) == 3 {
				return Deploying
			}
			return Active
		}, []int{1, 9}, Aborted, "wave 1 can no longer succeed: 8 active, 0 deploying, 1 failed of 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPlan()
			p.Order, p.Seed = tt.order, 11
			clk := &fakeClock{t: t0}
			r, err := New(p, devices(tt.n), clk)
			if err != nil {
				t.Fatal(err)
			}
			d := &driver{r: r, clk: clk, outcome: tt.outcome}
			d.run(t)
			var sizes []int
			for _, dec := range d.decisions {
				if dec.Action == StartWave {
					sizes = append(sizes, len(dec.Devices))
				}
			}
			if tt.wantSizes != nil && !slices.Equal(sizes, tt.wantSizes) {
				t.Errorf("wave sizes = %v; want %v", sizes, tt.wantSizes)
			}
			if r.Phase() != tt.wantPhase {
				t.Fatalf("Phase() = %s (%v); want %s", r.Phase(), d.decisions[len(d.decisions)-1], tt.wantPhase)
			}
			last := d.decisions[len(d.decisions)-1]
			switch tt.wantPhase {
			case Done:
				for _, dev := range r.Devices() {
					if dev.Status != tt.outcome(dev.ID) {
						t.Errorf("device %s = %s; want %s", dev.ID, dev.Status, tt.outcome(dev.ID))
					}
				}
			case Aborted:
				if last.Action != Abort || !strings.Contains(last.Reason, tt.wantAbort) {
					t.Fatalf("last decision %s %q; want abort with %q", last.Action, last.Reason, tt.wantAbort)
				}
				// Every device that may serve the version is rolled back;
				// those that failed or rolled back by themselves never
				// installed it, and nobody else is touched.
				rollback := map[string]bool{}
				for _, id := range last.Devices {
					rollback[id] = true
				}
				deployed := 0
				for _, dev := range r.Devices() {
					if dev.Status == Pending {
						if rollback[dev.ID] {
							t.Errorf("pending device %s sent a rollback", dev.ID)
						}
						continue
					}
					deployed++
					mayServe := dev.Status.Installed() || dev.Status == Deploying || dev.Status == Timeout
					if rollback[dev.ID] != mayServe {
						t.Errorf("device %s (%s): rollback %v; want %v", dev.ID, dev.Status, rollback[dev.ID], mayServe)
					}
				}
				// Abort must come in the first waves: at most 1 + 9 + 40.
				if deployed > 50 {
					t.Errorf("%d devices deployed before the abort; want at most 50", deployed)
				}
			}
		})
	}
}

func TestRestartMidRollout(t *testing.T) {
	p := DefaultPlan()
	p.Success, p.AbortFailures = 0.9, 0.2
	outcome := func(id string) Status {
		switch {
		case num(id)%20 == 13:
			return Failed
		case num(id)%50 == 29:
			return Deploying // silent
		}
		return Active
	}
	newDriver := func(r *Rollout, clk *fakeClock) *driver { return &driver{r: r, clk: clk, outcome: outcome} }
	clk := &fakeClock{t: t0}
	r, err := New(p, devices(200), clk)
	if err != nil {
		t.Fatal(err)
	}
	a := newDriver(r, clk)
	a.handle(r.Tick())
	for range 30 { // into wave 2
		a.step(t)
	}
	if r.st.Wave != 2 {
		t.Fatalf("after 30 reports in wave %d; want 2", r.st.Wave)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	clk2 := &fakeClock{t: clk.t}
	r2, err := Restore(b, clk2)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if b2, _ := r2.Marshal(); string(b2) != string(b) {
		t.Fatalf("state changed through Restore:\n%s\n%s", b, b2)
	}
	c := newDriver(r2, clk2)
	c.queue = slices.Clone(a.queue) // edgectl re-reads these from Deploying()
	before := len(a.decisions)
	for {
		okA, okC := a.step(t), c.step(t)
		if okA != okC {
			t.Fatal("original and restored rollouts stopped at different points")
		}
		if !okA {
			break
		}
	}
	if !reflect.DeepEqual(a.decisions[before:], c.decisions) {
		t.Fatalf("decisions after restore differ:\noriginal %+v\nrestored %+v", a.decisions[before:], c.decisions)
	}
	if r2.Phase() != r.Phase() || r.Phase() == Running {
		t.Errorf("phases %s and %s; want the same final phase", r.Phase(), r2.Phase())
	}
}

func TestRestoreErrors(t *testing.T) {
	clk := &fakeClock{t: t0}
	r, _ := New(testPlan(), devices(20), clk)
	r.Tick()
	good, _ := r.Marshal()
	tests := []struct {
		name, from, to, wantErr string
	}{
		{"good", "", "", ""},
		{"version", `"v":2`, `"v":9`, "state version 9; this edgectl reads 1 and 2"},
		{"unknown field", `"wave":0`, `"wave":0,"x":1`, "unknown field"},
		{"phase", `"phase":"running"`, `"phase":"paused"`, `phase "paused"`},
		{"wave out of range", `"wave":0`, `"wave":7`, "wave 7; want -1 to 2"},
		{"status", `"status":"deploying"`, `"status":"happy"`, "unknown status"},
		{"duplicate device", `"id":"dev-0001"`, `"id":"dev-0000"`, `id "dev-0000" empty or repeated`},
		{"pending in a started wave", `"status":"deploying"`, `"status":"pending"`, "status pending in wave 0"},
		{"wave sizes", `"wave_sizes":[1,4,15]`, `"wave_sizes":[1,4,14]`, "wave 2: 15 devices; wave_sizes says 14"},
		{"plan", `"success":0.95`, `"success":0`, "plan.success"},
		{"not json", `{`, `[`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := strings.Replace(string(good), tt.from, tt.to, 1)
			if tt.from != "" && b == string(good) {
				t.Fatalf("%q not in %s", tt.from, good)
			}
			_, err := Restore([]byte(b), clk)
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Restore(%s) error = %v; want %q", tt.name, err, tt.wantErr)
			}
		})
	}
}
