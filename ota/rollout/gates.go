package rollout

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Observation is what a device's telemetry, state and drift reports say
// about it since it was sent the deploy.
type Observation struct {
	// Requests and Errors count the requests the new version answered
	// and failed.
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors,omitempty"`
	// P99 is the new version's p99 latency in milliseconds over the last
	// telemetry interval; BaseP99 the previous version's, 0 when unknown.
	P99     float64 `json:"p99_ms,omitempty"`
	BaseP99 float64 `json:"base_p99_ms,omitempty"`
	// Restarts counts the agent's starts since the deploy was sent.
	Restarts int `json:"restarts,omitempty"`
	// Drift is the model's last drift state (ok, warn, drift).
	Drift string `json:"drift,omitempty"`
}

// Observe records what a device's telemetry says (see Observation). An
// active device that fails a health gate becomes unhealthy, a failure:
// the abort criteria decide what follows. Observations of devices not
// sent the deploy are an error.
func (r *Rollout) Observe(id string, o Observation) (Decision, error) {
	i, ok := r.index[id]
	if !ok {
		return r.wait(), fmt.Errorf("rollout: observation of %q: %w", id, ErrUnknownDevice)
	}
	d := &r.st.Devices[i]
	if d.Status == Pending {
		return r.wait(), fmt.Errorf("rollout: observation of %q, which has not been sent the deploy", id)
	}
	d.Health = &o
	return r.evaluate(r.clock.Now()), nil
}

// NoteFrom records the version a device served before the deploy, for
// its rollback.
func (r *Rollout) NoteFrom(id, version string) {
	if i, ok := r.index[id]; ok && version != "" {
		r.st.Devices[i].From = version
	}
}

// judge returns why an observation fails a health gate, or "".
func (p Plan) judge(o *Observation) string {
	h := p.Health
	enough := max(p.MinRequests, MinJudged)
	var why []string
	if n := o.Requests + o.Errors; h.MaxErrorRate > 0 && n >= enough {
		if er := float64(o.Errors) / float64(n); er > h.MaxErrorRate {
			why = append(why, fmt.Sprintf("error rate %.1f%% (%d of %d requests) > %.1f%%", 100*er, o.Errors, n, 100*h.MaxErrorRate))
		}
	}
	if h.MaxP99Ratio > 0 && o.BaseP99 > 0 && o.Requests >= enough {
		slack := float64(P99Slack) / float64(time.Millisecond)
		if ratio := o.P99 / o.BaseP99; ratio > h.MaxP99Ratio && o.P99-o.BaseP99 >= slack {
			why = append(why, fmt.Sprintf("p99 latency %.3g ms, %.2f× the previous version's %.3g ms > %.2f×", o.P99, ratio, o.BaseP99, h.MaxP99Ratio))
		}
	}
	if h.MaxRestarts > 0 && o.Restarts > h.MaxRestarts {
		why = append(why, fmt.Sprintf("crash loop: %d restarts since the deploy > %d", o.Restarts, h.MaxRestarts))
	}
	if h.Drift && o.Drift == "drift" {
		why = append(why, "input drift on the new version")
	}
	if len(why) == 0 {
		return ""
	}
	return "unhealthy: " + strings.Join(why, "; ")
}

// baking says why the current wave, at its success share since
// BakeStart, is not baked yet, or "".
func (r *Rollout) baking(now time.Time) string {
	p := r.st.Plan
	var why []string
	if left := p.Bake.D() - now.Sub(r.st.BakeStart); left > 0 {
		why = append(why, fmt.Sprintf("baking, %s of %s left", left.Round(time.Second), p.Bake))
	}
	if p.MinRequests > 0 {
		short, least := 0, uint64(0)
		for _, d := range r.st.Devices {
			if d.Wave != r.st.Wave || d.Status != Active {
				continue
			}
			n := uint64(0)
			if d.Health != nil {
				n = d.Health.Requests
			}
			if n < p.MinRequests {
				if short == 0 || n < least {
					least = n
				}
				short++
			}
		}
		if short > 0 {
			why = append(why, fmt.Sprintf("%d device(s) below %d requests on the new version (fewest %d)", short, p.MinRequests, least))
		}
	}
	return strings.Join(why, "; ")
}

// release marks the next devices of the current wave deploying, as many
// as the rate limit allows now, and returns them.
func (r *Rollout) release(now time.Time) []string {
	p := r.st.Plan
	var interval time.Duration
	tat := now
	if p.PerMinute > 0 {
		// GCRA: one device every interval, bursts of up to a second's
		// worth (at least one).
		interval = time.Minute / time.Duration(p.PerMinute)
		burst := time.Duration(max(1, p.PerMinute/60)) * interval
		if tat = r.st.NextSend; tat.Before(now.Add(-burst + interval)) {
			tat = now.Add(-burst + interval)
		}
	}
	var ids []string
	for i := range r.st.Devices {
		d := &r.st.Devices[i]
		if d.Wave != r.st.Wave || d.Status != Pending {
			continue
		}
		if interval > 0 && tat.After(now) {
			break
		}
		d.Status, d.Since, d.Sent, d.Reason = Deploying, now, now, ""
		ids = append(ids, d.ID)
		tat = tat.Add(interval)
	}
	if interval > 0 {
		r.st.NextSend = tat
	}
	return ids
}

// ErrNotRunning is returned by Pause, Resume and Cancel once the rollout
// ended.
var ErrNotRunning = errors.New("the rollout is not running")

// Pause holds the rollout: no device is sent the deploy until Resume.
// Reports, timeouts, health gates and the abort criteria still apply.
func (r *Rollout) Pause(reason string) (Decision, error) {
	if r.st.Phase != Running {
		return r.wait(), fmt.Errorf("rollout: pause: %w (%s)", ErrNotRunning, r.st.Phase)
	}
	r.st.Paused, r.st.PauseReason = true, reason
	return r.evaluate(r.clock.Now()), nil
}

// Resume ends a Pause.
func (r *Rollout) Resume() (Decision, error) {
	if r.st.Phase != Running {
		return r.wait(), fmt.Errorf("rollout: resume: %w (%s)", ErrNotRunning, r.st.Phase)
	}
	r.st.Paused, r.st.PauseReason = false, ""
	return r.evaluate(r.clock.Now()), nil
}

// Paused reports whether the rollout is held.
func (r *Rollout) Paused() bool { return r.st.Paused }

func (r *Rollout) pausedWhy() string {
	if r.st.PauseReason != "" {
		return "paused: " + r.st.PauseReason
	}
	return "paused"
}

// Cancel ends the rollout without a rollback: devices that installed the
// version keep it, pending ones are never sent it. The decision names the
// devices still deploying, whose deploy edgectl clears.
func (r *Rollout) Cancel(reason string) (Decision, error) {
	if r.st.Phase != Running {
		return r.wait(), fmt.Errorf("rollout: cancel: %w (%s)", ErrNotRunning, r.st.Phase)
	}
	now := r.clock.Now()
	r.st.Phase, r.st.Ended, r.st.Reason, r.st.Waiting = Cancelled, now, reason, ""
	return Decision{Action: Cancel, Wave: r.st.Wave, Devices: r.Deploying(), Reason: reason}, nil
}

// RollBack ends the rollout as an abort would, on the operator's word,
// also after it finished or was cancelled: the decision names the devices
// to roll back.
func (r *Rollout) RollBack(reason string) (Decision, error) {
	if r.st.Phase == Aborted {
		return r.wait(), fmt.Errorf("rollout: roll back: it was aborted already: %s", r.st.Reason)
	}
	r.st.Waiting = ""
	dec := r.abort(r.clock.Now(), reason)
	dec.Operator = true
	return dec, nil
}
