package rollout

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Clock gives the current time.
type Clock interface {
	Now() time.Time
}

// Status is where one device stands in the rollout.
type Status uint8

const (
	Pending    Status = iota // not sent the deploy yet
	Deploying                // sent the deploy; no outcome yet
	Active                   // serves the new model (promoted)
	RolledBack               // the device rolled the model back (its canary failed, or the rollout's rollback)
	Failed                   // the device reported an error (download, signature, load)
	Timeout                  // no report for Plan.DeviceTimeout
	Unhealthy                // installed the model, then failed a health gate
	numStatus
)

var statusNames = [numStatus]string{"pending", "deploying", "active", "rolled_back", "failed", "timeout", "unhealthy"}

func (s Status) String() string {
	if s < numStatus {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Failure reports whether the status counts against the rollout.
func (s Status) Failure() bool {
	return s == RolledBack || s == Failed || s == Timeout || s == Unhealthy
}

// Installed reports whether the device serves the new version.
func (s Status) Installed() bool { return s == Active || s == Unhealthy }

// Finished reports whether the device has an outcome.
func (s Status) Finished() bool { return s == Active || s.Failure() }

// MarshalText writes the status name.
func (s Status) MarshalText() ([]byte, error) {
	if s >= numStatus {
		return nil, fmt.Errorf("rollout: unknown status %d", uint8(s))
	}
	return []byte(statusNames[s]), nil
}

// UnmarshalText reads a status name.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if n == string(b) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("unknown status %q; want one of %v", b, statusNames)
}

// Phase is where the whole rollout stands.
type Phase string

const (
	Running   Phase = "running"
	Aborted   Phase = "aborted"   // every updated device was sent a rollback
	Done      Phase = "done"      // every wave succeeded and every device has an outcome
	Cancelled Phase = "cancelled" // stopped by the operator; updated devices keep the version
)

// Action is what a decision asks of edgectl.
type Action uint8

const (
	Wait      Action = iota // nothing to send
	StartWave               // send the deploy to Devices
	Abort                   // send a rollback to Devices; the rollout is over
	Finish                  // the rollout is complete
	Release                 // send the deploy to more devices of the current wave (rate limit)
	Cancel                  // stop; clear the deploy of Devices, which have no outcome yet
)

var actionNames = [...]string{"wait", "start_wave", "abort", "finish", "release", "cancel"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// MarshalText writes the action name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Decision is the rollout's answer to an event.
type Decision struct {
	Action  Action   `json:"action"`
	Wave    int      `json:"wave"`              // the wave started, or the current one
	Devices []string `json:"devices,omitempty"` // to deploy to (StartWave, Release), roll back (Abort) or stop (Cancel)
	Reason  string   `json:"reason,omitempty"`
	// Operator is set on the Abort of a rollback the operator asked for
	// (RollBack), which may come after the rollout finished.
	Operator bool `json:"operator,omitempty"`
}

// Device is one device's place in the rollout.
type Device struct {
	ID     string    `json:"id"`
	Wave   int       `json:"wave"` // -1: in no wave (the plan stops short of 100%)
	Status Status    `json:"status"`
	Since  time.Time `json:"since,omitzero"` // of the last status change or report
	Reason string    `json:"reason,omitempty"`
	// Sent is when the device was sent the deploy.
	Sent time.Time `json:"sent,omitzero"`
	// From is the version of the model the device served before the
	// deploy, when known: what a rollback returns it to.
	From string `json:"from,omitempty"`
	// Health is the device's last observation on the new version.
	Health *Observation `json:"health,omitempty"`
}

// Rollout drives one model to a fleet in waves. It is pure: Tick and
// Report take events and return decisions; edgectl sends the messages and
// stores Marshal's bytes after each event. Not safe for concurrent use.
type Rollout struct {
	clock Clock
	st    State
	index map[string]int // device id -> position in st.Devices
}

// ErrUnknownDevice is returned by Report for a device that is not part of
// the rollout.
var ErrUnknownDevice = errors.New("device not in this rollout")

// New plans a rollout of the fleet devices (ids, e.g. from their retained
// state topics) and puts them in waves. Nothing is started until the first
// Tick.
func New(p Plan, devices []string, clock Clock) (*Rollout, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("starting the rollout: %w", err)
	}
	if clock == nil {
		return nil, errors.New("starting the rollout: nil clock")
	}
	if len(devices) == 0 {
		return nil, errors.New("starting the rollout: no devices; want at least one")
	}
	ids := slices.Clone(devices)
	slices.Sort(ids)
	for i, id := range ids {
		if id == "" {
			return nil, errors.New("starting the rollout: empty device id")
		}
		if i > 0 && ids[i-1] == id {
			return nil, fmt.Errorf("starting the rollout: device %q listed twice", id)
		}
	}
	if p.Order == OrderShuffle {
		shuffle(ids, p.Seed)
	}
	sizes := waveSizes(p.Waves, len(ids))
	st := State{V: StateVersion, Plan: p, Created: clock.Now(), Phase: Running, Wave: -1, WaveSizes: sizes}
	st.Devices = make([]Device, len(ids))
	i := 0
	for w, n := range sizes {
		for range n {
			st.Devices[i] = Device{ID: ids[i], Wave: w}
			i++
		}
	}
	for ; i < len(ids); i++ {
		st.Devices[i] = Device{ID: ids[i], Wave: -1}
	}
	return &Rollout{clock: clock, st: st, index: indexOf(st.Devices)}, nil
}

// waveSizes turns cumulative targets into the number of devices each wave
// adds, at least one per wave while devices remain; empty waves are
// dropped.
func waveSizes(waves []Size, n int) []int {
	var sizes []int
	done := 0
	for _, w := range waves {
		if done == n {
			break
		}
		t := max(w.target(n), done+1)
		sizes = append(sizes, t-done)
		done = t
	}
	return sizes
}

// shuffle is a Fisher–Yates shuffle driven by splitmix64, so one seed gives
// one order on every platform and Go version.
func shuffle(ids []string, seed uint64) {
	s := seed
	next := func() uint64 {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	for i := len(ids) - 1; i > 0; i-- {
		// Modulo bias is below 2^-40 for any realistic fleet.
		j := int(next() % uint64(i+1))
		ids[i], ids[j] = ids[j], ids[i]
	}
}

func indexOf(ds []Device) map[string]int {
	m := make(map[string]int, len(ds))
	for i, d := range ds {
		m[d.ID] = i
	}
	return m
}

// Phase is the rollout's phase.
func (r *Rollout) Phase() Phase { return r.st.Phase }

// Plan is the rollout's plan.
func (r *Rollout) Plan() Plan { return r.st.Plan }

// Device returns one device's entry.
func (r *Rollout) Device(id string) (Device, bool) {
	i, ok := r.index[id]
	if !ok {
		return Device{}, false
	}
	return r.st.Devices[i], true
}

// Devices returns every device's entry, in wave order.
func (r *Rollout) Devices() []Device { return slices.Clone(r.st.Devices) }

// Deploying lists the devices sent a deploy without an outcome yet: after
// a restart edgectl re-subscribes to their status (the deploy command is
// retained, so it need not be re-sent).
func (r *Rollout) Deploying() []string {
	var ids []string
	for _, d := range r.st.Devices {
		if d.Status == Deploying {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

// Tick lets time pass: devices silent for DeviceTimeout time out, and the
// rollout starts its first wave, advances, aborts or finishes.
func (r *Rollout) Tick() Decision { return r.evaluate(r.clock.Now()) }

// Report records a device's status report. Reports that arrive after a
// timeout replace it (the device is alive after all), though a decision
// already taken on the timeout stands. A report from a device that was
// not sent the deploy is an error: it comes from an earlier rollout.
func (r *Rollout) Report(id string, s Status, reason string) (Decision, error) {
	i, ok := r.index[id]
	if !ok {
		return r.wait(), fmt.Errorf("rollout: report from %q: %w", id, ErrUnknownDevice)
	}
	if s == Pending || s >= numStatus {
		return r.wait(), fmt.Errorf("rollout: report from %q: status %s; want deploying, active, rolled_back or failed", id, s)
	}
	d := &r.st.Devices[i]
	if d.Status == Pending {
		return r.wait(), fmt.Errorf("rollout: report %s from %q, which has not been sent the deploy (wave %d not started)", s, id, d.Wave)
	}
	now := r.clock.Now()
	if d.Status == Unhealthy && (s == Active || s == Deploying) {
		// The device still serves the version; its health decided.
		return r.evaluate(now), nil
	}
	d.Status, d.Since, d.Reason = s, now, reason
	return r.evaluate(now), nil
}

func (r *Rollout) wait() Decision { return Decision{Action: Wait, Wave: r.st.Wave} }

func (r *Rollout) evaluate(now time.Time) Decision {
	r.st.Waiting = ""
	if r.st.Phase != Running {
		return r.wait()
	}
	p := r.st.Plan
	for i := range r.st.Devices {
		d := &r.st.Devices[i]
		switch {
		case d.Status == Deploying && now.Sub(d.Since) >= p.DeviceTimeout.D():
			d.Status, d.Reason = Timeout, fmt.Sprintf("no report for %s", now.Sub(d.Since).Round(time.Second))
			d.Since = now
		case d.Status == Active && d.Health != nil:
			if why := p.judge(d.Health); why != "" {
				d.Status, d.Reason, d.Since = Unhealthy, why, now
			}
		}
	}
	if r.st.Wave < 0 {
		if r.st.Paused {
			r.st.Waiting = r.pausedWhy()
			return r.wait()
		}
		return r.start(0, now, "")
	}
	var all, cur Counts
	for _, d := range r.st.Devices {
		all.add(d.Status)
		if d.Wave == r.st.Wave {
			cur.add(d.Status)
		}
	}
	if fin, fail := all.Finished(), all.Failures(); fin >= p.AbortAfter && float64(fail) > p.AbortFailures*float64(fin) {
		return r.abort(now, fmt.Sprintf("%d of %d devices with an outcome failed (%.1f%% > %.1f%%, checked after %d)",
			fail, fin, 100*float64(fail)/float64(fin), 100*p.AbortFailures, p.AbortAfter))
	}
	size := r.st.WaveSizes[r.st.Wave]
	need := needed(p.Success, size)
	if cur.Active+cur.Deploying+cur.Pending < need {
		return r.abort(now, fmt.Sprintf("wave %d can no longer succeed: %d active, %d deploying, %d failed of %d; %d needed (%.0f%%)",
			r.st.Wave, cur.Active, cur.Deploying+cur.Pending, cur.Failures(), size, need, 100*p.Success))
	}
	if r.st.Paused {
		r.st.Waiting = r.pausedWhy()
		return r.wait()
	}
	if cur.Pending > 0 {
		if ids := r.release(now); len(ids) > 0 {
			return Decision{Action: Release, Wave: r.st.Wave, Devices: ids,
				Reason: fmt.Sprintf("wave %d: %d more device(s), %d of %d sent (%d a minute)", r.st.Wave, len(ids), size-cur.Pending+len(ids), size, p.PerMinute)}
		}
		r.st.Waiting = fmt.Sprintf("wave %d: %d of %d sent; at most %d a minute, next in %s", r.st.Wave, size-cur.Pending, size, p.PerMinute,
			r.st.NextSend.Sub(now).Round(time.Second))
		return r.wait()
	}
	if cur.Active < need {
		r.st.BakeStart = time.Time{}
		r.st.Waiting = fmt.Sprintf("wave %d: %d of %d active, %d needed; %d deploying", r.st.Wave, cur.Active, size, need, cur.Deploying)
		return r.wait()
	}
	if r.st.BakeStart.IsZero() {
		r.st.BakeStart = now
	}
	if why := r.baking(now); why != "" {
		r.st.Waiting = fmt.Sprintf("wave %d: %d of %d active; %s", r.st.Wave, cur.Active, size, why)
		return r.wait()
	}
	done := fmt.Sprintf("wave %d: %d of %d active (%d needed)", r.st.Wave, cur.Active, size, need)
	if p.Bake > 0 || p.MinRequests > 0 {
		done += ", baked"
	}
	if r.st.Wave+1 < len(r.st.WaveSizes) {
		return r.start(r.st.Wave+1, now, done)
	}
	if all.Deploying > 0 {
		r.st.Waiting = fmt.Sprintf("%s; %d device(s) still deploying", done, all.Deploying)
		return r.wait()
	}
	r.st.Phase, r.st.Ended = Done, now
	r.st.Reason = fmt.Sprintf("%d of %d devices active, %d failed", all.Active, all.Active+all.Failures(), all.Failures())
	return Decision{Action: Finish, Wave: r.st.Wave, Reason: r.st.Reason}
}

// needed is ceil(success·size) without float surprises (0.95·20 = 19).
func needed(success float64, size int) int {
	n := int(success*float64(size) + 1 - 1e-9)
	return min(max(n, 1), size)
}

func (r *Rollout) start(w int, now time.Time, why string) Decision {
	r.st.Wave = w
	r.st.BakeStart = time.Time{}
	ids := r.release(now)
	reason := fmt.Sprintf("start wave %d of %d: %d devices", w, len(r.st.WaveSizes), r.st.WaveSizes[w])
	if n := r.st.WaveSizes[w]; len(ids) < n {
		reason += fmt.Sprintf(" (%d now, then %d a minute)", len(ids), r.st.Plan.PerMinute)
	}
	if why != "" {
		reason = why + "; " + reason
	}
	return Decision{Action: StartWave, Wave: w, Devices: ids, Reason: reason}
}

// abort ends the rollout and names every device that may serve the new
// version: installed (active, unhealthy), still deploying, or timed out.
// Devices that failed or rolled back by themselves never installed it.
// The rollback edgectl sends is scoped to the version, so a device named
// here that does not serve it does nothing.
func (r *Rollout) abort(now time.Time, reason string) Decision {
	r.st.Phase, r.st.Ended, r.st.Reason = Aborted, now, reason
	var ids []string
	for _, d := range r.st.Devices {
		if d.Status.Installed() || d.Status == Deploying || d.Status == Timeout {
			ids = append(ids, d.ID)
		}
	}
	return Decision{Action: Abort, Wave: r.st.Wave, Devices: ids, Reason: reason}
}

// RolledBackTo records that device id, which had installed the version,
// rolled it back on the rollout's rollback command. It reports whether
// the device's entry changed.
func (r *Rollout) RolledBackTo(id string) bool {
	i, ok := r.index[id]
	if !ok || !r.st.Devices[i].Status.Installed() {
		return false
	}
	r.st.Devices[i].Status = RolledBack
	return true
}

// Counts are devices by status.
type Counts struct {
	Pending    int `json:"pending"`
	Deploying  int `json:"deploying"`
	Active     int `json:"active"`
	RolledBack int `json:"rolled_back"`
	Failed     int `json:"failed"`
	Timeout    int `json:"timeout"`
	Unhealthy  int `json:"unhealthy"`
}

func (c *Counts) add(s Status) {
	switch s {
	case Pending:
		c.Pending++
	case Deploying:
		c.Deploying++
	case Active:
		c.Active++
	case RolledBack:
		c.RolledBack++
	case Failed:
		c.Failed++
	case Timeout:
		c.Timeout++
	case Unhealthy:
		c.Unhealthy++
	}
}

// Failures counts devices whose outcome counts against the rollout.
func (c Counts) Failures() int { return c.RolledBack + c.Failed + c.Timeout + c.Unhealthy }

// Finished counts devices with an outcome.
func (c Counts) Finished() int { return c.Active + c.Failures() }

// WaveSummary is one wave for "edgectl rollout status".
type WaveSummary struct {
	Wave   int    `json:"wave"`
	Target string `json:"target"` // the plan's size, e.g. "5%"
	Size   int    `json:"size"`
	Counts Counts `json:"counts"`
}

// Summary is the rollout at a glance.
type Summary struct {
	Phase  Phase  `json:"phase"`
	Wave   int    `json:"wave"` // current; -1 before the first
	Reason string `json:"reason,omitempty"`
	// Paused is set while the operator holds the rollout; Waiting says
	// why the current wave does not move on.
	Paused   bool          `json:"paused,omitempty"`
	Waiting  string        `json:"waiting,omitempty"`
	Waves    []WaveSummary `json:"waves"`
	Total    Counts        `json:"total"`
	Failures []Device      `json:"failures,omitempty"` // with their reasons
}

// Summary counts devices by wave and status and lists the failures.
func (r *Rollout) Summary() Summary {
	s := Summary{Phase: r.st.Phase, Wave: r.st.Wave, Reason: r.st.Reason, Paused: r.st.Paused, Waiting: r.st.Waiting}
	for w, n := range r.st.WaveSizes {
		target := ""
		if w < len(r.st.Plan.Waves) {
			target = r.st.Plan.Waves[w].String()
		}
		s.Waves = append(s.Waves, WaveSummary{Wave: w, Target: target, Size: n})
	}
	for _, d := range r.st.Devices {
		s.Total.add(d.Status)
		if d.Wave >= 0 {
			s.Waves[d.Wave].Counts.add(d.Status)
		}
		if d.Status.Failure() {
			s.Failures = append(s.Failures, d)
		}
	}
	return s
}
