package config

import (
	"encoding/base64"
	"path/filepath"
	"time"
)

// OTA takes signed model deployments over the fleet link: the deploy and
// rollback commands (docs/ARCHITECTURE.md). It is enabled when root_key
// and fleet.broker are both set.
type OTA struct {
	// RootKey is the root public key manifests must chain to: the path of
	// the file `edgectl keys init` writes (root.pub), or the 32-byte
	// ed25519 key itself in standard base64.
	RootKey string `yaml:"root_key"`
	// StoreDir holds downloaded and staged models and their state;
	// default state_dir/models.
	StoreDir string `yaml:"store_dir"`
	// MaxBlobBytes bounds a model file a manifest may name; larger ones
	// are rejected before any download.
	MaxBlobBytes int64 `yaml:"max_blob_bytes"`
	// SmokeTimeout bounds loading a new version and its smoke inference
	// on zero inputs; past it the version is rolled back.
	SmokeTimeout Duration `yaml:"smoke_timeout"`
	// CrashLoop rolls a new version back on the next start when the agent
	// started this many times within the window after it was promoted.
	CrashLoop CrashLoop `yaml:"crash_loop"`
	// FetchJitter, if set, delays each download by a random time up to
	// it, so that a command to a large group does not make every device
	// fetch from the broker in the same second (0: fetch at once; at most
	// an hour).
	FetchJitter Duration `yaml:"fetch_jitter"`
}

// CrashLoop defines a crash loop after a model change.
type CrashLoop struct {
	Starts int      `yaml:"starts"`
	Window Duration `yaml:"window"`
}

// Defaults of ota:.
const (
	DefaultMaxBlobBytes = 512 << 20
	DefaultSmokeTimeout = 30 * time.Second
	DefaultCrashStarts  = 3
	DefaultCrashWindow  = 10 * time.Minute
	// maxBlobBytes is fleet's MaxBlobSize, restated so that config
	// does not import the MQTT client.
	maxBlobBytes = 4 << 30
)

// Enabled reports whether OTA deployments are taken: a root key to verify
// them and a broker to receive them.
func (o *OTA) Enabled(f *Fleet) bool { return o.RootKey != "" && f.Enabled() }

// InlineRootKey returns the root key when RootKey holds the key itself
// (standard base64 of 32 bytes) rather than a file path.
func (o *OTA) InlineRootKey() ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(o.RootKey)
	if err != nil || len(b) != 32 {
		return nil, false
	}
	return b, true
}

func (c *Config) setOTADefaults() {
	o := &c.OTA
	if o.StoreDir == "" && c.StateDir != "" {
		o.StoreDir = filepath.Join(c.StateDir, "models")
	}
	if o.MaxBlobBytes == 0 {
		o.MaxBlobBytes = DefaultMaxBlobBytes
	}
	if o.SmokeTimeout == 0 {
		o.SmokeTimeout = Duration(DefaultSmokeTimeout)
	}
	if o.CrashLoop.Starts == 0 {
		o.CrashLoop.Starts = DefaultCrashStarts
	}
	if o.CrashLoop.Window == 0 {
		o.CrashLoop.Window = Duration(DefaultCrashWindow)
	}
}

func (c *Config) validateOTA(bad badFunc) {
	o := &c.OTA
	if o.MaxBlobBytes < 1 || o.MaxBlobBytes > maxBlobBytes {
		bad("ota.max_blob_bytes", "is %d; want 1 to %d", o.MaxBlobBytes, int64(maxBlobBytes))
	}
	if o.SmokeTimeout <= 0 {
		bad("ota.smoke_timeout", "must be > 0")
	}
	if o.CrashLoop.Starts < 2 || o.CrashLoop.Starts > 64 {
		// One start is every start: the first after a deploy would roll it
		// back. The store keeps the last 64 starts.
		bad("ota.crash_loop.starts", "is %d; want 2 to 64", o.CrashLoop.Starts)
	}
	if o.CrashLoop.Window <= 0 {
		bad("ota.crash_loop.window", "must be > 0")
	}
	if o.FetchJitter < 0 || o.FetchJitter.D() > time.Hour {
		bad("ota.fetch_jitter", "is %v; want 0 to 1h", o.FetchJitter.D())
	}
	if o.RootKey != "" && o.StoreDir == "" {
		bad("ota.store_dir", "must be set")
	}
}

// NewModel returns a model entry for a model that is deployed over the air
// but not named in the file, with the defaults a configured one gets.
func NewModel(name, path, version string) Model {
	m := Model{Name: name, Path: path, Version: version}
	m.setDefaults()
	return m
}
