package sign

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"
)

// RFC 8032 section 7.1, TEST 1 and TEST 2: fixed keys, so ids and files in
// these tests can be written by hand.
const (
	rfcSeed1 = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	rfcPub1  = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	rfcSeed2 = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
	rfcPub2  = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
	// First 16 hex digits of sha256 of the public keys, from sha256sum(1).
	rfcID1 = "21fe31dfa154a261"
	rfcID2 = "39f713d0a644253f"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// t0 is "now" in most tests.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

// seeded returns a deterministic 32-byte seed for key number i.
func seeded(i byte) *bytes.Reader {
	return bytes.NewReader(bytes.Repeat([]byte{i}, ed25519.SeedSize))
}

type fixture struct {
	root    *RootKey
	model   *SigningKey // certified for "model", t0-30d .. t0+365d
	agent   *SigningKey // certified for "agent", same window
	other   *RootKey    // a second root
	foreign *SigningKey // certified by other for "model"
	command *SigningKey // certified for "command", same window as model
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{root: rootFromSeed(unhex(t, rfcSeed1))}
	var err error
	if f.other, err = generateRoot(seeded(9)); err != nil {
		t.Fatal(err)
	}
	nb, na := t0.AddDate(0, 0, -30), t0.AddDate(1, 0, 0)
	if f.model, err = generateSigningKey(seeded(1), f.root, nb, na, KindModel); err != nil {
		t.Fatal(err)
	}
	if f.agent, err = generateSigningKey(seeded(2), f.root, nb, na, KindAgent); err != nil {
		t.Fatal(err)
	}
	if f.foreign, err = generateSigningKey(seeded(3), f.other, nb, na, KindModel); err != nil {
		t.Fatal(err)
	}
	if f.command, err = generateSigningKey(seeded(21), f.root, nb, na, KindCommand); err != nil {
		t.Fatal(err)
	}
	return f
}

const blobSHA = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" // sha256("abc")

// testManifest is a valid model manifest: created a day before t0, expiring
// thirty days after.
func testManifest() *Manifest {
	return &Manifest{
		V:       1,
		Kind:    KindModel,
		Name:    "person_detect",
		Version: 7,
		Created: t0.AddDate(0, 0, -1),
		Expires: t0.AddDate(0, 0, 30),
		Blobs: []Blob{
			{Variant: "cpu", SHA256: blobSHA, Size: 3},
			{Variant: "edgetpu", SHA256: "00" + blobSHA[2:], Size: 4, URL: "https://models.example/pd_edgetpu.tflite"},
		},
		Labels: []string{"background", "person"},
		Policy: json.RawMessage(`{"min_samples":500,"max_disagreement":0.05}`),
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signedBytes signs testManifest (after edit) with key and encodes it.
func signedBytes(t testing.TB, key *SigningKey, edit func(*Manifest)) []byte {
	t.Helper()
	m := testManifest()
	if edit != nil {
		edit(m)
	}
	if err := Sign(m, key); err != nil {
		t.Fatal(err)
	}
	return mustMarshal(t, m)
}

// seal signs arbitrary manifest JSON (without "signatures") with each key,
// bypassing Sign's checks, and returns the JSON with the signatures added.
func seal(t testing.TB, body []byte, keys ...*SigningKey) []byte {
	t.Helper()
	canon, err := Canonical(body, "signatures")
	if err != nil {
		t.Fatal(err)
	}
	var sigs []Signature
	for _, k := range keys {
		sigs = append(sigs, Signature{
			KeyID:       k.ID(),
			Certificate: k.cert,
			Sig:         ed25519.Sign(k.priv, append([]byte("edged-sign-v1 manifest\x00"), canon...)),
		})
	}
	return setMember(t, body, "signatures", sigs)
}

// setMember sets (or with v == nil deletes) a top-level member of a JSON
// object.
func setMember(t testing.TB, data []byte, key string, v any) []byte {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		delete(obj, key)
	} else {
		obj[key] = mustMarshal(t, v)
	}
	return mustMarshal(t, obj)
}
