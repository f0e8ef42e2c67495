package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/internal/testenv"
)

// startMosquitto runs mosquitto on a free loopback port with conf lines
// added to the listener and returns its address.
func startMosquitto(t *testing.T, conf ...string) string {
	t.Helper()
	return mosquittotest.Start(t, &mosquittotest.Options{Conf: conf}).Addr()
}

func TestMosquittoRoundTrip(t *testing.T) {
	testenv.CheckLeaks(t)
	addr := startMosquitto(t)
	roundTrip(t, "tcp://"+addr, Options{Broker: "tcp://" + addr}, plainPeer)
}

// pki is a CA and certificates it signed, written as PEM files.
type pki struct {
	dir  string
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: t.TempDir(), ca: ca, key: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue makes a certificate for cn (a server's for 127.0.0.1 if server)
// and returns the paths of the certificate and its key.
func (p *pki) issue(t *testing.T, cn string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, cn+".pem", "CERTIFICATE", der), p.write(t, cn+".key", "PRIVATE KEY", kder)
}

func (p *pki) caFile() string { return filepath.Join(p.dir, "ca.pem") }

// TestMosquittoTLS: the client verifies the broker against its CA file,
// fails against another CA, and can present a client certificate.
func TestMosquittoTLS(t *testing.T) {
	testenv.CheckLeaks(t)
	ca := newPKI(t, "edged test CA")
	cert, key := ca.issue(t, "broker", true)
	tlsConf := []string{"cafile " + ca.caFile(), "certfile " + cert, "keyfile " + key}
	peerOpts := func() *mqtt.ClientOptions {
		return mqtt.NewClientOptions().SetTLSConfig(&tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12})
	}

	t.Run("verified", func(t *testing.T) {
		broker := "ssl://" + startMosquitto(t, tlsConf...)
		roundTrip(t, broker, Options{Broker: broker, CAFile: ca.caFile()}, peerOpts)
	})

	t.Run("wrong CA", func(t *testing.T) {
		broker := "ssl://" + startMosquitto(t, tlsConf...)
		other := newPKI(t, "someone else")
		c, stop, _ := runClient(t, Options{Broker: broker, DeviceID: "pi-7", CAFile: other.caFile(),
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		testenv.WaitFor(t, "a failed attempt", 10*time.Second, func() bool { return c.Stats().ConnectFailures >= 1 })
		stop()
		if st := c.Stats(); st.Connects != 0 || !strings.Contains(st.LastError, "certificate signed by unknown authority") {
			t.Errorf("stats %+v; want no connection and an unknown authority", st)
		}
	})

	t.Run("client certificate", func(t *testing.T) {
		broker := "ssl://" + startMosquitto(t, append(tlsConf, "require_certificate true")...)
		ccert, ckey := ca.issue(t, "pi-7", false)
		_, stop, ready := runClient(t, Options{Broker: broker, DeviceID: "pi-7", CAFile: ca.caFile(), CertFile: ccert, KeyFile: ckey})
		testenv.WaitFor(t, "connection", 10*time.Second, func() bool { return ready() == 1 })
		stop()

		anon, stopAnon, _ := runClient(t, Options{Broker: broker, DeviceID: "pi-8", CAFile: ca.caFile(),
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		testenv.WaitFor(t, "a failed attempt", 10*time.Second, func() bool { return anon.Stats().ConnectFailures >= 1 })
		stopAnon()
		if st := anon.Stats(); st.Connects != 0 {
			t.Errorf("client without a certificate: stats %+v; want no connection", st)
		}
	})
}
