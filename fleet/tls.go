package fleet

import (
	"crypto/tls"

	"github.com/edged-dev/edged/internal/mqttconn"
)

// tlsConfig builds the TLS configuration for the broker URL, or nil for a
// plain connection (see mqttconn.TLSConfig).
func tlsConfig(o *Options) (*tls.Config, error) {
	return mqttconn.TLSConfig(o.Broker, mqttconn.TLS{CAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile, ServerName: o.ServerName, InsecureSkipVerify: o.InsecureSkipVerify})
}
