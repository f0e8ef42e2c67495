package delegates_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/runtime/tensor"
)

func TestProbeState(t *testing.T) {
	tests := []struct {
		name    string
		present bool
		err     error
		want    delegates.State
	}{
		{name: "loaded", present: true, want: delegates.Healthy},
		{name: "not on this host", present: false, err: delegates.ErrNotPresent, want: delegates.Absent},
		{name: "skipped without reason", present: false, want: delegates.Absent},
		{name: "failed", present: true, err: errors.New("usb reset"), want: delegates.Failed},
	}
	for _, tt := range tests {
		if got := delegates.ProbeState(tt.present, tt.err); got != tt.want {
			t.Errorf("ProbeState(%s) = %s; want %s", tt.name, got, tt.want)
		}
	}
}

// fixed is a backend with a chosen name and variants.
type fixed struct {
	name     string
	variants []string
}

func (f fixed) Name() string                            { return f.name }
func (f fixed) Probe(ctx context.Context) (bool, error) { return true, nil }
func (f fixed) Prepare(ctx context.Context, model []byte, variant string) (delegates.Runner, error) {
	return nil, errors.New("not used")
}
func (f fixed) Variants() []string { return f.variants }

func TestPlan(t *testing.T) {
	tpu := fixed{name: "edgetpu", variants: []string{"edgetpu"}}
	gpu := fixed{name: "gpu", variants: []string{"cpu"}}
	cpuB := fixed{name: "cpu", variants: []string{"cpu"}}
	tests := []struct {
		name        string
		prefer      []delegates.Backend
		variants    []string
		want        string // backend/variant ...
		wantSkipped string
		wantErr     string
	}{
		{name: "edgetpu bundle on a coral", prefer: []delegates.Backend{tpu, cpuB}, variants: []string{"edgetpu", "cpu"}, want: "edgetpu/edgetpu cpu/cpu"},
		{name: "cpu-only bundle on a coral", prefer: []delegates.Backend{tpu, cpuB}, variants: []string{"cpu"}, want: "cpu/cpu", wantSkipped: "edgetpu"},
		{name: "jetson", prefer: []delegates.Backend{gpu, cpuB}, variants: []string{"edgetpu", "cpu"}, want: "gpu/cpu cpu/cpu"},
		{name: "edgetpu bundle without cpu variant", prefer: []delegates.Backend{tpu, cpuB}, variants: []string{"edgetpu"}, wantErr: `no "cpu" variant for the cpu fallback`},
		{name: "no backends", variants: []string{"cpu"}, wantErr: "no backends"},
	}
	for _, tt := range tests {
		vs := map[string][]byte{}
		for _, v := range tt.variants {
			vs[v] = []byte(v)
		}
		links, skipped, err := delegates.Plan(tt.prefer, vs)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Plan(%s) error = %v; want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Plan(%s) error = %v", tt.name, err)
			continue
		}
		var got []string
		for _, l := range links {
			if string(l.Model) != l.Variant {
				t.Errorf("Plan(%s) link %s has the %q model for variant %s", tt.name, l.Backend.Name(), l.Model, l.Variant)
			}
			got = append(got, l.Backend.Name()+"/"+l.Variant)
		}
		if strings.Join(got, " ") != tt.want || strings.Join(skipped, " ") != tt.wantSkipped {
			t.Errorf("Plan(%s) = %v skipped %v; want %s skipped [%s]", tt.name, got, skipped, tt.want, tt.wantSkipped)
		}
	}
}

func TestRegistry(t *testing.T) {
	b, ok := delegates.Lookup("cpu")
	if !ok {
		t.Fatal(`Lookup("cpu") found nothing; want the CPU backend registered in init`)
	}
	if present, err := b.Probe(context.Background()); !present || err != nil {
		t.Errorf("cpu Probe = %v, %v; want true, nil", present, err)
	}
	if _, ok := delegates.Lookup("nothing"); ok {
		t.Error(`Lookup("nothing") found a backend`)
	}
	found := false
	for _, b := range delegates.Backends() {
		found = found || b.Name() == "cpu"
	}
	if !found {
		t.Error("Backends() lacks cpu")
	}
}

// TestCPURunner runs the golden cases straight on the CPU runner.
func TestCPURunner(t *testing.T) {
	model, cases := personDetect(t)
	r, err := cpu.Prepare(context.Background(), model, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d := r.(delegates.Describer)
	if got := d.Inputs()[0].String(); got != "int8[1 96 96 1]" {
		t.Errorf("Inputs()[0] = %s; want int8[1 96 96 1]", got)
	}
	for _, gc := range cases {
		out := make([]tensor.Tensor, 1)
		if err := r.Invoke(context.Background(), inputs(gc), out); err != nil {
			t.Fatal(err)
		}
		checkGolden(t, "CPURunner.Invoke", gc, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Invoke(ctx, inputs(cases[0]), make([]tensor.Tensor, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Invoke(canceled) = %v; want context.Canceled", err)
	}
}
