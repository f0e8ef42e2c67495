package rollout

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Size is one wave's target: a number of devices, or a percentage of the
// fleet. Targets are cumulative: "1, 5%, 25%, 100%" means the first device,
// then up to 5% of the fleet, and so on.
type Size struct {
	Count   int     // devices, when Percent is 0
	Percent float64 // of the fleet, in (0,100]
}

// ParseSize reads "3" or "5%" (or "12.5%").
func ParseSize(s string) (Size, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v > 0 && v <= 100) {
			return Size{}, fmt.Errorf("wave %q: want a percentage in (0%%,100%%]", s)
		}
		return Size{Percent: v}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return Size{}, fmt.Errorf("wave %q: want a device count >= 1 or a percentage such as 5%%", s)
	}
	return Size{Count: n}, nil
}

// ParseWaves reads a comma-separated list of sizes, as in
// "edgectl rollout start --waves 1,5%,25%,100%".
func ParseWaves(s string) ([]Size, error) {
	var ws []Size
	for i, f := range strings.Split(s, ",") {
		w, err := ParseSize(f)
		if err != nil {
			return nil, fmt.Errorf("waves[%d]: %w", i, err)
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// ParseShare reads a share written "95%" or "0.95".
func ParseShare(s string) (float64, error) {
	s = strings.TrimSpace(s)
	div := 1.0
	if p, ok := strings.CutSuffix(s, "%"); ok {
		s, div = strings.TrimSpace(p), 100
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v/div <= 1) {
		return 0, fmt.Errorf("share %q: want a fraction in [0,1] or a percentage in [0%%,100%%]", s)
	}
	return v / div, nil
}

func (w Size) String() string {
	if w.Percent > 0 {
		return strconv.FormatFloat(w.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(w.Count)
}

// MarshalText writes "3" or "5%".
func (w Size) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText reads "3" or "5%".
func (w *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// target is the cumulative number of devices this size asks for in a
// fleet of n. A percentage rounds up, so 5% of 10 devices is 1, not 0.
func (w Size) target(n int) int {
	if w.Percent > 0 {
		// The epsilon keeps 5% of 200 at 10 despite 0.05·200 = 10.000000000000002.
		return min(n, int(math.Ceil(w.Percent*float64(n)/100-1e-9)))
	}
	return min(n, w.Count)
}

// Order is how devices are put in waves.
type Order string

const (
	OrderSorted  Order = "sorted"  // by device id
	OrderShuffle Order = "shuffle" // a shuffle fixed by Plan.Seed
)

// Plan is how a rollout proceeds.
type Plan struct {
	// Waves are the cumulative targets. Every wave adds at least one
	// device while any remain; a wave that would add none is dropped.
	Waves []Size `json:"waves"`
	// Success is the share of a wave's devices that must be active before
	// the next wave starts, in (0,1].
	Success float64 `json:"success"`
	// AbortAfter is how many devices must have an outcome (active, failed,
	// rolled back, timed out) before AbortFailures is checked, >= 1.
	AbortAfter int `json:"abort_after"`
	// AbortFailures aborts the rollout when failures / outcomes exceed it,
	// in [0,1].
	AbortFailures float64 `json:"abort_failures"`
	// DeviceTimeout is how long a deploying device may stay silent before
	// it counts as failed.
	DeviceTimeout Duration `json:"device_timeout"`
	Order         Order    `json:"order"`
	Seed          uint64   `json:"seed,omitempty"` // for OrderShuffle

	// Bake is how long a wave must stay healthy once it reached its
	// success share before the next wave starts (and, for the last
	// wave, before the rollout finishes). 0: no wait.
	Bake Duration `json:"bake,omitempty"`
	// MinRequests is how many requests every active device of a wave
	// must have served on the new version (from its telemetry) before
	// the wave counts as baked. 0: none.
	MinRequests uint64 `json:"min_requests,omitempty"`
	// PerMinute bounds how many devices are sent the deploy per minute,
	// spread evenly (one every 60s/PerMinute). 0: no limit.
	PerMinute int `json:"per_minute,omitempty"`
	// Health is what makes an updated device unhealthy, which counts
	// as a failure.
	Health Health `json:"health,omitzero"`
}

// Health are the gates a device that installed the new version must
// keep, judged from its telemetry, state and drift reports. A zero field
// is no gate.
type Health struct {
	// MaxErrorRate is the largest share of failed requests on the new
	// version, in (0,1], judged once the device has served
	// max(MinRequests, MinJudged) requests.
	MaxErrorRate float64 `json:"max_error_rate,omitempty"`
	// MaxP99Ratio bounds the new version's p99 latency over the previous
	// version's (the device's own before the deploy, else the fleet's),
	// > 1. A difference under P99Slack is never judged.
	MaxP99Ratio float64 `json:"max_p99_ratio,omitempty"`
	// MaxRestarts is how many restarts of the agent since the deploy
	// count as a crash loop. 0: not judged.
	MaxRestarts int `json:"max_restarts,omitempty"`
	// Drift makes a drift state of "drift" on the model unhealthy.
	Drift bool `json:"drift,omitempty"`
}

// Gated reports whether any health gate is set.
func (h Health) Gated() bool { return h != Health{} }

// MinJudged is the fewest requests on the new version before its error
// rate and p99 latency are judged: fewer say nothing.
const MinJudged = 20

// P99Slack is the smallest p99 latency difference MaxP99Ratio judges: a
// ratio of two tiny numbers is noise.
const P99Slack = time.Millisecond

// DefaultPlan is "--waves 1,5%,25%,100% --success 95% --abort-after 3
// --abort-failures 10% --device-timeout 30m", devices in id order.
func DefaultPlan() Plan {
	return Plan{
		Waves:         []Size{{Count: 1}, {Percent: 5}, {Percent: 25}, {Percent: 100}},
		Success:       0.95,
		AbortAfter:    3,
		AbortFailures: 0.10,
		DeviceTimeout: Duration(30 * time.Minute),
		Order:         OrderSorted,
	}
}

// maxWaves bounds a plan; more waves than this are a typo.
const maxWaves = 100

// Validate reports every field out of range, naming its path
// ("plan.waves[1]: ...").
func (p Plan) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("plan.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(p.Waves) == 0 || len(p.Waves) > maxWaves {
		bad("waves", "%d waves; want 1 to %d", len(p.Waves), maxWaves)
	}
	for i, w := range p.Waves {
		switch {
		case w.Percent != 0 && w.Count != 0:
			bad(fmt.Sprintf("waves[%d]", i), "both a count (%d) and a percentage (%g%%)", w.Count, w.Percent)
		case w.Percent == 0 && w.Count < 1:
			bad(fmt.Sprintf("waves[%d]", i), "count must be >= 1, got %d", w.Count)
		case w.Percent != 0 && !(w.Percent > 0 && w.Percent <= 100):
			bad(fmt.Sprintf("waves[%d]", i), "percentage must be in (0,100], got %g", w.Percent)
		}
	}
	if !(p.Success > 0 && p.Success <= 1) {
		bad("success", "must be in (0,1], got %g", p.Success)
	}
	if p.AbortAfter < 1 {
		bad("abort_after", "must be >= 1, got %d", p.AbortAfter)
	}
	if !(p.AbortFailures >= 0 && p.AbortFailures <= 1) {
		bad("abort_failures", "must be in [0,1], got %g", p.AbortFailures)
	}
	if p.DeviceTimeout <= 0 {
		bad("device_timeout", "must be > 0, got %s", p.DeviceTimeout)
	}
	if p.Order != OrderSorted && p.Order != OrderShuffle {
		bad("order", "is %q; want sorted or shuffle", p.Order)
	}
	if p.Bake < 0 {
		bad("bake", "must be >= 0, got %s", p.Bake)
	}
	if p.PerMinute < 0 || p.PerMinute > 1e6 {
		bad("per_minute", "must be in [0,1000000], got %d", p.PerMinute)
	}
	h := p.Health
	if !(h.MaxErrorRate >= 0 && h.MaxErrorRate <= 1) {
		bad("health.max_error_rate", "must be in [0,1] (0: no gate), got %g", h.MaxErrorRate)
	}
	if !(h.MaxP99Ratio == 0 || (h.MaxP99Ratio > 1 && h.MaxP99Ratio < 1e6)) {
		bad("health.max_p99_ratio", "must be above 1 (0: no gate), got %g", h.MaxP99Ratio)
	}
	if h.MaxRestarts < 0 {
		bad("health.max_restarts", "must be >= 0 (0: no gate), got %d", h.MaxRestarts)
	}
	return errors.Join(errs...)
}

// Duration is a time.Duration written as "30m" in JSON.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30m\", found %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
