package sign

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const testNonce = "000102030405060708090a0b0c0d0e0f"

// testCommand is a valid rollback for device d1, issued an hour before t0
// and valid for a day.
func testCommand(t testing.TB) *Command {
	t.Helper()
	return &Command{
		V: 1, Op: OpRollback, ID: "rb-1", Device: "d1",
		Issued: t0.Add(-time.Hour), Expires: t0.Add(23 * time.Hour), Nonce: testNonce,
		Payload: mustMarshal(t, Rollback{V: CommandProtocol, Model: "person_detect", From: 7, To: 6}),
	}
}

func signedCommand(t testing.TB, key *SigningKey, edit func(*Command)) []byte {
	t.Helper()
	c := testCommand(t)
	if edit != nil {
		edit(c)
	}
	if err := SignCommand(c, key); err != nil {
		t.Fatal(err)
	}
	return mustMarshal(t, c)
}

// sealCommand signs arbitrary command JSON with key under context, bypassing
// SignCommand's checks.
func sealCommand(t testing.TB, body []byte, context string, key *SigningKey) []byte {
	t.Helper()
	canon, err := Canonical(body, "signatures")
	if err != nil {
		t.Fatal(err)
	}
	return setMember(t, body, "signatures", []Signature{{
		KeyID: key.ID(), Certificate: key.cert,
		Sig: ed25519.Sign(key.priv, append([]byte(context), canon...)),
	}})
}

// TestVerifyCommandHandBuilt checks the signed message against bytes
// written by hand: the context string, then the canonical JSON.
func TestVerifyCommandHandBuilt(t *testing.T) {
	rootPriv := ed25519.NewKeyFromSeed(unhex(t, rfcSeed1))
	keyPriv := ed25519.NewKeyFromSeed(unhex(t, rfcSeed2))
	const certCanon = `{"key_id":"39f713d0a644253f","not_after":"2026-01-01T00:00:00Z","not_before":"2024-01-01T00:00:00Z",` +
		`"public_key":"PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=","purposes":["command"],"root_id":"21fe31dfa154a261","v":1}`
	const cmdCanon = `{"device":"d1","expires":"2025-06-02T00:00:00Z","id":"rb-1","issued":"2025-06-01T00:00:00Z",` +
		`"nonce":"000102030405060708090a0b0c0d0e0f","op":"rollback","payload":{"from":7,"model":"person_detect","to":6,"v":2},"v":1}`
	certSig := ed25519.Sign(rootPriv, []byte("edged-sign-v1 certificate\x00"+certCanon))
	doc := func(sig []byte) []byte {
		return fmt.Appendf(nil, `{
  "v": 1, "op": "rollback", "id": "rb-1", "device": "d1",
  "issued": "2025-06-01T00:00:00Z", "expires": "2025-06-02T00:00:00Z",
  "nonce": "000102030405060708090a0b0c0d0e0f",
  "payload": {"v": 2, "model": "person_detect", "from": 7, "to": 6},
  "signatures": [ {
    "key_id": "39f713d0a644253f", "sig": "%s",
    "certificate": {
      "v": 1, "purposes": ["command"], "root_id": "21fe31dfa154a261",
      "public_key": "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=",
      "not_before": "2024-01-01T00:00:00Z", "not_after": "2026-01-01T00:00:00Z",
      "key_id": "39f713d0a644253f", "sig": "%s"
    }
  } ]
}`, base64.StdEncoding.EncodeToString(sig), base64.StdEncoding.EncodeToString(certSig))
	}
	root := rootPriv.Public().(ed25519.PublicKey)
	opts := CommandVerifyOptions{Now: at(t0), Device: "d1", Op: "rollback", ID: "rb-1"}
	c, err := VerifyCommand(doc(ed25519.Sign(keyPriv, []byte("edged-sign-v1 command\x00"+cmdCanon))), root, opts)
	if err != nil {
		t.Fatalf("VerifyCommand(hand-built) error %v", err)
	}
	var rb Rollback
	if err := DecodePayload(c, &rb); err != nil {
		t.Fatal(err)
	}
	if c.Device != "d1" || c.Nonce != testNonce || rb != (Rollback{V: 2, Model: "person_detect", From: 7, To: 6}) {
		t.Errorf("VerifyCommand(hand-built) = %+v, payload %+v", c, rb)
	}
	// The same bytes signed as a manifest, or without a context, are not
	// a command signature.
	for _, ctx := range []string{"edged-sign-v1 manifest\x00", "edged-sign-v1 certificate\x00", ""} {
		_, err := VerifyCommand(doc(ed25519.Sign(keyPriv, []byte(ctx+cmdCanon))), root, opts)
		if !errors.Is(err, ErrBadSignature) || errors.Is(err, ErrUnsigned) {
			t.Errorf("VerifyCommand(signed with context %q) error %v; want bad signature", ctx, err)
		}
	}
}

func TestCommandRoundTrip(t *testing.T) {
	f := newFixture(t)
	data := signedCommand(t, f.command, func(c *Command) { c.Nonce = "" })
	c, err := VerifyCommand(data, f.root.Public(), CommandVerifyOptions{Now: at(t0), Device: "d1", Op: OpRollback, ID: "rb-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nonce) != 32 || c.Nonce == testNonce {
		t.Errorf("SignCommand gave nonce %q; want 32 fresh hex digits", c.Nonce)
	}
	// Group commands reach the group's devices.
	data = signedCommand(t, f.command, func(c *Command) { c.Device, c.Group = "", "cams" })
	if _, err := VerifyCommand(data, f.root.Public(), CommandVerifyOptions{Now: at(t0), Device: "d9", Groups: []string{"lab", "cams"}}); err != nil {
		t.Errorf("group command: %v", err)
	}
	// Re-encodings that keep the values verify.
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	indented, err := json.MarshalIndent(obj, "", "   ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyCommand(indented, f.root.Public(), CommandVerifyOptions{Now: at(t0), Device: "d9", Groups: []string{"cams"}}); err != nil {
		t.Errorf("re-encoded command: %v", err)
	}
}

func TestVerifyCommandRejects(t *testing.T) {
	f := newFixture(t)
	root := f.root.Public()
	good := signedCommand(t, f.command, nil)
	body := setMember(t, good, "signatures", nil)
	opts := CommandVerifyOptions{Now: at(t0), Device: "d1", Groups: []string{"cams"}, Op: OpRollback, ID: "rb-1"}
	with := func(edit func(*CommandVerifyOptions)) CommandVerifyOptions {
		o := opts
		edit(&o)
		return o
	}
	resign := func(edit func(*Command)) []byte { return signedCommand(t, f.command, edit) }
	expiredKey, err := generateSigningKey(seeded(22), f.root, t0.AddDate(0, 0, -60), t0.AddDate(0, 0, -1), KindCommand)
	if err != nil {
		t.Fatal(err)
	}
	foreignCmd, err := generateSigningKey(seeded(23), f.other, t0.AddDate(0, 0, -1), t0.AddDate(0, 0, 60), KindCommand)
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(key string, v any) []byte { return setMember(t, good, key, v) }

	tests := []struct {
		name  string
		data  []byte
		opts  CommandVerifyOptions
		check string // sign.Check's name; "" for success
		msg   string
	}{
		{"good", good, opts, "", ""},
		{"seen nonce elsewhere", good, with(func(o *CommandVerifyOptions) { o.Seen = func(n string) bool { return n != testNonce } }), "", ""},

		{"signatures absent", body, opts, "unsigned", "not signed"},
		{"signatures empty", tamper("signatures", []Signature{}), opts, "unsigned", "not signed"},
		{"signatures null", setMember(t, good, "signatures", json.RawMessage("null")), opts, "unsigned", "not signed"},

		{"op changed", tamper("op", OpPromote), with(func(o *CommandVerifyOptions) { o.Op = OpPromote }), "bad_signature", "by key " + f.command.ID()},
		{"device changed", tamper("device", "d2"), with(func(o *CommandVerifyOptions) { o.Device = "d2" }), "bad_signature", ""},
		{"payload changed", tamper("payload", Rollback{V: 2, Model: "person_detect", From: 7, To: 1}), opts, "bad_signature", ""},
		{"expiry extended", tamper("expires", t0.Add(24*time.Hour)), opts, "bad_signature", ""},
		{"nonce changed", tamper("nonce", "ff"+testNonce[2:]), opts, "bad_signature", ""},
		{"member added", tamper("note", "x"), opts, "bad_signature", ""},
		{"signed as a manifest", sealCommand(t, body, "edged-sign-v1 manifest\x00", f.command), opts, "bad_signature", ""},

		{"model key", sealCommand(t, body, commandContext, f.model), opts, "wrong_purpose", `certified for ["model"], not "command"`},
		{"agent key", sealCommand(t, body, commandContext, f.agent), opts, "wrong_purpose", `not "command"`},
		{"foreign root", sealCommand(t, body, commandContext, foreignCmd), opts, "untrusted_key", "not signed by root"},
		{"expired key", sealCommand(t, body, commandContext, expiredKey), opts, "untrusted_key", "expired at"},
		{"revoked key", good, with(func(o *CommandVerifyOptions) { o.Revoked = []string{f.command.ID()} }), "untrusted_key", "revoked"},
		{"wrong root", good, opts, "untrusted_key", "not signed by root " + f.other.ID()}, // verified against f.other

		{"op of topic", good, with(func(o *CommandVerifyOptions) { o.Op = OpPromote }), "mismatch", `signed for op "rollback", delivered as "promote"`},
		{"id of topic", good, with(func(o *CommandVerifyOptions) { o.ID = "rb-2" }), "mismatch", `signed with id "rb-1"`},
		{"other device", good, with(func(o *CommandVerifyOptions) { o.Device = "d2" }), "other_device", `signed for device "d1"; this is "d2"`},
		{"other group", resign(func(c *Command) { c.Device, c.Group = "", "doors" }), opts, "other_device", `signed for group "doors"`},
		{"no groups", resign(func(c *Command) { c.Device, c.Group = "", "cams" }), with(func(o *CommandVerifyOptions) { o.Groups = nil }), "other_device", ""},

		{"expired", good, with(func(o *CommandVerifyOptions) { o.Now = at(t0.Add(23 * time.Hour)) }), "expired", "expired 2025-06-02T11:00:00Z"},
		{"not yet valid", good, with(func(o *CommandVerifyOptions) { o.Now = at(t0.Add(-2 * time.Hour)) }), "not_yet_valid", "issued 2025-06-01T11:00:00Z"},
		{"within skew", good, with(func(o *CommandVerifyOptions) { o.Now = at(t0.Add(-2 * time.Hour)); o.Skew = time.Hour }), "", ""},
		{"replayed", good, with(func(o *CommandVerifyOptions) { o.Seen = func(n string) bool { return n == testNonce } }), "replayed", "nonce " + testNonce},

		{"too long valid", sealCommand(t, setMember(t, body, "expires", t0.Add(7*24*time.Hour)), commandContext, f.command), opts, "malformed", "at most 168h0m0s"},
		{"no expiry", sealCommand(t, setMember(t, body, "expires", nil), commandContext, f.command), opts, "malformed", "expires is missing"},
		{"short nonce", sealCommand(t, setMember(t, body, "nonce", "abcd"), commandContext, f.command), opts, "malformed", "nonce"},
		{"no nonce", sealCommand(t, setMember(t, body, "nonce", nil), commandContext, f.command), opts, "malformed", "nonce"},
		{"device and group", sealCommand(t, setMember(t, body, "group", "cams"), commandContext, f.command), opts, "malformed", "exactly one of device and group"},
		{"no device nor group", sealCommand(t, setMember(t, body, "device", nil), commandContext, f.command), opts, "malformed", "exactly one"},
		{"id with slash", sealCommand(t, setMember(t, body, "id", "a/b"), commandContext, f.command), opts, "malformed", "id"},
		{"v2 envelope", sealCommand(t, setMember(t, body, "v", 2), commandContext, f.command), opts, "malformed", "v2"},
		{"too large", append(good[:len(good)-1:len(good)-1], []byte(`,"pad":"`+strings.Repeat("x", DefaultMaxCommandSize)+`"}`)...), opts, "malformed", "the limit is"},
		{"not json", []byte("rollback please"), opts, "malformed", ""},
		{"array", []byte("[]"), opts, "malformed", ""},
		{"duplicate key", []byte(`{"v":1,"v":1}`), opts, "malformed", "twice"},
		{"protocol 1 payload", []byte(`{"model":"person_detect"}`), opts, "unsigned", "not signed"},
		{"unsigned and malformed", []byte(`{"v":7,"op":"rollback"}`), opts, "unsigned", "not signed"},
	}
	for _, tt := range tests {
		r := root
		if tt.name == "wrong root" {
			r = f.other.Public()
		}
		c, err := VerifyCommand(tt.data, r, tt.opts)
		if got := Check(err); got != tt.check || !strings.Contains(fmt.Sprint(err), tt.msg) {
			t.Errorf("VerifyCommand(%s) error %v (check %q); want check %q mentioning %q", tt.name, err, got, tt.check, tt.msg)
		}
		if (c == nil) != (err != nil) {
			t.Errorf("VerifyCommand(%s) = %v, %v", tt.name, c, err)
		}
	}
}

func TestVerifyCommandMisuse(t *testing.T) {
	f := newFixture(t)
	good := signedCommand(t, f.command, nil)
	if _, err := VerifyCommand(good, f.root.Public(), CommandVerifyOptions{Now: at(t0)}); err == nil || Check(err) != "error" {
		t.Errorf("VerifyCommand without a device id: %v; want a usage error", err)
	}
	if _, err := VerifyCommand(good, f.root.Public()[:31], CommandVerifyOptions{Now: at(t0), Device: "d1"}); err == nil {
		t.Error("VerifyCommand with a 31-byte root: no error")
	}
}

func TestSignCommandRefuses(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name string
		key  *SigningKey
		edit func(*Command)
		want error
		msg  string
	}{
		{"model key", f.model, nil, ErrWrongPurpose, "edgectl keys rotate --purpose command"},
		{"no key", nil, nil, nil, "no signing key"},
		{"issued after key expiry", f.command, func(c *Command) {
			c.Issued, c.Expires = t0.AddDate(2, 0, 0), t0.AddDate(2, 0, 1)
		}, ErrUntrustedKey, "expired"},
		{"eight days", f.command, func(c *Command) { c.Expires = c.Issued.Add(8 * 24 * time.Hour) }, ErrMalformed, "at most"},
		{"no target", f.command, func(c *Command) { c.Device = "" }, ErrMalformed, "exactly one"},
	} {
		c := testCommand(t)
		if tt.edit != nil {
			tt.edit(c)
		}
		err := SignCommand(c, tt.key)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("SignCommand(%s) error %v; want %v mentioning %q", tt.name, err, tt.want, tt.msg)
		}
		if len(c.Signatures) != 0 {
			t.Errorf("SignCommand(%s) added a signature", tt.name)
		}
	}
}

func TestDecodePayload(t *testing.T) {
	cmd := func(op, payload string) *Command {
		return &Command{V: 1, Op: op, ID: "x", Payload: json.RawMessage(payload)}
	}
	var rb Rollback
	if err := DecodePayload(cmd(OpRollback, `{"v":2,"model":"m","from":3,"to":2}`), &rb); err != nil || rb != (Rollback{2, "m", 3, 2}) {
		t.Errorf("rollback: %+v, %v", rb, err)
	}
	var tg Target
	for _, op := range []string{OpPromote, OpHold, OpResume} {
		if err := DecodePayload(cmd(op, `{"v":2,"model":"m","version":9007199254740992}`), &tg); err != nil || tg != (Target{2, "m", 1 << 53}) {
			t.Errorf("%s: %+v, %v", op, tg, err)
		}
	}
	for _, tt := range []struct {
		op, payload string
		p           Payload
		msg         string
	}{
		{OpRollback, ``, &Rollback{}, "no payload"},
		{OpRollback, `null`, &Rollback{}, "no payload"},
		{OpRollback, `{"model":"m"}`, &Rollback{}, "protocol v0"}, // what earlier agents took
		{OpRollback, `{"v":1,"model":"m","from":3,"to":2}`, &Rollback{}, "protocol v1"},
		{OpRollback, `{"v":2,"model":"m","from":3,"to":2,"force":true}`, &Rollback{}, "unknown field"},
		{OpRollback, `{"v":2,"model":"m","from":3,"to":2} {}`, &Rollback{}, "data after"},
		{OpRollback, `{"v":2,"model":"m","from":3,"to":3}`, &Rollback{}, "both version 3"},
		{OpRollback, `{"v":2,"model":"m","from":3}`, &Rollback{}, "from 3, to 0"},
		{OpRollback, `{"v":2,"model":"../x","from":3,"to":2}`, &Rollback{}, "model"},
		{OpRollback, `{"v":2,"model":"m","from":18446744073709551615,"to":2}`, &Rollback{}, "want versions 1 to"},
		{OpRollback, `{"v":2,"model":"m","from":-1,"to":2}`, &Rollback{}, "payload"},
		{OpPromote, `{"v":2,"model":"m","from":3,"to":2}`, &Rollback{}, `rollback payload in a "promote"`},
		{OpRollback, `{"v":2,"model":"m","version":3}`, &Target{}, `in a "rollback"`},
		{OpPromote, `{"v":2,"model":"m"}`, &Target{}, "version 0"},
		{OpHold, `{"v":2,"model":"m","version":9007199254740993}`, &Target{}, "version 9007199254740993"},
	} {
		err := DecodePayload(cmd(tt.op, tt.payload), tt.p)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("DecodePayload(%s %s) error %v; want malformed mentioning %q", tt.op, tt.payload, err, tt.msg)
		}
	}
}

func TestCheckNames(t *testing.T) {
	for err, want := range map[error]string{
		nil:                                      "",
		errors.New("disk full"):                  "error",
		fmt.Errorf("x: %w", ErrUnsigned):         "unsigned",
		fmt.Errorf("x: %w", ErrWrongPurpose):     "wrong_purpose",
		fmt.Errorf("x: %w", ErrUntrustedKey):     "untrusted_key",
		fmt.Errorf("x: %w", ErrBadSignature):     "bad_signature",
		fmt.Errorf("x: %w", ErrOtherDevice):      "other_device",
		errors.Join(ErrExpired, ErrBadSignature): "bad_signature",
	} {
		if got := Check(err); got != want {
			t.Errorf("Check(%v) = %q; want %q", err, got, want)
		}
	}
}
