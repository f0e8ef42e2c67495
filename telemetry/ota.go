package telemetry

import (
	"time"

	"github.com/edged-dev/edged/fleet"
)

// OTAStats gives the over-the-air updates' state: nil when the agent
// takes no deployments.
type OTAStats interface {
	OTATelemetry() *fleet.OTATelemetry
}

// OTA reports the model store's versions, each model's last deployment
// outcome, the downloads in progress and the rollbacks.
type OTA struct{ Src OTAStats }

// Collect implements Collector.
func (c OTA) Collect(s *Snapshot) error {
	if c.Src == nil {
		return ErrNoData
	}
	o := c.Src.OTATelemetry()
	if o == nil {
		return ErrNoData
	}
	s.OTA = o
	return nil
}

// CanaryStats gives the candidates under evaluation.
type CanaryStats interface {
	CanaryTelemetry() []fleet.CanaryTelemetry
}

// Canaries reports the candidates under evaluation (none is not a
// failure).
type Canaries struct{ Src CanaryStats }

// Collect implements Collector.
func (c Canaries) Collect(s *Snapshot) error {
	if c.Src == nil {
		return ErrNoData
	}
	s.Canaries = c.Src.CanaryTelemetry()
	return nil
}

// otaNews is how long after a model's last deployment outcome the
// snapshots carry it.
const otaNews = time.Hour

// wireOTA is what the snapshot sends of the OTA section: the models whose
// last outcome is less than otaNews old and the downloads in progress,
// with the rollbacks; nil when there are neither (the retained state has
// the versions).
func wireOTA(o *fleet.OTATelemetry, now time.Time) *fleet.OTATelemetry {
	if o == nil {
		return nil
	}
	w := &fleet.OTATelemetry{Downloads: o.Downloads, Rollbacks: o.Rollbacks}
	for _, m := range o.Models {
		if m.At != 0 && now.Sub(time.Unix(m.At, 0)) < otaNews {
			w.Models = append(w.Models, m)
		}
	}
	if len(w.Models) == 0 && len(w.Downloads) == 0 {
		return nil
	}
	return w
}
