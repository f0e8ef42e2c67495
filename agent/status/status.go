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
	"github.com/edged-dev/edged/fleet"
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
	// System is the host's readings: the same as the telemetry
	// snapshot's.
	System *System `json:"system,omitempty"`
	// Link is the fleet link, absent without a broker.
	Link *Link `json:"link,omitempty"`
	// Sources are the input sources, in configuration order.
	Sources []Source `json:"sources,omitempty"`
	// Commands are the last fleet commands (deployments, rollbacks,
	// updates) with their last status, newest first.
	Commands []Command `json:"commands,omitempty"`
	// Events are the last events (deployments, fallbacks, drift,
	// errors), newest first.
	Events []Event `json:"events,omitempty"`
	// OTA is the model store (each model's active and previous version,
	// its last command or canary decision), the downloads in progress
	// and the rollbacks since the agent started; absent when the agent
	// takes no deployments.
	OTA *fleet.OTATelemetry `json:"ota,omitempty"`
}

// System is the host: CPU use, load, memory, the data directory's disk,
// temperatures and the Raspberry Pi throttling flags (fleet's
// SystemTelemetry fields), the CPU temperature and what the throttling
// flags mean.
type System struct {
	fleet.SystemTelemetry
	CPUTemp *float64 `json:"cpu_temp_c,omitempty"`
	// Throttle describes ThrottleFlags ("0x50005: under-voltage,
	// throttled; since boot: …"); empty off a Raspberry Pi.
	Throttle string `json:"throttle,omitempty"`
	// Collectors says which readings this host gave (true) or not.
	Collectors map[string]bool `json:"collectors,omitempty"`
}

// Link is the fleet link to the broker.
type Link struct {
	Broker string `json:"broker"`
	// Connected: connected and subscribed to the device's commands, its
	// birth published; false while a new connection is being set up.
	Connected bool `json:"connected"`
	// Connects counts connections made, Lost those lost, Failures
	// attempts that failed; LastError is the last failure's reason.
	Connects  uint64 `json:"connects"`
	Lost      uint64 `json:"lost"`
	Failures  uint64 `json:"failures"`
	LastError string `json:"last_error,omitempty"`
	// Outbox is the number of reports waiting to be sent (OutboxBytes
	// their size); Dropped those dropped for room.
	Outbox      int    `json:"outbox"`
	OutboxBytes int64  `json:"outbox_bytes"`
	Dropped     uint64 `json:"dropped"`
	// Published counts the messages sent, SentBytes their payload bytes.
	Published uint64 `json:"published"`
	SentBytes uint64 `json:"sent_bytes"`
}

// Source is one input source and its last result.
type Source struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Model string `json:"model"`
	// In counts readings taken, Out results produced, Errors readings
	// that produced no result (for an MQTT source also the messages it
	// refused: malformed, oversize or with its queue full, and results
	// it could not publish); Last is when the last reading was taken.
	In     uint64    `json:"in"`
	Out    uint64    `json:"out"`
	Errors uint64    `json:"errors"`
	Last   time.Time `json:"last,omitzero"`
	// Result is the last reading's outcome.
	Result *Result `json:"result,omitempty"`
	// Frame is the thumbnail of the last input sampled, for a source
	// whose model takes a picture.
	Frame *Frame `json:"frame,omitempty"`
}

// Frame is a thumbnail of a source's input (a PNG at Path, Width by
// Height pixels), taken at Time, with the top label written under it or
// the detected objects' boxes drawn on it.
type Frame struct {
	Path   string    `json:"path"`
	Width  int       `json:"width"`
	Height int       `json:"height"`
	Time   time.Time `json:"time"`
}

// Result is what a model answered to one reading of a source.
type Result struct {
	Time    time.Time `json:"time"`
	Version string    `json:"version,omitempty"`
	// Top are the highest scores of the first output, with their labels
	// when the model has labels.
	Top []Score `json:"top,omitempty"`
	// Summary describes an output without labels ("12 values, max 0.8
	// at 3") or the objects detected ("2 objects: person 0.87, dog
	// 0.61"); Error says why the reading produced no result.
	Summary string `json:"summary,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Score is one class's score.
type Score struct {
	Label string  `json:"label"`
	Index int     `json:"index"`
	Score float64 `json:"score"`
}

// Command is a fleet command and the last status the device wrote for
// it.
type Command = fleet.CommandRecord

// Event is an event the device reported to the fleet (or would have,
// without a broker).
type Event = fleet.Event

// Requests are a model's request figures since the agent started, over
// all its versions' pipelines in this process.
type Requests struct {
	// Answered counts results (CacheHits of them from the cache); Errors
	// failed requests, by outcome (bad_input, overloaded, deadline, …).
	Answered  uint64            `json:"answered"`
	CacheHits uint64            `json:"cache_hits"`
	Errors    uint64            `json:"errors"`
	Outcomes  map[string]uint64 `json:"outcomes,omitempty"`
	// P50 and P99 are latency quantiles since the start, in ms.
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	// BatchSizes counts the batches run per size bucket.
	BatchSizes []BatchSize `json:"batch_sizes,omitempty"`
}

// BatchSize is the number of batches of up to Size requests.
type BatchSize struct {
	Size    int    `json:"size"`
	Batches uint64 `json:"batches"`
}

// History is a model's recent figures, one sample every Step seconds,
// oldest first: requests per second and the p50 and p99 latency (ms) of
// the requests answered in each step (0 when none were).
type History struct {
	Step float64   `json:"step_s"`
	Rate []float64 `json:"rate"`
	P50  []float64 `json:"p50_ms"`
	P99  []float64 `json:"p99_ms"`
}

// Missing is a configured model that does not serve: its file failed to
// load or its check failed, or a local operator unloaded it (Reason
// "unloaded"; then it may also be a model deployed over the air). The
// other models serve meanwhile.
type Missing struct {
	Model  string `json:"model"`
	Reason string `json:"reason"`
	// A model a local operator unloaded: the version that serves once it
	// is loaded, and when it was unloaded.
	Version  string    `json:"version,omitempty"`
	Unloaded time.Time `json:"unloaded,omitzero"`
	// Canary is the evaluation of a candidate an unloaded model keeps (it
	// gets no requests until the model is loaded).
	Canary *Canary `json:"canary,omitempty"`
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
	// Previous is the version served before this one, if it was
	// deployed over the air.
	Previous string `json:"previous,omitempty"`
	// Requests are the request figures, History the last minutes'.
	Requests *Requests `json:"requests,omitempty"`
	History  *History  `json:"history,omitempty"`
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
