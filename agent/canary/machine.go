package canary

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Clock gives the current time. The machine reads it only when an event
// needs a timestamp (a transition, a start, a tick), never on the
// per-request path.
type Clock interface {
	Now() time.Time
}

// Phase is where a candidate stands.
type Phase uint8

const (
	PhaseShadow     Phase = iota + 1 // runs on a sample beside the active model, not served
	PhaseCanary                      // serves CanaryFraction of requests
	PhasePromoted                    // final: the candidate is the new active model
	PhaseRolledBack                  // final: the candidate is discarded
	PhaseHold                        // not enough evidence in MaxDuration; the active model serves until an operator resolves
)

var phaseNames = [...]string{PhaseShadow: "shadow", PhaseCanary: "canary", PhasePromoted: "promoted", PhaseRolledBack: "rolled_back", PhaseHold: "hold"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) && phaseNames[p] != "" {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// Final reports whether no event changes the phase any more.
func (p Phase) Final() bool { return p == PhasePromoted || p == PhaseRolledBack }

// Evaluating reports whether the candidate is under evaluation (shadow or
// canary): the phases a crash loop rolls back.
func (p Phase) Evaluating() bool { return p == PhaseShadow || p == PhaseCanary }

// MarshalText writes the phase name.
func (p Phase) MarshalText() ([]byte, error) {
	if p.String() == "" || p == 0 || int(p) >= len(phaseNames) {
		return nil, fmt.Errorf("canary: unknown phase %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText reads a phase name.
func (p *Phase) UnmarshalText(b []byte) error {
	for i, n := range phaseNames {
		if n != "" && n == string(b) {
			*p = Phase(i)
			return nil
		}
	}
	return fmt.Errorf("unknown phase %q; want shadow, canary, promoted, rolled_back or hold", b)
}

// Arm is a model serving requests: the active one or the candidate.
type Arm uint8

const (
	ArmActive Arm = iota
	ArmCandidate
)

func (a Arm) String() string {
	switch a {
	case ArmActive:
		return "active"
	case ArmCandidate:
		return "candidate"
	}
	return fmt.Sprintf("arm(%d)", uint8(a))
}

// Action is what a decision asks of the agent.
type Action uint8

const (
	Continue Action = iota // nothing changes
	Advance                // shadow passed: start routing CanaryFraction to the candidate
	Promote                // make the candidate the active model
	Rollback               // discard the candidate
	Hold                   // stop using the candidate and wait for an operator
	Resume                 // an operator's resume: evaluate the held candidate again
)

var actionNames = [...]string{Continue: "continue", Advance: "advance", Promote: "promote", Rollback: "rollback", Hold: "hold", Resume: "resume"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// MarshalText writes the action name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads an action name.
func (a *Action) UnmarshalText(b []byte) error {
	for i, n := range actionNames {
		if n == string(b) {
			*a = Action(i)
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", b)
}

// Decision is the machine's answer to an event. Anything but Continue
// carries a reason for the operator and the figures it rests on.
type Decision struct {
	Action  Action    `json:"action"`
	Phase   Phase     `json:"phase"` // after the event
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at,omitzero"`
	Figures *Figures  `json:"figures,omitempty"`
}

// Route says how to run one request.
type Route struct {
	Serve  Arm  // the model whose output is returned
	Shadow bool // also run the candidate and report a Comparison
}

// Comparison is one shadow run: the same input through both models.
type Comparison struct {
	Agree            bool    // same top-1 class (or argmax)
	MeanAbsDiff      float64 // mean |active−candidate| over output elements, dequantized
	MaxAbsDiff       float64 // max |active−candidate|
	ActiveLatency    time.Duration
	CandidateLatency time.Duration
	Err              bool // the candidate failed; only ActiveLatency counts
}

// Request is one request served in canary.
type Request struct {
	Arm     Arm
	Latency time.Duration
	Err     bool
}

// FeedbackKind says what a Feedback carries.
type FeedbackKind uint8

const (
	FeedbackLabel FeedbackKind = iota + 1 // Correct: the served top-1 matched the true label
	FeedbackScore                         // Score: higher is better
)

// Feedback is an outcome reported for a served request. Its arm comes from
// ArmOf(key) of the request.
type Feedback struct {
	Arm     Arm
	Kind    FeedbackKind
	Correct bool
	Score   float64
}

// maxStarts bounds the remembered agent starts (and crash_loop_starts).
const maxStarts = 100

// Machine evaluates one candidate. It is not safe for concurrent use: the
// agent serialises events (a mutex around it costs less than the counters
// it protects are worth contending over).
type Machine struct {
	clock   Clock
	st      State
	sampler Sampler

	// The A/B test changes only with feedback; caching it keeps Served
	// cheap after MinSamples.
	ab      Test
	abOK    bool
	abValid bool
}

// New starts evaluating a candidate in shadow. seed picks the sampled
// requests; derive it from something stable (the model's sha256) so that a
// restored machine samples alike.
func New(p Policy, seed uint64, clock Clock) (*Machine, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("starting the canary: %w", err)
	}
	if clock == nil {
		return nil, errors.New("starting the canary: nil clock")
	}
	now := clock.Now()
	m := &Machine{clock: clock, st: State{V: StateVersion, Policy: p, Seed: seed, Phase: PhaseShadow, Created: now, Since: now}}
	m.sampler = NewSampler(seed, p.SampleRate, p.CanaryFraction)
	return m, nil
}

// Phase is the current phase.
func (m *Machine) Phase() Phase { return m.st.Phase }

// Policy is the policy in force.
func (m *Machine) Policy() Policy { return m.st.Policy }

// Outcome is the decision that ended shadow/canary (Promote, Rollback or
// Hold), or nil while the candidate is being evaluated.
func (m *Machine) Outcome() *Decision {
	if m.st.Outcome == nil {
		return nil
	}
	d := *m.st.Outcome
	return &d
}

// Route says how to run the request with this key. It never routes to the
// candidate outside shadow (as a shadow run), canary or promoted, and does
// not allocate.
func (m *Machine) Route(key uint64) Route {
	switch m.st.Phase {
	case PhaseShadow:
		return Route{Serve: ArmActive, Shadow: m.sampler.InShadow(key)}
	case PhaseCanary:
		return Route{Serve: m.sampler.Arm(key)}
	case PhasePromoted:
		return Route{Serve: ArmCandidate}
	}
	return Route{Serve: ArmActive}
}

// ArmOf is the arm that served key's request in canary, for attributing
// feedback.
func (m *Machine) ArmOf(key uint64) Arm { return m.sampler.Arm(key) }

// Shadow records one shadow comparison. It is ignored outside shadow.
func (m *Machine) Shadow(c Comparison) Decision {
	if m.st.Phase != PhaseShadow {
		return m.cont()
	}
	s := &m.st.Shadow
	s.Samples++
	s.Active.Observe(c.ActiveLatency)
	if c.Err {
		s.Errors++
	} else {
		if c.Agree {
			s.Agree++
		}
		// A NaN difference is a broken output: count it as the worst.
		if math.IsNaN(c.MeanAbsDiff) || math.IsNaN(c.MaxAbsDiff) {
			c.MeanAbsDiff, c.MaxAbsDiff = math.Inf(1), math.Inf(1)
		}
		s.SumMeanAbs += c.MeanAbsDiff
		s.MaxAbs = max(s.MaxAbs, c.MaxAbsDiff)
		s.Candidate.Observe(c.CandidateLatency)
	}
	return m.evalShadow()
}

// Served records a request served in canary. It is ignored outside canary.
func (m *Machine) Served(r Request) Decision {
	if m.st.Phase != PhaseCanary || r.Arm > ArmCandidate {
		return m.cont()
	}
	a := &m.st.Arms[r.Arm]
	a.Requests++
	if r.Err {
		a.Errors++
	} else {
		a.Latency.Observe(r.Latency)
	}
	return m.evalCanary()
}

// Feedback records an outcome for a request served in canary; outside
// canary it is ignored. A bad arm, kind or a non-finite score is an error
// (the feedback came from outside).
func (m *Machine) Feedback(f Feedback) (Decision, error) {
	if f.Arm > ArmCandidate {
		return m.cont(), fmt.Errorf("canary feedback: arm %d; want active or candidate", f.Arm)
	}
	switch f.Kind {
	case FeedbackLabel:
	case FeedbackScore:
		if math.IsNaN(f.Score) || math.IsInf(f.Score, 0) {
			return m.cont(), fmt.Errorf("canary feedback: score %g; want a finite number", f.Score)
		}
	default:
		return m.cont(), fmt.Errorf("canary feedback: kind %d; want label or score", f.Kind)
	}
	if m.st.Phase != PhaseCanary {
		return m.cont(), nil
	}
	a := &m.st.Arms[f.Arm]
	m.abValid = false
	if f.Kind == FeedbackLabel {
		a.Labeled++
		if f.Correct {
			a.Correct++
		}
	} else {
		a.Scores++
		a.ScoreSum += f.Score
		a.ScoreSumSq += f.Score * f.Score
	}
	return m.evalCanary(), nil
}

// Tick lets time pass: a phase that has lasted MaxDuration without a
// decision holds. The agent ticks every few seconds or minutes.
func (m *Machine) Tick() Decision {
	if !m.st.Phase.Evaluating() {
		return m.cont()
	}
	now := m.clock.Now()
	el := now.Sub(m.st.Since)
	if el < m.st.Policy.MaxDuration.D() {
		return m.cont()
	}
	p := m.st.Policy
	var reason string
	if m.st.Phase == PhaseShadow {
		reason = fmt.Sprintf("shadow: %d of %d comparisons after %s", m.st.Shadow.Samples, p.MinSamples, el.Round(time.Second))
	} else {
		c := m.st.Arms[ArmCandidate]
		if c.Requests < uint64(p.MinSamples) {
			reason = fmt.Sprintf("canary: %d of %d candidate requests after %s", c.Requests, p.MinSamples, el.Round(time.Second))
		} else {
			// Enough requests, so the wait was for accuracy evidence.
			reason = fmt.Sprintf("canary: %s; not decided after %s", m.abStatement(), el.Round(time.Second))
		}
	}
	return m.finish(Hold, PhaseHold, reason)
}

// Start records a start of the agent. CrashLoopStarts starts within
// CrashLoopWindow while the candidate is in shadow or canary roll it back:
// the candidate is presumed to crash the agent.
func (m *Machine) Start() Decision {
	if !m.st.Phase.Evaluating() {
		return m.cont()
	}
	now := m.clock.Now()
	p := m.st.Policy
	m.st.Starts = append(m.st.Starts, now)
	if n := len(m.st.Starts) - p.CrashLoopStarts; n > 0 {
		m.st.Starts = append(m.st.Starts[:0], m.st.Starts[n:]...)
	}
	if len(m.st.Starts) == p.CrashLoopStarts {
		first := m.st.Starts[0]
		if w := now.Sub(first); w <= p.CrashLoopWindow.D() {
			return m.finish(Rollback, PhaseRolledBack, fmt.Sprintf("%s: crash loop: %d starts within %s (window %s)",
				m.st.Phase, len(m.st.Starts), w.Round(time.Second), p.CrashLoopWindow))
		}
	}
	return m.cont()
}

// Resolve applies an operator's decision: Promote or Rollback from shadow,
// canary or hold; Hold from shadow or canary (the active version serves
// every request until Resume, Promote or Rollback).
func (m *Machine) Resolve(a Action, reason string) (Decision, error) {
	if m.st.Phase.Final() {
		return m.cont(), fmt.Errorf("canary: cannot %s: already %s", a, m.st.Phase)
	}
	switch a {
	case Promote:
		return m.finish(Promote, PhasePromoted, "operator: "+reason), nil
	case Rollback:
		return m.finish(Rollback, PhaseRolledBack, "operator: "+reason), nil
	case Hold:
		if m.st.Phase == PhaseHold {
			return m.cont(), fmt.Errorf("canary: cannot hold: already on hold")
		}
		held := m.st.Phase
		d := m.finish(Hold, PhaseHold, "operator: "+reason)
		m.st.Held = held
		return d, nil
	}
	return m.cont(), fmt.Errorf("canary: operator action %s; want promote, rollback or hold", a)
}

// Resume continues an evaluation on hold in the phase it was held in
// (shadow when it went on hold by itself, out of time), with a whole
// MaxDuration ahead of it; its evidence so far is kept.
func (m *Machine) Resume(reason string) (Decision, error) {
	if m.st.Phase != PhaseHold {
		return m.cont(), fmt.Errorf("canary: cannot resume: the candidate is in %s, not on hold", m.st.Phase)
	}
	to := m.st.Held
	if !to.Evaluating() {
		to = PhaseShadow
	}
	now := m.clock.Now()
	m.st.Phase, m.st.Since, m.st.Held, m.st.Outcome = to, now, 0, nil
	f := m.Figures()
	return Decision{Action: Resume, Phase: to, Reason: "operator: " + reason, At: now, Figures: &f}, nil
}

func (m *Machine) cont() Decision { return Decision{Action: Continue, Phase: m.st.Phase} }

// finish ends the evaluation (or moves to hold) and remembers why.
func (m *Machine) finish(a Action, to Phase, reason string) Decision {
	f := m.Figures()
	d := Decision{Action: a, Phase: to, Reason: reason, At: m.clock.Now(), Figures: &f}
	m.st.Phase = to
	m.st.Since = d.At
	m.st.Outcome = &d
	return d
}

func (m *Machine) evalShadow() Decision {
	p := m.st.Policy
	s := &m.st.Shadow
	minN := float64(p.MinSamples)
	disagree := s.Samples - s.Errors - s.Agree
	// Early exit: counts already so high that the rate at MinSamples must
	// exceed the limit whatever comes next.
	if float64(s.Errors) > p.MaxErrorRate*minN || (s.Samples >= uint64(p.MinSamples) && rate(s.Errors, s.Samples) > p.MaxErrorRate) {
		return m.finish(Rollback, PhaseRolledBack, fmt.Sprintf("shadow: candidate failed %d of %d runs (%s > %s)",
			s.Errors, s.Samples, pct(rate(s.Errors, max(s.Samples, uint64(p.MinSamples)))), pct(p.MaxErrorRate)))
	}
	if float64(disagree) > p.MaxDisagreement*minN || (s.Samples >= uint64(p.MinSamples) && rate(disagree, s.Samples-s.Errors) > p.MaxDisagreement) {
		return m.finish(Rollback, PhaseRolledBack, fmt.Sprintf("shadow: top-1 disagreement %d of %d comparisons (%s > %s)",
			disagree, s.Samples-s.Errors, pct(rate(disagree, max(s.Samples-s.Errors, uint64(p.MinSamples)))), pct(p.MaxDisagreement)))
	}
	if s.Samples < uint64(p.MinSamples) {
		return m.cont()
	}
	if why := p.slower(&s.Candidate, &s.Active); why != "" {
		return m.finish(Rollback, PhaseRolledBack, "shadow: "+why)
	}
	d := m.finish(Advance, PhaseCanary, fmt.Sprintf("shadow passed: %d comparisons, disagreement %s, errors %s, latency %.2f× active",
		s.Samples, pct(rate(disagree, s.Samples-s.Errors)), pct(rate(s.Errors, s.Samples)), latencyRatio(&s.Candidate, &s.Active)))
	// Advance is a step, not the end.
	m.st.Outcome = nil
	return d
}

func (m *Machine) evalCanary() Decision {
	p := m.st.Policy
	c, a := &m.st.Arms[ArmCandidate], &m.st.Arms[ArmActive]
	minN := uint64(p.MinSamples)
	if float64(c.Errors) > p.MaxErrorRate*float64(p.MinSamples) || (c.Requests >= minN && rate(c.Errors, c.Requests) > p.MaxErrorRate) {
		return m.finish(Rollback, PhaseRolledBack, fmt.Sprintf("canary: candidate failed %d of %d requests (%s > %s)",
			c.Errors, c.Requests, pct(rate(c.Errors, max(c.Requests, minN))), pct(p.MaxErrorRate)))
	}
	if c.Requests < minN {
		return m.cont()
	}
	// With canary_fraction 1 the active arm serves nothing; shadow has
	// already bounded the latency ratio then.
	if a.Latency.Count() > 0 {
		if why := p.slower(&c.Latency, &a.Latency); why != "" {
			return m.finish(Rollback, PhaseRolledBack, "canary: "+why)
		}
	}
	t, ok := m.abTest()
	if !ok {
		return m.finish(Promote, PhasePromoted, fmt.Sprintf("canary passed: %d candidate requests, errors %s, latency %.2f× active; no outcome feedback",
			c.Requests, pct(rate(c.Errors, c.Requests)), latencyRatio(&c.Latency, &a.Latency)))
	}
	alpha := p.alpha()
	switch {
	case t.PWorse < alpha:
		return m.finish(Rollback, PhaseRolledBack, "canary: "+m.abStatement())
	case m.candidateNotBehind():
		return m.finish(Promote, PhasePromoted, "canary passed: "+m.abStatement())
	}
	// Behind but not significantly: wait for more feedback, or hold at
	// MaxDuration rather than promote a candidate that looks worse.
	return m.cont()
}

// abTest compares the arms' outcomes: labels when both arms have some,
// else scores when both have at least two.
func (m *Machine) abTest() (Test, bool) {
	if !m.abValid {
		m.ab, m.abOK = m.computeAB()
		m.abValid = true
	}
	return m.ab, m.abOK
}

func (m *Machine) computeAB() (Test, bool) {
	c, a := &m.st.Arms[ArmCandidate], &m.st.Arms[ArmActive]
	if c.Labeled > 0 && a.Labeled > 0 {
		return CompareProportions(c.Correct, c.Labeled, a.Correct, a.Labeled), true
	}
	if c.Scores >= 2 && a.Scores >= 2 {
		return CompareMeans(c.Scores, c.ScoreSum, c.ScoreSumSq, a.Scores, a.ScoreSum, a.ScoreSumSq), true
	}
	return Test{}, false
}

func (m *Machine) candidateNotBehind() bool {
	c, a := &m.st.Arms[ArmCandidate], &m.st.Arms[ArmActive]
	if c.Labeled > 0 && a.Labeled > 0 {
		return rate(c.Correct, c.Labeled) >= rate(a.Correct, a.Labeled)
	}
	return c.ScoreSum/float64(c.Scores) >= a.ScoreSum/float64(a.Scores)
}

// abStatement is the A/B result as one sentence that holds at the policy's
// confidence, e.g. "candidate accuracy 0.910 vs 0.840 (n=300, 300),
// z-test p=0.003 < 0.05: candidate better".
func (m *Machine) abStatement() string {
	t, ok := m.abTest()
	if !ok {
		return "no outcome feedback on both arms"
	}
	c, a := &m.st.Arms[ArmCandidate], &m.st.Arms[ArmActive]
	alpha := m.st.Policy.alpha()
	var what string
	var vc, va float64
	var nc, na uint64
	if t.Method == "fisher" || t.Method == "z" {
		what, vc, va, nc, na = "accuracy", rate(c.Correct, c.Labeled), rate(a.Correct, a.Labeled), c.Labeled, a.Labeled
	} else {
		what, vc, va, nc, na = "mean score", c.ScoreSum/float64(c.Scores), a.ScoreSum/float64(a.Scores), c.Scores, a.Scores
	}
	head := fmt.Sprintf("candidate %s %.3f vs %.3f (n=%d, %d), %s", what, vc, va, nc, na, t.Method)
	switch {
	case t.PWorse < alpha:
		return fmt.Sprintf("%s p=%.3g < %g: candidate worse", head, t.PWorse, roundAlpha(alpha))
	case t.PBetter < alpha:
		return fmt.Sprintf("%s p=%.3g < %g: candidate better", head, t.PBetter, roundAlpha(alpha))
	}
	return fmt.Sprintf("%s p=%.3g >= %g: no significant difference", head, t.PTwoSided, roundAlpha(alpha))
}

// roundAlpha prints 1−0.95 as 0.05, not 0.050000000000000044.
func roundAlpha(a float64) float64 { return math.Round(a*1e6) / 1e6 }

func rate(x, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return float64(x) / float64(n)
}

func pct(r float64) string { return fmt.Sprintf("%.1f%%", 100*r) }

// latencyRatio is the candidate's median latency over the active
// version's; 0 when either is unknown, which passes any limit. Medians,
// not means: a garbage collection or a page fault in a few runs moves a
// mean of tens of samples several-fold.
func latencyRatio(c, a *Histogram) float64 {
	ma := a.Quantile(0.5)
	if ma <= 0 || c.Count() == 0 {
		return 0
	}
	return float64(c.Quantile(0.5)) / float64(ma)
}

// slower says why the candidate's latency fails the policy, or "": its
// median is above MaxLatencyRatio times the active one's and slower by
// more than MinLatencyDelta.
func (p Policy) slower(c, a *Histogram) string {
	r := latencyRatio(c, a)
	mc, ma := c.Quantile(0.5), a.Quantile(0.5)
	if r <= p.MaxLatencyRatio || mc-ma <= p.MinLatencyDelta.D() {
		return ""
	}
	return fmt.Sprintf("candidate median latency %s, %.2f× active %s (> %.2f×, and %s slower, more than %s)",
		mc.Round(time.Microsecond), r, ma.Round(time.Microsecond), p.MaxLatencyRatio, (mc - ma).Round(time.Microsecond), p.MinLatencyDelta)
}
