package batch

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metrics are a Batcher's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	queueDepth prometheus.Gauge
	batchSize  prometheus.Histogram
	queueWait  prometheus.Histogram
	rejects    prometheus.Counter
	drops      prometheus.Counter
}

// NewMetrics registers the batcher metrics with reg, labelled with
// labels (typically {"model": name}):
//
//	edged_batch_queue_depth            gauge: requests waiting for a batch
//	edged_batch_size                   histogram: requests per invocation
//	edged_batch_queue_wait_seconds     histogram: time from Submit to dispatch
//	edged_batch_rejected_total         counter: refused by a full queue (Reject)
//	edged_batch_dropped_total          counter: dropped for newer requests (DropOldest)
//
// Registering the same labels again returns metrics backed by the
// collectors already registered, so successive Batchers of one model (a
// model reload) share them; the depth gauge is only ever adjusted by
// deltas, so two Batchers alive during a swap add up correctly.
// maxBatch sizes the batch size histogram's buckets.
func NewMetrics(reg prometheus.Registerer, labels prometheus.Labels, maxBatch int) (*Metrics, error) {
	m := &Metrics{
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edged_batch_queue_depth", Help: "Requests waiting for a batch.", ConstLabels: labels,
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "edged_batch_size", Help: "Requests per batch invocation.", ConstLabels: labels,
			Buckets: sizeBuckets(maxBatch),
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "edged_batch_queue_wait_seconds", Help: "Time from Submit to the dispatch of the request's batch.", ConstLabels: labels,
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
		rejects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edged_batch_rejected_total", Help: "Requests refused because the queue was full.", ConstLabels: labels,
		}),
		drops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edged_batch_dropped_total", Help: "Waiting requests dropped for newer ones because the queue was full.", ConstLabels: labels,
		}),
	}
	var err error
	m.queueDepth = register(reg, m.queueDepth, &err)
	m.batchSize = register(reg, m.batchSize, &err)
	m.queueWait = register(reg, m.queueWait, &err)
	m.rejects = register(reg, m.rejects, &err)
	m.drops = register(reg, m.drops, &err)
	if err != nil {
		return nil, fmt.Errorf("batch metrics %v: %w", labels, err)
	}
	return m, nil
}

// register registers c, or returns the collector already registered
// under the same description.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if *errp == nil {
		*errp = err
	}
	return c
}

// sizeBuckets are 1, 2, 4, ... up to and including maxBatch.
func sizeBuckets(maxBatch int) []float64 {
	var b []float64
	for n := 1; n < maxBatch; n *= 2 {
		b = append(b, float64(n))
	}
	return append(b, float64(max(maxBatch, 1)))
}

func (m *Metrics) depth(delta int) {
	if m != nil && delta != 0 {
		m.queueDepth.Add(float64(delta))
	}
}

func (m *Metrics) batch(n int) {
	if m != nil {
		m.batchSize.Observe(float64(n))
	}
}

func (m *Metrics) waited(d time.Duration) {
	if m != nil {
		m.queueWait.Observe(d.Seconds())
	}
}

func (m *Metrics) rejected() {
	if m != nil {
		m.rejects.Inc()
	}
}

func (m *Metrics) dropped() {
	if m != nil {
		m.drops.Inc()
	}
}

// SizeCount is the number of batches of up to Size requests (one bucket
// of edged_batch_size, not cumulative).
type SizeCount struct {
	Size    int
	Batches uint64
}

// Sizes reads the batch size histogram, one entry per bucket.
func (m *Metrics) Sizes() []SizeCount {
	if m == nil {
		return nil
	}
	var d dto.Metric
	if err := m.batchSize.Write(&d); err != nil || d.Histogram == nil {
		return nil
	}
	var out []SizeCount
	var below uint64
	for _, b := range d.Histogram.Bucket {
		n := b.GetCumulativeCount()
		out = append(out, SizeCount{Size: int(b.GetUpperBound()), Batches: n - below})
		below = n
	}
	return out
}
