package telemetry

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/outbox"
)

// rpiProc is a Raspberry Pi 4's /proc (4 GB; figures from a real board),
// with stat as given.
func rpiProc(stat string) fstest.MapFS {
	return fstest.MapFS{
		"loadavg": {Data: []byte("0.52 0.58 0.59 1/180 1234\n")},
		"meminfo": {Data: []byte("MemTotal:        3884096 kB\nMemFree:         2345344 kB\nMemAvailable:    3105704 kB\nBuffers:           45312 kB\n")},
		"stat":    {Data: []byte(stat)},
	}
}

// rpiSys is a Raspberry Pi 4's /sys: one thermal zone and the firmware's
// throttling flags (under-voltage now, throttled since boot).
func rpiSys() fstest.MapFS {
	return fstest.MapFS{
		"class/thermal/thermal_zone0/type":                {Data: []byte("cpu-thermal\n")},
		"class/thermal/thermal_zone0/temp":                {Data: []byte("48312\n")},
		"devices/platform/soc/soc:firmware/get_throttled": {Data: []byte("0x40001\n")},
	}
}

func TestHostCollectors(t *testing.T) {
	var s Snapshot
	for _, c := range []Collector{Load{FS: rpiProc("")}, Memory{FS: rpiProc("")}, Thermal{FS: rpiSys()}, Throttle{FS: rpiSys()}} {
		if err := c.Collect(&s); err != nil {
			t.Fatalf("%T.Collect = %v", c, err)
		}
	}
	sys := s.System
	// MemTotal − MemAvailable = 3884096 − 3105704 = 778392 kB = 760.1 MiB;
	// MemTotal 3793.0 MiB.
	if sys.Load1 != 0.52 || sys.MemTotal != 3793 || sys.MemUsed != 760 {
		t.Errorf("load, memory = %g, %d of %d MiB; want 0.52, 760 of 3793", sys.Load1, sys.MemUsed, sys.MemTotal)
	}
	if sys.Zones != nil || s.CPUTemp == nil || *s.CPUTemp != 48.3 {
		t.Errorf("zones %v, cpu %v; want cpu 48.3 and no zone list (one zone)", sys.Zones, s.CPUTemp)
	}
	if sys.ThrottleFlags == nil || *sys.ThrottleFlags != 0x40001 || !s.Throttle {
		t.Errorf("throttle flags %v, throttled %v; want 0x40001, true (under-voltage now)", sys.ThrottleFlags, s.Throttle)
	}
	// Off a Raspberry Pi, in a container: no data, no error.
	for _, c := range []Collector{Load{FS: fstest.MapFS{}}, Memory{FS: fstest.MapFS{}}, Thermal{FS: fstest.MapFS{}}, Throttle{FS: fstest.MapFS{}}, &CPU{FS: fstest.MapFS{}}, Link{}, Sources{}} {
		if err := c.Collect(&Snapshot{}); !errors.Is(err, ErrNoData) {
			t.Errorf("%T.Collect(empty host) = %v; want ErrNoData", c, err)
		}
	}
	for name, c := range map[string]Collector{
		"loadavg":  Load{FS: fstest.MapFS{"loadavg": {Data: []byte("high\n")}}},
		"meminfo":  Memory{FS: fstest.MapFS{"meminfo": {Data: []byte("MemTotal: 12 MB\n")}}},
		"no avail": Memory{FS: fstest.MapFS{"meminfo": {Data: []byte("MemTotal: 12 kB\n")}}},
		"stat":     &CPU{FS: fstest.MapFS{"stat": {Data: []byte("intr 1 2 3\n")}}},
	} {
		if err := c.Collect(&Snapshot{}); err == nil || errors.Is(err, ErrNoData) {
			t.Errorf("Collect(garbled %s) = %v; want a parse error", name, err)
		}
	}
}

func TestCPU(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := &CPU{FS: rpiProc("cpu  100 0 100 800 0 0 0 0 0 0\n"), Now: func() time.Time { return at }}
	if err := c.Collect(&Snapshot{}); !errors.Is(err, ErrNoData) {
		t.Fatalf("first reading = %v; want ErrNoData (nothing to compare with)", err)
	}
	// +300 user, +100 system, +500 idle, +100 iowait: 400 busy of 1000.
	c.FS = rpiProc("cpu  400 0 200 1300 100 0 0 0 0 0\n")
	at = at.Add(10 * time.Second)
	var s Snapshot
	if err := c.Collect(&s); err != nil || s.System.CPU != 0.4 {
		t.Fatalf("second reading = %v, %+v; want 0.4", err, s.System)
	}
	// Half a second later the figure repeats rather than measure nothing.
	c.FS = rpiProc("cpu  400 0 200 1301 100 0 0 0 0 0\n")
	at = at.Add(500 * time.Millisecond)
	s = Snapshot{}
	if err := c.Collect(&s); err != nil || s.System.CPU != 0.4 {
		t.Errorf("reading 0.5 s later = %v, %+v; want 0.4 again", err, s.System)
	}
}

type fakeClient struct{ s fleet.Stats }

func (f fakeClient) Stats() fleet.Stats { return f.s }

type fakeOutbox struct{ s outbox.Stats }

func (f fakeOutbox) Stats() outbox.Stats { return f.s }

type fakeSources []fleet.SourceTelemetry

func (f fakeSources) SourceTelemetry() []fleet.SourceTelemetry { return f }

// TestSetMetrics checks the series /metrics gets from the collectors:
// their names, types and values, and a success gauge per collector.
func TestSetMetrics(t *testing.T) {
	last := time.Unix(1796600000, 500e6)
	set := NewSet(nil,
		Named{"load", Load{FS: rpiProc("")}},
		Named{"thermal", Thermal{FS: rpiSys()}},
		Named{"throttle", Throttle{FS: fstest.MapFS{}}},
		Named{"link", Link{Client: fakeClient{fleet.Stats{Connected: true, Lost: 2, PublishedBytes: 4096}}, Outbox: fakeOutbox{outbox.Stats{Pending: 3, Dropped: map[outbox.Kind]uint64{outbox.Drift: 1, outbox.Event: 1}}}}},
		Named{"sources", Sources{Src: fakeSources{{Name: "camera0", In: 10, Out: 9, Errors: 1, Last: last}}}},
	)
	want := `
# HELP edged_collector_success 1 when the collector gave its figures at the last reading, 0 when it had no data on this host or failed.
# TYPE edged_collector_success gauge
edged_collector_success{collector="link"} 1
edged_collector_success{collector="load"} 1
edged_collector_success{collector="sources"} 1
edged_collector_success{collector="thermal"} 1
edged_collector_success{collector="throttle"} 0
# HELP edged_fleet_connected 1 while the fleet link is connected to the broker.
# TYPE edged_fleet_connected gauge
edged_fleet_connected 1
# HELP edged_fleet_connections_lost_total Fleet link connections lost.
# TYPE edged_fleet_connections_lost_total counter
edged_fleet_connections_lost_total 2
# HELP edged_fleet_outbox_dropped_total Reports dropped from the full outbox.
# TYPE edged_fleet_outbox_dropped_total counter
edged_fleet_outbox_dropped_total 2
# HELP edged_fleet_outbox_messages Reports waiting in the outbox to be sent.
# TYPE edged_fleet_outbox_messages gauge
edged_fleet_outbox_messages 3
# HELP edged_fleet_sent_bytes_total Payload bytes published to the broker.
# TYPE edged_fleet_sent_bytes_total counter
edged_fleet_sent_bytes_total 4096
# HELP edged_host_cpu_temperature_celsius Temperature of the CPU's thermal zone (or of the first zone).
# TYPE edged_host_cpu_temperature_celsius gauge
edged_host_cpu_temperature_celsius 48.3
# HELP edged_host_load1 One-minute load average.
# TYPE edged_host_load1 gauge
edged_host_load1 0.52
# HELP edged_source_errors_total Readings of each input source that produced no result.
# TYPE edged_source_errors_total counter
edged_source_errors_total{source="camera0"} 1
# HELP edged_source_last_reading_timestamp_seconds When each input source last took a reading (Unix time).
# TYPE edged_source_last_reading_timestamp_seconds gauge
edged_source_last_reading_timestamp_seconds{source="camera0"} 1.7966000005e+09
# HELP edged_source_readings_total Readings taken by each input source.
# TYPE edged_source_readings_total counter
edged_source_readings_total{source="camera0"} 10
# HELP edged_source_results_total Results produced from each input source's readings.
# TYPE edged_source_results_total counter
edged_source_results_total{source="camera0"} 9
`
	if err := testutil.CollectAndCompare(set.Metrics(), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
