package fleet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/edged-dev/edged/internal/testenv"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// mosquittoBin finds a mosquitto binary or skips the test (CI installs
// one: apt-get install mosquitto).
func mosquittoBin(t *testing.T) string {
	t.Helper()
	if bin, err := exec.LookPath("mosquitto"); err == nil {
		return bin
	}
	for _, bin := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
	}
	testenv.Missing(t, "mosquitto is not installed; skipping the real-broker tests (apt-get install mosquitto)")
	return ""
}

// startMosquitto runs mosquitto on a free loopback port with conf lines
// added to the listener and returns its address.
func startMosquitto(t *testing.T, bin string, conf ...string) string {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	text := "listener " + port + " 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n" + strings.Join(conf, "\n") + "\n"
	if os.Getuid() == 0 {
		// Started as root, mosquitto 2 drops to user mosquitto before it
		// reads the TLS files, which sit in the test's private temp dir.
		text += "user root\n"
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", out.String())
		}
	})
	waitFor(t, "mosquitto on "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

func TestMosquittoRoundTrip(t *testing.T) {
	bin := mosquittoBin(t)
	checkLeaks(t)
	addr := startMosquitto(t, bin)
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
	bin := mosquittoBin(t)
	checkLeaks(t)
	ca := newPKI(t, "edged test CA")
	cert, key := ca.issue(t, "broker", true)
	tlsConf := []string{"cafile " + ca.caFile(), "certfile " + cert, "keyfile " + key}
	peerOpts := func() *mqtt.ClientOptions {
		return mqtt.NewClientOptions().SetTLSConfig(&tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12})
	}

	t.Run("verified", func(t *testing.T) {
		broker := "ssl://" + startMosquitto(t, bin, tlsConf...)
		roundTrip(t, broker, Options{Broker: broker, CAFile: ca.caFile()}, peerOpts)
	})

	t.Run("wrong CA", func(t *testing.T) {
		broker := "ssl://" + startMosquitto(t, bin, tlsConf...)
		other := newPKI(t, "someone else")
		c, stop, _ := runClient(t, Options{Broker: broker, DeviceID: "pi-7", CAFile: other.caFile(),
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		waitFor(t, "a failed attempt", func() bool { return c.Stats().ConnectFailures >= 1 })
		stop()
		if st := c.Stats(); st.Connects != 0 || !strings.Contains(st.LastError, "certificate signed by unknown authority") {
			t.Errorf("stats %+v; want no connection and an unknown authority", st)
		}
	})

	t.Run("client certificate", func(t *testing.T) {
		broker := "ssl://" + startMosquitto(t, bin, append(tlsConf, "require_certificate true")...)
		ccert, ckey := ca.issue(t, "pi-7", false)
		_, stop, ready := runClient(t, Options{Broker: broker, DeviceID: "pi-7", CAFile: ca.caFile(), CertFile: ccert, KeyFile: ckey})
		waitFor(t, "connection", func() bool { return ready() == 1 })
		stop()

		anon, stopAnon, _ := runClient(t, Options{Broker: broker, DeviceID: "pi-8", CAFile: ca.caFile(),
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		waitFor(t, "a failed attempt", func() bool { return anon.Stats().ConnectFailures >= 1 })
		stopAnon()
		if st := anon.Stats(); st.Connects != 0 {
			t.Errorf("client without a certificate: stats %+v; want no connection", st)
		}
	})
}
