package sign

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// FuzzVerify feeds arbitrary bytes to Verify. It must never panic, and
// whatever it accepts must say what the one genuinely signed seed says: a
// mutation may change the encoding, never the content.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	good := signedBytes(f, fx.model, nil)
	want := testManifest()
	var indented bytes.Buffer
	if err := json.Indent(&indented, good, "", " "); err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		good,
		indented.Bytes(),
		good[:len(good)/2],
		nil,
		[]byte(`{}`),
		[]byte(`{"signatures":[{"certificate":{}}]}`),
		[]byte(`{"v":1,"kind":"model","signatures":[{"key_id":"x","certificate":{"v":1,"public_key":"AAAA"},"sig":"AAAA"}]}`),
		[]byte(`[[[[[[[[[[`),
		[]byte("{\"a\":\"\xff\"}"),
	} {
		f.Add(seed)
	}
	root := fx.root.Public()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Verify(data, root, VerifyOptions{Now: at(t0), Kind: KindModel, MaxSize: 64 << 10})
		if err != nil {
			return
		}
		if m.Kind != want.Kind || m.Name != want.Name || m.Version != want.Version ||
			!m.Created.Equal(want.Created) || !m.Expires.Equal(want.Expires) ||
			!slices.Equal(m.Blobs, want.Blobs) || !slices.Equal(m.Labels, want.Labels) {
			t.Fatalf("Verify accepted content that was never signed: %+v", m)
		}
	})
}

// FuzzCanonical checks that Canonical never panics, that its output is
// valid JSON, and that it is a fixed point.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`{}`, `{"b":[1,{"d":null,"c":"\u0001"}],"a":1.50}`, `{"a":"\ud800"}`, "{\"\u2028\":\"\\u2029\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Canonical(data, "x")
		if err != nil {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("Canonical(%q) = %q, not valid JSON", data, c)
		}
		c2, err := Canonical(c, "")
		if err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("Canonical(Canonical(%q)) = %q, %v; want %q", data, c2, err, c)
		}
	})
}
