package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edged-dev/edged/agent/batch"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

var info = infer.ModelInfo{Name: "m", Version: "3",
	Inputs:  []infer.TensorSpec{{Name: "x", DType: tensor.Int8, Shape: []int{1, 2}}},
	Outputs: []infer.TensorSpec{{Name: "y", DType: tensor.Int8, Shape: []int{1, 1}}}}

// answer is the innermost handler: it answers from a function.
func answer(f func(*infer.Request) (*infer.Response, error)) infer.Handler {
	return infer.HandlerFunc(func(_ context.Context, r *infer.Request) (*infer.Response, error) { return f(r) })
}

func req(data ...byte) *infer.Request {
	return &infer.Request{Model: "m", Inputs: []infer.Tensor{{DType: tensor.Int8, Data: data}}}
}

// TestMetricsStage: each request is counted once under its outcome, cache
// hits apart, the telemetry counters agree, a version being swapped out
// counts nothing, and the answer carries the version.
func TestMetricsStage(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	var c Counters
	errs := map[byte]error{
		1: fmt.Errorf("%w: too big", infer.ErrBadInput),
		2: fmt.Errorf("%w: queue full", infer.ErrOverloaded),
		3: context.DeadlineExceeded,
		4: errors.New("kernel failed"),
		5: fmt.Errorf("model %q: %w", "m", batch.ErrClosed),
	}
	h := infer.Pipeline(answer(func(r *infer.Request) (*infer.Response, error) {
		d := r.Inputs[0].Data[0]
		if err := errs[d]; err != nil {
			return nil, err
		}
		return &infer.Response{CacheHit: d == 9}, nil
	}), m.Stage(info, &c))
	for _, d := range []byte{0, 0, 9, 1, 2, 3, 4, 5} {
		resp, err := h.Handle(context.Background(), req(d, 0))
		if err == nil && resp.Version != "3" {
			t.Errorf("input %d: response version %q; want 3", d, resp.Version)
		}
	}
	for outcome, want := range map[string]float64{"ok": 2, "cache_hit": 1, "bad_input": 1, "overloaded": 1, "deadline": 1, "error": 1, "not_ready": 0} {
		if got := testutil.ToFloat64(m.total.WithLabelValues("m", "3", outcome)); got != want {
			t.Errorf("edged_inferences_total{outcome=%q} = %g; want %g", outcome, got, want)
		}
	}
	s := c.Snapshot()
	var inBuckets uint64
	for _, n := range s.Latency {
		inBuckets += n
	}
	if s.Inferences != 3 || s.CacheHits != 1 || s.Errors != 4 || inBuckets != 3 {
		t.Errorf("counters %+v; want 3 inferences (1 cache hit) in the latency buckets and 4 errors", s)
	}
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Errorf("%d duration series; want 1", n)
	}
}

// TestCheckStage: inputs that do not fit the model never reach the next
// stage.
func TestCheckStage(t *testing.T) {
	reached := 0
	h := infer.Pipeline(answer(func(*infer.Request) (*infer.Response, error) { reached++; return &infer.Response{}, nil }), Check(info))
	if _, err := h.Handle(context.Background(), req(1, 2)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*infer.Request{req(1), req(1, 2, 3), {Model: "m"}, {Model: "m", Inputs: []infer.Tensor{{DType: tensor.UInt8, Data: []byte{1, 2}}}}} {
		if _, err := h.Handle(context.Background(), r); !errors.Is(err, infer.ErrBadInput) {
			t.Errorf("%+v: err %v; want ErrBadInput", r.Inputs, err)
		}
	}
	if reached != 1 {
		t.Errorf("the next stage saw %d requests; want 1", reached)
	}
}

// TestTapAndOrder: stages run in the order given, and the tap sees only
// answered requests.
func TestTapAndOrder(t *testing.T) {
	var trace []string
	mark := func(name string) infer.Middleware {
		return func(next infer.Handler) infer.Handler {
			return infer.HandlerFunc(func(ctx context.Context, r *infer.Request) (*infer.Response, error) {
				trace = append(trace, name)
				return next.Handle(ctx, r)
			})
		}
	}
	tapped := 0
	h := infer.Pipeline(answer(func(r *infer.Request) (*infer.Response, error) {
		if r.Inputs[0].Data[0] == 0 {
			return nil, errors.New("failed")
		}
		return &infer.Response{Outputs: r.Inputs}, nil
	}), mark("a"), nil, Tap(func(in, out []infer.Tensor) { tapped++ }), mark("b"))
	h.Handle(context.Background(), req(1))
	h.Handle(context.Background(), req(0))
	if got := strings.Join(trace, ""); got != "abab" {
		t.Errorf("stages ran %q; want abab", got)
	}
	if tapped != 1 {
		t.Errorf("tap saw %d requests; want the 1 answered", tapped)
	}
}
