// Package inferstats keeps Triton's statistics extension's figures: per
// model version, counts and cumulative durations of the inference
// requests the local endpoints (HTTP and gRPC) served. One Table is
// shared by both, so GET /v2/models/stats counts every request.
package inferstats

import (
	"sort"
	"sync"
	"time"

	"github.com/edged-dev/edged/agent/infer"
)

// Duration is Triton's {"count", "ns"} pair.
type Duration struct {
	Count uint64 `json:"count"`
	NS    uint64 `json:"ns"`
}

func (d *Duration) add(t time.Duration) {
	d.Count++
	d.NS += uint64(max(t, 0))
}

// Inference are Triton's inference_stats: success and fail are whole
// requests (arrival to answer); queue is the wait for a batch;
// compute_input decoding the request; compute_infer the model's run (the
// pipeline's time less the queue and the cache); compute_output encoding
// the answer; cache_hit the requests the result cache answered (their
// pipeline time), cache_miss the ones it did not (looking the request up
// and inserting its answer).
type Inference struct {
	Success       Duration `json:"success"`
	Fail          Duration `json:"fail"`
	Queue         Duration `json:"queue"`
	ComputeInput  Duration `json:"compute_input"`
	ComputeInfer  Duration `json:"compute_infer"`
	ComputeOutput Duration `json:"compute_output"`
	CacheHit      Duration `json:"cache_hit"`
	CacheMiss     Duration `json:"cache_miss"`
}

// Model is one entry of Triton's model_stats. inference_count counts
// inferences (a request of batch k counts k), execution_count the model
// runs they took (cache hits take none; requests the batcher groups count
// one each).
type Model struct {
	Name           string    `json:"name"`
	Version        string    `json:"version"`
	LastInference  int64     `json:"last_inference"` // ms since the Unix epoch
	InferenceCount uint64    `json:"inference_count"`
	ExecutionCount uint64    `json:"execution_count"`
	InferenceStats Inference `json:"inference_stats"`
	BatchStats     []any     `json:"batch_stats"`
}

// Zero is the entry of a model version not asked yet.
func Zero(name, version string) Model {
	return Model{Name: name, Version: version, BatchStats: []any{}}
}

// Table holds every model version's statistics; the zero Table is ready.
type Table struct {
	mu sync.Mutex
	m  map[[2]string]*Model
}

func (t *Table) update(name, version string, f func(*Model)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[[2]string]*Model{}
	}
	k := [2]string{name, version}
	ms := t.m[k]
	if ms == nil {
		m := Zero(name, version)
		ms = &m
		t.m[k] = ms
	}
	f(ms)
}

// Fail counts a failed request of a model version that took d.
func (t *Table) Fail(name, version string, d time.Duration) {
	t.update(name, version, func(ms *Model) { ms.InferenceStats.Fail.add(d) })
}

// Request is an answered request's timeline: it arrived at Start, was
// decoded from Decode to Decoded, ran (every item of a split batch) until
// Ran and was answered at Done; Size is its batch, Results its items'
// responses, Cached whether the model has a result cache.
type Request struct {
	Start, Decode, Decoded, Ran, Done time.Time
	Size                              int
	Results                           []*infer.Response
	Cached                            bool
}

// Success counts an answered request.
func (t *Table) Success(name, version string, r Request) {
	t.update(name, version, func(ms *Model) {
		st := &ms.InferenceStats
		ms.LastInference = r.Start.UnixMilli()
		ms.InferenceCount += uint64(r.Size)
		st.ComputeInput.add(r.Decoded.Sub(r.Decode))
		st.ComputeOutput.add(r.Done.Sub(r.Ran))
		each := r.Ran.Sub(r.Decoded) / time.Duration(max(len(r.Results), 1))
		for _, res := range r.Results {
			switch {
			case res.CacheHit:
				st.CacheHit.add(each)
				continue
			case r.Cached:
				st.CacheMiss.add(res.CacheMiss)
			}
			ms.ExecutionCount++
			st.Queue.add(res.Queue)
			st.ComputeInfer.add(each - res.Queue - res.CacheMiss)
		}
		st.Success.add(r.Done.Sub(r.Start))
	})
}

// List copies the statistics of name (every model when ""), version
// (every version when ""), sorted by name and version.
func (t *Table) List(name, version string) []Model {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []Model{}
	for k, ms := range t.m {
		if (name == "" || k[0] == name) && (version == "" || k[1] == version) {
			out = append(out, *ms)
		}
	}
	Sort(out)
	return out
}

// Sort orders entries by name, then version.
func Sort(l []Model) {
	sort.Slice(l, func(i, j int) bool {
		if l[i].Name != l[j].Name {
			return l[i].Name < l[j].Name
		}
		return l[i].Version < l[j].Version
	})
}
