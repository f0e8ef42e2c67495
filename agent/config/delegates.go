package config

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// Delegates chooses the backends models run on: accelerators first, the
// pure-Go CPU runtime last as the fallback every model keeps.
type Delegates struct {
	// Prefer is the order backends are tried in; it must end with "cpu".
	// Default DefaultPrefer (until the board picks it). "auto" lists every
	// backend (AutoPrefer) and lets each model's chain order them by
	// timing them on the model (Auto).
	Prefer Prefer `yaml:"prefer"`
	// Auto is set by prefer: auto.
	Auto bool `yaml:"-"`
	// AttemptTimeout bounds one accelerator call; past it the request is
	// retried on the CPU within its own deadline.
	AttemptTimeout Duration `yaml:"attempt_timeout"`
	// BackoffInitial and BackoffMax bound the delay between re-probes of
	// an accelerator taken out of use (doubled after each failed probe).
	BackoffInitial Duration `yaml:"backoff_initial"`
	BackoffMax     Duration `yaml:"backoff_max"`
	// LiteRT names the vendor's libraries (used by a build with the
	// edged_dynamic tag); empty fields take the usual names.
	LiteRT LiteRT `yaml:"litert"`
	// Fake is a fake accelerator, for demos and tests only (an edged built
	// with the edged_fake tag).
	Fake *FakeDelegate `yaml:"fake"`
}

// LiteRT names the vendor's TFLite C library and delegate libraries: a
// bare name is looked up by the dynamic loader, a path is opened as is.
type LiteRT struct {
	TFLite  string `yaml:"tflite"`
	EdgeTPU string `yaml:"edgetpu"`
	GPU     string `yaml:"gpu"`
	// Device selects an Edge TPU as libedgetpu spells it ("usb", "pci",
	// "usb:0"); empty means the first found.
	Device string `yaml:"device"`
}

// FakeDelegate is a fake accelerator (delegates/delegatetest) that takes
// the place of the "edgetpu" backend and computes on the CPU from the
// model's cpu variant. It is FOR DEMOS AND TESTS: it lets one watch the
// CPU fallback and the recovery on a machine without an accelerator.
type FakeDelegate struct {
	Enabled bool `yaml:"enabled"`
	// Name of the fake in metrics, events and the status; default
	// "fake-tpu".
	Name string `yaml:"name"`
	// Mode is "ok" (always answers) or "fail_after" (answers FailAfter
	// requests, counted over all models, then fails every call).
	Mode      string `yaml:"mode"`
	FailAfter int    `yaml:"fail_after"`
	// RecoverAfter heals the fake this long after it first failed; 0
	// never does.
	RecoverAfter Duration `yaml:"recover_after"`
}

// Backend names a prefer list may hold.
var delegateNames = []string{"cpu", "edgetpu", "gpu", "xnnpack"}

// DefaultPrefer is the backend order when delegates.prefer is not set.
var DefaultPrefer = []string{"edgetpu", "gpu", "cpu"}

// AutoPrefer are the backends prefer: auto tries, the CPU last.
var AutoPrefer = []string{"edgetpu", "gpu", "xnnpack", "cpu"}

// Prefer is a list of backend names, or "auto".
type Prefer []string

// UnmarshalYAML reads a list of names, or the word auto.
func (p *Prefer) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "auto" {
			return fmt.Errorf("line %d: delegates.prefer is %q; want a list of backends or auto", n.Line, n.Value)
		}
		*p = Prefer{"auto"}
		return nil
	}
	var names []string
	if err := n.Decode(&names); err != nil {
		return err
	}
	*p = names
	return nil
}

func (c *Config) setDelegatesDefaults() {
	d := &c.Delegates
	if len(d.Prefer) == 0 {
		d.Prefer = slices.Clone(DefaultPrefer)
	}
	if len(d.Prefer) == 1 && d.Prefer[0] == "auto" {
		d.Auto, d.Prefer = true, slices.Clone(AutoPrefer)
	}
	if d.AttemptTimeout == 0 {
		d.AttemptTimeout = Duration(time.Second)
	}
	if d.BackoffInitial == 0 {
		d.BackoffInitial = Duration(time.Second)
	}
	if d.BackoffMax == 0 {
		d.BackoffMax = Duration(5 * time.Minute)
	}
	if f := d.Fake; f != nil {
		if f.Name == "" {
			f.Name = "fake-tpu"
		}
		if f.Mode == "" {
			f.Mode = "ok"
		}
	}
}

func (c *Config) validateDelegates(bad badFunc) {
	d := c.Delegates
	seen := map[string]bool{}
	for i, n := range d.Prefer {
		p := fmt.Sprintf("delegates.prefer[%d]", i)
		switch {
		case !slices.Contains(delegateNames, n):
			bad(p, "is %q; want one of %q", n, delegateNames)
		case seen[n]:
			bad(p, "%q is listed twice", n)
		}
		seen[n] = true
	}
	if len(d.Prefer) > 0 && d.Prefer[len(d.Prefer)-1] != "cpu" {
		bad("delegates.prefer", "ends with %q; it must end with \"cpu\", the fallback", d.Prefer[len(d.Prefer)-1])
	}
	if d.AttemptTimeout <= 0 {
		bad("delegates.attempt_timeout", "must be > 0")
	}
	if d.BackoffInitial <= 0 {
		bad("delegates.backoff_initial", "must be > 0")
	}
	if d.BackoffMax < d.BackoffInitial {
		bad("delegates.backoff_max", "is %v; must be >= backoff_initial (%v)", d.BackoffMax.D(), d.BackoffInitial.D())
	}
	if f := d.Fake; f != nil && f.Enabled {
		if !ValidName(f.Name) {
			bad("delegates.fake.name", "%q: want 1-128 letters, digits, '.', '_' or '-'", f.Name)
		} else if slices.Contains(delegateNames, f.Name) {
			bad("delegates.fake.name", "%q is a real backend's name; pick another (e.g. fake-tpu)", f.Name)
		}
		switch f.Mode {
		case "ok":
		case "fail_after":
			if f.FailAfter < 0 {
				bad("delegates.fake.fail_after", "is %d; must be >= 0", f.FailAfter)
			}
		default:
			bad("delegates.fake.mode", "is %q; want ok or fail_after", f.Mode)
		}
		if f.RecoverAfter < 0 {
			bad("delegates.fake.recover_after", "must be >= 0")
		}
		if !slices.Contains(d.Prefer, "edgetpu") {
			bad("delegates.fake", "takes the place of edgetpu, which delegates.prefer does not list")
		}
	}
}

// validateVariants checks one model's variants; p is its field path.
func validateVariants(p string, m Model, bad badFunc) {
	names := make([]string, 0, len(m.Variants))
	for v := range m.Variants {
		names = append(names, v)
	}
	sort.Strings(names)
	for _, v := range names {
		vp := fmt.Sprintf("%s.variants.%s", p, v)
		switch {
		case v == "cpu":
			bad(vp, "the cpu variant is the model's path; set path instead")
		case !slices.Contains(delegateNames, v):
			bad(vp, "unknown variant %q; want one of %q", v, delegateNames[1:])
		case m.Variants[v] == "":
			bad(vp, "must name a file")
		}
	}
	if m.Ensemble != nil && len(m.Variants) > 0 {
		bad(p+".variants", "an ensemble has no variants; its members have")
	}
}
