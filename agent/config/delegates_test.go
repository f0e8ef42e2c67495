package config

import (
	"slices"
	"strings"
	"testing"
)

// TestPreferAuto: prefer: auto lists every backend, the CPU last, and
// sets Auto; a list is taken as it is; another word is refused.
func TestPreferAuto(t *testing.T) {
	c, err := Parse([]byte(minimal+"delegates:\n  prefer: auto\n"), "/tmp")
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Delegates; !d.Auto || !slices.Equal(d.Prefer, []string{"edgetpu", "gpu", "xnnpack", "cpu"}) {
		t.Errorf("prefer: auto gives Auto %v, Prefer %q; want true, [edgetpu gpu xnnpack cpu]", d.Auto, d.Prefer)
	}
	c, err = Parse([]byte(minimal+"delegates:\n  prefer: [xnnpack, cpu]\n"), "/tmp")
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Delegates; d.Auto || !slices.Equal(d.Prefer, []string{"xnnpack", "cpu"}) {
		t.Errorf("prefer: [xnnpack, cpu] gives Auto %v, Prefer %q", d.Auto, d.Prefer)
	}
	for doc, want := range map[string]string{
		"delegates:\n  prefer: fastest\n":     `delegates.prefer is "fastest"; want a list of backends or auto`,
		"delegates:\n  prefer: [auto, cpu]\n": `delegates.prefer[0]: is "auto"`,
	} {
		if _, err := Parse([]byte(minimal+doc), "/tmp"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v; want %q", doc, err, want)
		}
	}
}
