package canary

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// FuzzParseFeedback feeds arbitrary POST /v1/feedback bodies to
// ParseFeedback. It must not panic; what it accepts has an id, exactly
// one outcome, within range, and encodes to a body that parses to the
// same feedback.
func FuzzParseFeedback(f *testing.F) {
	for _, s := range []string{
		`{"model":"person","id":"req-1","label":3}`,
		`{"id":"r","correct":true}`,
		`{"id":"r","score":0.25}`,
		`{"id":"r","label":-1}`,
		`{"id":"r","label":1,"score":1}`,
		`{"id":"r","score":1e400}`,
		`{"id":"","correct":false}`,
		`{"id":"r","correct":true} {}`,
		`{"id":"r","correct":true,"x":1}`,
		`{"id":"r","label":1.5}`,
		`{"id":"r","label":9223372036854775808}`,
		`{"ID":"r","Correct":true}`,
		strings.Repeat(" ", 5000) + `{"id":"r","correct":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fb, err := ParseFeedback(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseFeedback(%q): empty error", b)
			}
			return
		}
		n := 0
		for _, set := range []bool{fb.Label != nil, fb.Correct != nil, fb.Score != nil} {
			if set {
				n++
			}
		}
		if fb.ID == "" || n != 1 || (fb.Label != nil && *fb.Label < 0) ||
			(fb.Score != nil && (math.IsNaN(*fb.Score) || math.IsInf(*fb.Score, 0))) || len(b) > MaxFeedbackBytes {
			t.Fatalf("ParseFeedback(%q) accepted %+v", b, fb)
		}
		enc, err := json.Marshal(fb)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseFeedback(enc)
		if err != nil {
			t.Fatalf("ParseFeedback(%s) (the encoding of an accepted body) = %v", enc, err)
		}
		enc2, _ := json.Marshal(again)
		if string(enc) != string(enc2) {
			t.Fatalf("round trip of %q: %s then %s", b, enc, enc2)
		}
	})
}
