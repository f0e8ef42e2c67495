// Package status is what edged says about itself: the document of GET
// /v1/status, what the status page draws and what edgectl shows of a
// device. There is one Go type per section; the JSON field names are
// part of the local API.
package status

import (
	"time"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/agent/drift"
	"github.com/edged-dev/edged/boards"
	"github.com/edged-dev/edged/delegates"
)

// Device is the whole status (GET /v1/status).
type Device struct {
	// Version is edged's version; DeviceID the fleet id of the device.
	Version  string `json:"version"`
	DeviceID string `json:"device_id"`
	// Started is when the daemon started, UptimeSec how long ago.
	Started   time.Time `json:"started"`
	UptimeSec float64   `json:"uptime_s"`
	// Ready is set once every configured model is served; Missing names
	// those that are not, and why.
	Ready   bool         `json:"ready"`
	Missing []Missing    `json:"missing,omitempty"`
	Board   boards.Board `json:"board"`
	// Models are the served models, by name.
	Models []Model `json:"models"`
	// HTTP is the local endpoint's listen address.
	HTTP  string            `json:"http"`
	Extra map[string]string `json:"extra,omitempty"`
}

// Missing is a configured model that does not serve: its file failed to
// load or its check failed. The other models serve meanwhile.
type Missing struct {
	Model  string `json:"model"`
	Reason string `json:"reason"`
}

// Model is one served model: the version serving now and its pipeline.
type Model struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	SHA256  string    `json:"sha256"`
	Path    string    `json:"path"`
	Loaded  time.Time `json:"loaded"`
	// Reason says why this version serves rather than the one deployed
	// (its files were damaged, it did not load), if so.
	Reason string `json:"reason,omitempty"`
	// Queued requests wait in its batchers, of Capacity.
	Queued    int `json:"queued"`
	Capacity  int `json:"capacity"`
	Instances int `json:"instances"`
	MaxBatch  int `json:"max_batch"`
	// Batchable: a batch runs as one invocation (the graph carries the
	// batch dimension).
	Batchable bool   `json:"batchable"`
	Cache     *Cache `json:"cache,omitempty"`
	// Drift is the model's drift state when it is watched.
	Drift string `json:"drift,omitempty"`
	// Canary is the candidate under evaluation, if any.
	Canary *Canary `json:"canary,omitempty"`
	// Delegates has one line per backend of the model's chain, in order,
	// the CPU fallback last, with its state and the reason; then the
	// backends left out of the chain.
	Delegates []Delegate `json:"delegates"`
}

// Cache is a model's result cache.
type Cache struct {
	Entries   int    `json:"entries"`
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Evictions uint64 `json:"evictions"`
}

// Delegate is one backend of a model's delegate chain.
type Delegate struct {
	Delegate string `json:"delegate"`
	Variant  string `json:"variant"`
	// Fallback marks the CPU, which serves when the others cannot.
	Fallback bool `json:"fallback,omitempty"`
	// State is healthy, absent or failed; Reason says why not healthy.
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	Since     time.Time `json:"since"`
	NextProbe time.Time `json:"next_probe,omitzero"`
	// Served counts the requests it answered; Failures the calls that
	// failed and went down the chain.
	Served   uint64 `json:"served"`
	Failures uint64 `json:"failures"`
	// Check is the latest check of the backend's vendor libraries.
	Check *delegates.ProbeOutcome `json:"check,omitempty"`
	// Auto is what prefer: auto measured of the backend on the model.
	Auto *delegates.Trial `json:"auto,omitempty"`
}

// Canary is a candidate version under evaluation beside the serving one.
type Canary struct {
	Candidate string `json:"candidate"`
	// Status is the rollout's last command state; Phase shadow or canary.
	Status         string  `json:"status"`
	Phase          string  `json:"phase"`
	MinSamples     int     `json:"min_samples"`
	SampleRate     float64 `json:"sample_rate"`
	CanaryFraction float64 `json:"canary_fraction"`
	// Agreement is the share of shadow comparisons that agreed.
	Agreement     float64          `json:"agreement"`
	ShadowDropped uint64           `json:"shadow_dropped"`
	Figures       canary.Figures   `json:"figures"`
	Last          *canary.Decision `json:"last,omitempty"`
}

// Drift is one watched model's drift (GET /v1/drift).
type Drift struct {
	Model   string      `json:"model"`
	Version string      `json:"version"`
	State   drift.State `json:"state"`
	// Samples is the number in the window being filled.
	Samples int    `json:"window_samples"`
	Windows uint64 `json:"windows"`
	// Dropped counts samples the full queue turned away, Errors those
	// that could not be read.
	Dropped uint64        `json:"dropped"`
	Errors  uint64        `json:"errors,omitempty"`
	Last    *drift.Report `json:"last,omitempty"`
}

// DriftPlot is one feature's reference and live histograms, as the
// status page draws them.
type DriftPlot struct {
	Model, Feature string
	State          string
	PSI, KSP       float64
	// Edges are the k−1 cut points of k bins; Ref and Live the proportion
	// of values in each bin.
	Edges     []float64
	Ref, Live []float64
}
