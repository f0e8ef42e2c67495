package config

import (
	"strings"
	"testing"
	"time"
)

func TestOTAConfig(t *testing.T) {
	const base = "version: 1\nstate_dir: /var/lib/edged\n"
	const broker = "fleet:\n  broker: tcp://127.0.0.1:1883\n"
	// A 32-byte key in standard base64: 32 zero bytes are 43 'A's and '='.
	inline := strings.Repeat("A", 43) + "="
	tests := []struct {
		name        string
		doc         string
		wantEnabled bool
		wantInline  bool
		wantStore   string
		wantErr     string
	}{
		{name: "off by default", doc: base, wantStore: "/var/lib/edged/models"},
		{name: "key without broker", doc: base + "ota:\n  root_key: keys/root.pub\n", wantStore: "/var/lib/edged/models"},
		{name: "key file and broker", doc: base + broker + "ota:\n  root_key: keys/root.pub\n", wantEnabled: true, wantStore: "/var/lib/edged/models"},
		{name: "inline key", doc: base + broker + "ota:\n  root_key: " + inline + "\n", wantEnabled: true, wantInline: true, wantStore: "/var/lib/edged/models"},
		{name: "short base64 is a path", doc: base + broker + "ota:\n  root_key: AAAA\n", wantEnabled: true, wantStore: "/var/lib/edged/models"},
		{name: "store dir", doc: base + broker + "ota:\n  root_key: k\n  store_dir: /data/ota\n", wantEnabled: true, wantStore: "/data/ota"},
		{name: "negative blob bound", doc: base + "ota:\n  max_blob_bytes: -1\n", wantErr: "ota.max_blob_bytes: is -1; want 1 to 4294967296"},
		{name: "blob bound over 4 GiB", doc: base + "ota:\n  max_blob_bytes: 4294967297\n", wantErr: "ota.max_blob_bytes: is 4294967297"},
		{name: "negative smoke timeout", doc: base + "ota:\n  smoke_timeout: -1s\n", wantErr: "ota.smoke_timeout: must be > 0"},
		{name: "one start", doc: base + "ota:\n  crash_loop: {starts: 1}\n", wantErr: "ota.crash_loop.starts: is 1; want 2 to 64"},
		{name: "negative window", doc: base + "ota:\n  crash_loop: {window: -1m}\n", wantErr: "ota.crash_loop.window: must be > 0"},
		{name: "unknown key", doc: base + "ota:\n  root_keys: x\n", wantErr: "field root_keys not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.doc), "/etc/edged")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%s) error = %v; want %q", tc.name, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s) error = %v; want nil", tc.name, err)
			}
			if got := c.OTA.Enabled(&c.Fleet); got != tc.wantEnabled {
				t.Errorf("Enabled = %v; want %v", got, tc.wantEnabled)
			}
			if _, got := c.OTA.InlineRootKey(); got != tc.wantInline {
				t.Errorf("InlineRootKey ok = %v; want %v", got, tc.wantInline)
			}
			if c.OTA.StoreDir != tc.wantStore {
				t.Errorf("StoreDir = %q; want %q", c.OTA.StoreDir, tc.wantStore)
			}
		})
	}
}

func TestOTADefaults(t *testing.T) {
	c, err := Parse([]byte("version: 1\nstate_dir: /s\n"), "/etc/edged")
	if err != nil {
		t.Fatal(err)
	}
	o := c.OTA
	if o.MaxBlobBytes != 512<<20 || o.SmokeTimeout.D() != 30*time.Second || o.CrashLoop.Starts != 3 || o.CrashLoop.Window.D() != 10*time.Minute {
		t.Errorf("defaults = %+v; want max_blob_bytes 536870912, smoke_timeout 30s, crash_loop {3, 10m}", o)
	}
}

func TestNewModel(t *testing.T) {
	m := NewModel("mnet", "/x/model.tflite", "4")
	// The defaults documented in examples/edged.yaml.
	if m.Instances != 1 || m.Batch.MaxBatch != 1 || m.Batch.QueueCapacity != 64 || m.Batch.Overload != "reject" ||
		m.Batch.MaxDelay.D() != 2*time.Millisecond || m.Cache.MaxEntries != 10000 || m.Version != "4" {
		t.Errorf("NewModel = %+v; want version 4, 1 instance, batch {1, 2ms, 64, reject}, cache max_entries 10000", m)
	}
}
