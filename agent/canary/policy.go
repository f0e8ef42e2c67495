package canary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"gopkg.in/yaml.v3"
)

// Policy says how much evidence a candidate needs and which limits it must
// keep. It travels in the model bundle (YAML, or JSON, which YAML reads).
// A field left out keeps its default from DefaultPolicy; a field written
// as 0 is 0 (max_disagreement: 0 means no disagreement is tolerated).
type Policy struct {
	// MinSamples is the evidence each phase needs before it decides:
	// shadow comparisons in shadow, requests served by the candidate in
	// canary. Default 500.
	MinSamples int `yaml:"min_samples" json:"min_samples"`
	// SampleRate is the share of live requests also run on the candidate
	// in shadow, in (0,1]. Default 0.1.
	SampleRate float64 `yaml:"sample_rate" json:"sample_rate"`
	// CanaryFraction is the share of requests the candidate serves in
	// canary, in (0,1]. Default 0.1.
	CanaryFraction float64 `yaml:"canary_fraction" json:"canary_fraction"`
	// MaxDisagreement is the largest share of shadow comparisons whose
	// top-1 class differs, in [0,1]. Default 0.05.
	MaxDisagreement float64 `yaml:"max_disagreement" json:"max_disagreement"`
	// MaxLatencyRatio bounds the candidate's median latency over the
	// active version's, both timed over the same path, > 0. Default 1.5.
	// A candidate is rolled back for latency only when it is both above
	// this ratio and slower by more than MinLatencyDelta.
	MaxLatencyRatio float64 `yaml:"max_latency_ratio" json:"max_latency_ratio"`
	// MinLatencyDelta is the smallest difference of median latencies
	// that counts, so that a ratio of two tiny numbers (0.9 ms against
	// 0.3 ms) decides nothing. Default 1ms.
	MinLatencyDelta Duration `yaml:"min_latency_delta" json:"min_latency_delta"`
	// MaxErrorRate is the largest share of candidate runs that may fail,
	// in [0,1]. Default 0.01.
	MaxErrorRate float64 `yaml:"max_error_rate" json:"max_error_rate"`
	// MaxDuration is the longest one phase may last before it holds for
	// lack of evidence. Default 24h.
	MaxDuration Duration `yaml:"max_duration" json:"max_duration"`
	// Confidence is the level of the accuracy test in canary, in (0,1):
	// a difference counts when its p-value is below 1−Confidence.
	// Default 0.95.
	Confidence float64 `yaml:"confidence" json:"confidence"`
	// CrashLoopStarts starts of the agent within CrashLoopWindow while a
	// candidate is in shadow or canary roll it back. Defaults 3 and 10m.
	CrashLoopStarts int      `yaml:"crash_loop_starts" json:"crash_loop_starts"`
	CrashLoopWindow Duration `yaml:"crash_loop_window" json:"crash_loop_window"`
}

// DefaultPolicy returns the policy used for every field a bundle leaves out.
func DefaultPolicy() Policy {
	return Policy{
		MinSamples:      500,
		SampleRate:      0.1,
		CanaryFraction:  0.1,
		MaxDisagreement: 0.05,
		MaxLatencyRatio: 1.5,
		MinLatencyDelta: Duration(time.Millisecond),
		MaxErrorRate:    0.01,
		MaxDuration:     Duration(24 * time.Hour),
		Confidence:      0.95,
		CrashLoopStarts: 3,
		CrashLoopWindow: Duration(10 * time.Minute),
	}
}

// maxPolicySize bounds a policy document; a real one is a few hundred bytes.
const maxPolicySize = 64 << 10

// ParsePolicy decodes a policy document (YAML or JSON) strictly: unknown
// fields, a second document or a wrong type are errors. Missing fields
// take their defaults, and the result is validated. An empty document
// gives DefaultPolicy.
func ParsePolicy(b []byte) (Policy, error) {
	p := DefaultPolicy()
	if len(b) > maxPolicySize {
		return Policy{}, fmt.Errorf("canary policy: %d bytes; want at most %d", len(b), maxPolicySize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return Policy{}, fmt.Errorf("canary policy: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Policy{}, errors.New("canary policy: more than one YAML document")
	}
	if err := p.Validate(); err != nil {
		return Policy{}, fmt.Errorf("canary policy: %w", err)
	}
	return p, nil
}

// Validate reports every field out of range, each error naming its path
// ("policy.canary_fraction: must be in (0,1], got 0").
func (p Policy) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("policy.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	// NaN fails every comparison, so each check is written to pass only
	// for a good value.
	if p.MinSamples < 1 {
		bad("min_samples", "must be >= 1, got %d", p.MinSamples)
	}
	if !(p.SampleRate > 0 && p.SampleRate <= 1) {
		bad("sample_rate", "must be in (0,1], got %g", p.SampleRate)
	}
	if !(p.CanaryFraction > 0 && p.CanaryFraction <= 1) {
		bad("canary_fraction", "must be in (0,1], got %g", p.CanaryFraction)
	}
	if !(p.MaxDisagreement >= 0 && p.MaxDisagreement <= 1) {
		bad("max_disagreement", "must be in [0,1], got %g", p.MaxDisagreement)
	}
	if !(p.MaxLatencyRatio > 0) || math.IsInf(p.MaxLatencyRatio, 0) {
		bad("max_latency_ratio", "must be a finite number > 0, got %g", p.MaxLatencyRatio)
	}
	if p.MinLatencyDelta < 0 {
		bad("min_latency_delta", "must be >= 0, got %s", p.MinLatencyDelta)
	}
	if !(p.MaxErrorRate >= 0 && p.MaxErrorRate <= 1) {
		bad("max_error_rate", "must be in [0,1], got %g", p.MaxErrorRate)
	}
	if p.MaxDuration <= 0 {
		bad("max_duration", "must be > 0, got %s", p.MaxDuration)
	}
	if !(p.Confidence > 0 && p.Confidence < 1) {
		bad("confidence", "must be in (0,1), got %g", p.Confidence)
	}
	if p.CrashLoopStarts < 2 || p.CrashLoopStarts > maxStarts {
		bad("crash_loop_starts", "must be in [2,%d], got %d", maxStarts, p.CrashLoopStarts)
	}
	if p.CrashLoopWindow <= 0 {
		bad("crash_loop_window", "must be > 0, got %s", p.CrashLoopWindow)
	}
	return errors.Join(errs...)
}

// alpha is the significance level of the accuracy test.
func (p Policy) alpha() float64 { return 1 - p.Confidence }

// Duration is a time.Duration written as "150ms", "2s", "1h" in YAML and
// JSON.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as \"30m\"", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

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
