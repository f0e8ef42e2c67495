package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Version is the message version this package writes and reads.
const Version = 1

// MaxMessageSize bounds an encoded message; a signed manifest in a
// Command's payload must fit.
const MaxMessageSize = 256 << 10

// ErrVersion is returned (wrapped) by Decode for a message whose "v" is
// missing or not Version.
var ErrVersion = errors.New("unsupported message version")

// Message is implemented by the pointer types of the messages of this
// package; Encode and Decode take one.
type Message interface {
	setVersion()
	check() error
}

// Device states in State.
const (
	Online  = "online"
	Offline = "offline"
)

// State is the retained birth message on dev/{id}/state. The will the
// broker publishes when a device vanishes has only V and State (Offline).
type State struct {
	V            int          `json:"v"`
	State        string       `json:"state"` // Online or Offline
	Version      string       `json:"version,omitempty"`
	Board        string       `json:"board,omitempty"`
	Accelerators []string     `json:"accelerators,omitempty"`
	Models       []ModelState `json:"models,omitempty"`
	Uptime       int64        `json:"uptime_s,omitempty"` // seconds since the agent started
	Time         time.Time    `json:"time,omitzero"`
	// CommandProtocol is the highest version of signed operator commands
	// the agent reads (ota/sign's CommandProtocol); 0 (absent) for agents
	// that take the earlier unsigned rollback and promote.
	CommandProtocol int `json:"cmd_protocol,omitempty"`
}

// ModelState names the versions of one model a device holds.
type ModelState struct {
	Name     string `json:"name"`
	Active   string `json:"active,omitempty"`
	Canary   string `json:"canary,omitempty"`
	Previous string `json:"previous,omitempty"`
}

// Telemetry is a periodic snapshot on dev/{id}/telemetry: small, counters
// since start and quantiles over the interval.
type Telemetry struct {
	V        int              `json:"v"`
	Time     time.Time        `json:"time"`
	Interval float64          `json:"interval_s,omitempty"`
	Uptime   int64            `json:"uptime_s,omitempty"`
	CPUTemp  *float64         `json:"cpu_temp_c,omitempty"`
	Throttle bool             `json:"throttled,omitempty"`
	Models   []ModelTelemetry `json:"models,omitempty"`
	// System is the host: CPU, memory, disk, temperatures.
	System *SystemTelemetry `json:"sys,omitempty"`
	// Link is the fleet link's own state.
	Link *LinkTelemetry `json:"link,omitempty"`
	// Sources are the input sources, in configuration order.
	Sources []SourceTelemetry `json:"sources,omitempty"`
	// OTA is the over-the-air updates' news: downloads in progress and
	// each model's last deployment outcome in the hour after it.
	OTA *OTATelemetry `json:"ota,omitempty"`
	// Canaries are the candidates under evaluation, one per model.
	Canaries []CanaryTelemetry `json:"canary,omitempty"`
	// Metrics holds further named values (Prometheus names).
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// ModelTelemetry is one model's part of a Telemetry snapshot.
type ModelTelemetry struct {
	Name       string  `json:"name"`
	Version    string  `json:"version,omitempty"`
	Inferences uint64  `json:"inferences"`
	Errors     uint64  `json:"errors,omitempty"`
	Fallbacks  uint64  `json:"fallbacks,omitempty"`
	P50        float64 `json:"p50_ms,omitempty"`
	P90        float64 `json:"p90_ms,omitempty"`
	P99        float64 `json:"p99_ms,omitempty"`
	CacheHit   float64 `json:"cache_hit_ratio,omitempty"` // 0..1
	QueueDepth int     `json:"queue_depth,omitempty"`
	Delegate   string  `json:"delegate,omitempty"`
}

// SystemTelemetry is the host's part of a Telemetry snapshot. A figure
// the host does not give is absent.
type SystemTelemetry struct {
	// CPU is the share of all cores' time spent busy since the previous
	// reading (0..1); Load1 the one-minute load average.
	CPU   float64 `json:"cpu,omitempty"`
	Load1 float64 `json:"load1,omitempty"`
	// MemUsed is MemTotal − MemAvailable, in MiB.
	MemUsed  uint64 `json:"mem_used_mb,omitempty"`
	MemTotal uint64 `json:"mem_total_mb,omitempty"`
	// DiskFree and DiskTotal are of the filesystem holding the data
	// directory, in MiB (free to an unprivileged process).
	DiskFree  uint64 `json:"disk_free_mb,omitempty"`
	DiskTotal uint64 `json:"disk_total_mb,omitempty"`
	// Zones is the temperature of every thermal zone in °C, by zone
	// type ("cpu-thermal"), or by zone name when types repeat; absent
	// when the host has one zone (the Telemetry's CPUTemp).
	Zones map[string]float64 `json:"temp_c,omitempty"`
	// ThrottleFlags is the Raspberry Pi firmware's get_throttled word
	// (bit 0 under-voltage, 1 frequency capped, 2 throttled, 3 soft
	// temperature limit; bits 16-19 the same since boot).
	ThrottleFlags *uint32 `json:"throttle_flags,omitempty"`
}

// LinkTelemetry is the fleet link's part of a Telemetry snapshot.
type LinkTelemetry struct {
	// Connected is not sent: a snapshot only leaves while connected.
	Connected bool `json:"-"`
	// Reconnects counts connections lost since the agent started.
	Reconnects uint64 `json:"reconnects,omitempty"`
	// Outbox is the number of reports waiting to be sent; Dropped those
	// dropped for room since the agent started.
	Outbox  int    `json:"outbox,omitempty"`
	Dropped uint64 `json:"dropped,omitempty"`
	// SentBytes is the payload bytes published since the agent started.
	SentBytes uint64 `json:"sent_b,omitempty"`
	// LastError is the last failed connection attempt or lost
	// connection, clipped to 80 bytes.
	LastError string `json:"last_error,omitempty"`
}

// SourceTelemetry is one input source's part of a Telemetry snapshot,
// counted since the agent started.
type SourceTelemetry struct {
	Name string `json:"name"`
	// In counts readings taken, Out results produced, Errors readings
	// that produced no result.
	In     uint64 `json:"in"`
	Out    uint64 `json:"out,omitempty"`
	Errors uint64 `json:"errors,omitempty"`
	// Age is the seconds since the last reading (absent before the
	// first); Last is when it was taken (not sent).
	Age  int64     `json:"age_s,omitempty"`
	Last time.Time `json:"-"`
}

// OTATelemetry is the over-the-air updates' part of a Telemetry
// snapshot. The snapshot carries a model only in the hour after its last
// deployment, rollback or canary decision ended (At), and the section
// only when it has a model, a download or a rollback: the versions are in
// the retained State the rest of the time.
type OTATelemetry struct {
	Models    []ModelOTA          `json:"models,omitempty"`
	Downloads []DownloadTelemetry `json:"downloads,omitempty"`
	// Rollbacks counts the versions left for an earlier one since the
	// agent started: rollback commands, candidates rolled back, versions
	// that failed to start and crash loops.
	Rollbacks uint64 `json:"rollbacks,omitempty"`
}

// ModelOTA is one model's versions in the model store and its last
// deployment outcome.
type ModelOTA struct {
	Name     string `json:"name"`
	Version  string `json:"version,omitempty"`
	Previous string `json:"previous,omitempty"`
	// Op and Outcome are the last command or decision on the model and
	// where it ended (a CommandStatus state: active, shadow, canary,
	// rolled_back, failed, rejected, skipped, done, ...); At is when, in
	// Unix seconds. Absent before the first since the agent started.
	Op      string `json:"op,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	At      int64  `json:"at,omitempty"`
}

// DownloadTelemetry is a model file being downloaded.
type DownloadTelemetry struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	// Bytes are held so far (with what an interrupted run left) of Size.
	Bytes int64 `json:"bytes"`
	Size  int64 `json:"size"`
}

// CanaryTelemetry is a candidate version under evaluation beside the
// active one.
type CanaryTelemetry struct {
	Model     string `json:"model"`
	Candidate string `json:"candidate"`
	// Phase is shadow, canary or hold (a paused evaluation); ElapsedS the
	// seconds in it.
	Phase    string `json:"phase"`
	ElapsedS int64  `json:"elapsed_s,omitempty"`
	// Shadow is the shadow comparisons (the candidate's runs beside the
	// active version on sampled requests), absent in canary.
	Shadow *ShadowTelemetry `json:"shadow,omitempty"`
	// Active and Cand are the requests each arm served in canary, absent
	// before it.
	Active *ArmTelemetry `json:"active,omitempty"`
	Cand   *ArmTelemetry `json:"cand,omitempty"`
	// P is the two-sided p-value of the A/B test (Test names it: fisher,
	// z, welch-z), absent before it has data.
	P    *float64 `json:"p,omitempty"`
	Test string   `json:"test,omitempty"`
}

// ShadowTelemetry is a candidate's shadow comparisons.
type ShadowTelemetry struct {
	// N comparisons were made, Disagree the share of them whose top
	// class differed; the latency medians in ms of each side.
	N         uint64  `json:"n"`
	Errors    uint64  `json:"errors,omitempty"`
	Disagree  float64 `json:"disagree"`
	ActiveP50 float64 `json:"active_p50_ms"`
	CandP50   float64 `json:"cand_p50_ms"`
}

// ArmTelemetry is one arm of a canary: requests, errors and latency
// quantiles (ms) since the canary phase began.
type ArmTelemetry struct {
	N      uint64  `json:"n"`
	Errors uint64  `json:"errors,omitempty"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	// Mean is the mean latency in ms of the requests answered (not sent).
	Mean float64 `json:"-"`
}

// Event is a rollout, fallback, update or error event on dev/{id}/events.
// Seq is filled in by the outbox when it sends the event (the producer
// leaves it 0); receivers de-duplicate by it.
type Event struct {
	V      int             `json:"v"`
	Seq    uint64          `json:"seq,omitempty"`
	Time   time.Time       `json:"time"`
	Kind   string          `json:"kind"` // e.g. "rollout", "fallback", "drift", "update", "error"
	Model  string          `json:"model,omitempty"`
	Detail json.RawMessage `json:"detail,omitempty"` // a JSON value whose shape depends on Kind
}

// Ops of a Command.
const (
	OpDeploy      = "deploy"       // payload: a signed model manifest
	OpRollback    = "rollback"     // payload: a signed command (ota/sign) with a version-scoped rollback
	OpPromote     = "promote"      // payload: a signed command naming the candidate to promote
	OpHold        = "hold"         // payload: a signed command naming the candidate whose evaluation pauses
	OpResume      = "resume"       // payload: a signed command naming the held candidate to evaluate again
	OpUpdateAgent = "update-agent" // payload: a signed agent manifest
	OpConfig      = "config"       // payload: configuration changes
	OpPing        = "ping"         // no payload; the only op that needs no signature
)

// Ops lists the ops a Command may carry.
var Ops = []string{OpDeploy, OpRollback, OpPromote, OpHold, OpResume, OpUpdateAgent, OpConfig, OpPing}

// Command is an operator's request, retained on dev/{id}/cmd/{op}/{cmdid}
// or group/{group}/cmd/{op}/{cmdid}; Op and ID equal the topic's.
type Command struct {
	V       int             `json:"v"`
	Op      string          `json:"op"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Issued  time.Time       `json:"issued"`
	Expires time.Time       `json:"expires,omitzero"` // zero: never
}

// Expired reports whether the command must no longer be acted on at now.
func (c *Command) Expired(now time.Time) bool {
	return !c.Expires.IsZero() && !now.Before(c.Expires)
}

// Generic command states in CommandStatus; a command's handler may use
// others of its own (OTA: "downloading", "verified", "staged", ...).
const (
	StatusAccepted = "accepted"
	StatusRunning  = "running"
	StatusDone     = "done"
	StatusFailed   = "failed"
	StatusRejected = "rejected" // not understood or not allowed: Reason says why
	StatusExpired  = "expired"
)

// CommandStatus is a device's progress on a command, retained on
// dev/{id}/cmd/{op}/{cmdid}/status.
type CommandStatus struct {
	V        int       `json:"v"`
	ID       string    `json:"id"`
	State    string    `json:"state"`
	Progress float64   `json:"progress,omitempty"` // 0..1
	Reason   string    `json:"reason,omitempty"`
	Time     time.Time `json:"time"`
}

// Describe is the status as a person reads it: the state, the progress
// of a download, the reason.
func (s CommandStatus) Describe() string {
	d := s.State
	if s.Progress > 0 && s.Progress < 1 {
		d += fmt.Sprintf(" %3.0f%%", 100*s.Progress)
	}
	if s.Reason != "" {
		d += ": " + s.Reason
	}
	return d
}

// BlobMeta describes a blob published in chunks on blob/{sha256}/{index}:
// chunk i holds bytes [i*ChunkSize, min((i+1)*ChunkSize, Size)).
type BlobMeta struct {
	V         int    `json:"v"`
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	ChunkSize int    `json:"chunk_size"`
	Count     int    `json:"count"`
}

// Limits of BlobMeta.
const (
	MaxChunkSize = 1 << 20
	MaxBlobSize  = 4 << 30
)

// MaxReceive bounds what a Client reads of one message from the broker
// (its topic and payload): a blob chunk of MaxChunkSize and room for the
// topic. A larger message reaches handlers with an empty payload; set the
// broker's max_packet_size to match (examples/mosquitto).
const MaxReceive = MaxChunkSize + 4<<10

// Encode sets m's version to Version, checks m and marshals it.
func Encode(m Message) ([]byte, error) {
	m.setVersion()
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("encoding a message: %w", err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding a message: %w", err)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("encoding a message: %d bytes; want at most %d", len(b), MaxMessageSize)
	}
	return b, nil
}

// Decode parses data into m: the version must be Version, no trailing
// data, at most MaxMessageSize bytes, and every field within its range.
// An unknown field is an error in the messages a device acts on (Command,
// BlobMeta); the reports devices send (State, Telemetry, Event,
// CommandStatus) may carry fields this build does not know, and they are
// ignored, so that a newer agent's reports reach an older edgectl.
func Decode(data []byte, m Message) error {
	if err := decode(data, m); err != nil {
		return fmt.Errorf("malformed message: %w", err)
	}
	return nil
}

func decode(data []byte, m Message) error {
	if len(data) > MaxMessageSize {
		return fmt.Errorf("%d bytes; want at most %d", len(data), MaxMessageSize)
	}
	// The version first, so that a newer message is reported as such
	// rather than as an unknown field.
	var v struct {
		V *json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if v.V == nil {
		return fmt.Errorf("%w: no \"v\"; want %d", ErrVersion, Version)
	}
	if string(*v.V) != "1" {
		return fmt.Errorf("%w: \"v\":%s; this build reads %d", ErrVersion, clip(string(*v.V)), Version)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if _, ok := m.(report); !ok {
		d.DisallowUnknownFields()
	}
	if err := d.Decode(m); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the message")
	}
	return m.check()
}

// report is implemented by the messages devices send: their readers
// ignore unknown fields (see Decode).
type report interface{ report() }

func (*State) report()         {}
func (*Telemetry) report()     {}
func (*Event) report()         {}
func (*CommandStatus) report() {}

func (m *State) setVersion()         { m.V = Version }
func (m *Telemetry) setVersion()     { m.V = Version }
func (m *Event) setVersion()         { m.V = Version }
func (m *Command) setVersion()       { m.V = Version }
func (m *CommandStatus) setVersion() { m.V = Version }
func (m *BlobMeta) setVersion()      { m.V = Version }

const maxText = 1024 // bound of free-text fields

func (m *State) check() error {
	switch m.State {
	case Online, Offline:
	default:
		return fmt.Errorf("state %q; want %q or %q", clip(m.State), Online, Offline)
	}
	if err := errors.Join(checkText("version", m.Version, MaxIDLen), checkText("board", m.Board, maxText)); err != nil {
		return err
	}
	if len(m.Accelerators) > 16 || len(m.Models) > 64 {
		return fmt.Errorf("%d accelerators and %d models; want at most 16 and 64", len(m.Accelerators), len(m.Models))
	}
	for i, a := range m.Accelerators {
		if err := checkText(fmt.Sprintf("accelerators[%d]", i), a, MaxIDLen); err != nil {
			return err
		}
	}
	for i, ms := range m.Models {
		if err := ValidID(ms.Name); err != nil {
			return fmt.Errorf("models[%d].name: %w", i, err)
		}
		if err := errors.Join(checkText("active", ms.Active, MaxIDLen), checkText("canary", ms.Canary, MaxIDLen),
			checkText("previous", ms.Previous, MaxIDLen)); err != nil {
			return fmt.Errorf("models[%d].%w", i, err)
		}
	}
	if m.Uptime < 0 {
		return fmt.Errorf("uptime_s %d; want >= 0", m.Uptime)
	}
	if m.CommandProtocol < 0 || m.CommandProtocol > 1000 {
		return fmt.Errorf("cmd_protocol %d; want 0..1000", m.CommandProtocol)
	}
	return nil
}

func (m *Telemetry) check() error {
	if m.Time.IsZero() {
		return errors.New("time: must be set")
	}
	if m.Interval < 0 || m.Uptime < 0 {
		return fmt.Errorf("interval_s %g, uptime_s %d; want >= 0", m.Interval, m.Uptime)
	}
	if len(m.Models) > 64 || len(m.Metrics) > 1024 {
		return fmt.Errorf("%d models and %d metrics; want at most 64 and 1024", len(m.Models), len(m.Metrics))
	}
	for i, mt := range m.Models {
		if err := ValidID(mt.Name); err != nil {
			return fmt.Errorf("models[%d].name: %w", i, err)
		}
		if mt.CacheHit < 0 || mt.CacheHit > 1 {
			return fmt.Errorf("models[%d].cache_hit_ratio %g; want 0..1", i, mt.CacheHit)
		}
	}
	if o := m.OTA; o != nil {
		if len(o.Models) > 64 || len(o.Downloads) > 64 {
			return fmt.Errorf("ota: %d models and %d downloads; want at most 64 each", len(o.Models), len(o.Downloads))
		}
		for i, mo := range o.Models {
			if err := ValidID(mo.Name); err != nil {
				return fmt.Errorf("ota.models[%d].name: %w", i, err)
			}
		}
		for i, d := range o.Downloads {
			if d.Bytes < 0 || d.Size < 0 {
				return fmt.Errorf("ota.downloads[%d]: %d of %d bytes; want >= 0", i, d.Bytes, d.Size)
			}
		}
	}
	if len(m.Canaries) > 64 {
		return fmt.Errorf("%d canaries; want at most 64", len(m.Canaries))
	}
	for i, c := range m.Canaries {
		if err := ValidID(c.Model); err != nil {
			return fmt.Errorf("canary[%d].model: %w", i, err)
		}
	}
	return nil
}

func (m *Event) check() error {
	if m.Time.IsZero() {
		return errors.New("time: must be set")
	}
	if err := ValidID(m.Kind); err != nil {
		return fmt.Errorf("kind: %w", err)
	}
	return checkText("model", m.Model, MaxIDLen)
}

func (m *Command) check() error {
	if !isOp(m.Op) {
		return fmt.Errorf("op %q; want one of %q", clip(m.Op), Ops)
	}
	if err := ValidID(m.ID); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	if m.Issued.IsZero() {
		return errors.New("issued: must be set")
	}
	if !m.Expires.IsZero() && !m.Expires.After(m.Issued) {
		return fmt.Errorf("expires %s is not after issued %s", m.Expires.Format(time.RFC3339), m.Issued.Format(time.RFC3339))
	}
	return nil
}

func isOp(op string) bool {
	for _, o := range Ops {
		if op == o {
			return true
		}
	}
	return false
}

func (m *CommandStatus) check() error {
	if err := ValidID(m.ID); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	if err := ValidID(m.State); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if m.Time.IsZero() {
		return errors.New("time: must be set")
	}
	if math.IsNaN(m.Progress) || m.Progress < 0 || m.Progress > 1 {
		return fmt.Errorf("progress %g; want 0..1", m.Progress)
	}
	return checkText("reason", m.Reason, maxText)
}

func (m *BlobMeta) check() error {
	if err := checkSHA256(m.SHA256); err != nil {
		return err
	}
	if m.Size < 0 || m.Size > MaxBlobSize {
		return fmt.Errorf("size %d; want 0..%d", m.Size, int64(MaxBlobSize))
	}
	if m.ChunkSize <= 0 || m.ChunkSize > MaxChunkSize {
		return fmt.Errorf("chunk_size %d; want 1..%d", m.ChunkSize, MaxChunkSize)
	}
	want := (m.Size + int64(m.ChunkSize) - 1) / int64(m.ChunkSize)
	if int64(m.Count) != want {
		return fmt.Errorf("count %d; size %d in chunks of %d needs %d", m.Count, m.Size, m.ChunkSize, want)
	}
	if m.Count > MaxChunkIndex+1 {
		return fmt.Errorf("count %d; want at most %d chunks", m.Count, MaxChunkIndex+1)
	}
	return nil
}

// checkText bounds a free-text field. (Invalid UTF-8 needs no check:
// encoding/json replaces it on both sides.)
func checkText(name, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s: %d bytes; want at most %d", name, len(s), max)
	}
	return nil
}
