package canary

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	def := DefaultPolicy()
	tests := []struct {
		name    string
		doc     string
		want    func(p *Policy) // applied to DefaultPolicy
		wantErr string
	}{
		{name: "empty gives defaults", doc: "", want: func(*Policy) {}},
		{name: "yaml fields", doc: "min_samples: 200\ncanary_fraction: 0.25\nmax_duration: 2h\nmax_disagreement: 0\n",
			want: func(p *Policy) {
				p.MinSamples, p.CanaryFraction, p.MaxDuration, p.MaxDisagreement = 200, 0.25, Duration(2*time.Hour), 0
			}},
		{name: "json document", doc: `{"sample_rate": 0.5, "confidence": 0.99, "crash_loop_window": "5m"}`,
			want: func(p *Policy) { p.SampleRate, p.Confidence, p.CrashLoopWindow = 0.5, 0.99, Duration(5*time.Minute) }},
		{name: "unknown field", doc: "min_sample: 3\n", wantErr: "field min_sample not found"},
		{name: "bad duration", doc: "max_duration: soon\n", wantErr: "invalid duration"},
		{name: "duration as number", doc: "max_duration: 5\n", wantErr: "missing unit in duration"},
		{name: "canary_fraction 0", doc: "canary_fraction: 0\n", wantErr: "policy.canary_fraction: must be in (0,1], got 0"},
		{name: "canary_fraction above 1", doc: "canary_fraction: 1.5\n", wantErr: "policy.canary_fraction: must be in (0,1], got 1.5"},
		{name: "sample_rate NaN", doc: "sample_rate: .nan\n", wantErr: "policy.sample_rate: must be in (0,1], got NaN"},
		{name: "confidence 1", doc: "confidence: 1\n", wantErr: "policy.confidence: must be in (0,1), got 1"},
		{name: "min_samples 0", doc: "min_samples: 0\n", wantErr: "policy.min_samples: must be >= 1, got 0"},
		{name: "max_latency_ratio inf", doc: "max_latency_ratio: .inf\n", wantErr: "policy.max_latency_ratio: must be a finite number > 0"},
		{name: "max_error_rate negative", doc: "max_error_rate: -0.1\n", wantErr: "policy.max_error_rate: must be in [0,1], got -0.1"},
		{name: "max_duration 0", doc: "max_duration: 0s\n", wantErr: "policy.max_duration: must be > 0, got 0s"},
		{name: "crash_loop_starts 1", doc: "crash_loop_starts: 1\n", wantErr: "policy.crash_loop_starts: must be in [2,100], got 1"},
		{name: "two errors both named", doc: "min_samples: -1\nmax_disagreement: 2\n", wantErr: "policy.max_disagreement: must be in [0,1], got 2"},
		{name: "two documents", doc: "min_samples: 5\n---\nmin_samples: 6\n", wantErr: "more than one YAML document"},
		{name: "wrong type", doc: "min_samples: many\n", wantErr: "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePolicy([]byte(tt.doc))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePolicy(%q) error = %v; want one containing %q", tt.doc, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePolicy(%q): %v", tt.doc, err)
			}
			want := def
			tt.want(&want)
			if got != want {
				t.Errorf("ParsePolicy(%q) = %+v; want %+v", tt.doc, got, want)
			}
		})
	}
}

func TestDefaultPolicyValid(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("DefaultPolicy().Validate() = %v; want nil", err)
	}
}

// TestExamplePolicy: the example in the repository parses, and the values
// it documents as the defaults are the defaults.
func TestExamplePolicy(t *testing.T) {
	b, err := os.ReadFile("../../examples/canary/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		t.Fatalf("examples/canary/policy.yaml: %v", err)
	}
	if p != DefaultPolicy() {
		t.Errorf("examples/canary/policy.yaml = %+v; want the defaults %+v it documents", p, DefaultPolicy())
	}
}
