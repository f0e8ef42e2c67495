package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
)

// tlsConfig builds the TLS configuration for the broker URL, or nil for a
// plain connection. Verification of the broker's certificate is on unless
// InsecureSkipVerify says otherwise.
func tlsConfig(o *Options) (*tls.Config, error) {
	u, err := url.Parse(o.Broker)
	if err != nil {
		return nil, fmt.Errorf("broker %q: %w", o.Broker, err)
	}
	secure := false
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "tcps", "wss":
		secure = true
	case "tcp", "mqtt", "ws":
	default:
		return nil, fmt.Errorf("broker %q: scheme %q; want tcp, ssl, tls, mqtts, ws or wss", o.Broker, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("broker %q: no host", o.Broker)
	}
	if !secure {
		if o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" {
			return nil, fmt.Errorf("broker %q is not TLS (want ssl:// or mqtts://) but a CA file or client certificate is set", o.Broker)
		}
		return nil, nil
	}
	if o.ServerName == "" {
		// paho leaves it empty when it dials through a proxy, and Go then
		// refuses to verify.
		o.ServerName = u.Hostname()
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify, ServerName: o.ServerName}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca file %s: no PEM certificate found", o.CAFile)
		}
		t.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		c, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{c}
	}
	return t, nil
}
