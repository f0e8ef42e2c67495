package config

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Fleet connects the device to an MQTT broker: the retained state birth,
// telemetry, drift reports and events (through the outbox) and commands.
// An empty broker leaves the device on its own, as in the demo.
type Fleet struct {
	// Broker URL: tcp://host:1883, ssl://host:8883 (also tls://, mqtts://),
	// ws://, wss://. Empty: no fleet link.
	// Several URLs separated by commas are a cluster's nodes, tried in turn.
	Broker string `yaml:"broker"`
	// ClientID must be unique on the broker; default edged-<device.id>.
	ClientID string `yaml:"client_id"`
	// Groups whose commands the device receives besides device.group.
	Groups []string `yaml:"groups"`
	// CAFile trusts a PEM bundle for the broker instead of the system
	// roots; CertFile and KeyFile are a client certificate.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordFile reads the password from a file instead.
	PasswordFile string `yaml:"password_file"`
	// KeepAlive is the MQTT keepalive: a dead link goes unnoticed for
	// about 1.5 times it.
	KeepAlive Duration `yaml:"keepalive"`
	// MinBackoff and MaxBackoff bound the wait between connection attempts.
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	Outbox     Outbox   `yaml:"outbox"`
}

// Enabled reports whether a broker is configured.
func (f *Fleet) Enabled() bool { return f.Broker != "" }

// Outbox is the durable queue of drift reports and events waiting for the
// broker.
type Outbox struct {
	// Path of the bbolt file; default state_dir/outbox.db.
	Path string `yaml:"path"`
	// MaxBytes bounds the stored messages; beyond it the oldest telemetry
	// goes first, then drift reports, then events.
	MaxBytes int64 `yaml:"max_bytes"`
}

// Telemetry configures the periodic snapshot on edged/v1/dev/{id}/telemetry.
type Telemetry struct {
	// Interval between snapshots; default 60s.
	Interval Duration `yaml:"interval"`
	// ThermalRoot is the directory holding class/thermal (tests point it
	// at a fixture tree); default /sys.
	ThermalRoot string `yaml:"thermal_root"`
}

// Drift configures drift detection: globally (drift:) and per model
// (models[i].drift:, whose non-zero fields override the global ones). A
// model is watched when it has a profile.
type Drift struct {
	// Profile is the model's reference profile (edgectl profile); only
	// under models[i].drift.
	Profile string      `yaml:"profile"`
	Window  DriftWindow `yaml:"window"`
	// Thresholds of the ok / warn / drift levels.
	Thresholds DriftThresholds `yaml:"thresholds"`
	// Detail puts every feature's scores in each published report.
	Detail *bool `yaml:"detail"`
	// Queue bounds the samples waiting for the detector; beyond it they
	// are dropped and counted, so inference never waits for drift.
	Queue int `yaml:"queue"`
	// SampleEvery feeds one request in this many to the detector (0 or
	// 1: every one): consecutive frames of a fast camera are correlated
	// anyway, and each fed image costs a pass over its pixels.
	SampleEvery int `yaml:"sample_every"`
}

// DriftWindow closes a window at max_samples, or after max_duration if it
// holds min_samples.
type DriftWindow struct {
	MaxSamples  int      `yaml:"max_samples"`
	MinSamples  int      `yaml:"min_samples"`
	MaxDuration Duration `yaml:"max_duration"`
}

// DriftThresholds set the levels of each statistic; a zero level takes
// the default.
type DriftThresholds struct {
	PSI        Level `yaml:"psi"`
	KSP        Level `yaml:"ks_p"`
	ChiSquareP Level `yaml:"chi2_p"`
	JS         Level `yaml:"js"`
	// Hysteresis is the fraction a score must fall below the current
	// state's threshold before the state is left (for p-values on
	// −log10 p); in (0, 1).
	Hysteresis float64 `yaml:"hysteresis"`
	// Recover is the number of calm windows before the state drops.
	Recover int `yaml:"recover"`
}

// Level is a warn and a drift threshold.
type Level struct {
	Warn  float64 `yaml:"warn"`
	Drift float64 `yaml:"drift"`
}

// DefaultTelemetryInterval is telemetry.interval's default.
const DefaultTelemetryInterval = 60 * time.Second

// DefaultDriftQueue is drift.queue's default.
const DefaultDriftQueue = 256

// DriftFor merges the global drift settings with a model's: the model's
// non-zero fields win.
func (c *Config) DriftFor(m Model) Drift {
	d := c.Drift
	d.Profile = ""
	if m.Drift == nil {
		return d
	}
	md := *m.Drift
	d.Profile = md.Profile
	setIf := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	setIf(&d.Window.MaxSamples, md.Window.MaxSamples)
	setIf(&d.Window.MinSamples, md.Window.MinSamples)
	setIf(&d.Queue, md.Queue)
	setIf(&d.SampleEvery, md.SampleEvery)
	setIf(&d.Thresholds.Recover, md.Thresholds.Recover)
	if md.Window.MaxDuration != 0 {
		d.Window.MaxDuration = md.Window.MaxDuration
	}
	if md.Detail != nil {
		d.Detail = md.Detail
	}
	t, mt := &d.Thresholds, md.Thresholds
	for _, l := range []struct{ dst, src *Level }{{&t.PSI, &mt.PSI}, {&t.KSP, &mt.KSP}, {&t.ChiSquareP, &mt.ChiSquareP}, {&t.JS, &mt.JS}} {
		if *l.src != (Level{}) {
			*l.dst = *l.src
		}
	}
	if mt.Hysteresis != 0 {
		t.Hysteresis = mt.Hysteresis
	}
	return d
}

func (c *Config) setFleetDefaults() {
	if c.Telemetry.Interval == 0 {
		c.Telemetry.Interval = Duration(DefaultTelemetryInterval)
	}
	if c.Telemetry.ThermalRoot == "" {
		c.Telemetry.ThermalRoot = "/sys"
	}
	if c.Drift.Queue == 0 {
		c.Drift.Queue = DefaultDriftQueue
	}
	f := &c.Fleet
	if f.KeepAlive == 0 {
		f.KeepAlive = Duration(30 * time.Second)
	}
	if f.MinBackoff == 0 {
		f.MinBackoff = Duration(500 * time.Millisecond)
	}
	if f.MaxBackoff == 0 {
		f.MaxBackoff = Duration(time.Minute)
	}
	if f.Outbox.MaxBytes == 0 {
		f.Outbox.MaxBytes = 4 << 20
	}
}

// fleetIDRE is fleet.ValidID's rule for ids in topics, restated here so
// that config does not import the MQTT client.
var fleetIDRE = regexp.MustCompile(`^[^/+#\s\x00-\x1f\x7f]{1,128}$`)

func (c *Config) validateFleet(bad badFunc) {
	f := &c.Fleet
	if f.Enabled() {
		if !fleetIDRE.MatchString(c.Device.ID) {
			bad("device.id", "%q cannot name a device in MQTT topics: want 1-128 characters without '/', '+', '#' or spaces", c.Device.ID)
		}
		// One URL, or a cluster's nodes separated by commas.
		for _, b := range strings.Split(f.Broker, ",") {
			b = strings.TrimSpace(b)
			u, err := url.Parse(b)
			if err != nil || u.Host == "" {
				bad("fleet.broker", "%q: want a URL such as tcp://host:1883, or several separated by commas", b)
				continue
			}
			switch u.Scheme {
			case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
			default:
				bad("fleet.broker", "scheme %q: want tcp, ssl, ws or wss", u.Scheme)
			}
			tlsURL := u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts" || u.Scheme == "wss"
			if !tlsURL && (f.CAFile != "" || f.CertFile != "") {
				bad("fleet.ca_file", "TLS files need a TLS broker URL (ssl://, tls://, mqtts:// or wss://); broker is %q", b)
			}
		}
	}
	if c.Device.Group != "" && !fleetIDRE.MatchString(c.Device.Group) {
		bad("device.group", "%q: want 1-128 characters without '/', '+', '#' or spaces", c.Device.Group)
	}
	for i, g := range f.Groups {
		if !fleetIDRE.MatchString(g) {
			bad(fmt.Sprintf("fleet.groups[%d]", i), "%q: want 1-128 characters without '/', '+', '#' or spaces", g)
		}
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		bad("fleet.cert_file", "cert_file and key_file go together")
	}
	if f.Password != "" && f.PasswordFile != "" {
		bad("fleet.password", "set either password or password_file, not both")
	}
	if f.KeepAlive < Duration(time.Second) || f.KeepAlive > Duration(time.Hour) {
		bad("fleet.keepalive", "is %v; want 1s to 1h", f.KeepAlive.D())
	}
	if f.MinBackoff <= 0 {
		bad("fleet.min_backoff", "must be > 0")
	}
	if f.MaxBackoff < f.MinBackoff {
		bad("fleet.max_backoff", "is %v; must be >= min_backoff (%v)", f.MaxBackoff.D(), f.MinBackoff.D())
	}
	if f.Outbox.MaxBytes < 64<<10 {
		bad("fleet.outbox.max_bytes", "is %d; want at least 65536", f.Outbox.MaxBytes)
	}
	if t := c.Telemetry.Interval; t < Duration(time.Second) || t > Duration(24*time.Hour) {
		bad("telemetry.interval", "is %v; want 1s to 24h", t.D())
	}
	if c.Drift.Profile != "" {
		bad("drift.profile", "a profile belongs to one model; set models[i].drift.profile")
	}
	validateDrift("drift", c.Drift, bad)
	for i, m := range c.Models {
		if m.Drift == nil {
			continue
		}
		p := fmt.Sprintf("models[%d].drift", i)
		if m.Drift.Profile == "" {
			bad(p+".profile", "must be set: a model's drift needs its reference profile")
		}
		// Each side alone, then the merge: a global min_samples may
		// exceed a model's max_samples.
		validateDrift(p, *m.Drift, bad)
		validateDriftWindow(p, c.DriftFor(m).Window, bad)
	}
}

func validateDrift(p string, d Drift, bad badFunc) {
	w := d.Window
	if w.MaxSamples < 0 || w.MaxSamples > 1<<24 {
		bad(p+".window.max_samples", "is %d; want 0 (default 1000) to %d", w.MaxSamples, 1<<24)
	}
	if w.MinSamples < 0 {
		bad(p+".window.min_samples", "is %d; want 0 (default 500) or more", w.MinSamples)
	}
	if w.MaxDuration < 0 {
		bad(p+".window.max_duration", "must be >= 0 (0: default 10m)")
	}
	validateDriftWindow(p, w, bad)
	if d.Queue < 0 || d.Queue > 1<<16 {
		bad(p+".queue", "is %d; want 0 (default) to 65536", d.Queue)
	}
	if d.SampleEvery < 0 || d.SampleEvery > 1<<20 {
		bad(p+".sample_every", "is %d; want 0 or 1 (every request) to %d", d.SampleEvery, 1<<20)
	}
	t := d.Thresholds
	for _, l := range []struct {
		name   string
		v      Level
		pValue bool
	}{{"psi", t.PSI, false}, {"ks_p", t.KSP, true}, {"chi2_p", t.ChiSquareP, true}, {"js", t.JS, false}} {
		if l.v == (Level{}) {
			continue
		}
		finite := !math.IsInf(l.v.Warn, 0) && !math.IsInf(l.v.Drift, 0) && !math.IsNaN(l.v.Warn) && !math.IsNaN(l.v.Drift)
		if l.pValue {
			if !finite || !(l.v.Drift > 0 && l.v.Warn >= l.v.Drift && l.v.Warn < 1) {
				bad(p+".thresholds."+l.name, "warn %g, drift %g: a p-value level wants 0 < drift <= warn < 1", l.v.Warn, l.v.Drift)
			}
		} else if !finite || !(l.v.Warn > 0 && l.v.Drift >= l.v.Warn) {
			bad(p+".thresholds."+l.name, "warn %g, drift %g: want 0 < warn <= drift", l.v.Warn, l.v.Drift)
		}
	}
	if t.Hysteresis != 0 && !(t.Hysteresis > 0 && t.Hysteresis < 1) {
		bad(p+".thresholds.hysteresis", "is %g; want 0 (default 0.2) or a fraction in (0, 1)", t.Hysteresis)
	}
	if t.Recover < 0 || t.Recover > 1000 {
		bad(p+".thresholds.recover", "is %d; want 0 (default 3) to 1000 windows", t.Recover)
	}
}

func validateDriftWindow(p string, w DriftWindow, bad badFunc) {
	maxS := w.MaxSamples
	if maxS == 0 {
		maxS = 1000
	}
	if w.MinSamples > maxS {
		bad(p+".window.min_samples", "is %d; must be <= max_samples (%d)", w.MinSamples, maxS)
	}
}
