package rollout

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseWaves(t *testing.T) {
	tests := []struct {
		in      string
		want    []Size
		wantErr string
	}{
		{"1,5%,25%,100%", []Size{{Count: 1}, {Percent: 5}, {Percent: 25}, {Percent: 100}}, ""},
		{" 3 , 12.5% ", []Size{{Count: 3}, {Percent: 12.5}}, ""},
		{"1,0%", nil, `waves[1]: wave "0%": want a percentage in (0%,100%]`},
		{"1,101%", nil, "want a percentage in (0%,100%]"},
		{"0", nil, `waves[0]: wave "0": want a device count >= 1`},
		{"1,,2", nil, "waves[1]"},
		{"x%", nil, "want a percentage"},
	}
	for _, tt := range tests {
		got, err := ParseWaves(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseWaves(%q) error = %v; want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseWaves(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseShare(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"95%", 0.95, false}, {"0.95", 0.95, false}, {"10%", 0.10, false}, {"0", 0, false}, {"100%", 1, false},
		{"101%", 0, true}, {"1.5", 0, true}, {"-1%", 0, true}, {"lots", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseShare(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParseShare(%q) = %g, %v; want %g (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestPlanValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(p *Plan)
		wantErr string
	}{
		{"default", func(*Plan) {}, ""},
		{"no waves", func(p *Plan) { p.Waves = nil }, "plan.waves: 0 waves; want 1 to 100"},
		{"count and percent", func(p *Plan) { p.Waves[1] = Size{Count: 2, Percent: 5} }, "plan.waves[1]: both a count (2) and a percentage (5%)"},
		{"zero count", func(p *Plan) { p.Waves[0] = Size{} }, "plan.waves[0]: count must be >= 1, got 0"},
		{"percent over 100", func(p *Plan) { p.Waves[3] = Size{Percent: 150} }, "plan.waves[3]: percentage must be in (0,100], got 150"},
		{"success 0", func(p *Plan) { p.Success = 0 }, "plan.success: must be in (0,1], got 0"},
		{"abort_after 0", func(p *Plan) { p.AbortAfter = 0 }, "plan.abort_after: must be >= 1, got 0"},
		{"abort_failures 2", func(p *Plan) { p.AbortFailures = 2 }, "plan.abort_failures: must be in [0,1], got 2"},
		{"device_timeout 0", func(p *Plan) { p.DeviceTimeout = 0 }, "plan.device_timeout: must be > 0, got 0s"},
		{"order", func(p *Plan) { p.Order = "random" }, `plan.order: is "random"; want sorted or shuffle`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPlan()
			tt.mod(&p)
			err := p.Validate()
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v; want %q", err, tt.wantErr)
			}
		})
	}
}

func TestWaveSizes(t *testing.T) {
	std := DefaultPlan().Waves
	tests := []struct {
		name  string
		waves []Size
		n     int
		want  []int
	}{
		// By hand: targets 1, ceil(.05n), ceil(.25n), n.
		{"200 devices", std, 200, []int{1, 9, 40, 150}},
		{"1000 devices", std, 1000, []int{1, 49, 200, 750}},
		{"3 devices get a device a wave", std, 3, []int{1, 1, 1}},
		{"one device", std, 1, []int{1}},
		// 7: targets 1, ceil(.35)=1 raised to 2, ceil(1.75)=2 raised to 3, 7.
		{"7 devices: small waves still add one", std, 7, []int{1, 1, 1, 4}},
		{"partial rollout", []Size{{Count: 1}, {Percent: 50}}, 10, []int{1, 4}},
		{"count beyond the fleet", []Size{{Count: 50}, {Percent: 100}}, 10, []int{10}},
	}
	for _, tt := range tests {
		if got := waveSizes(tt.waves, tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("waveSizes(%v, %d) = %v; want %v", tt.waves, tt.n, got, tt.want)
		}
	}
}

func TestNeeded(t *testing.T) {
	// ceil(success·size), at least 1.
	tests := []struct {
		success float64
		size    int
		want    int
	}{{0.95, 20, 19}, {0.95, 1, 1}, {0.95, 9, 9}, {0.95, 40, 38}, {0.5, 3, 2}, {1, 150, 150}, {0.01, 10, 1}}
	for _, tt := range tests {
		if got := needed(tt.success, tt.size); got != tt.want {
			t.Errorf("needed(%g, %d) = %d; want %d", tt.success, tt.size, got, tt.want)
		}
	}
}

func TestOrder(t *testing.T) {
	ids := []string{"dev-c", "dev-a", "dev-e", "dev-b", "dev-d"}
	clk := &fakeClock{t: t0}
	p := DefaultPlan()
	p.Waves = []Size{{Percent: 100}}
	order := func(p Plan, in []string) []string {
		r, err := New(p, in, clk)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range r.Devices() {
			out = append(out, d.ID)
		}
		return out
	}
	if got, want := order(p, ids), []string{"dev-a", "dev-b", "dev-c", "dev-d", "dev-e"}; !slices.Equal(got, want) {
		t.Errorf("sorted order = %v; want %v", got, want)
	}
	p.Order, p.Seed = OrderShuffle, 1
	a := order(p, ids)
	b := order(p, []string{"dev-e", "dev-d", "dev-c", "dev-b", "dev-a"})
	if !slices.Equal(a, b) {
		t.Errorf("shuffle depends on input order: %v vs %v", a, b)
	}
	sorted := slices.Sorted(slices.Values(a))
	if !slices.Equal(sorted, []string{"dev-a", "dev-b", "dev-c", "dev-d", "dev-e"}) {
		t.Errorf("shuffle %v is not a permutation", a)
	}
	// Over 24 seeds, a shuffle of 5 must not always match sorted order.
	differs := 0
	for seed := range uint64(24) {
		p.Seed = seed
		if !slices.Equal(order(p, ids), sorted) {
			differs++
		}
	}
	if differs < 20 {
		t.Errorf("shuffle left sorted order unchanged for %d of 24 seeds", 24-differs)
	}
}

func TestNewErrors(t *testing.T) {
	clk := &fakeClock{t: t0}
	tests := []struct {
		name    string
		devices []string
		wantErr string
	}{
		{"none", nil, "no devices"},
		{"duplicate", []string{"a", "b", "a"}, `device "a" listed twice`},
		{"empty id", []string{"a", ""}, "empty device id"},
	}
	for _, tt := range tests {
		if _, err := New(DefaultPlan(), tt.devices, clk); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(%s) error = %v; want %q", tt.name, err, tt.wantErr)
		}
	}
	p := DefaultPlan()
	p.Success = 2
	if _, err := New(p, []string{"a"}, clk); err == nil || !strings.Contains(err.Error(), "plan.success") {
		t.Errorf("New(success 2) error = %v; want plan.success", err)
	}
}

func devices(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("dev-%04d", i)
	}
	return ids
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
