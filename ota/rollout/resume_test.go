package rollout

import (
	"testing"
	"time"
)

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// TestResent: edgectl was down for twice the device timeout; the device
// sent the deploy again gets a fresh timeout, the other one times out.
func TestResent(t *testing.T) {
	clk := &fixedClock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	p := DefaultPlan()
	p.Waves = []Size{{Percent: 100}}
	p.DeviceTimeout = Duration(time.Minute)
	p.AbortAfter, p.AbortFailures = 10, 1
	r, err := New(p, []string{"a", "b"}, clk)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Tick(); d.Action != StartWave {
		t.Fatalf("Tick() = %s; want start_wave", d.Action)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	r.Resent([]string{"a", "nobody"})
	r.Tick()
	tests := []struct {
		name string
		want Status
	}{
		{"a", Deploying},
		{"b", Timeout},
	}
	for _, tt := range tests {
		if d, _ := r.Device(tt.name); d.Status != tt.want {
			t.Errorf("Device(%s).Status = %s; want %s", tt.name, d.Status, tt.want)
		}
	}
}
