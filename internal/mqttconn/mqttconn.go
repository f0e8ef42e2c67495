// Package mqttconn is what edged's two MQTT connections — the fleet link
// (fleet.Client) and the MQTT sensor source (agent/source) — share: a
// Session that keeps one paho connection up with backoff and jitter and
// hands it packets within a context (paho's own hand-over waits up to 30s
// on a broker that stops reading), the TLS configuration for a broker URL,
// and waiting on a paho token within a context and a timeout.
package mqttconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TLS is the TLS part of a broker configuration.
type TLS struct {
	// CAFile is a PEM bundle trusted for the broker's certificate instead
	// of the system roots; CertFile and KeyFile a client certificate.
	CAFile, CertFile, KeyFile string
	// ServerName overrides the name checked in the broker's certificate
	// (default: the URL's host).
	ServerName string
	// InsecureSkipVerify turns verification of the broker off.
	InsecureSkipVerify bool
}

// Brokers splits a broker setting into its URLs: one URL, or several
// separated by commas (the nodes of a cluster, tried in turn on every
// connection attempt).
func Brokers(broker string) []string {
	var urls []string
	for _, u := range strings.Split(broker, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// TLSConfig builds the TLS configuration for the broker URL (or URLs, see
// Brokers), or nil for a plain connection. Verification of the broker's
// certificate is on unless InsecureSkipVerify says otherwise; a CA file or
// client certificate on a plain URL is an error, not silently unused.
// Several URLs must all be TLS or all plain, and TLS ones on different
// hosts need ServerName.
func TLSConfig(broker string, o TLS) (*tls.Config, error) {
	urls := Brokers(broker)
	if len(urls) == 0 {
		return nil, fmt.Errorf("broker %q: no URL", broker)
	}
	var u *url.URL
	secure := false
	for i, b := range urls {
		v, s, err := parseBroker(b)
		if err != nil {
			return nil, err
		}
		if i > 0 && (s != secure || (s && o.ServerName == "" && v.Hostname() != u.Hostname())) {
			return nil, fmt.Errorf("broker %q: the URLs must be all TLS or all plain, and TLS URLs on different hosts need a server name", broker)
		}
		u, secure = v, s
	}
	if !secure {
		if o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" {
			return nil, fmt.Errorf("broker %q is not TLS (want ssl:// or mqtts://) but a CA file or client certificate is set", broker)
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

// parseBroker checks one broker URL and says whether it is TLS.
func parseBroker(broker string) (*url.URL, bool, error) {
	u, err := url.Parse(broker)
	if err != nil {
		return nil, false, fmt.Errorf("broker %q: %w", broker, err)
	}
	secure := false
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "tcps", "wss":
		secure = true
	case "tcp", "mqtt", "ws":
	default:
		return nil, false, fmt.Errorf("broker %q: scheme %q; want tcp, ssl, tls, mqtts, ws or wss", broker, u.Scheme)
	}
	if u.Host == "" {
		return nil, false, fmt.Errorf("broker %q: no host", broker)
	}
	return u, secure, nil
}

// Wait waits for a paho token, the context or a timeout, whichever first.
func Wait(ctx context.Context, t mqtt.Token, timeout time.Duration) error {
	return wait(ctx, t, timeout, timeout)
}

// wait waits for t within left, and names total in its timeout error.
func wait(ctx context.Context, t mqtt.Token, left, total time.Duration) error {
	select {
	case <-t.Done():
		return t.Error()
	default:
	}
	tm := time.NewTimer(left)
	defer tm.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return fmt.Errorf("no answer from the broker within %v", total)
	}
}
