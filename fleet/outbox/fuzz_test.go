package outbox

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeEntry feeds arbitrary bytes, as a damaged outbox file would
// hold, to decodeEntry. It must not panic; what it accepts encodes to an
// entry that decodes to the same parts (the bytes may differ: an overlong
// uvarint is read, encodeEntry writes the shortest).
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(Event, "edged/v1/dev/d1/events", []byte(`{"kind":"rollout"}`)))
	f.Add(encodeEntry(Drift, "t", nil))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'})
	f.Add([]byte{0, 1, 'x'})
	f.Fuzz(func(t *testing.T, v []byte) {
		kind, topic, payload, err := decodeEntry(v)
		if err != nil {
			return
		}
		if !kind.valid() || topic == "" {
			t.Fatalf("decodeEntry(%x) = kind %d, topic %q; want a valid kind and a topic", v, kind, topic)
		}
		k2, t2, p2, err := decodeEntry(encodeEntry(kind, topic, payload))
		if err != nil || k2 != kind || t2 != topic || !bytes.Equal(p2, payload) {
			t.Fatalf("decodeEntry(encodeEntry(decodeEntry(%x))) = %d, %q, %x, %v; want %d, %q, %x", v, k2, t2, p2, err, kind, topic, payload)
		}
	})
}

// FuzzEnvelope checks the payload rules of Append: checkPayload accepts
// only JSON objects without "seq", and envelope turns an accepted one
// into a JSON object whose "seq" is the given one and whose other members
// are the payload's.
func FuzzEnvelope(f *testing.F) {
	for _, s := range []string{`{}`, ` {"a":1} `, "{\n}", `{"seq":1}`, `[]`, `null`, `{"a":{"seq":2}}`, `{"a":1,"a":2}`, `{"\u0073eq":1}`} {
		f.Add([]byte(s), uint64(7))
	}
	f.Fuzz(func(t *testing.T, p []byte, seq uint64) {
		if checkPayload(p) != nil {
			return
		}
		out := envelope(seq, p)
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("envelope(%d, %s) = %s, not a JSON object: %v", seq, p, out, err)
		}
		var s uint64
		if err := json.Unmarshal(got["seq"], &s); err != nil || s != seq {
			t.Fatalf("envelope(%d, %s) = %s; seq %d (%v)", seq, p, out, s, err)
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(p, &want); err != nil {
			t.Fatal(err)
		}
		delete(got, "seq")
		if len(got) != len(want) {
			t.Fatalf("envelope(%d, %s) = %s; want the payload's %d members", seq, p, out, len(want))
		}
	})
}
