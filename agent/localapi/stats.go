package localapi

import (
	"net/http"
	"sort"
	"sync"
	"time"
)

// Triton's statistics extension: per model version, counts and
// cumulative durations of the inference requests this endpoint served.

// statDuration is Triton's {"count", "ns"} pair.
type statDuration struct {
	Count uint64 `json:"count"`
	NS    uint64 `json:"ns"`
}

func (d *statDuration) add(t time.Duration) {
	d.Count++
	d.NS += uint64(max(t, 0))
}

// inferenceStats are Triton's inference_stats: success and fail are
// whole requests (arrival to answer); queue is the wait for a batch;
// compute_input decoding the body; compute_infer the model's run (the
// pipeline's time less the queue); compute_output encoding the answer;
// cache_hit the requests the result cache answered (their pipeline time),
// cache_miss the ones it did not (count only: the lookup is not timed
// apart from the run, so its ns stays 0).
type inferenceStats struct {
	Success       statDuration `json:"success"`
	Fail          statDuration `json:"fail"`
	Queue         statDuration `json:"queue"`
	ComputeInput  statDuration `json:"compute_input"`
	ComputeInfer  statDuration `json:"compute_infer"`
	ComputeOutput statDuration `json:"compute_output"`
	CacheHit      statDuration `json:"cache_hit"`
	CacheMiss     statDuration `json:"cache_miss"`
}

// modelStats is one entry of Triton's model_stats. inference_count counts
// inferences (a request of batch k counts k), execution_count the model
// runs they took (cache hits take none; requests the batcher groups count
// one each).
type modelStats struct {
	Name           string         `json:"name"`
	Version        string         `json:"version"`
	LastInference  int64          `json:"last_inference"` // ms since the Unix epoch
	InferenceCount uint64         `json:"inference_count"`
	ExecutionCount uint64         `json:"execution_count"`
	InferenceStats inferenceStats `json:"inference_stats"`
	BatchStats     []any          `json:"batch_stats"`
}

// statsTable holds every model version's statistics.
type statsTable struct {
	mu sync.Mutex
	m  map[[2]string]*modelStats
}

// update applies f to the statistics of name/version under the lock.
func (t *statsTable) update(name, version string, f func(*modelStats)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[[2]string]*modelStats{}
	}
	k := [2]string{name, version}
	ms := t.m[k]
	if ms == nil {
		ms = &modelStats{Name: name, Version: version, BatchStats: []any{}}
		t.m[k] = ms
	}
	f(ms)
}

// list copies the statistics of name (every model when ""), version (every
// version when ""), sorted.
func (t *statsTable) list(name, version string) []modelStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []modelStats{}
	for k, ms := range t.m {
		if (name == "" || k[0] == name) && (version == "" || k[1] == version) {
			out = append(out, *ms)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// stats is GET /v2/models[/{name}[/versions/{version}]]/stats.
func (s *Server) modelStats(w http.ResponseWriter, r *http.Request) {
	name, version := r.PathValue("name"), r.PathValue("version")
	var list []modelStats
	if name == "" {
		list = s.stats.list("", "")
		// Models served but not asked yet report zeros, as in Triton.
		seen := map[[2]string]bool{}
		for _, ms := range list {
			seen[[2]string{ms.Name, ms.Version}] = true
		}
		for _, mi := range s.b.Models() {
			if !seen[[2]string{mi.Name, mi.Version}] {
				list = append(list, modelStats{Name: mi.Name, Version: mi.Version, BatchStats: []any{}})
			}
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Name+"\x00"+list[i].Version < list[j].Name+"\x00"+list[j].Version })
	} else {
		mi, err := s.b.Model(name, version)
		if err != nil {
			writeError(w, statusOf(err), err.Error())
			return
		}
		list = s.stats.list(mi.Name, version)
		if len(list) == 0 {
			list = []modelStats{{Name: mi.Name, Version: mi.Version, BatchStats: []any{}}}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"model_stats": list})
}
