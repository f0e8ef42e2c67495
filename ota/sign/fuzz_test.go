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

// FuzzVerifyCommand feeds arbitrary bytes to VerifyCommand. It must never
// panic, and whatever it accepts must be the one command that was signed:
// a mutation may change the encoding, never the content, the target or
// the validity.
func FuzzVerifyCommand(f *testing.F) {
	fx := newFixture(f)
	good := signedCommand(f, fx.command, nil)
	group := signedCommand(f, fx.command, func(c *Command) { c.Device, c.Group, c.ID = "", "cams", "rb-g" })
	want := testCommand(f)
	var indented bytes.Buffer
	if err := json.Indent(&indented, good, "", " "); err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		good,
		group,
		indented.Bytes(),
		signedBytes(f, fx.model, nil), // a manifest
		good[:len(good)/2],
		nil,
		[]byte(`{}`),
		[]byte(`{"v":1,"op":"rollback","id":"x","device":"d1","signatures":[]}`),
		[]byte(`{"signatures":[{"certificate":{}}]}`),
	} {
		f.Add(seed)
	}
	root := fx.root.Public()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := VerifyCommand(data, root, CommandVerifyOptions{Now: at(t0), Device: "d1", Groups: []string{"cams"}})
		if err != nil {
			if c != nil {
				t.Fatalf("VerifyCommand returned a command with error %v", err)
			}
			return
		}
		if c.Op != want.Op || c.Nonce != want.Nonce || !c.Issued.Equal(want.Issued) || !c.Expires.Equal(want.Expires) ||
			!(c.ID == "rb-1" && c.Device == "d1" && c.Group == "" || c.ID == "rb-g" && c.Device == "" && c.Group == "cams") {
			t.Fatalf("VerifyCommand accepted content that was never signed: %+v", c)
		}
		var rb Rollback
		if err := DecodePayload(c, &rb); err != nil || rb != (Rollback{V: CommandProtocol, Model: "person_detect", From: 7, To: 6}) {
			t.Fatalf("accepted command's payload %+v, %v; want the signed one", rb, err)
		}
	})
}

// FuzzDecodePayload feeds arbitrary payloads to DecodePayload under each
// op. It must never panic, and what it accepts must pass the payload's
// checks: a version within 1..MaxVersion and a valid model name.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{
		`{"v":2,"model":"m","from":3,"to":2}`,
		`{"v":2,"model":"m","version":4}`,
		`{"model":"m"}`,
		`{"v":2,"model":"m","from":1e3,"to":2}`,
		`null`,
	} {
		f.Add(OpRollback, []byte(s))
		f.Add(OpPromote, []byte(s))
	}
	f.Fuzz(func(t *testing.T, op string, payload []byte) {
		c := &Command{V: 1, Op: op, ID: "x", Payload: payload}
		var rb Rollback
		if err := DecodePayload(c, &rb); err == nil {
			if op != OpRollback || rb.V != CommandProtocol || rb.From == 0 || rb.To == 0 || rb.From > MaxVersion || rb.To > MaxVersion || rb.From == rb.To || !validName(rb.Model, maxNameLen) {
				t.Fatalf("DecodePayload(%s, %q) accepted %+v", op, payload, rb)
			}
		}
		var tg Target
		if err := DecodePayload(c, &tg); err == nil {
			if op == OpRollback || tg.V != CommandProtocol || tg.Version == 0 || tg.Version > MaxVersion || !validName(tg.Model, maxNameLen) {
				t.Fatalf("DecodePayload(%s, %q) accepted %+v", op, payload, tg)
			}
		}
	})
}
