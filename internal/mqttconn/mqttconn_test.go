package mqttconn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTLSConfig(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		broker     string
		o          TLS
		wantNil    bool   // a plain connection
		wantServer string // ServerName of the result
		wantErr    string
	}{
		{name: "plain", broker: "tcp://127.0.0.1:1883", wantNil: true},
		{name: "mqtt scheme", broker: "mqtt://broker:1883", wantNil: true},
		{name: "tls from the host", broker: "ssl://broker.example:8883", wantServer: "broker.example"},
		{name: "mqtts with an override", broker: "mqtts://10.0.0.1:8883", o: TLS{ServerName: "broker.example"}, wantServer: "broker.example"},
		{name: "unknown scheme", broker: "http://broker:80", wantErr: `scheme "http"`},
		{name: "no host", broker: "ssl://", wantErr: "no host"},
		{name: "CA on a plain URL", broker: "tcp://broker:1883", o: TLS{CAFile: notPEM}, wantErr: "is not TLS"},
		{name: "CA file not PEM", broker: "ssl://broker:8883", o: TLS{CAFile: notPEM}, wantErr: "no PEM certificate"},
		{name: "CA file missing", broker: "ssl://broker:8883", o: TLS{CAFile: notPEM + ".gone"}, wantErr: "ca file"},
		{name: "half a client certificate", broker: "ssl://broker:8883", o: TLS{CertFile: notPEM}, wantErr: "client certificate"},
		{name: "cluster plain", broker: "tcp://n1:1883, tcp://n2:1883,tcp://n3:1883", wantNil: true},
		{name: "cluster tls on one host", broker: "ssl://b.example:8883,ssl://b.example:8884", wantServer: "b.example"},
		{name: "cluster tls with a name", broker: "ssl://10.0.0.1:8883,ssl://10.0.0.2:8883", o: TLS{ServerName: "b.example"}, wantServer: "b.example"},
		{name: "cluster tls on two hosts", broker: "ssl://n1:8883,ssl://n2:8883", wantErr: "need a server name"},
		{name: "cluster mixed", broker: "tcp://n1:1883,ssl://n2:8883", wantErr: "all TLS or all plain"},
		{name: "cluster bad member", broker: "tcp://n1:1883,http://n2", wantErr: `scheme "http"`},
		{name: "only commas", broker: " , ", wantErr: "no URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TLSConfig(tt.broker, tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("TLSConfig(%q) error = %v; want one containing %q", tt.broker, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("TLSConfig(%q): %v", tt.broker, err)
			}
			if (got == nil) != tt.wantNil {
				t.Fatalf("TLSConfig(%q) = %v; want nil %v", tt.broker, got, tt.wantNil)
			}
			if got != nil && (got.ServerName != tt.wantServer || got.InsecureSkipVerify) {
				t.Errorf("TLSConfig(%q) ServerName %q, InsecureSkipVerify %v; want %q, false", tt.broker, got.ServerName, got.InsecureSkipVerify, tt.wantServer)
			}
		})
	}
}

func TestBrokers(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://a:1":                "tcp://a:1",
		"tcp://a:1,tcp://b:2":      "tcp://a:1|tcp://b:2",
		" tcp://a:1 ,, tcp://b:2 ": "tcp://a:1|tcp://b:2",
		"":                         "",
	} {
		if got := strings.Join(Brokers(in), "|"); got != want {
			t.Errorf("Brokers(%q) = %q; want %q", in, got, want)
		}
	}
}
