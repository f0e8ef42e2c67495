package inferstats

import (
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/infer"
)

// TestSuccess: a batch of 2 split into two items, one run by the model
// (1 ms in the queue, 0.5 ms in the cache's lookup and insertion), one a
// cache hit. Decoding took 2 ms, running both 10 ms (5 ms each), the
// answer 1 ms; the whole request 14 ms.
func TestSuccess(t *testing.T) {
	var tb Table
	t0 := time.Unix(1700000000, 0)
	ms := time.Millisecond
	tb.Success("m", "1", Request{Start: t0, Decode: t0.Add(ms), Decoded: t0.Add(3 * ms), Ran: t0.Add(13 * ms), Done: t0.Add(14 * ms), Size: 2, Cached: true,
		Results: []*infer.Response{{Queue: ms, CacheMiss: ms / 2}, {CacheHit: true}}})
	tb.Fail("m", "1", 7*ms)
	l := tb.List("m", "")
	if len(l) != 1 {
		t.Fatalf("List = %+v; want one entry", l)
	}
	got := l[0]
	want := Model{Name: "m", Version: "1", LastInference: t0.UnixMilli(), InferenceCount: 2, ExecutionCount: 1, BatchStats: got.BatchStats,
		InferenceStats: Inference{
			Success: Duration{1, uint64(14 * ms)}, Fail: Duration{1, uint64(7 * ms)}, Queue: Duration{1, uint64(ms)},
			ComputeInput: Duration{1, uint64(2 * ms)}, ComputeInfer: Duration{1, uint64(5*ms - ms - ms/2)}, ComputeOutput: Duration{1, uint64(ms)},
			CacheHit: Duration{1, uint64(5 * ms)}, CacheMiss: Duration{1, uint64(ms / 2)},
		}}
	if got.InferenceStats != want.InferenceStats || got.Name != want.Name || got.InferenceCount != 2 || got.ExecutionCount != 1 || got.LastInference != want.LastInference {
		t.Errorf("entry\n%+v\nwant\n%+v", got, want)
	}
	if l := tb.List("m", "2"); len(l) != 0 {
		t.Errorf("List(m, 2) = %+v; want none", l)
	}
}
