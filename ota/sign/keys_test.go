package sign

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRFC8032 checks that keys come from seeds as RFC 8032 says and that
// KeyID is the first 16 hex digits of sha256 of the public key.
func TestRFC8032(t *testing.T) {
	tests := []struct {
		seed, pub, id string
	}{
		{rfcSeed1, rfcPub1, rfcID1},
		{rfcSeed2, rfcPub2, rfcID2},
	}
	for _, tt := range tests {
		k := rootFromSeed(unhex(t, tt.seed))
		if got := k.Public(); !bytes.Equal(got, unhex(t, tt.pub)) {
			t.Errorf("rootFromSeed(%.8s…).Public() = %x; want %s", tt.seed, got, tt.pub)
		}
		if got := KeyID(unhex(t, tt.pub)); got != tt.id {
			t.Errorf("KeyID(%.8s…) = %s; want %s", tt.pub, got, tt.id)
		}
		if got := k.ID(); got != tt.id {
			t.Errorf("RootKey.ID() = %s; want %s", got, tt.id)
		}
	}
	// TEST 1 signs the empty message to this signature; ed25519 is
	// deterministic, so the key must produce exactly it.
	const sig1 = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
	if got := ed25519.Sign(rootFromSeed(unhex(t, rfcSeed1)).priv, nil); !bytes.Equal(got, unhex(t, sig1)) {
		t.Errorf("Sign(TEST 1, empty) = %x; want %s", got, sig1)
	}
}

// TestCertificateEncoding pins the bytes a root signs for a certificate.
func TestCertificateEncoding(t *testing.T) {
	root := rootFromSeed(unhex(t, rfcSeed1))
	pub := ed25519.PublicKey(unhex(t, rfcPub2))
	nb := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	na := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Local times and sub-second parts are normalised away.
	c, err := root.Certify(pub, nb.Add(500*time.Millisecond).In(time.FixedZone("CET", 3600)), na, KindModel)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"key_id":"39f713d0a644253f","not_after":"2026-01-01T00:00:00Z","not_before":"2024-01-01T00:00:00Z",` +
		`"public_key":"PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=","purposes":["model"],"root_id":"21fe31dfa154a261","v":1}`
	got, err := Canonical(mustMarshal(t, c), "sig")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("Canonical(certificate) =\n%s\nwant\n%s", got, want)
	}
	if !ed25519.Verify(root.Public(), []byte("edged-sign-v1 certificate\x00"+want), c.Sig) {
		t.Errorf("certificate sig does not verify over the context string and the canonical encoding")
	}
}

func TestCertifyRejects(t *testing.T) {
	root := rootFromSeed(unhex(t, rfcSeed1))
	pub := ed25519.PublicKey(unhex(t, rfcPub2))
	tests := []struct {
		name     string
		pub      ed25519.PublicKey
		nb, na   time.Time
		purposes []string
		wantMsg  string
	}{
		{"short key", pub[:31], t0, t0.Add(time.Hour), []string{KindModel}, "31 bytes"},
		{"empty window", pub, t0, t0, []string{KindModel}, "not after"},
		{"no purposes", pub, t0, t0.Add(time.Hour), nil, "no purposes"},
		{"typo", pub, t0, t0.Add(time.Hour), []string{"modle"}, `unknown purpose "modle"`},
	}
	for _, tt := range tests {
		_, err := root.Certify(tt.pub, tt.nb, tt.na, tt.purposes...)
		if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("Certify(%s) error %v; want one mentioning %q", tt.name, err, tt.wantMsg)
		}
	}
}

func TestGenerateSigningKey(t *testing.T) {
	root, err := GenerateRoot()
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	k, err := GenerateSigningKey(root, 90*24*time.Hour, KindAgent, KindModel, KindModel)
	if err != nil {
		t.Fatal(err)
	}
	c := k.Certificate()
	if got, want := fmt.Sprint(c.Purposes), "[agent model]"; got != want {
		t.Errorf("Purposes = %s; want %s (sorted, deduplicated)", got, want)
	}
	if c.NotBefore.Before(before) || c.NotAfter.Sub(c.NotBefore) != 90*24*time.Hour {
		t.Errorf("validity %s .. %s; want now .. now+90d", c.NotBefore, c.NotAfter)
	}
	if c.RootID != root.ID() || c.KeyID != k.ID() {
		t.Errorf("RootID, KeyID = %s, %s; want %s, %s", c.RootID, c.KeyID, root.ID(), k.ID())
	}
	if _, err := c.verify(root.Public(), time.Now(), 0); err != nil {
		t.Errorf("fresh certificate: %v", err)
	}
	if _, err := GenerateSigningKey(nil, time.Hour, KindModel); err == nil {
		t.Errorf("GenerateSigningKey(nil root) succeeded")
	}
}

// TestRedaction checks that no formatting path prints private key bytes.
func TestRedaction(t *testing.T) {
	f := newFixture(t)
	seed1 := f.root.priv.Seed()
	seed2 := f.model.priv.Seed()
	var forms []string
	for _, v := range []any{f.root, f.model, struct{ Root, Key any }{f.root, f.model}, []any{f.root, f.model}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			forms = append(forms, verb+" "+fmt.Sprintf(verb, v))
		}
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("keys", "root", f.root, "key", f.model)
	forms = append(forms, "slog "+logged.String())
	forms = append(forms, "json "+string(mustMarshal(t, f.root))+string(mustMarshal(t, f.model)))

	var secrets []string
	for _, s := range [][]byte{seed1, seed2} {
		secrets = append(secrets,
			fmt.Sprintf("%x", s[:8]), fmt.Sprintf("%X", s[:8]), strings.Trim(fmt.Sprint(s[:4]), "[]"),
			base64.StdEncoding.EncodeToString(s)[:12])
	}
	for _, out := range forms {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output contains private key material %q: %s", s, out)
			}
		}
	}
	if got := fmt.Sprint(f.root); !strings.Contains(got, "redacted") || !strings.Contains(got, rfcID1) {
		t.Errorf("fmt.Sprint(root) = %s; want the key id and \"redacted\"", got)
	}
	var nilKey *RootKey
	if got := fmt.Sprint(nilKey); got != "sign.RootKey(nil)" {
		t.Errorf("fmt.Sprint(nil root) = %s", got)
	}
}

func TestCertificateUnknownFields(t *testing.T) {
	// A newer root tool may add members; they are signed and must verify.
	f := newFixture(t)
	pub := f.model.Public()
	body := fmt.Sprintf(`{"v":1,"key_id":%q,"public_key":%q,"not_before":"2025-01-01T00:00:00Z","not_after":"2026-01-01T00:00:00Z","purposes":["model"],"root_id":%q,"issuer_note":"rotation 2025-Q1"}`,
		f.model.ID(), base64.StdEncoding.EncodeToString(pub), f.root.ID())
	canon, err := Canonical([]byte(body), "sig")
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(f.root.priv, append([]byte(certificateContext), canon...))
	full := setMember(t, []byte(body), "sig", sig)
	var c Certificate
	if err := json.Unmarshal(full, &c); err != nil {
		t.Fatal(err)
	}
	if _, err := c.verify(f.root.Public(), t0, 0); err != nil {
		t.Errorf("certificate with a signed unknown member: %v", err)
	}
	// A key file holding it, and a manifest signed with it, keep the member.
	kf := setMember(t, mustMarshal(t, &keyFile{V: 1, Type: typeSigningPrivate, KeyID: f.model.ID(), PrivateKey: f.model.priv.Seed()}), "certificate", json.RawMessage(full))
	k, err := ParseSigningKey(kf)
	if err != nil {
		t.Fatal(err)
	}
	kf2, err := MarshalSigningKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if k, err = ParseSigningKey(kf2); err != nil {
		t.Fatal(err)
	}
	data := signedBytes(t, k, nil)
	if !bytes.Contains(data, []byte(`"issuer_note":"rotation 2025-Q1"`)) {
		t.Errorf("signed manifest lost the certificate's unknown member: %s", data)
	}
	if _, err := Verify(data, f.root.Public(), VerifyOptions{Now: at(t0), Kind: KindModel}); err != nil {
		t.Errorf("manifest signed by a key whose certificate has an unknown member: %v", err)
	}

	// The same member changed after signing breaks the root signature.
	tampered := setMember(t, full, "issuer_note", "changed")
	var c2 Certificate
	if err := json.Unmarshal(tampered, &c2); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.verify(f.root.Public(), t0, 0); !errors.Is(err, ErrUntrustedKey) {
		t.Errorf("certificate with a changed member: error %v; want ErrUntrustedKey", err)
	}
}

// TestCertificateMalformed: certificates the root did sign but that are
// not well formed are refused as malformed, not trusted.
func TestCertificateMalformed(t *testing.T) {
	f := newFixture(t)
	good := mustMarshal(t, f.model.cert)
	tests := []struct {
		name    string
		key     string
		value   any
		wantMsg string
	}{
		{"format v2", "v", 2, "certificate format v2"},
		{"short public key", "public_key", f.model.Public()[:16], "public_key is 16 bytes"},
		{"key id of another key", "key_id", f.agent.ID(), "its public key has id"},
		{"short sig", "sig", make([]byte, 10), "sig is 10 bytes"},
	}
	for _, tt := range tests {
		body := setMember(t, good, tt.key, tt.value)
		if tt.key != "sig" {
			canon, err := Canonical(body, "sig")
			if err != nil {
				t.Fatal(err)
			}
			body = setMember(t, body, "sig", ed25519.Sign(f.root.priv, append([]byte(certificateContext), canon...)))
		}
		var c Certificate
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatal(err)
		}
		_, err := c.verify(f.root.Public(), t0, 0)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("verify(%s) error %v; want ErrMalformed mentioning %q", tt.name, err, tt.wantMsg)
		}
	}
}
