// Package config reads edged's configuration file: one versioned YAML
// document, decoded strictly (an unknown key is an error, so a typo never
// silently falls back to a default), completed with defaults that run on a
// Raspberry Pi with no broker, and checked by Validate, whose errors name
// the field path and the rule (`models[0].batch.max_delay: must be > 0`).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// CurrentVersion is the config format this build reads.
const CurrentVersion = 1

// MaxFileSize bounds the config file.
const MaxFileSize = 1 << 20

// Config is the whole configuration.
type Config struct {
	// Version of the format; must be 1.
	Version int `yaml:"version"`
	// StateDir holds the cache, staged models and other state.
	StateDir string     `yaml:"state_dir"`
	Log      Log        `yaml:"log"`
	HTTP     HTTP       `yaml:"http"`
	GRPC     GRPC       `yaml:"grpc"`
	Models   []Model    `yaml:"models"`
	Sources  []Source   `yaml:"sources"`
	Device   Device     `yaml:"device"`
	Runtime  RuntimeCfg `yaml:"runtime"`
	// Fleet connects to an MQTT broker; empty broker: standalone.
	Fleet     Fleet     `yaml:"fleet"`
	Telemetry Telemetry `yaml:"telemetry"`
	// Drift holds defaults for every model's drift detection.
	Drift Drift `yaml:"drift"`
	// OTA takes signed model deployments over the fleet link.
	OTA OTA `yaml:"ota"`
	// Delegates chooses accelerators and the CPU fallback (delegates.go).
	Delegates Delegates `yaml:"delegates"`

	// dir is the directory of the file; relative paths resolve against it.
	dir string
}

// Device identifies this device to the fleet.
type Device struct {
	// ID defaults to the host name.
	ID    string `yaml:"id"`
	Group string `yaml:"group"`
}

// RuntimeCfg are defaults for the inference runtime.
type RuntimeCfg struct {
	// Threads per inference; 0 takes the board's default (boards.Board.DefaultThreads).
	Threads int `yaml:"threads"`
	// Arithmetic of quantized models: "litert" (the default: the official
	// runtime's, bit-exact with LiteRT/TFLite with XNNPACK) or "reference"
	// (TFLite's reference kernels, bit-exact with TFLite Micro).
	Arithmetic string `yaml:"arithmetic"`
}

// Log configures logging to stderr (journald under systemd).
type Log struct {
	// Format is "text" or "json".
	Format string `yaml:"format"`
	// Level is "debug", "info", "warn" or "error".
	Level string `yaml:"level"`
}

// GRPC is the Open Inference Protocol's gRPC service (off unless Listen
// is set). It takes the HTTP endpoint's token and request bounds.
type GRPC struct {
	// Listen is host:port; loopback unless http.token or token_file is
	// set.
	Listen string `yaml:"listen"`
}

// HTTP configures the local endpoint.
type HTTP struct {
	// Listen is host:port; loopback unless a token is set.
	Listen string `yaml:"listen"`
	// Token is the bearer token required on a non-loopback address.
	Token string `yaml:"token"`
	// TokenFile reads the token from a file instead.
	TokenFile string `yaml:"token_file"`
	// MaxRequestBytes bounds request bodies (413 beyond).
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// RequestTimeout is the default deadline of one inference request.
	RequestTimeout Duration `yaml:"request_timeout"`
	// ReadTimeout bounds reading one request, headers and body: a client
	// that sends slowly is cut off (a held connection costs a goroutine).
	ReadTimeout Duration `yaml:"read_timeout"`
	// BodyMemory bounds the request-body bytes held at once while they are
	// read and decoded; requests wait (up to their timeout) for their
	// share. 0: a thirty-second of the board's memory, 32 to 64 MiB, and
	// at least max_request_bytes.
	BodyMemory int64 `yaml:"body_memory"`
	// MaxConnections bounds the connections served at once (each costs
	// a goroutine and buffers, about 12 KiB, before any check of the
	// request); further clients wait to be accepted. 0: 256.
	MaxConnections int `yaml:"max_connections"`
	// AllowedHosts are Host header names accepted besides the listen
	// host, and on loopback "localhost", 127.0.0.1 and ::1: a web page
	// that rebinds its own name to 127.0.0.1 cannot reach the endpoint.
	// On a non-loopback address with an empty list, any Host is accepted
	// (the token guards it).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// Pprof serves /debug/pprof/ and /debug/profile (on by default on
	// loopback).
	Pprof *bool `yaml:"pprof"`
}

// Model is one served model.
type Model struct {
	// Name as used in URLs: letters, digits, '.', '_' and '-'.
	Name string `yaml:"name"`
	// Version label; defaults to "1".
	Version string `yaml:"version"`
	// Path of the .tflite file: the cpu variant, which every model needs
	// as its fallback.
	Path string `yaml:"path"`
	// Variants are other compilations of the model by backend name
	// ("edgetpu": a file compiled by edgetpu_compiler), run when that
	// backend is present and healthy.
	Variants map[string]string `yaml:"variants"`
	// Labels is an optional file with one class label per line.
	Labels string `yaml:"labels"`
	// Threads per inference; 0 takes runtime.threads.
	Threads int `yaml:"threads"`
	// Arithmetic overrides runtime.arithmetic for this model.
	Arithmetic string `yaml:"arithmetic"`
	// Instances is the number of interpreters serving in parallel.
	Instances int   `yaml:"instances"`
	Batch     Batch `yaml:"batch"`
	Cache     Cache `yaml:"cache"`
	// Ensemble, when set, makes this entry an ensemble of earlier models
	// (no path): they run in parallel on the same input and their first
	// outputs are combined.
	Ensemble *Ensemble `yaml:"ensemble"`
	// Drift watches the model's inputs and outputs against a reference
	// profile; fields left zero take the global drift settings.
	Drift *Drift `yaml:"drift"`
}

// Ensemble combines models that take the same input.
type Ensemble struct {
	// Members name models defined earlier in the list (not ensembles).
	Members []string `yaml:"members"`
	// Combine is "mean" (of dequantized outputs), "vote" (majority of
	// top-1 classes) or "concat" (dequantized, along the last axis).
	Combine string `yaml:"combine"`
}

// Batch configures dynamic batching of one model.
type Batch struct {
	// MaxBatch is the most requests run as one invocation; 1 disables.
	MaxBatch int `yaml:"max_batch"`
	// MaxDelay is how long the first request of a batch may wait.
	MaxDelay Duration `yaml:"max_delay"`
	// QueueCapacity bounds waiting requests.
	QueueCapacity int `yaml:"queue_capacity"`
	// Overload is "reject" (429) or "drop_oldest" when the queue is full.
	Overload string `yaml:"overload"`
}

// Cache configures the result cache of one model.
type Cache struct {
	Enabled    bool     `yaml:"enabled"`
	TTL        Duration `yaml:"ttl"`
	MaxEntries int      `yaml:"max_entries"`
}

// Source produces inference requests.
type Source struct {
	// Name names the source in logs, metrics and the status page
	// ("camera0"); default its type and position ("synthetic0").
	Name string `yaml:"name"`
	// Type is "synthetic", "mqtt" or "periph".
	Type string `yaml:"type"`
	// Model the requests go to.
	Model string `yaml:"model"`
	// Interval between requests.
	Interval Duration `yaml:"interval"`
	// Pattern of a synthetic source: "noise", "sine" or "replay".
	Pattern string `yaml:"pattern"`
	// Files replayed in turn by the "replay" pattern: raw tensor bytes, or
	// BMP images whose pixel bytes are fed as they are.
	Files []string `yaml:"files"`
	// MQTT configures a source of type "mqtt".
	MQTT *SourceMQTT `yaml:"mqtt"`
	// Periph configures a source of type "periph".
	Periph *SourcePeriph `yaml:"periph"`
	// Shift moves a synthetic source's values after some requests: a
	// drifting input for demos and tests.
	Shift *SourceShift `yaml:"shift"`
}

// SourceShift adds Mean to every generated value (in real units, before
// quantization) from request After on.
type SourceShift struct {
	After int     `yaml:"after"`
	Mean  float64 `yaml:"mean"`
}

// SourceMQTT feeds a model from an MQTT topic and publishes each result.
type SourceMQTT struct {
	// Broker URL: tcp://host:1883, ssl://host:8883, ws://, wss://.
	Broker string `yaml:"broker"`
	// ClientID must be unique on the broker; default edged-<device id>-src<i>.
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// CAFile trusts a PEM bundle for the broker instead of the system roots;
	// CertFile and KeyFile are a client certificate.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Topic filter subscribed to; '+' and '#' allowed.
	Topic string `yaml:"topic"`
	// ResultTopic receives results; "{topic}" is replaced by the input's topic.
	ResultTopic string `yaml:"result_topic"`
	// QoS of the subscription and the results: 0, 1 or 2.
	QoS byte `yaml:"qos"`
	// Encoding of inputs: "json" (nested arrays of numbers, real values for
	// quantized inputs) or "raw" (the input's little-endian bytes).
	Encoding string `yaml:"encoding"`
	// MaxPayload bounds an input message in bytes.
	MaxPayload int `yaml:"max_payload"`
	// Dequantize publishes quantized outputs as real values.
	Dequantize bool `yaml:"dequantize"`
	// Queue is how many inputs may wait; more are dropped and counted.
	Queue int `yaml:"queue"`
}

// SourcePeriph samples an I2C sensor and feeds windows of samples to a model.
type SourcePeriph struct {
	// Driver of the sensor: "bme280".
	Driver string `yaml:"driver"`
	// Bus is the I2C bus: "" for the first, "1" or "/dev/i2c-1".
	Bus string `yaml:"bus"`
	// Address of the sensor: 0x76 or 0x77 for a BME280.
	Address uint16 `yaml:"address"`
	// Window is the number of samples in one input [1, window, features].
	Window int `yaml:"window"`
	// Stride is the number of new samples between inferences; 0 = window.
	Stride int `yaml:"stride"`
}

// Duration is a time.Duration written as "150ms", "2s", "1h".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as \"5ms\"", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads, decodes, completes and validates a config file.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("config: %s: larger than %d bytes", path, MaxFileSize)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a config document; relative paths resolve against dir.
func Parse(b []byte, dir string) (*Config, error) {
	c := &Config{dir: dir}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document; want at least \"version: 1\"")
		}
		return nil, err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Default is the configuration used when no file is given.
func Default() *Config {
	c := &Config{Version: CurrentVersion}
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.StateDir == "" {
		c.StateDir = "/var/lib/edged"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:9410"
	}
	if c.HTTP.MaxRequestBytes == 0 {
		c.HTTP.MaxRequestBytes = 16 << 20
	}
	if c.HTTP.ReadTimeout == 0 {
		c.HTTP.ReadTimeout = Duration(60 * time.Second)
	}
	if c.HTTP.MaxConnections == 0 {
		c.HTTP.MaxConnections = 256
	}
	if c.HTTP.RequestTimeout == 0 {
		c.HTTP.RequestTimeout = Duration(10 * time.Second)
	}
	if c.Runtime.Arithmetic == "" {
		c.Runtime.Arithmetic = "litert"
	}
	if c.Device.ID == "" {
		c.Device.ID, _ = os.Hostname()
	}
	c.setFleetDefaults()
	c.setOTADefaults()
	c.setDelegatesDefaults()
	for i := range c.Models {
		c.Models[i].setDefaults()
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.Interval == 0 {
			s.Interval = Duration(time.Second)
		}
		if s.Type == "synthetic" && s.Pattern == "" {
			s.Pattern = "noise"
		}
		if m := s.MQTT; m != nil {
			if m.Encoding == "" {
				m.Encoding = "json"
			}
			if m.MaxPayload == 0 {
				m.MaxPayload = 1 << 20
			}
			if m.Queue == 0 {
				m.Queue = 16
			}
		}
		if p := s.Periph; p != nil {
			if p.Driver == "" {
				p.Driver = "bme280"
			}
			if p.Address == 0 {
				p.Address = 0x76
			}
		}
	}
}

// setDefaults fills in a model's unset fields; models deployed over the
// air (NewModel) get the same defaults as configured ones.
func (m *Model) setDefaults() {
	if m.Version == "" {
		m.Version = "1"
	}
	if m.Instances == 0 {
		m.Instances = 1
	}
	if m.Batch.MaxBatch == 0 {
		m.Batch.MaxBatch = 1
	}
	if m.Batch.QueueCapacity == 0 {
		m.Batch.QueueCapacity = 64
	}
	if m.Batch.Overload == "" {
		m.Batch.Overload = "reject"
	}
	if m.Batch.MaxDelay == 0 {
		m.Batch.MaxDelay = Duration(2 * time.Millisecond)
	}
	if m.Cache.MaxEntries == 0 {
		m.Cache.MaxEntries = 10000
	}
}

// Path resolves a path from the config against the file's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidName reports whether s may name a model or version: it appears in
// URLs and file names, so no slashes, no "..", no spaces.
func ValidName(s string) bool { return nameRE.MatchString(s) && !strings.Contains(s, "..") }

// Validate checks every field; the error lists every problem found, each
// prefixed with its field path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.Version != CurrentVersion {
		bad("version", "is %d; this edged reads version %d", c.Version, CurrentVersion)
	}
	if c.StateDir == "" {
		bad("state_dir", "must be set")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "is %q; want text or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "is %q; want debug, info, warn or error", c.Log.Level)
	}
	c.validateHTTP(bad)
	c.validateRuntime(bad)
	names := c.validateModels(bad)
	c.validateSources(names, bad)
	c.validateFleet(bad)
	c.validateOTA(bad)
	c.validateDelegates(bad)
	return errors.Join(errs...)
}

// badFunc records one configuration error at a path ("http.listen").
type badFunc func(path, format string, args ...any)

func (c *Config) validateHTTP(bad badFunc) {
	host, port, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil {
		bad("http.listen", "%q is not host:port: %v", c.HTTP.Listen, err)
	} else {
		if port == "" {
			bad("http.listen", "%q has no port", c.HTTP.Listen)
		}
		if !IsLoopback(host) && c.HTTP.Token == "" && c.HTTP.TokenFile == "" {
			bad("http.listen", "%q is not a loopback address; set http.token or http.token_file", c.HTTP.Listen)
		}
	}
	if c.HTTP.Token != "" && c.HTTP.TokenFile != "" {
		bad("http.token", "set either token or token_file, not both")
	}
	if c.GRPC.Listen != "" {
		if host, port, err := net.SplitHostPort(c.GRPC.Listen); err != nil || port == "" {
			bad("grpc.listen", "%q is not host:port", c.GRPC.Listen)
		} else if !IsLoopback(host) && c.HTTP.Token == "" && c.HTTP.TokenFile == "" {
			bad("grpc.listen", "%q is not a loopback address; set http.token or http.token_file (the gRPC service takes the same token)", c.GRPC.Listen)
		}
	}
	if c.HTTP.MaxRequestBytes < 1024 {
		bad("http.max_request_bytes", "is %d; must be >= 1024", c.HTTP.MaxRequestBytes)
	}
	if c.HTTP.RequestTimeout <= 0 {
		bad("http.request_timeout", "must be > 0")
	}
	if c.HTTP.ReadTimeout <= 0 {
		bad("http.read_timeout", "must be > 0")
	}
	if c.HTTP.MaxConnections < 8 {
		bad("http.max_connections", "is %d; must be at least 8 (0: 256)", c.HTTP.MaxConnections)
	}
	if c.HTTP.BodyMemory != 0 && c.HTTP.BodyMemory < c.HTTP.MaxRequestBytes {
		bad("http.body_memory", "is %d; must be 0 (from the board's memory) or at least http.max_request_bytes (%d)", c.HTTP.BodyMemory, c.HTTP.MaxRequestBytes)
	}
	for i, h := range c.HTTP.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ :") && net.ParseIP(h) == nil {
			bad(fmt.Sprintf("http.allowed_hosts[%d]", i), "%q: want a host name or IP address, without a port", h)
		}
	}
}

func (c *Config) validateRuntime(bad badFunc) {
	if c.Runtime.Threads < 0 || c.Runtime.Threads > 256 {
		bad("runtime.threads", "is %d; want 0 (auto) to 256", c.Runtime.Threads)
	}
	if !validArithmetic(c.Runtime.Arithmetic) {
		bad("runtime.arithmetic", "is %q; want litert or reference", c.Runtime.Arithmetic)
	}
}

// validateModels checks each model and returns the set of their names.
func (c *Config) validateModels(bad badFunc) map[string]bool {
	names := map[string]bool{}
	for i, m := range c.Models {
		p := fmt.Sprintf("models[%d]", i)
		if !ValidName(m.Name) {
			bad(p+".name", "%q: want 1-128 letters, digits, '.', '_' or '-'", m.Name)
		} else if names[m.Name] {
			bad(p+".name", "%q is used twice", m.Name)
		}
		names[m.Name] = true
		if !ValidName(m.Version) {
			bad(p+".version", "%q: want 1-128 letters, digits, '.', '_' or '-'", m.Version)
		}
		if m.Ensemble != nil {
			if m.Path != "" {
				bad(p+".path", "an ensemble has no path; its members have")
			}
			if len(m.Ensemble.Members) < 2 {
				bad(p+".ensemble.members", "lists %d models; want at least 2", len(m.Ensemble.Members))
			}
			for j, name := range m.Ensemble.Members {
				k := slices.IndexFunc(c.Models[:i], func(o Model) bool { return o.Name == name })
				if k < 0 {
					bad(fmt.Sprintf("%s.ensemble.members[%d]", p, j), "%q is not a model defined before this one", name)
				} else if c.Models[k].Ensemble != nil {
					bad(fmt.Sprintf("%s.ensemble.members[%d]", p, j), "%q is an ensemble; members must be models", name)
				}
			}
			switch m.Ensemble.Combine {
			case "mean", "vote", "concat":
			default:
				bad(p+".ensemble.combine", "is %q; want mean, vote or concat", m.Ensemble.Combine)
			}
		} else if m.Path == "" && len(m.Variants) == 0 {
			// With variants only, loading refuses it and says why: no
			// cpu variant to fall back on.
			bad(p+".path", "must be set")
		}
		validateVariants(p, m, bad)
		if m.Threads < 0 || m.Threads > 256 {
			bad(p+".threads", "is %d; want 0 (runtime default) to 256", m.Threads)
		}
		if m.Arithmetic != "" && !validArithmetic(m.Arithmetic) {
			bad(p+".arithmetic", "is %q; want litert or reference (or nothing: runtime.arithmetic)", m.Arithmetic)
		}
		if m.Instances < 1 || m.Instances > 64 {
			bad(p+".instances", "is %d; want 1 to 64", m.Instances)
		}
		if m.Batch.MaxBatch < 1 || m.Batch.MaxBatch > 1024 {
			bad(p+".batch.max_batch", "is %d; want 1 to 1024", m.Batch.MaxBatch)
		}
		if m.Batch.MaxDelay <= 0 {
			bad(p+".batch.max_delay", "must be > 0")
		}
		if m.Batch.QueueCapacity < 1 {
			bad(p+".batch.queue_capacity", "must be >= 1")
		}
		switch m.Batch.Overload {
		case "reject", "drop_oldest":
		default:
			bad(p+".batch.overload", "is %q; want reject or drop_oldest", m.Batch.Overload)
		}
		if m.Cache.TTL < 0 {
			bad(p+".cache.ttl", "must be >= 0")
		}
		if m.Cache.MaxEntries < 1 {
			bad(p+".cache.max_entries", "must be >= 1")
		}
	}
	return names
}

func (c *Config) validateSources(names map[string]bool, bad badFunc) {
	for i, s := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		switch s.Type {
		case "synthetic":
			switch s.Pattern {
			case "noise", "sine":
			case "replay":
				if len(s.Files) == 0 {
					bad(p+".files", "must list at least one file for pattern replay")
				}
			default:
				bad(p+".pattern", "is %q; want noise, sine or replay", s.Pattern)
			}
		case "mqtt":
			validateMQTT(p+".mqtt", s.MQTT, bad)
		case "periph":
			validatePeriph(p+".periph", s.Periph, bad)
		case "":
			bad(p+".type", "must be set")
		default:
			bad(p+".type", "is %q; want synthetic, mqtt or periph", s.Type)
		}
		if s.Type != "mqtt" && s.MQTT != nil {
			bad(p+".mqtt", "is set but type is %q", s.Type)
		}
		if s.Type != "periph" && s.Periph != nil {
			bad(p+".periph", "is set but type is %q", s.Type)
		}
		if !names[s.Model] {
			bad(p+".model", "%q is not a configured model", s.Model)
		}
		if s.Interval <= 0 {
			bad(p+".interval", "must be > 0")
		}
		if sh := s.Shift; sh != nil {
			if s.Type != "synthetic" || s.Pattern == "replay" {
				bad(p+".shift", "applies to synthetic noise and sine sources only")
			}
			if sh.After < 0 {
				bad(p+".shift.after", "is %d; want >= 0 requests", sh.After)
			}
			if math.IsNaN(sh.Mean) || math.IsInf(sh.Mean, 0) {
				bad(p+".shift.mean", "is %g; want a finite number", sh.Mean)
			}
		}
	}
}

func validateMQTT(p string, m *SourceMQTT, bad badFunc) {
	if m == nil {
		bad(p, "must be set for type mqtt")
		return
	}
	if u, err := url.Parse(m.Broker); m.Broker == "" || err != nil || u.Host == "" {
		bad(p+".broker", "%q: want a URL such as tcp://host:1883", m.Broker)
	} else {
		switch u.Scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		default:
			bad(p+".broker", "scheme %q: want tcp, ssl, ws or wss", u.Scheme)
		}
	}
	if m.Topic == "" {
		bad(p+".topic", "must be set")
	}
	if m.ResultTopic == "" {
		bad(p+".result_topic", "must be set")
	} else if strings.ContainsAny(strings.ReplaceAll(m.ResultTopic, "{topic}", ""), "+#") {
		bad(p+".result_topic", "%q: a topic to publish to has no wildcards", m.ResultTopic)
	}
	if m.QoS > 2 {
		bad(p+".qos", "is %d; want 0, 1 or 2", m.QoS)
	}
	switch m.Encoding {
	case "json", "raw":
	default:
		bad(p+".encoding", "is %q; want json or raw", m.Encoding)
	}
	if m.MaxPayload < 1 || m.MaxPayload > 256<<20 {
		bad(p+".max_payload", "is %d; want 1 to %d", m.MaxPayload, 256<<20)
	}
	if m.Queue < 1 || m.Queue > 4096 {
		bad(p+".queue", "is %d; want 1 to 4096", m.Queue)
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		bad(p+".cert_file", "cert_file and key_file go together")
	}
}

func validatePeriph(p string, s *SourcePeriph, bad badFunc) {
	if s == nil {
		bad(p, "must be set for type periph")
		return
	}
	switch s.Driver {
	case "bme280":
		if s.Address != 0x76 && s.Address != 0x77 {
			bad(p+".address", "is %#x; a BME280 answers at 0x76 or 0x77", s.Address)
		}
	default:
		bad(p+".driver", "is %q; want bme280", s.Driver)
	}
	if s.Window < 1 || s.Window > 1<<16 {
		bad(p+".window", "is %d; want 1 to 65536 samples", s.Window)
	}
	if s.Stride < 0 || s.Stride > s.Window {
		bad(p+".stride", "is %d; want 0 (= window) to window (%d)", s.Stride, s.Window)
	}
}

// IsLoopback reports whether host is a loopback name or address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validArithmetic reports whether s names an arithmetic of the runtime.
func validArithmetic(s string) bool {
	return s == "litert" || s == "reference"
}
