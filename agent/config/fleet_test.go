package config

import (
	"strings"
	"testing"
	"time"
)

const fleetBase = `
version: 1
device: {id: pi-7, group: kitchen}
models:
  - name: m
    path: m.tflite
`

func TestFleetDefaults(t *testing.T) {
	c, err := Parse([]byte(fleetBase), "/etc/edged")
	if err != nil {
		t.Fatal(err)
	}
	if c.Fleet.Enabled() {
		t.Errorf("Fleet.Enabled() = true without a broker; want false (standalone)")
	}
	if c.Telemetry.Interval.D() != time.Minute || c.Fleet.KeepAlive.D() != 30*time.Second || c.Fleet.Outbox.MaxBytes != 4<<20 || c.Drift.Queue != 256 {
		t.Errorf("defaults: interval %v, keepalive %v, outbox %d, drift queue %d; want 1m, 30s, 4 MiB, 256",
			c.Telemetry.Interval.D(), c.Fleet.KeepAlive.D(), c.Fleet.Outbox.MaxBytes, c.Drift.Queue)
	}
}

func TestDriftFor(t *testing.T) {
	doc := fleetBase + `    drift:
      profile: m.profile.json
      window: {max_samples: 800}
      thresholds: {psi: {warn: 0.2, drift: 0.4}}
drift:
  window: {max_samples: 2000, min_samples: 600, max_duration: 5m}
  thresholds: {psi: {warn: 0.1, drift: 0.3}, hysteresis: 0.1}
  detail: true
`
	c, err := Parse([]byte(doc), "/etc/edged")
	if err != nil {
		t.Fatal(err)
	}
	d := c.DriftFor(c.Models[0])
	want := Drift{Profile: "m.profile.json", Window: DriftWindow{MaxSamples: 800, MinSamples: 600, MaxDuration: Duration(5 * time.Minute)},
		Thresholds: DriftThresholds{PSI: Level{0.2, 0.4}, Hysteresis: 0.1}, Queue: 256}
	if d.Profile != want.Profile || d.Window != want.Window || d.Thresholds != want.Thresholds || d.Queue != want.Queue || d.Detail == nil || !*d.Detail {
		t.Errorf("DriftFor = %+v; want %+v with detail true", d, want)
	}
}

func TestFleetErrors(t *testing.T) {
	tests := []struct {
		name, doc, wantErr string
	}{
		{"bad scheme", fleetBase + "fleet: {broker: \"http://b:1883\"}\n", `fleet.broker: scheme "http"`},
		{"no host", fleetBase + "fleet: {broker: \"tcp://\"}\n", "fleet.broker: \"tcp://\": want a URL"},
		{"bad cluster member", fleetBase + "fleet: {broker: \"tcp://a:1883,b:1883\"}\n", "fleet.broker: \"b:1883\": want a URL"},
		{"tls files on tcp", fleetBase + "fleet: {broker: \"tcp://b:1883\", ca_file: ca.pem}\n", "fleet.ca_file: TLS files need a TLS broker URL"},
		{"cert without key", fleetBase + "fleet: {broker: \"ssl://b:8883\", cert_file: c.pem}\n", "fleet.cert_file: cert_file and key_file go together"},
		{"password twice", fleetBase + "fleet: {broker: \"tcp://b:1883\", password: x, password_file: p}\n", "fleet.password: set either"},
		{"bad group", fleetBase + "fleet: {broker: \"tcp://b:1883\", groups: [\"a/b\"]}\n", "fleet.groups[0]: \"a/b\""},
		{"bad device group", "version: 1\ndevice: {id: d, group: \"x y\"}\n", "device.group: \"x y\""},
		{"device id with slash", "version: 1\ndevice: {id: \"a/b\"}\nfleet: {broker: \"tcp://b:1883\"}\n", "device.id: \"a/b\" cannot name a device"},
		{"short keepalive", fleetBase + "fleet: {keepalive: 100ms}\n", "fleet.keepalive: is 100ms"},
		{"backoff order", fleetBase + "fleet: {min_backoff: 10s, max_backoff: 1s}\n", "fleet.max_backoff: is 1s; must be >= min_backoff (10s)"},
		{"tiny outbox", fleetBase + "fleet: {outbox: {max_bytes: 1000}}\n", "fleet.outbox.max_bytes: is 1000"},
		{"telemetry too often", fleetBase + "telemetry: {interval: 100ms}\n", "telemetry.interval: is 100ms"},
		{"global profile", fleetBase + "drift: {profile: p.json}\n", "drift.profile: a profile belongs to one model"},
		{"model drift without profile", fleetBase + "    drift: {window: {max_samples: 100}}\n", "models[0].drift.profile: must be set"},
		{"min above max", fleetBase + "drift: {window: {max_samples: 100, min_samples: 200}}\n", "drift.window.min_samples: is 200; must be <= max_samples (100)"},
		{"min above merged max", fleetBase + "    drift: {profile: p.json, window: {max_samples: 100}}\ndrift: {window: {min_samples: 500}}\n", "models[0].drift.window.min_samples: is 500; must be <= max_samples (100)"},
		{"negative max", fleetBase + "drift: {window: {max_samples: -1}}\n", "drift.window.max_samples: is -1"},
		{"negative duration", fleetBase + "drift: {window: {max_duration: -1s}}\n", "drift.window.max_duration: must be >= 0"},
		{"psi order", fleetBase + "drift: {thresholds: {psi: {warn: 0.3, drift: 0.1}}}\n", "drift.thresholds.psi: warn 0.3, drift 0.1"},
		{"p-value order", fleetBase + "drift: {thresholds: {ks_p: {warn: 1e-6, drift: 1e-4}}}\n", "drift.thresholds.ks_p: warn 1e-06, drift 0.0001: a p-value level"},
		{"p-value of one", fleetBase + "drift: {thresholds: {chi2_p: {warn: 1, drift: 0.5}}}\n", "drift.thresholds.chi2_p"},
		{"js zero warn", fleetBase + "drift: {thresholds: {js: {warn: 0, drift: 0.5}}}\n", "drift.thresholds.js"},
		{"hysteresis", fleetBase + "drift: {thresholds: {hysteresis: 1.5}}\n", "drift.thresholds.hysteresis: is 1.5"},
		{"recover", fleetBase + "    drift: {profile: p.json, thresholds: {recover: -1}}\n", "models[0].drift.thresholds.recover: is -1"},
		{"queue", fleetBase + "drift: {queue: -5}\n", "drift.queue: is -5"},
		{"sample every", fleetBase + "drift: {sample_every: -1}\n", "drift.sample_every: is -1"},
		{"shift on replay", fleetBase + "sources:\n  - {type: synthetic, model: m, pattern: replay, files: [a.bin], shift: {after: 1, mean: 1}}\n", "sources[0].shift: applies to synthetic noise and sine"},
		{"negative shift start", fleetBase + "sources:\n  - {type: synthetic, model: m, shift: {after: -1, mean: 1}}\n", "sources[0].shift.after: is -1"},
		{"unknown fleet key", fleetBase + "fleet: {brokr: x}\n", "field brokr not found"},
		{"negative fetch jitter", fleetBase + "ota: {root_key: r.pub, fetch_jitter: -1s}\n", "ota.fetch_jitter: is -1s"},
		{"long fetch jitter", fleetBase + "ota: {root_key: r.pub, fetch_jitter: 2h}\n", "ota.fetch_jitter: is 2h0m0s; want 0 to 1h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "/tmp")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse error = %v; want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestFleetValid(t *testing.T) {
	doc := fleetBase + `    drift: {profile: m.json}
fleet:
  broker: ssl://broker.example:8883
  groups: [floor-2]
  ca_file: ca.pem
  cert_file: dev.pem
  key_file: dev.key
  keepalive: 60s
telemetry: {interval: 5m}
`
	c, err := Parse([]byte(doc), "/etc/edged")
	if err != nil {
		t.Fatalf("Parse(valid fleet config) = %v", err)
	}
	if !c.Fleet.Enabled() {
		t.Error("Fleet.Enabled() = false with a broker")
	}
	// A cluster's nodes, tried in turn.
	if _, err := Parse([]byte(fleetBase+"fleet: {broker: \"tcp://n1:1883,tcp://n2:1883\"}\n"), "/etc/edged"); err != nil {
		t.Errorf("Parse(broker list) = %v", err)
	}
}
