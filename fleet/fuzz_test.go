package fleet

import (
	"bytes"
	"testing"
	"time"
)

// FuzzRoundTrip feeds each MQTT payload to the decoder of every message
// type. Whatever one accepts encodes to bytes that decode and encode to
// the same bytes again: the canonical form is a fixed point, so a message
// relayed by the agent (outbox, retained state) says what it was sent.
func FuzzRoundTrip(f *testing.F) {
	sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	for _, s := range []string{
		`{"v":1,"state":"online","version":"0.3.1","board":"rpi4","accelerators":["edgetpu"],"models":[{"name":"person","active":"3","previous":"2"}],"uptime_s":42,"time":"2026-03-01T12:00:00Z"}`,
		`{"v":1,"state":"offline"}`,
		`{"v":1,"time":"2026-03-01T12:00:00+01:00","interval_s":60,"cpu_temp_c":51.5,"models":[{"name":"m","inferences":10,"p50_ms":1.5,"cache_hit_ratio":0.5}],"metrics":{"edged_up":1}}`,
		`{"v":1,"seq":7,"time":"2026-03-01T12:00:00Z","kind":"drift","model":"m","detail":{"state":"warn","score":[1,2.5e-3]}}`,
		`{"v":1,"op":"deploy","id":"c-9","payload":{"v":1,"kind":"model"},"issued":"2026-03-01T12:00:00Z","expires":"2026-03-02T12:00:00Z"}`,
		`{"v":1,"op":"ping","id":"p","issued":"2026-03-01T12:00:00.123456789Z"}`,
		`{"v":1,"id":"c-9","state":"failed","progress":1,"error":"x","time":"2026-03-01T12:00:00Z"}`,
		`{"v":1,"sha256":"` + sum + `","size":1025,"chunk_size":1024,"count":2}`,
		`{"v":1,"state":"online","time":"0001-01-01T00:00:00Z"}`,
		`{"v":1,"time":"9999-12-31T23:59:59.999999999-23:59","metrics":{"\u2028":1e308}}`,
		`{"v":1,"kind":"x","time":"2026-03-01T12:00:00Z","detail":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	newOf := []func() Message{
		func() Message { return &State{} },
		func() Message { return &Telemetry{} },
		func() Message { return &Event{} },
		func() Message { return &Command{} },
		func() Message { return &CommandStatus{} },
		func() Message { return &BlobMeta{} },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mk := range newOf {
			m := mk()
			if err := Decode(data, m); err != nil {
				if err.Error() == "" {
					t.Fatalf("Decode(%q) into %T: empty error", data, m)
				}
				continue
			}
			if c, ok := m.(*Command); ok {
				c.Expired(time.Now()) // must not panic on any accepted time
			}
			b1, err := Encode(m)
			if err != nil {
				t.Fatalf("Decode(%q) into %T accepted a message Encode refuses: %v", data, m, err)
			}
			m2 := mk()
			if err := Decode(b1, m2); err != nil {
				t.Fatalf("Decode(Encode(%T)) = %v for %s", m, err, b1)
			}
			b2, err := Encode(m2)
			if err != nil || !bytes.Equal(b1, b2) {
				t.Fatalf("Encode(Decode(%s)) = %s, %v; want the same bytes", b1, b2, err)
			}
		}
	})
}
