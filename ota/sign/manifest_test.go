package sign

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVerifyHandBuilt verifies a manifest whose signed bytes are written
// by hand from the rule in doc.go and signed with crypto/ed25519 directly,
// so neither Sign nor Canonical is its own oracle.
func TestVerifyHandBuilt(t *testing.T) {
	rootPriv := ed25519.NewKeyFromSeed(unhex(t, rfcSeed1))
	keyPriv := ed25519.NewKeyFromSeed(unhex(t, rfcSeed2))
	const certCanon = `{"key_id":"39f713d0a644253f","not_after":"2026-01-01T00:00:00Z","not_before":"2024-01-01T00:00:00Z",` +
		`"public_key":"PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=","purposes":["model"],"root_id":"21fe31dfa154a261","v":1}`
	const manifestCanon = `{"blobs":[{"sha256":"` + blobSHA + `","size":3,"variant":"cpu"}],` +
		`"created":"2025-05-01T00:00:00Z","expires":"2025-07-01T00:00:00Z","kind":"model","labels":["a\"b"],` +
		`"name":"person_detect","v":1,"version":3}`
	certSig := ed25519.Sign(rootPriv, []byte("edged-sign-v1 certificate\x00"+certCanon))
	manSig := ed25519.Sign(keyPriv, []byte("edged-sign-v1 manifest\x00"+manifestCanon))
	noContextSig := ed25519.Sign(keyPriv, []byte(manifestCanon))

	// The same content as a person might write it: other order, spaces,
	// escapes.
	doc := func(sig []byte) []byte {
		return fmt.Appendf(nil, `{
  "v": 1, "kind": "model", "name": "person_\u0064etect", "version": 3,
  "labels": ["a\u0022b"],
  "expires": "2025-07-01T00:00:00Z", "created": "2025-05-01T00:00:00Z",
  "blobs": [ { "variant": "cpu", "size": 3, "sha256": "%s" } ],
  "signatures": [ {
    "key_id": "39f713d0a644253f",
    "sig": "%s",
    "certificate": {
      "v": 1, "purposes": ["model"], "root_id": "21fe31dfa154a261",
      "public_key": "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=",
      "not_before": "2024-01-01T00:00:00Z", "not_after": "2026-01-01T00:00:00Z",
      "key_id": "39f713d0a644253f", "sig": "%s"
    }
  } ]
}`, blobSHA, base64.StdEncoding.EncodeToString(sig), base64.StdEncoding.EncodeToString(certSig))
	}
	root := rootPriv.Public().(ed25519.PublicKey)
	opts := VerifyOptions{Now: at(t0), Kind: KindModel}
	m, err := Verify(doc(manSig), root, opts)
	if err != nil {
		t.Fatalf("Verify(hand-built) error %v", err)
	}
	if m.Name != "person_detect" || m.Version != 3 || len(m.Blobs) != 1 || m.Blobs[0].Size != 3 || m.Labels[0] != `a"b` {
		t.Errorf("Verify(hand-built) = %+v", m)
	}
	if _, err := Verify(doc(noContextSig), root, opts); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(signature without the context string) error %v; want ErrBadSignature", err)
	}
}

// TestSignVerifyRoundTrip also shows that re-encodings that keep the JSON
// values verify.
func TestSignVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	data := signedBytes(t, f.model, nil)

	var generic map[string]any // encoding/json sorts map keys: another order
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		t.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, data, "", "\t"); err != nil {
		t.Fatal(err)
	}
	var typed Manifest
	if err := json.Unmarshal(data, &typed); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"as signed", data},
		{"map re-encoded", mustMarshal(t, generic)},
		{"indented", indented.Bytes()},
		{"struct re-encoded", mustMarshal(t, &typed)},
	}
	want := testManifest()
	// Raw members come back in canonical form: what was signed.
	for _, tt := range tests {
		m, err := Verify(tt.data, f.root.Public(), VerifyOptions{Now: at(t0), Kind: KindModel, Name: "person_detect", LastVersion: 6})
		if err != nil {
			t.Errorf("Verify(%s) error %v", tt.name, err)
			continue
		}
		if m.Name != want.Name || m.Version != want.Version || !m.Expires.Equal(want.Expires) ||
			!slices.Equal(m.Blobs, want.Blobs) || !slices.Equal(m.Labels, want.Labels) ||
			string(m.Policy) != `{"max_disagreement":0.05,"min_samples":500}` || len(m.Signatures) != 1 {
			t.Errorf("Verify(%s) = %+v; want %+v", tt.name, m, want)
		}
	}
}

// TestVerifyRejects covers every rejection path.
func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	root := f.root.Public()
	good := signedBytes(t, f.model, nil)
	goodOpts := VerifyOptions{Now: at(t0), Kind: KindModel}

	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("signed manifest lacks %q: %s", old, good)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	body := setMember(t, good, "signatures", nil)
	var sigs []Signature
	if err := json.Unmarshal(mustMarshal(t, testSignatures(t, good)), &sigs); err != nil {
		t.Fatal(err)
	}
	withSig := func(edit func(*Signature)) []byte {
		s := testSignatures(t, good)[0]
		edit(&s)
		return setMember(t, good, "signatures", []Signature{s})
	}
	// A model key's certificate with "agent" added: the root did not sign that.
	widened := *f.model.cert
	widened.raw = nil
	widened.Purposes = []string{KindAgent, KindModel}
	expiredKey, err := generateSigningKey(seeded(4), f.root, t0.AddDate(0, 0, -60), t0.AddDate(0, 0, -1), KindModel)
	if err != nil {
		t.Fatal(err)
	}
	futureKey, err := generateSigningKey(seeded(5), f.root, t0.AddDate(0, 0, 1), t0.AddDate(0, 0, 60), KindModel)
	if err != nil {
		t.Fatal(err)
	}
	agentBody := setMember(t, body, "kind", KindAgent)

	tests := []struct {
		name    string
		data    []byte
		root    ed25519.PublicKey
		opts    VerifyOptions
		wantErr error
		wantMsg string
	}{
		{"good", good, root, goodOpts, nil, ""},

		{"tampered version", replace(`"version":7`, `"version":8`), root, goodOpts, ErrBadSignature, "by key " + f.model.ID()},
		{"tampered name", replace(`"person_detect"`, `"person_detecu"`), root, goodOpts, ErrBadSignature, ""},
		{"tampered sha256", replace(blobSHA, "ca"+blobSHA[2:]), root, goodOpts, ErrBadSignature, ""},
		{"tampered size", replace(`"size":3`, `"size":4`), root, goodOpts, ErrBadSignature, ""},
		{"blob removed", setMember(t, good, "blobs", testManifest().Blobs[:1]), root, goodOpts, ErrBadSignature, ""},
		{"blob added", setMember(t, good, "blobs", append(testManifest().Blobs, Blob{Variant: "gpu", SHA256: blobSHA, Size: 1})), root, goodOpts, ErrBadSignature, ""},
		{"tampered policy", replace(`0.05`, `0.5`), root, goodOpts, ErrBadSignature, ""},
		{"tampered signature", withSig(func(s *Signature) { s.Sig = slices.Clone(s.Sig); s.Sig[10] ^= 1 }), root, goodOpts, ErrBadSignature, ""},
		{"short signature", withSig(func(s *Signature) { s.Sig = s.Sig[:63] }), root, goodOpts, ErrBadSignature, ""},
		{"unknown member added", setMember(t, good, "min_agent_version", 2), root, goodOpts, ErrBadSignature, ""},
		{"case variant added", setMember(t, good, "Version", 9), root, goodOpts, ErrBadSignature, ""},

		{"wrong root", good, f.other.Public(), goodOpts, ErrUntrustedKey, "is not signed by root " + f.other.ID()},
		{"cert by another root", seal(t, body, f.foreign), root, goodOpts, ErrUntrustedKey, "not signed by root " + rfcID1},
		{"cert purposes widened", withSig(func(s *Signature) { s.Certificate = &widened }), root, goodOpts, ErrUntrustedKey, "not signed by root"},
		{"model key signs agent", seal(t, agentBody, f.model), root, VerifyOptions{Now: at(t0), Kind: KindAgent}, ErrWrongPurpose, `certified for ["model"], not "agent"`},
		{"agent key signs model", seal(t, body, f.agent), root, goodOpts, ErrWrongPurpose, `certified for ["agent"], not "model"`},
		{"version above 2^53", seal(t, setMember(t, body, "version", uint64(1<<53+1)), f.model), root, goodOpts, ErrMalformed, "above 9007199254740992"},
		{"version 2^64-1", seal(t, setMember(t, body, "version", uint64(1<<64-1)), f.model), root, goodOpts, ErrMalformed, "above 9007199254740992"},
		{"cert expired", seal(t, body, expiredKey), root, goodOpts, ErrUntrustedKey, "expired at 2025-05-31T12:00:00Z"},
		{"cert not yet valid", seal(t, body, futureKey), root, goodOpts, ErrUntrustedKey, "not valid before 2025-06-02T12:00:00Z"},
		{"cert expires at now", good, root, VerifyOptions{Now: at(t0.AddDate(1, 0, 0)), Kind: KindModel}, ErrUntrustedKey, "expired"},
		{"revoked", good, root, VerifyOptions{Now: at(t0), Kind: KindModel, Revoked: []string{f.model.ID()}}, ErrUntrustedKey, "revoked"},
		{"cert swapped", withSig(func(s *Signature) { s.Certificate = f.agent.cert; s.KeyID = f.agent.ID() }), root, goodOpts, ErrUntrustedKey, "certified for"},
		{"cert swapped same purpose", seal(t, body, f.model)[:0:0], root, goodOpts, ErrMalformed, ""}, // replaced below
		{"key_id mismatch", withSig(func(s *Signature) { s.KeyID = f.agent.ID() }), root, goodOpts, ErrMalformed, "signature names key"},
		{"no certificate", withSig(func(s *Signature) { s.Certificate = nil }), root, goodOpts, ErrMalformed, "no certificate"},

		{"signatures empty", setMember(t, good, "signatures", []Signature{}), root, goodOpts, ErrUnsigned, "not signed"},
		{"signatures absent", body, root, goodOpts, ErrUnsigned, "not signed"},
		{"signatures null", replaceSignatures(t, good, "null"), root, goodOpts, ErrUnsigned, "not signed"},
		{"too many signatures", setMember(t, good, "signatures", slices.Repeat(sigs, 17)), root, goodOpts, ErrMalformed, "17 signatures"},

		{"expired", good, root, VerifyOptions{Now: at(t0.AddDate(0, 0, 30)), Kind: KindModel}, ErrExpired, "expires 2025-07-01T12:00:00Z; the device clock reads 2025-07-01T12:00:00Z"},
		{"not yet valid", good, root, VerifyOptions{Now: at(t0.AddDate(0, 0, -2)), Kind: KindModel}, ErrNotYetValid, "created 2025-05-31T12:00:00Z"},
		{"not yet valid within skew", good, root, VerifyOptions{Now: at(t0.AddDate(0, 0, -2)), Skew: 25 * time.Hour, Kind: KindModel}, ErrUntrustedKey, ""}, // replaced below

		{"replay same version", good, root, VerifyOptions{Now: at(t0), Kind: KindModel, Name: "person_detect", LastVersion: 7}, ErrReplay, `manifest "person_detect" version 7: replayed: the device has version 7`},
		{"replay older version", good, root, VerifyOptions{Now: at(t0), Kind: KindModel, Name: "person_detect", LastVersion: 9}, ErrReplay, "the device has version 9"},
		{"newer than last", good, root, VerifyOptions{Now: at(t0), Kind: KindModel, Name: "person_detect", LastVersion: 6}, nil, ""},
		{"wrong kind", good, root, VerifyOptions{Now: at(t0), Kind: KindAgent}, ErrMismatch, `kind "model"; want "agent"`},
		{"wrong name", good, root, VerifyOptions{Now: at(t0), Kind: KindModel, Name: "face_detect"}, ErrMismatch, `name "person_detect"; want "face_detect"`},

		{"signed unknown member", seal(t, setMember(t, body, "min_agent_version", 2), f.model), root, goodOpts, nil, ""},
		{"unknown member in signature entry", withSig(func(s *Signature) {}), root, goodOpts, nil, ""},
		{"format v2", seal(t, setMember(t, body, "v", 2), f.model), root, goodOpts, ErrMalformed, "format v2"},
		{"oversize", good, root, VerifyOptions{Now: at(t0), Kind: KindModel, MaxSize: len(good) - 1}, ErrMalformed, fmt.Sprintf("manifest is %d bytes; the limit is %d", len(good), len(good)-1)},
		{"fits exactly", good, root, VerifyOptions{Now: at(t0), Kind: KindModel, MaxSize: len(good)}, nil, ""},
		{"over default size", append(bytes.Repeat([]byte(" "), DefaultMaxSize), good...), root, goodOpts, ErrMalformed, "the limit is 1048576"},
		{"truncated", good[:len(good)/2], root, goodOpts, ErrMalformed, "unexpected EOF"},
		{"truncated by one", good[:len(good)-1], root, goodOpts, ErrMalformed, ""},
		{"empty", nil, root, goodOpts, ErrMalformed, ""},
		{"garbage", []byte("\x00\x01PK\x03\x04"), root, goodOpts, ErrMalformed, ""},
		{"array", []byte(`[` + string(good) + `]`), root, goodOpts, ErrMalformed, "want a JSON object"},
		{"duplicate version", replace(`"version":7`, `"version":7,"version":7`), root, goodOpts, ErrMalformed, `key "version" appears twice`},
		{"trailing object", append(slices.Clone(good), []byte(` {}`)...), root, goodOpts, ErrMalformed, "data after"},
		{"wrong type", replace(`"version":7`, `"version":"7"`), root, goodOpts, ErrMalformed, ""},
		{"negative version", replace(`"version":7`, `"version":-7`), root, goodOpts, ErrMalformed, ""},
		{"bad time", replace(`"created":"2025-05-31T12:00:00Z"`, `"created":"yesterday"`), root, goodOpts, ErrMalformed, ""},
		{"bad base64 sig", replaceSigValue(t, good, `"!!"`), root, goodOpts, ErrMalformed, ""},
	}
	// Entries that need values computed from others.
	for i := range tests {
		switch tests[i].name {
		case "cert swapped same purpose":
			// Signature by the model key under a certificate of another
			// genuine model key: the certified key did not sign.
			other, err := generateSigningKey(seeded(6), f.root, t0.AddDate(0, 0, -1), t0.AddDate(0, 0, 60), KindModel)
			if err != nil {
				t.Fatal(err)
			}
			tests[i].data = withSig(func(s *Signature) { s.Certificate = other.cert; s.KeyID = other.ID() })
			tests[i].wantErr, tests[i].wantMsg = ErrBadSignature, "by key "+other.ID()
		case "not yet valid within skew":
			// The skew admits the manifest; created is 1d before t0 and the
			// key's not_before 30d before, so it verifies.
			tests[i].wantErr = nil
		case "unknown member in signature entry":
			// Members inside a signature entry are not signed and are ignored.
			tests[i].data = bytes.Replace(good, []byte(`"key_id":`), []byte(`"comment":"hi","key_id":`), 1)
		}
	}
	for _, tt := range tests {
		m, err := Verify(tt.data, tt.root, tt.opts)
		if tt.wantErr == nil {
			if err != nil || m == nil {
				t.Errorf("Verify(%s) error %v; want nil", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
			t.Errorf("Verify(%s) error %v; want %v mentioning %q", tt.name, err, tt.wantErr, tt.wantMsg)
		}
		if m != nil {
			t.Errorf("Verify(%s) returned a manifest with error %v", tt.name, err)
		}
		for _, other := range []error{ErrMalformed, ErrBadSignature, ErrUntrustedKey, ErrExpired, ErrNotYetValid, ErrReplay, ErrMismatch} {
			// ErrUnsigned is a case of ErrBadSignature, ErrWrongPurpose of
			// ErrUntrustedKey.
			if !errors.Is(tt.wantErr, other) && errors.Is(err, other) {
				t.Errorf("Verify(%s) error %v is also %v", tt.name, err, other)
			}
		}
	}
}

func testSignatures(t *testing.T, data []byte) []Signature {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m.Signatures
}

func replaceSignatures(t *testing.T, data []byte, raw string) []byte {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	obj["signatures"] = json.RawMessage(raw)
	return mustMarshal(t, obj)
}

func replaceSigValue(t *testing.T, data []byte, raw string) []byte {
	t.Helper()
	var m struct {
		Signatures []map[string]json.RawMessage `json:"signatures"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m.Signatures[0]["sig"] = json.RawMessage(raw)
	return replaceSignatures(t, data, string(mustMarshal(t, m.Signatures)))
}

func TestVerifyOptionsMisuse(t *testing.T) {
	f := newFixture(t)
	good := signedBytes(t, f.model, nil)
	tests := []struct {
		name    string
		root    ed25519.PublicKey
		opts    VerifyOptions
		wantMsg string
	}{
		{"no kind", f.root.Public(), VerifyOptions{Now: at(t0)}, "no key purpose given"},
		{"last version without name", f.root.Public(), VerifyOptions{Now: at(t0), Kind: KindModel, LastVersion: 3}, "without a model name"},
		{"no root", nil, VerifyOptions{Now: at(t0), Kind: KindModel}, "root public key is 0 bytes"},
	}
	for _, tt := range tests {
		if _, err := Verify(good, tt.root, tt.opts); err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("Verify(%s) error %v; want one mentioning %q", tt.name, err, tt.wantMsg)
		}
	}
}

func TestVerifyValidation(t *testing.T) {
	// Signed manifests with bad fields are malformed, whoever signed them.
	f := newFixture(t)
	good := setMember(t, signedBytes(t, f.model, nil), "signatures", nil)
	blob := func(variant, sha string, size int64, url string) []Blob {
		return []Blob{{Variant: variant, SHA256: sha, Size: size, URL: url}}
	}
	tests := []struct {
		name    string
		key     string
		value   any
		wantMsg string
	}{
		{"version 0", "version", 0, "version is 0"},
		{"no kind", "kind", "", "kind is empty"},
		{"no name", "name", "", `name ""`},
		{"path in name", "name", "../etc/passwd", `name "../etc/passwd"`},
		{"slash in name", "name", "a/b", `name "a/b"`},
		{"dot name", "name", "..", `name ".."`},
		{"long name", "name", strings.Repeat("a", 129), "name"},
		{"no created", "created", nil, "created is missing"},
		{"no expires", "expires", nil, "expires is missing"},
		{"expires before created", "expires", t0.AddDate(0, 0, -2), "is not after created"},
		{"no blobs", "blobs", []Blob{}, "no blobs"},
		{"empty variant", "blobs", blob("", blobSHA, 3, ""), `variant ""`},
		{"upper-case sha", "blobs", blob("cpu", strings.ToUpper(blobSHA), 3, ""), "64 lower-case hex"},
		{"short sha", "blobs", blob("cpu", blobSHA[:62], 3, ""), "64 lower-case hex"},
		{"zero size", "blobs", blob("cpu", blobSHA, 0, ""), "size 0"},
		{"http url", "blobs", blob("cpu", blobSHA, 3, "http://x/m.tflite"), "https"},
		{"url without host", "blobs", blob("cpu", blobSHA, 3, "https:///m"), "https"},
		{"duplicate variant", "blobs", append(blob("cpu", blobSHA, 3, ""), blob("cpu", blobSHA, 3, "")...), `variant "cpu" appears twice`},
	}
	for _, tt := range tests {
		data := seal(t, setMember(t, good, tt.key, tt.value), f.model)
		_, err := Verify(data, f.root.Public(), VerifyOptions{Now: at(t0), Kind: KindModel})
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("Verify(%s) error %v; want ErrMalformed mentioning %q", tt.name, err, tt.wantMsg)
		}
	}
}

func TestSign(t *testing.T) {
	f := newFixture(t)
	m := testManifest()
	m.Kind = KindAgent
	if err := Sign(m, f.model); !errors.Is(err, ErrUntrustedKey) || !strings.Contains(err.Error(), `certified for ["model"], not "agent"`) {
		t.Errorf("Sign(agent manifest, model key) error %v; want ErrUntrustedKey", err)
	}
	m = testManifest()
	m.Blobs = nil
	if err := Sign(m, f.model); !errors.Is(err, ErrMalformed) {
		t.Errorf("Sign(no blobs) error %v; want ErrMalformed", err)
	}
	expired, err := generateSigningKey(seeded(7), f.root, t0.AddDate(0, 0, -3), t0.AddDate(0, 0, -2), KindModel) // before created
	if err != nil {
		t.Fatal(err)
	}
	if err := Sign(testManifest(), expired); !errors.Is(err, ErrUntrustedKey) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Sign(expired key) error %v; want ErrUntrustedKey", err)
	}
	if err := Sign(testManifest(), nil); err == nil {
		t.Errorf("Sign(nil key) succeeded")
	}
	// Signing twice with one key keeps one signature; a second key adds one.
	m = testManifest()
	for _, k := range []*SigningKey{f.model, f.model} {
		if err := Sign(m, k); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.Signatures) != 1 {
		t.Errorf("after signing twice with one key: %d signatures; want 1", len(m.Signatures))
	}
}

// TestRotation: a new key certified by the same root verifies; an old one
// past its not_after does not; during the overlap a manifest signed by both
// verifies on either side of the old key's expiry.
func TestRotation(t *testing.T) {
	f := newFixture(t)
	jan := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	old, err := generateSigningKey(seeded(10), f.root, jan, jan.AddDate(0, 6, 0), KindModel) // until 2025-07-01
	if err != nil {
		t.Fatal(err)
	}
	next, err := generateSigningKey(seeded(11), f.root, jan.AddDate(0, 5, 0), jan.AddDate(1, 0, 0), KindModel) // from 2025-06-01
	if err != nil {
		t.Fatal(err)
	}
	m := testManifest()
	m.Expires = jan.AddDate(0, 9, 0)
	body := setMember(t, mustMarshal(t, m), "signatures", nil)
	beforeExpiry, afterExpiry := jan.AddDate(0, 5, 15), jan.AddDate(0, 7, 0)
	tests := []struct {
		name    string
		data    []byte
		now     time.Time
		wantErr error
	}{
		{"old key before its expiry", seal(t, body, old), beforeExpiry, nil},
		{"old key after its expiry", seal(t, body, old), afterExpiry, ErrUntrustedKey},
		{"new key", seal(t, body, next), afterExpiry, nil},
		{"both, before", seal(t, body, old, next), beforeExpiry, nil},
		{"both, after", seal(t, body, old, next), afterExpiry, nil},
		{"new key before its not_before", seal(t, body, next), jan.AddDate(0, 4, 0), ErrUntrustedKey},
	}
	for _, tt := range tests {
		_, err := Verify(tt.data, f.root.Public(), VerifyOptions{Now: at(tt.now), Kind: KindModel})
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Errorf("Verify(%s) error %v; want %v", tt.name, err, tt.wantErr)
		}
	}
	// With every signature failing, each reason is reported.
	_, err = Verify(seal(t, body, old, f.foreign), f.root.Public(), VerifyOptions{Now: at(afterExpiry), Kind: KindModel})
	if msg := fmt.Sprint(err); !strings.Contains(msg, "signatures[0]: untrusted signing key: key "+old.ID()+" expired") ||
		!strings.Contains(msg, "signatures[1]: untrusted signing key: certificate for key "+f.foreign.ID()) {
		t.Errorf("Verify(two bad signatures) error %v; want both reasons", err)
	}
}

func TestPeek(t *testing.T) {
	f := newFixture(t)
	h, err := Peek(signedBytes(t, f.model, nil))
	if err != nil || h != (Header{Kind: KindModel, Name: "person_detect", Version: 7}) {
		t.Errorf("Peek = %+v, %v; want model person_detect 7", h, err)
	}
	if _, err := Peek([]byte("{")); !errors.Is(err, ErrMalformed) {
		t.Errorf("Peek(garbage) error %v; want ErrMalformed", err)
	}
}

func TestManifestBlob(t *testing.T) {
	m := testManifest()
	if b, ok := m.Blob("edgetpu"); !ok || b.Size != 4 {
		t.Errorf("Blob(edgetpu) = %+v, %v", b, ok)
	}
	if _, ok := m.Blob("gpu"); ok {
		t.Errorf("Blob(gpu) found")
	}
}

// TestVerifyStored: an installed manifest stays trusted after it expired
// and after its key was rotated out, but not once altered or revoked.
func TestVerifyStored(t *testing.T) {
	f := newFixture(t)
	root := f.root.Public()
	good := signedBytes(t, f.model, nil) // created t0-1d, key valid t0-30d .. t0+365d
	if m, err := VerifyStored(good, root, KindModel, "person_detect", nil); err != nil || m.Version != 7 {
		t.Fatalf("VerifyStored(good) = %v, %v", m, err)
	}
	// A key whose certificate expired since: judged at created.
	old, err := generateSigningKey(seeded(31), f.root, t0.AddDate(-1, 0, 0), t0.AddDate(0, 0, -10), KindModel)
	if err != nil {
		t.Fatal(err)
	}
	rotated := signedBytes(t, old, func(m *Manifest) { m.Created, m.Expires = t0.AddDate(0, 0, -20), t0.AddDate(0, 0, -15) })
	if _, err := VerifyStored(rotated, root, KindModel, "person_detect", nil); err != nil {
		t.Errorf("VerifyStored(expired manifest by a rotated key) error %v", err)
	}
	if _, err := Verify(rotated, root, VerifyOptions{Now: at(t0), Kind: KindModel}); !errors.Is(err, ErrUntrustedKey) {
		t.Errorf("Verify(expired manifest by a rotated key) error %v; want untrusted key", err)
	}
	body := setMember(t, good, "signatures", nil)
	for _, tt := range []struct {
		name       string
		data       []byte
		kind, mdl  string
		revoked    []string
		want       error
		wantSubstr string
	}{
		{"tampered", bytes.Replace(good, []byte(blobSHA), []byte("ca"+blobSHA[2:]), 1), KindModel, "person_detect", nil, ErrBadSignature, "by key"},
		{"unsigned", body, KindModel, "person_detect", nil, ErrUnsigned, "not signed"},
		{"revoked", good, KindModel, "person_detect", []string{f.model.ID()}, ErrUntrustedKey, "revoked"},
		{"other name", good, KindModel, "iris", nil, ErrMismatch, `name "person_detect"; want "iris"`},
		{"agent kind", good, KindAgent, "", nil, ErrMismatch, "kind"},
		{"foreign root", seal(t, body, f.foreign), KindModel, "person_detect", nil, ErrUntrustedKey, "not signed by root"},
		{"created after the key expired", seal(t, setMember(t, body, "created", t0.AddDate(0, 0, -9)), old), KindModel, "person_detect", nil, ErrUntrustedKey, "expired at"},
		{"truncated", good[:len(good)-9], KindModel, "person_detect", nil, ErrMalformed, ""},
	} {
		_, err := VerifyStored(tt.data, root, tt.kind, tt.mdl, tt.revoked)
		if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.wantSubstr) {
			t.Errorf("VerifyStored(%s) error %v; want %v mentioning %q", tt.name, err, tt.want, tt.wantSubstr)
		}
	}
}
