package telemetry

import (
	"errors"
	"log/slog"
	"maps"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/outbox"
)

// Named is a collector with the name its success gauge carries.
type Named struct {
	Name string
	Collector
}

// Set runs named collectors into one snapshot. It is itself a Collector
// (for the Publisher), and Metrics makes it a prometheus.Collector: on
// every scrape of
// /metrics it runs them into a fresh snapshot and exports its figures,
// with edged_collector_success{collector} (1 when the collector gave its
// figures, 0 when it had no data or failed), so the page, /metrics and the
// fleet see the same readings.
type Set struct {
	list []Named
	log  *slog.Logger

	mu sync.Mutex
	ok map[string]bool
}

// NewSet returns a set of the collectors; log (may be nil) gets a failing
// collector's error at debug level (a collector without data on this host
// stays quiet).
func NewSet(log *slog.Logger, c ...Named) *Set {
	return &Set{list: c, log: log, ok: map[string]bool{}}
}

// Collect implements Collector: it runs every collector and returns their
// errors other than ErrNoData.
func (set *Set) Collect(s *Snapshot) error {
	var errs []error
	ok := make(map[string]bool, len(set.list))
	for _, c := range set.list {
		err := c.Collect(s)
		ok[c.Name] = err == nil
		if err != nil && !errors.Is(err, ErrNoData) {
			errs = append(errs, err)
		}
	}
	set.mu.Lock()
	set.ok = ok
	set.mu.Unlock()
	return errors.Join(errs...)
}

// Outcomes says which collectors gave their figures at the last reading.
func (set *Set) Outcomes() map[string]bool {
	set.mu.Lock()
	defer set.mu.Unlock()
	return maps.Clone(set.ok)
}

// Snapshot runs the collectors into a new snapshot, logging failures.
func (set *Set) Snapshot() *Snapshot {
	s := &Snapshot{V: fleet.Version, Time: time.Now().UTC().Truncate(time.Second)}
	if err := set.Collect(s); err != nil && set.log != nil {
		set.log.Debug("telemetry: collector failed", "err", err)
	}
	return s
}

var (
	descSuccess   = prometheus.NewDesc("edged_collector_success", "1 when the collector gave its figures at the last reading, 0 when it had no data on this host or failed.", []string{"collector"}, nil)
	descUptime    = prometheus.NewDesc("edged_uptime_seconds", "Seconds since the agent started.", nil, nil)
	descCPU       = prometheus.NewDesc("edged_host_cpu_busy_ratio", "Share of all cores' time spent busy (not idle or waiting for I/O) since the previous reading.", nil, nil)
	descLoad      = prometheus.NewDesc("edged_host_load1", "One-minute load average.", nil, nil)
	descMemUsed   = prometheus.NewDesc("edged_host_memory_used_bytes", "Memory in use: MemTotal minus MemAvailable (to the MiB).", nil, nil)
	descMemTotal  = prometheus.NewDesc("edged_host_memory_total_bytes", "Memory of the host.", nil, nil)
	descDiskFree  = prometheus.NewDesc("edged_data_disk_free_bytes", "Bytes free to the agent on the filesystem of its data directory (to the MiB).", nil, nil)
	descDiskTotal = prometheus.NewDesc("edged_data_disk_total_bytes", "Size of the filesystem of the agent's data directory.", nil, nil)
	descCPUTemp   = prometheus.NewDesc("edged_host_cpu_temperature_celsius", "Temperature of the CPU's thermal zone (or of the first zone).", nil, nil)
	descTemp      = prometheus.NewDesc("edged_host_temperature_celsius", "Temperature of each thermal zone, on hosts with more than one.", []string{"zone"}, nil)
	descThrottle  = prometheus.NewDesc("edged_host_throttled", "Raspberry Pi firmware throttling flags: 1 when the condition holds now (since_boot=\"false\") or has held since boot (since_boot=\"true\").", []string{"condition", "since_boot"}, nil)
	descConnected = prometheus.NewDesc("edged_fleet_connected", "1 while the fleet link is connected to the broker.", nil, nil)
	descReconn    = prometheus.NewDesc("edged_fleet_connections_lost_total", "Fleet link connections lost.", nil, nil)
	descOutbox    = prometheus.NewDesc("edged_fleet_outbox_messages", "Reports waiting in the outbox to be sent.", nil, nil)
	descDropped   = prometheus.NewDesc("edged_fleet_outbox_dropped_total", "Reports dropped from the full outbox.", nil, nil)
	descSent      = prometheus.NewDesc("edged_fleet_sent_bytes_total", "Payload bytes published to the broker.", nil, nil)
	descSrcIn     = prometheus.NewDesc("edged_source_readings_total", "Readings taken by each input source.", []string{"source"}, nil)
	descSrcOut    = prometheus.NewDesc("edged_source_results_total", "Results produced from each input source's readings.", []string{"source"}, nil)
	descSrcErr    = prometheus.NewDesc("edged_source_errors_total", "Readings of each input source that produced no result.", []string{"source"}, nil)
	descSrcLast   = prometheus.NewDesc("edged_source_last_reading_timestamp_seconds", "When each input source last took a reading (Unix time).", []string{"source"}, nil)

	descOTAVersion  = prometheus.NewDesc("edged_ota_active_version", "Version of each model active in the model store (deployed over the air).", []string{"model"}, nil)
	descOTAPrevious = prometheus.NewDesc("edged_ota_previous_version", "Version of each model that a rollback returns to.", []string{"model"}, nil)
	descOTALast     = prometheus.NewDesc("edged_ota_last_outcome_timestamp_seconds", "When the last command or canary decision on each model ended (Unix time), with the command and its outcome (active, shadow, canary, rolled_back, failed, rejected, skipped, done, ...).", []string{"model", "op", "outcome"}, nil)
	descOTABytes    = prometheus.NewDesc("edged_ota_download_bytes", "Bytes held of each model file being downloaded.", []string{"model", "version"}, nil)
	descOTASize     = prometheus.NewDesc("edged_ota_download_size_bytes", "Size of each model file being downloaded.", []string{"model", "version"}, nil)
	descOTARollback = prometheus.NewDesc("edged_ota_rollbacks_total", "Model versions left for an earlier one: rollback commands, candidates rolled back, versions that failed to start, crash loops.", nil, nil)

	descCanaryPhase    = prometheus.NewDesc("edged_canary_phase", "Candidate version under evaluation for each model (value 1), with its phase: shadow, canary or hold.", []string{"model", "candidate", "phase"}, nil)
	descCanaryReq      = prometheus.NewDesc("edged_canary_requests_total", "Requests each arm (active or candidate) served since the canary phase began.", []string{"model", "arm"}, nil)
	descCanaryErr      = prometheus.NewDesc("edged_canary_errors_total", "Requests each arm failed since the canary phase began.", []string{"model", "arm"}, nil)
	descCanaryLatency  = prometheus.NewDesc("edged_canary_latency_seconds", "Latency of the requests each arm answered since the canary phase began.", []string{"model", "arm"}, nil)
	descCanaryP        = prometheus.NewDesc("edged_canary_p_value", "Two-sided p-value of the A/B test between the arms, with the test (fisher, z, welch-z).", []string{"model", "test"}, nil)
	descShadowN        = prometheus.NewDesc("edged_canary_shadow_comparisons_total", "Shadow comparisons of the candidate with the active version.", []string{"model"}, nil)
	descShadowDisagree = prometheus.NewDesc("edged_canary_shadow_disagreement_ratio", "Share of the shadow comparisons whose top class differed.", []string{"model"}, nil)
)

// throttleBits name the get_throttled word's condition bits (the same
// bit plus 16 is "since boot").
var throttleBits = []string{"under_voltage", "frequency_capped", "throttled", "soft_temperature_limit"}

func (set *Set) export(s *Snapshot, ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	set.mu.Lock()
	for name, ok := range set.ok {
		gauge(descSuccess, b2f(ok), name)
	}
	set.mu.Unlock()
	if s.CPUTemp != nil {
		gauge(descCPUTemp, *s.CPUTemp)
	}
	if s.Uptime > 0 {
		gauge(descUptime, float64(s.Uptime))
	}
	if sys := s.System; sys != nil {
		if set.ok["cpu"] {
			gauge(descCPU, sys.CPU)
		}
		if set.ok["load"] {
			gauge(descLoad, sys.Load1)
		}
		if sys.MemTotal > 0 {
			gauge(descMemUsed, float64(sys.MemUsed<<20))
			gauge(descMemTotal, float64(sys.MemTotal<<20))
		}
		if sys.DiskTotal > 0 {
			gauge(descDiskFree, float64(sys.DiskFree<<20))
			gauge(descDiskTotal, float64(sys.DiskTotal<<20))
		}
		zones := make([]string, 0, len(sys.Zones))
		for z := range sys.Zones {
			zones = append(zones, z)
		}
		sort.Strings(zones)
		for _, z := range zones {
			gauge(descTemp, sys.Zones[z], z)
		}
		if f := sys.ThrottleFlags; f != nil {
			for i, name := range throttleBits {
				gauge(descThrottle, b2f(*f&(1<<i) != 0), name, "false")
				gauge(descThrottle, b2f(*f&(1<<(i+16)) != 0), name, "true")
			}
		}
	}
	if l := s.Link; l != nil {
		gauge(descConnected, b2f(l.Connected))
		counter(descReconn, float64(l.Reconnects))
		gauge(descOutbox, float64(l.Outbox))
		counter(descDropped, float64(l.Dropped))
		counter(descSent, float64(l.SentBytes))
	}
	for _, src := range s.Sources {
		counter(descSrcIn, float64(src.In), src.Name)
		counter(descSrcOut, float64(src.Out), src.Name)
		counter(descSrcErr, float64(src.Errors), src.Name)
		if !src.Last.IsZero() {
			gauge(descSrcLast, float64(src.Last.UnixMilli())/1e3, src.Name)
		}
	}
	if o := s.OTA; o != nil {
		for _, m := range o.Models {
			if v, err := strconv.ParseUint(m.Version, 10, 64); err == nil {
				gauge(descOTAVersion, float64(v), m.Name)
			}
			if v, err := strconv.ParseUint(m.Previous, 10, 64); err == nil {
				gauge(descOTAPrevious, float64(v), m.Name)
			}
			if m.At != 0 {
				gauge(descOTALast, float64(m.At), m.Name, m.Op, m.Outcome)
			}
		}
		for _, d := range o.Downloads {
			gauge(descOTABytes, float64(d.Bytes), d.Model, d.Version)
			gauge(descOTASize, float64(d.Size), d.Model, d.Version)
		}
		counter(descOTARollback, float64(o.Rollbacks))
	}
	for _, c := range s.Canaries {
		gauge(descCanaryPhase, 1, c.Model, c.Candidate, c.Phase)
		for _, a := range []struct {
			name string
			f    *fleet.ArmTelemetry
		}{{"active", c.Active}, {"candidate", c.Cand}} {
			if a.f == nil {
				continue
			}
			counter(descCanaryReq, float64(a.f.N), c.Model, a.name)
			counter(descCanaryErr, float64(a.f.Errors), c.Model, a.name)
			n := a.f.N - min(a.f.Errors, a.f.N)
			ch <- prometheus.MustNewConstSummary(descCanaryLatency, n, float64(n)*a.f.Mean/1e3,
				map[float64]float64{0.5: a.f.P50 / 1e3, 0.99: a.f.P99 / 1e3}, c.Model, a.name)
		}
		if c.P != nil {
			gauge(descCanaryP, *c.P, c.Model, c.Test)
		}
		if sh := c.Shadow; sh != nil {
			counter(descShadowN, float64(sh.N), c.Model)
			gauge(descShadowDisagree, sh.Disagree, c.Model)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Metrics is the set as a prometheus.Collector (register it with the
// registry /metrics serves). It is unchecked: its series depend on the
// host.
func (set *Set) Metrics() prometheus.Collector { return metrics{set} }

type metrics struct{ set *Set }

func (m metrics) Describe(chan<- *prometheus.Desc)    {}
func (m metrics) Collect(ch chan<- prometheus.Metric) { m.set.export(m.set.Snapshot(), ch) }

// ClientStats is what the Link collector reads of the fleet client.
type ClientStats interface {
	Stats() fleet.Stats
}

// OutboxStats is what the Link collector reads of the outbox.
type OutboxStats interface {
	Stats() outbox.Stats
}

// Link reports the fleet link: reconnections, the outbox, bytes sent.
type Link struct {
	Client ClientStats
	Outbox OutboxStats
}

// Collect implements Collector.
func (l Link) Collect(s *Snapshot) error {
	if l.Client == nil {
		return ErrNoData
	}
	cs := l.Client.Stats()
	lt := &fleet.LinkTelemetry{Connected: cs.Connected, Reconnects: cs.Lost, SentBytes: cs.PublishedBytes, LastError: clip(cs.LastError, 80)}
	if l.Outbox != nil {
		os := l.Outbox.Stats()
		lt.Outbox = os.Pending
		for _, n := range os.Dropped {
			lt.Dropped += n
		}
	}
	s.Link = lt
	return nil
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

// SourceStats gives the input sources' counters.
type SourceStats interface {
	SourceTelemetry() []fleet.SourceTelemetry
}

// Sources reports the input sources' counters.
type Sources struct {
	Src SourceStats
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Collect implements Collector.
func (c Sources) Collect(s *Snapshot) error {
	if c.Src == nil {
		return ErrNoData
	}
	s.Sources = c.Src.SourceTelemetry()
	if len(s.Sources) == 0 {
		return ErrNoData
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	for i := range s.Sources {
		if l := s.Sources[i].Last; !l.IsZero() {
			s.Sources[i].Age = max(int64(now.Sub(l)/time.Second), 0)
		}
	}
	return nil
}
