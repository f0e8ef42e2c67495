package canary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// StateVersion is the version of the JSON state this package writes and
// reads.
const StateVersion = 1

// State is everything a Machine needs to resume after a restart. The agent
// stores Marshal's bytes (in bbolt) after each decision and every few
// seconds, and Restore reads them back.
type State struct {
	V       int         `json:"v"`
	Policy  Policy      `json:"policy"`
	Seed    uint64      `json:"seed"`
	Phase   Phase       `json:"phase"`
	Created time.Time   `json:"created"`
	Since   time.Time   `json:"since"`            // start of the current phase
	Starts  []time.Time `json:"starts,omitempty"` // recent agent starts, oldest first
	Shadow  ShadowStats `json:"shadow"`
	Arms    [2]ArmStats `json:"arms"` // canary, indexed by Arm
	Outcome *Decision   `json:"outcome,omitempty"`
	// Held is the phase an operator's hold interrupted, to resume in.
	Held Phase `json:"held,omitempty"`
}

// ShadowStats are the shadow phase's counters.
type ShadowStats struct {
	Samples    uint64    `json:"samples"`
	Agree      uint64    `json:"agree"`
	Errors     uint64    `json:"errors"` // candidate failures
	SumMeanAbs float64   `json:"sum_mean_abs"`
	MaxAbs     float64   `json:"max_abs"`
	Active     Histogram `json:"active"`
	Candidate  Histogram `json:"candidate"`
}

// ArmStats are one arm's counters in canary.
type ArmStats struct {
	Requests   uint64    `json:"requests"`
	Errors     uint64    `json:"errors"`
	Latency    Histogram `json:"latency"`
	Labeled    uint64    `json:"labeled"`
	Correct    uint64    `json:"correct"`
	Scores     uint64    `json:"scores"`
	ScoreSum   float64   `json:"score_sum"`
	ScoreSumSq float64   `json:"score_sum_sq"`
}

// Marshal returns the state as JSON.
func (m *Machine) Marshal() ([]byte, error) {
	b, err := json.Marshal(&m.st)
	if err != nil {
		return nil, fmt.Errorf("canary: marshal state: %w", err)
	}
	return b, nil
}

// maxStateSize bounds a stored state; a real one is a few KB.
const maxStateSize = 1 << 20

// Restore rebuilds a Machine from Marshal's bytes. Unknown fields, another
// version, an invalid policy or counters that contradict each other are
// errors: the bytes come from disk and may be damaged.
func Restore(b []byte, clock Clock) (*Machine, error) {
	if clock == nil {
		return nil, errors.New("restoring the canary state: nil clock")
	}
	if len(b) > maxStateSize {
		return nil, fmt.Errorf("restoring the canary state: %d bytes; want at most %d", len(b), maxStateSize)
	}
	var st State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("restoring the canary state: %w", err)
	}
	if dec.More() {
		return nil, errors.New("restoring the canary state: trailing data after the state")
	}
	if err := st.validate(); err != nil {
		return nil, fmt.Errorf("restoring the canary state: %w", err)
	}
	m := &Machine{clock: clock, st: st}
	m.sampler = NewSampler(st.Seed, st.Policy.SampleRate, st.Policy.CanaryFraction)
	return m, nil
}

func (st *State) validate() error {
	if st.V != StateVersion {
		return fmt.Errorf("state version %d; this edged reads %d", st.V, StateVersion)
	}
	if err := st.Policy.Validate(); err != nil {
		return err
	}
	if st.Phase < PhaseShadow || st.Phase > PhaseHold {
		return fmt.Errorf("phase %d unknown", st.Phase)
	}
	if len(st.Starts) > st.Policy.CrashLoopStarts {
		return fmt.Errorf("starts: %d remembered; want at most crash_loop_starts %d", len(st.Starts), st.Policy.CrashLoopStarts)
	}
	if err := st.checkCounts(); err != nil {
		return err
	}
	s := st.Shadow
	if s.Agree > s.Samples || s.Errors > s.Samples-s.Agree {
		return fmt.Errorf("shadow: agree %d + errors %d > samples %d", s.Agree, s.Errors, s.Samples)
	}
	if bad(s.SumMeanAbs) || bad(s.MaxAbs) {
		return errors.New("shadow: negative or NaN differences")
	}
	if err := errors.Join(s.Active.validate("shadow.active"), s.Candidate.validate("shadow.candidate")); err != nil {
		return err
	}
	for i, a := range st.Arms {
		name := Arm(i).String()
		if a.Errors > a.Requests || a.Correct > a.Labeled {
			return fmt.Errorf("arms[%s]: errors %d > requests %d or correct %d > labeled %d", name, a.Errors, a.Requests, a.Correct, a.Labeled)
		}
		if math.IsNaN(a.ScoreSum) || math.IsInf(a.ScoreSum, 0) || bad(a.ScoreSumSq) {
			return fmt.Errorf("arms[%s]: score sums not finite", name)
		}
		if err := a.Latency.validate("arms[" + name + "].latency"); err != nil {
			return err
		}
	}
	if st.Phase.Evaluating() != (st.Outcome == nil) {
		return fmt.Errorf("phase %s with outcome %v: an outcome belongs to promoted, rolled_back and hold only", st.Phase, st.Outcome != nil)
	}
	return nil
}

// maxCount bounds every counter read from disk: far above what a device
// counts in years, and low enough that sums of counters cannot overflow.
const maxCount = 1 << 53

func (st *State) checkCounts() error {
	s := &st.Shadow
	counts := []uint64{s.Samples, s.Agree, s.Errors}
	hs := []*Histogram{&s.Active, &s.Candidate}
	for i := range st.Arms {
		a := &st.Arms[i]
		counts = append(counts, a.Requests, a.Errors, a.Labeled, a.Correct, a.Scores)
		hs = append(hs, &a.Latency)
	}
	for _, h := range hs {
		counts = append(counts, h.Counts[:]...)
	}
	for _, c := range counts {
		if c > maxCount {
			return fmt.Errorf("counter %d larger than %d", c, uint64(maxCount))
		}
	}
	return nil
}

// bad is true for NaN and negative values (+Inf is a legal worst case).
func bad(v float64) bool { return !(v >= 0) }

func (h *Histogram) validate(path string) error {
	if h.SumNS < 0 || h.MaxNS < 0 {
		return fmt.Errorf("%s: negative sum or max", path)
	}
	return nil
}

// ShadowFigures summarise shadow.
type ShadowFigures struct {
	Samples       uint64        `json:"samples"`
	Errors        uint64        `json:"errors"`
	ErrorRate     float64       `json:"error_rate"`
	Disagreement  float64       `json:"disagreement"`
	MeanAbsDiff   float64       `json:"mean_abs_diff"`
	MaxAbsDiff    float64       `json:"max_abs_diff"`
	LatencyRatio  float64       `json:"latency_ratio"` // median candidate / median active
	ActiveP50     time.Duration `json:"active_p50_ns"`
	ActiveP95     time.Duration `json:"active_p95_ns"`
	CandidateP50  time.Duration `json:"candidate_p50_ns"`
	CandidateP95  time.Duration `json:"candidate_p95_ns"`
	ActiveMean    time.Duration `json:"active_mean_ns"`
	CandidateMean time.Duration `json:"candidate_mean_ns"`
}

// ArmFigures summarise one arm in canary.
type ArmFigures struct {
	Requests  uint64        `json:"requests"`
	Errors    uint64        `json:"errors"`
	ErrorRate float64       `json:"error_rate"`
	Mean      time.Duration `json:"mean_ns"`
	P50       time.Duration `json:"p50_ns"`
	P95       time.Duration `json:"p95_ns"`
	P99       time.Duration `json:"p99_ns"`
	Labeled   uint64        `json:"labeled"`
	Accuracy  float64       `json:"accuracy"`
	Scores    uint64        `json:"scores"`
	MeanScore float64       `json:"mean_score"`
}

// Figures are the numbers behind a decision, also shown on /v1/status.
type Figures struct {
	Phase        Phase         `json:"phase"`
	Elapsed      time.Duration `json:"elapsed_ns"` // in the current phase
	Shadow       ShadowFigures `json:"shadow"`
	Active       ArmFigures    `json:"active"`
	Candidate    ArmFigures    `json:"candidate"`
	LatencyRatio float64       `json:"latency_ratio"` // canary, median candidate / median active
	Test         *Test         `json:"test,omitempty"`
	Statement    string        `json:"statement,omitempty"`
}

// Figures computes the current figures.
func (m *Machine) Figures() Figures {
	s := &m.st.Shadow
	ok := s.Samples - s.Errors
	f := Figures{
		Phase:   m.st.Phase,
		Elapsed: m.clock.Now().Sub(m.st.Since),
		Shadow: ShadowFigures{
			Samples: s.Samples, Errors: s.Errors, ErrorRate: rate(s.Errors, s.Samples),
			Disagreement: rate(ok-s.Agree, ok), MeanAbsDiff: s.SumMeanAbs / math.Max(1, float64(ok)), MaxAbsDiff: s.MaxAbs,
			LatencyRatio: latencyRatio(&s.Candidate, &s.Active),
			ActiveP50:    s.Active.Quantile(0.5), ActiveP95: s.Active.Quantile(0.95),
			CandidateP50: s.Candidate.Quantile(0.5), CandidateP95: s.Candidate.Quantile(0.95),
			ActiveMean: s.Active.Mean(), CandidateMean: s.Candidate.Mean(),
		},
		Active:       armFigures(&m.st.Arms[ArmActive]),
		Candidate:    armFigures(&m.st.Arms[ArmCandidate]),
		LatencyRatio: latencyRatio(&m.st.Arms[ArmCandidate].Latency, &m.st.Arms[ArmActive].Latency),
	}
	if t, ok := m.abTest(); ok {
		f.Test = &t
		f.Statement = m.abStatement()
	}
	return f
}

func armFigures(a *ArmStats) ArmFigures {
	f := ArmFigures{
		Requests: a.Requests, Errors: a.Errors, ErrorRate: rate(a.Errors, a.Requests),
		Mean: a.Latency.Mean(), P50: a.Latency.Quantile(0.5), P95: a.Latency.Quantile(0.95), P99: a.Latency.Quantile(0.99),
		Labeled: a.Labeled, Accuracy: rate(a.Correct, a.Labeled), Scores: a.Scores,
	}
	if a.Scores > 0 {
		f.MeanScore = a.ScoreSum / float64(a.Scores)
	}
	return f
}

// Compare fills the output fields of a Comparison from the dequantized
// outputs of both models: top-1 agreement (first index wins ties) and the
// mean and max absolute difference. Outputs of different lengths mark the
// candidate as failed: it does not fit the application.
func Compare(active, candidate []float32) Comparison {
	if len(active) != len(candidate) {
		return Comparison{Err: true}
	}
	if len(active) == 0 {
		return Comparison{Agree: true}
	}
	var sum, mx float64
	ia, ic := 0, 0
	for i := range active {
		d := math.Abs(float64(active[i]) - float64(candidate[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		sum += d
		mx = max(mx, d)
		if active[i] > active[ia] {
			ia = i
		}
		if candidate[i] > candidate[ic] {
			ic = i
		}
	}
	return Comparison{Agree: ia == ic, MeanAbsDiff: sum / float64(len(active)), MaxAbsDiff: mx}
}
