package canary

import (
	"strings"
	"testing"
)

func TestParseFeedback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    string // which outcome: label, correct, score
		wantErr string
	}{
		{name: "label", in: `{"id":"a","label":3}`, want: "label"},
		{name: "correct", in: `{"id":"a","correct":false,"model":"m"}`, want: "correct"},
		{name: "score", in: `{"id":"a","score":0.7}`, want: "score"},
		{name: "no id", in: `{"label":3}`, wantErr: `"id" is required`},
		{name: "none", in: `{"id":"a"}`, wantErr: "0 of"},
		{name: "two", in: `{"id":"a","label":1,"correct":true}`, wantErr: "2 of"},
		{name: "negative label", in: `{"id":"a","label":-1}`, wantErr: "label -1"},
		{name: "unknown field", in: `{"id":"a","label":1,"x":1}`, wantErr: "unknown field"},
		{name: "trailing", in: `{"id":"a","label":1} {}`, wantErr: "trailing"},
		{name: "bad json", in: `{"id":`, wantErr: "feedback:"},
		{name: "wrong type", in: `{"id":"a","label":"3"}`, wantErr: "feedback:"},
		{name: "oversized", in: `{"id":"` + strings.Repeat("a", 5000) + `","label":1}`, wantErr: "bytes"},
	} {
		f, err := ParseFeedback([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: ParseFeedback(%s) = %v; want an error containing %q", tc.name, tc.in, err, tc.wantErr)
			}
			continue
		}
		got := ""
		switch {
		case err != nil:
			got = err.Error()
		case f.Label != nil:
			got = "label"
		case f.Correct != nil:
			got = "correct"
		case f.Score != nil:
			got = "score"
		}
		if got != tc.want {
			t.Errorf("%s: ParseFeedback(%s) gives %s; want %s", tc.name, tc.in, got, tc.want)
		}
	}
}
