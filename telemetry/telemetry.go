// Package telemetry builds the device's periodic snapshot (the fleet
// Telemetry message on edged/v1/dev/{id}/telemetry) from small collectors
// and publishes it at an interval, QoS 0: a lost snapshot is replaced by
// the next one, so it does not go through the outbox.
//
// A Collector has one method and fills its part of the snapshot; one that
// finds nothing on this host (no thermal zone in a container) returns
// ErrNoData and is left out quietly. Filesystem readers take their root
// as an fs.FS so that tests read fixture trees. A Set of named collectors
// (host: CPU, load, memory, disk, thermal zones, throttling, uptime; the
// fleet link; the input sources; the model store and downloads (OTA); the
// candidates under evaluation (Canaries)) feeds both the snapshot and
// /metrics (Set.Metrics), with a success gauge per collector, in the
// manner of the Prometheus node exporter; the per-model figures come from
// the request pipeline's counters (Models).
//
// # Budget
//
// At the default interval (60 s) a Raspberry Pi serving one model with
// one source and a fleet link sends about 600 bytes of JSON per snapshot;
// with the MQTT header and topic that is about 38.5 KB an hour before
// TCP/TLS framing (TestBytesPerHour measures it; the budget is 40 KB).
// The OTA section rides only in the hour after a model's deployment ends
// and while a download runs (the retained state names the versions); a
// candidate under evaluation adds its figures while it runs.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edged-dev/edged/fleet"
)

// Snapshot is the message a snapshot is published as.
type Snapshot = fleet.Telemetry

// ErrNoData is returned by a Collector that has nothing to report on this
// host; the snapshot is sent without its part.
var ErrNoData = errors.New("telemetry: no data on this host")

// Collector fills its part of a snapshot.
type Collector interface {
	Collect(s *Snapshot) error
}

// CollectorFunc adapts a function to a Collector.
type CollectorFunc func(s *Snapshot) error

// Collect calls f.
func (f CollectorFunc) Collect(s *Snapshot) error { return f(s) }

// PublishFunc sends one message (fleet.Client.Publish has this shape).
type PublishFunc func(ctx context.Context, topic string, payload []byte, qos byte, retained bool) error

// Publisher collects and publishes snapshots at an interval.
type Publisher struct {
	// Topic is where snapshots go: fleet.TelemetryTopic(id).
	Topic      string
	Interval   time.Duration
	Collectors []Collector
	Publish    PublishFunc
	// Now is the clock; default time.Now.
	Now func() time.Time
	Log *slog.Logger

	mu   sync.Mutex
	kick chan struct{}
}

// MinRequestGap is the least time between two snapshots sent on
// Request: asking more often (a ping is unsigned) sends no more.
const MinRequestGap = time.Second

// Request asks Run to publish a snapshot now, out of turn (an operator
// asked the device for its figures). The next one follows a whole
// Interval later, so that the per-interval figures cover contiguous
// windows; the early snapshot's interval_s is the time since the
// previous one.
func (p *Publisher) Request() {
	select {
	case p.kicks() <- struct{}{}:
	default:
	}
}

func (p *Publisher) kicks() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.kick == nil {
		p.kick = make(chan struct{}, 1)
	}
	return p.kick
}

// Snapshot runs every collector; a collector's error (other than
// ErrNoData) is returned after the others have run, with the snapshot
// they made. Of the OTA section it keeps what the retained state does not
// say (wireOTA).
func (p *Publisher) Snapshot() (*Snapshot, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	s := &Snapshot{V: fleet.Version, Time: now().UTC().Truncate(time.Second), Interval: p.Interval.Seconds()}
	var errs []error
	for _, c := range p.Collectors {
		if err := c.Collect(s); err != nil && !errors.Is(err, ErrNoData) {
			errs = append(errs, err)
		}
	}
	s.OTA = wireOTA(s.OTA, s.Time)
	return s, errors.Join(errs...)
}

// Encode collects a snapshot and encodes it as it is sent.
func (p *Publisher) Encode() ([]byte, error) {
	s, err := p.Snapshot()
	if err != nil && p.Log != nil {
		p.Log.Warn("telemetry: collector failed", "err", err)
	}
	b, err := fleet.Encode(s)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	return b, nil
}

// Run publishes a snapshot every Interval until ctx ends. A publish that
// fails (no connection) is skipped: the next snapshot carries the
// counters anyway.
func (p *Publisher) Run(ctx context.Context) error {
	if p.Interval <= 0 || p.Publish == nil || p.Topic == "" {
		return errors.New("telemetry: want a topic, an interval > 0 and a publish function")
	}
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	kick := p.kicks()
	last, lastEarly := time.Now(), time.Time{}
	for {
		early := false
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-kick:
			if time.Since(lastEarly) < MinRequestGap {
				continue
			}
			early = true
		}
		s, err := p.Snapshot()
		if err != nil && p.Log != nil {
			p.Log.Warn("telemetry: collector failed", "err", err)
		}
		now := time.Now()
		if early {
			s.Interval = now.Sub(last).Seconds()
			lastEarly = now
			t.Reset(p.Interval)
		}
		last = now
		b, err := fleet.Encode(s)
		if err == nil {
			err = p.Publish(ctx, p.Topic, b, 0, false)
		}
		if err != nil && ctx.Err() == nil && p.Log != nil {
			p.Log.Debug("telemetry: snapshot not sent", "err", err)
		}
	}
}
