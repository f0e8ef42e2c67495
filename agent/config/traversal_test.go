package config

import (
	"strings"
	"testing"
)

// TestValidNameTraversal: names and versions become path elements under
// the state directory, so none may climb out of it or name a directory
// other than its own.
func TestValidNameTraversal(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"plain", "person_detect", true},
		{"dotted version", "1.2.0-rc1", true},
		{"parent", "..", false},
		{"parent prefix", "../x", false},
		{"inner parent", "a..b", false},
		{"current dir", ".", false},
		{"hidden", ".x", false},
		{"slash", "a/b", false},
		{"backslash", `..\x`, false},
		{"absolute", "/etc", false},
		{"empty", "", false},
		{"nul", "a\x00", false},
		{"newline", "a\n", false},
		{"129 bytes", strings.Repeat("a", 129), false},
	}
	for _, tc := range tests {
		if got := ValidName(tc.in); got != tc.want {
			t.Errorf("ValidName(%s: %q) = %v; want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

// TestParseVersionTraversal: a model version that would climb out of
// the state directory is refused by Parse.
func TestParseVersionTraversal(t *testing.T) {
	for _, v := range []string{"../x", "..", "a/b", "/abs"} {
		doc := "version: 1\nmodels:\n  - name: m\n    path: m.tflite\n    version: \"" + v + "\"\n"
		_, err := Parse([]byte(doc), "/tmp")
		if err == nil || !strings.Contains(err.Error(), "models[0].version") {
			t.Errorf("Parse(version %q) = %v; want an error naming models[0].version", v, err)
		}
	}
}
