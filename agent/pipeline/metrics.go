package pipeline

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edged-dev/edged/agent/batch"
	"github.com/edged-dev/edged/agent/infer"
)

// Metrics are the inference metrics every model version's pipeline
// records into.
type Metrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	cacheHit *prometheus.HistogramVec
}

// NewMetrics registers the inference metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edged_inferences_total",
			Help: "Inference requests by model, version and outcome."}, []string{"model", "version", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "edged_inference_duration_seconds",
			Help: "Time from request to result, including queueing.", Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18)}, []string{"model", "version"}),
		cacheHit: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "edged_cache_hit_duration_seconds",
			Help: "Time to answer a request from the result cache.", Buckets: prometheus.ExponentialBuckets(5e-6, 2, 16)}, []string{"model"}),
	}
	reg.MustRegister(m.total, m.duration, m.cacheHit)
	return m
}

// Stage is the first stage of a version's pipeline: it times each request
// from here to its answer and counts it by outcome, in the Prometheus
// metrics and in c. It sets the Response's Version. A request refused by
// a version that is closing (batch.ErrClosed) is not counted: the router
// retries it on the new version, which counts it.
func (m *Metrics) Stage(info infer.ModelInfo, c *Counters) infer.Middleware {
	duration := m.duration.WithLabelValues(info.Name, info.Version)
	cacheHit := m.cacheHit.WithLabelValues(info.Name)
	return func(next infer.Handler) infer.Handler {
		return infer.HandlerFunc(func(ctx context.Context, req *infer.Request) (*infer.Response, error) {
			start := time.Now()
			resp, err := next.Handle(ctx, req)
			d := time.Since(start)
			switch {
			case errors.Is(err, batch.ErrClosed):
				return resp, err
			case err != nil:
				outcome := infer.Outcome(err)
				m.total.WithLabelValues(info.Name, info.Version, outcome).Inc()
				c.failed(outcome)
				return resp, err
			case resp.CacheHit:
				m.total.WithLabelValues(info.Name, info.Version, "cache_hit").Inc()
				cacheHit.Observe(d.Seconds())
			default:
				m.total.WithLabelValues(info.Name, info.Version, "ok").Inc()
				duration.Observe(d.Seconds())
			}
			c.observe(d, resp.CacheHit)
			resp.Version = info.Version
			return resp, nil
		})
	}
}

// LatencyBounds are the upper bounds (seconds) of the telemetry latency
// histogram's buckets: 50µs doubling to 6.5s; one more bucket counts the
// rest.
var LatencyBounds = func() []float64 {
	b := make([]float64, 18)
	for i := range b {
		b[i] = 50e-6 * float64(uint(1)<<i)
	}
	return b
}()

// Counters count a model version's requests for telemetry: a few atomic
// adds per request.
type Counters struct {
	inferences, cacheHits, errors atomic.Uint64
	latency                       [19]atomic.Uint64 // len(LatencyBounds)+1

	mu       sync.Mutex
	outcomes map[string]uint64 // errors by outcome
}

func (c *Counters) failed(outcome string) {
	c.errors.Add(1)
	c.mu.Lock()
	if c.outcomes == nil {
		c.outcomes = map[string]uint64{}
	}
	c.outcomes[outcome]++
	c.mu.Unlock()
}

func (c *Counters) observe(d time.Duration, cacheHit bool) {
	c.inferences.Add(1)
	if cacheHit {
		c.cacheHits.Add(1)
	}
	sec := d.Seconds()
	i := 0
	for i < len(LatencyBounds) && sec > LatencyBounds[i] {
		i++
	}
	c.latency[i].Add(1)
}

// Snapshot is what Counters have counted.
type Snapshot struct {
	Inferences, CacheHits, Errors uint64
	// Latency counts answers per bucket of LatencyBounds, the last one
	// past the largest bound.
	Latency []uint64
	// Outcomes counts the errors by outcome (infer.Outcome).
	Outcomes map[string]uint64
}

// Snapshot reads the counters.
func (c *Counters) Snapshot() Snapshot {
	s := Snapshot{Inferences: c.inferences.Load(), CacheHits: c.cacheHits.Load(), Errors: c.errors.Load(), Latency: make([]uint64, len(c.latency))}
	for i := range c.latency {
		s.Latency[i] = c.latency[i].Load()
	}
	c.mu.Lock()
	if len(c.outcomes) > 0 {
		s.Outcomes = maps.Clone(c.outcomes)
	}
	c.mu.Unlock()
	return s
}
