package telemetry

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"go.uber.org/goleak"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/outbox"
)

func TestQuantile(t *testing.T) {
	// Worked by hand: buckets (0,1] 2, (1,2] 2, (2,4] 4, (4,+Inf) 0.
	h := Histogram{Bounds: []float64{1, 2, 4}, Counts: []uint64{2, 2, 4, 0}}
	tests := []struct {
		name string
		h    Histogram
		q    float64
		want float64
	}{
		{"p25 in the first bucket", h, 0.25, 1},
		{"p50 at the end of the second", h, 0.5, 2},
		{"p75 half-way through the third", h, 0.75, 3},
		{"p100 at the last bound", h, 1, 4},
		{"open bucket gives its lower bound", Histogram{Bounds: []float64{1, 2, 4}, Counts: []uint64{0, 0, 0, 5}}, 0.5, 4},
		{"empty", Histogram{Bounds: []float64{1}, Counts: []uint64{0, 0}}, 0.5, 0},
		{"malformed", Histogram{Bounds: []float64{1}, Counts: []uint64{3}}, 0.5, 0},
	}
	for _, tt := range tests {
		if got := tt.h.Quantile(tt.q); got != tt.want {
			t.Errorf("Quantile(%s, %g) = %g; want %g", tt.name, tt.q, got, tt.want)
		}
	}
}

type fakeStats struct{ s []ModelStats }

func (f *fakeStats) TelemetryStats() []ModelStats { return f.s }

func TestModelsInterval(t *testing.T) {
	b := []float64{0.001, 0.002, 0.004}
	src := &fakeStats{s: []ModelStats{{Name: "m", Version: "1", Inferences: 10, CacheHits: 5, QueueDepth: 3,
		Latency: Histogram{Bounds: b, Counts: []uint64{10, 0, 0, 0}}}}}
	c := NewModels(src)
	var s1 Snapshot
	if err := c.Collect(&s1); err != nil {
		t.Fatal(err)
	}
	// First interval: 10 requests all in (0,1ms]: p50 at rank 5 of 10 = 0.5 ms; hit ratio 5/10.
	if m := s1.Models[0]; m.Inferences != 10 || m.CacheHit != 0.5 || m.P50 != 0.5 || m.QueueDepth != 3 {
		t.Errorf("first snapshot = %+v; want 10 inferences, hit ratio 0.5, p50 0.5 ms, queue 3", m)
	}
	// Second interval: 20 more, none from the cache, all in (2,4] ms: p50
	// at rank 10 of 20 = 2 + 2·10/20 = 3 ms.
	src.s[0].Inferences, src.s[0].Latency.Counts = 30, []uint64{10, 0, 20, 0}
	var s2 Snapshot
	if err := c.Collect(&s2); err != nil {
		t.Fatal(err)
	}
	if m := s2.Models[0]; m.Inferences != 30 || m.CacheHit != 0 || m.P50 != 3 || m.P99 != 3.98 {
		t.Errorf("second snapshot = %+v; want 30 inferences, hit ratio 0, p50 3 ms, p99 3.98 ms", m)
	}
	if err := NewModels(&fakeStats{}).Collect(&s2); !errors.Is(err, ErrNoData) {
		t.Errorf("Collect(no models) = %v; want ErrNoData", err)
	}
}

func TestThermal(t *testing.T) {
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    float64
		wantErr error
	}{
		{"raspberry pi", fstest.MapFS{
			"class/thermal/thermal_zone0/type": {Data: []byte("cpu-thermal\n")},
			"class/thermal/thermal_zone0/temp": {Data: []byte("48312\n")},
		}, 48.3, nil},
		{"x86 prefers the package zone", fstest.MapFS{
			"class/thermal/thermal_zone0/type": {Data: []byte("acpitz\n")},
			"class/thermal/thermal_zone0/temp": {Data: []byte("27800\n")},
			"class/thermal/thermal_zone1/type": {Data: []byte("x86_pkg_temp\n")},
			"class/thermal/thermal_zone1/temp": {Data: []byte("61050\n")},
		}, 61.1, nil},
		{"unknown types fall back to zone 0", fstest.MapFS{
			"class/thermal/thermal_zone10/type": {Data: []byte("gpu\n")},
			"class/thermal/thermal_zone10/temp": {Data: []byte("70000\n")},
			"class/thermal/thermal_zone2/type":  {Data: []byte("board\n")},
			"class/thermal/thermal_zone2/temp":  {Data: []byte("35000\n")},
		}, 35, nil},
		{"container without zones", fstest.MapFS{}, 0, ErrNoData},
	}
	for _, tt := range tests {
		var s Snapshot
		err := Thermal{FS: tt.fs}.Collect(&s)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Thermal(%s) error = %v; want %v", tt.name, err, tt.wantErr)
			continue
		}
		if tt.wantErr == nil && (s.CPUTemp == nil || *s.CPUTemp != tt.want) {
			t.Errorf("Thermal(%s) = %v; want %g", tt.name, s.CPUTemp, tt.want)
		}
	}
	var s Snapshot
	two := fstest.MapFS{
		"class/thermal/thermal_zone0/type": {Data: []byte("acpitz\n")},
		"class/thermal/thermal_zone0/temp": {Data: []byte("27800\n")},
		"class/thermal/thermal_zone1/type": {Data: []byte("acpitz\n")},
		"class/thermal/thermal_zone1/temp": {Data: []byte("61050\n")},
	}
	if err := (Thermal{FS: two}).Collect(&s); err != nil || s.System == nil || len(s.System.Zones) != 2 ||
		s.System.Zones["acpitz"] != 27.8 || s.System.Zones["thermal_zone1"] != 61.1 {
		t.Errorf("Thermal(two acpitz zones) = %v, %+v; want acpitz 27.8 and thermal_zone1 61.1", err, s.System)
	}
	bad := fstest.MapFS{"class/thermal/thermal_zone0/temp": {Data: []byte("hot\n")}}
	if err := (Thermal{FS: bad}).Collect(&Snapshot{}); err == nil || errors.Is(err, ErrNoData) {
		t.Errorf("Thermal(garbage) = %v; want a parse error", err)
	}
}

// TestBytesPerHour measures the telemetry budget at the default interval
// with one model on a Raspberry Pi (fixture trees), a fleet link and one
// source: payload plus MQTT PUBLISH framing (QoS 0: 1 byte of type, 2 of
// remaining length, 2 of topic length, the topic). The counters are large
// (days of uptime) so that their digits count.
func TestBytesPerHour(t *testing.T) {
	src := &fakeStats{s: []ModelStats{{Name: "person_detect", Version: "1", Inferences: 1234567, CacheHits: 23456, Errors: 12, QueueDepth: 2,
		Latency: Histogram{Bounds: []float64{0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128}, Counts: []uint64{0, 0, 0, 10, 400, 190, 3, 1, 0}}}}}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	cpu := &CPU{FS: rpiProc("cpu  4705 356 584 3699 23 0 12 0 0 0\n"), Now: now}
	if err := cpu.Collect(&Snapshot{}); !errors.Is(err, ErrNoData) {
		t.Fatalf("first CPU reading = %v; want ErrNoData", err)
	}
	cpu.FS = rpiProc("cpu  9705 356 1584 13699 23 0 12 0 0 0\n")
	at = at.Add(time.Minute)
	link := Link{Client: fakeClient{fleet.Stats{Connected: true, Lost: 3, PublishedBytes: 123456789, LastError: "connection lost: EOF"}},
		Outbox: fakeOutbox{outbox.Stats{Pending: 12, Dropped: map[outbox.Kind]uint64{outbox.Drift: 4}}}}
	sources := Sources{Src: fakeSources{{Name: "camera0", In: 123456, Out: 123400, Errors: 56, Last: at.Add(-time.Second)}}, Now: now}
	set := NewSet(nil,
		Named{"uptime", Uptime{Started: at.Add(-72 * time.Hour), Now: now}},
		Named{"cpu", cpu}, Named{"load", Load{FS: rpiProc("")}}, Named{"memory", Memory{FS: rpiProc("")}},
		Named{"thermal", Thermal{FS: rpiSys()}}, Named{"throttle", Throttle{FS: rpiSys()}},
		Named{"link", link}, Named{"sources", sources},
		Named{"disk", CollectorFunc(func(s *Snapshot) error {
			system(s).DiskFree, system(s).DiskTotal = 22_370, 30_436 // MiB of a 32 GB card
			return nil
		})})
	p := &Publisher{Topic: fleet.TelemetryTopic("rpi-livingroom-0042"), Interval: time.Minute, Now: now, Collectors: []Collector{set, NewModels(src)}}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for name, ok := range set.Outcomes() {
		if !ok {
			t.Errorf("collector %s gave no figures on the fixture", name)
		}
	}
	perMsg := len(b) + 1 + 2 + 2 + len(p.Topic)
	perHour := perMsg * 60
	t.Logf("snapshot %d bytes: %s", len(b), b)
	t.Logf("telemetry: %d bytes per message, %d bytes (%.1f KB) per hour at 60s", perMsg, perHour, float64(perHour)/1000)
	if perHour > 40_000 {
		t.Errorf("telemetry costs %d bytes per hour; want < 40 KB", perHour)
	}
	var back fleet.Telemetry
	if err := fleet.Decode(b, &back); err != nil || !strings.Contains(string(b), `"v":1`) {
		t.Errorf("Decode(snapshot) = %v; want a valid v1 Telemetry", err)
	}
	if back.System == nil || back.Link == nil || len(back.Sources) != 1 || len(back.Models) != 1 {
		t.Errorf("snapshot lacks a section: %s", b)
	}
}

func TestPublisherRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	var mu sync.Mutex
	var got []string
	p := &Publisher{Topic: "edged/v1/dev/d/telemetry", Interval: 5 * time.Millisecond,
		Collectors: []Collector{Uptime{Started: time.Now()}},
		Publish: func(_ context.Context, topic string, payload []byte, qos byte, retained bool) error {
			mu.Lock()
			defer mu.Unlock()
			if qos != 0 || retained {
				t.Errorf("Publish qos %d retained %v; want 0, false", qos, retained)
			}
			got = append(got, topic)
			return nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if len(got) < 3 {
		t.Fatalf("published %d snapshots; want at least 3", len(got))
	}
}
