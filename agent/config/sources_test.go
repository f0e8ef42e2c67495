package config

import (
	"strings"
	"testing"
)

func TestSourcesMQTTPeriph(t *testing.T) {
	base := "version: 1\nmodels:\n  - name: m\n    path: m.tflite\nsources:\n"
	tests := []struct {
		name, src, wantErr string
	}{
		{name: "mqtt", src: "  - type: mqtt\n    model: m\n    mqtt:\n      broker: tcp://localhost:1883\n      topic: s/+/in\n      result_topic: r/{topic}\n      qos: 1\n"},
		{name: "periph", src: "  - type: periph\n    model: m\n    interval: 2s\n    periph:\n      address: 0x77\n      window: 60\n      stride: 10\n"},
		{name: "mqtt missing", src: "  - type: mqtt\n    model: m\n", wantErr: "sources[0].mqtt: must be set for type mqtt"},
		{name: "mqtt bad", src: "  - type: mqtt\n    model: m\n    mqtt:\n      broker: localhost\n      topic: a\n      result_topic: b/#\n      qos: 3\n      encoding: cbor\n", wantErr: "sources[0].mqtt.broker"},
		{name: "periph address", src: "  - type: periph\n    model: m\n    periph:\n      address: 0x40\n      window: 4\n", wantErr: "sources[0].periph.address: is 0x40"},
		{name: "periph stride", src: "  - type: periph\n    model: m\n    periph:\n      window: 4\n      stride: 5\n", wantErr: "sources[0].periph.stride: is 5"},
		{name: "mixed", src: "  - type: synthetic\n    model: m\n    periph:\n      window: 4\n", wantErr: "sources[0].periph: is set but type is \"synthetic\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(base+tt.src), "/x")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p := c.Sources[0].Periph; p != nil && (p.Address != 0x77 || p.Driver != "bme280") {
					t.Errorf("periph %+v", p)
				}
				if m := c.Sources[0].MQTT; m != nil && (m.Encoding != "json" || m.MaxPayload != 1<<20 || m.QoS != 1) {
					t.Errorf("mqtt %+v", m)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v; want %q", err, tt.wantErr)
			} else {
				t.Log(err)
			}
		})
	}
}
