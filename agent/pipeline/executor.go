package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edged-dev/edged/agent/batch"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/runtime/tensor"
)

// Executor is the last stage of a model version's pipeline: it runs the
// batches its batchers hand it on the model's delegate chain, and knows
// how long the oldest invocation has been running (the watchdog's
// question).
type Executor struct {
	chain *delegates.Chain
	info  infer.ModelInfo
	// first is the chain's first backend; falls counts the requests a
	// later one answered.
	first string
	falls prometheus.Counter

	mu    sync.Mutex
	slots []*execSlot
}

// NewExecutor runs info's batches on chain; falls counts the requests
// served further down the chain than its first backend (nil: not
// counted).
func NewExecutor(chain *delegates.Chain, info infer.ModelInfo, falls prometheus.Counter) *Executor {
	return &Executor{chain: chain, info: info, first: chain.Status()[0].Delegate, falls: falls}
}

// Chain is the model's delegate chain.
func (e *Executor) Chain() *delegates.Chain { return e.chain }

// Invoker returns a batch.Invoker for one batcher: each batcher has its
// own, so that the time its invocation started is its own.
func (e *Executor) Invoker() batch.Invoker {
	s := &execSlot{e: e}
	e.mu.Lock()
	e.slots = append(e.slots, s)
	e.mu.Unlock()
	return s
}

// StuckSince returns the start of the oldest invocation still running, or
// the zero time.
func (e *Executor) StuckSince() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	var oldest int64
	for _, s := range e.slots {
		if b := s.busySince.Load(); b != 0 && (oldest == 0 || b < oldest) {
			oldest = b
		}
	}
	if oldest == 0 {
		return time.Time{}
	}
	return time.Unix(0, oldest)
}

// execSlot is one batcher's Invoker; busySince is the start of the
// invocation running on it (UnixNano), 0 when idle.
type execSlot struct {
	e         *Executor
	busySince atomic.Int64
}

// InvokeBatch implements batch.Invoker on the delegate chain.
func (s *execSlot) InvokeBatch(ctx context.Context, reqs [][]infer.Tensor) ([][]infer.Tensor, []error) {
	s.busySince.Store(time.Now().UnixNano())
	defer s.busySince.Store(0)
	return s.e.run(ctx, reqs)
}

func (e *Executor) run(ctx context.Context, reqs [][]infer.Tensor) ([][]infer.Tensor, []error) {
	ins, outs := make([][]tensor.Tensor, len(reqs)), make([][]tensor.Tensor, len(reqs))
	for k, req := range reqs {
		ins[k] = make([]tensor.Tensor, len(req))
		for i, t := range req {
			spec := e.info.Inputs[i]
			ins[k][i] = tensor.Tensor{Type: spec.DType, Shape: spec.Shape, Data: t.Data}
		}
		outs[k] = make([]tensor.Tensor, len(e.info.Outputs))
	}
	served, errs := e.chain.RunBatch(ctx, ins, outs)
	res := make([][]infer.Tensor, len(reqs))
	for k := range reqs {
		if err := errs[k]; err != nil {
			if errors.Is(err, delegates.ErrBadInput) {
				errs[k] = fmt.Errorf("%w: %w", infer.ErrBadInput, err)
			}
			continue
		}
		if served[k] != e.first && e.falls != nil {
			e.falls.Inc()
		}
		res[k] = make([]infer.Tensor, len(outs[k]))
		for j, o := range outs[k] {
			res[k][j] = infer.Tensor{Name: e.info.Outputs[j].Name, DType: o.Type, Shape: slices.Clone(o.Shape), Data: o.Data}
		}
	}
	return res, errs
}
