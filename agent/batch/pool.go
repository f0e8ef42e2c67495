package batch

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/edged-dev/edged/agent/infer"
)

// Pool is the batcher stage of a model version's pipeline: one Batcher
// per instance of the model, a request going to the least loaded one. It
// is the pipeline's last Handler; its Batchers hand batches to the
// executor.
type Pool struct {
	model    string
	batchers []*Batcher
	next     atomic.Uint64
}

// NewPool serves model's requests with bs (at least one).
func NewPool(model string, bs ...*Batcher) *Pool {
	return &Pool{model: model, batchers: bs}
}

// Handle submits the request's inputs to the least loaded Batcher.
func (p *Pool) Handle(ctx context.Context, req *infer.Request) (*infer.Response, error) {
	best := p.batchers[int(p.next.Add(1)%uint64(len(p.batchers)))]
	for _, b := range p.batchers {
		if b.Len() < best.Len() {
			best = b
		}
	}
	out, wait, err := best.submit(ctx, req.Inputs)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", p.model, err)
	}
	return &infer.Response{Outputs: out, Queue: wait}, nil
}

// Len is the number of requests waiting in the Pool.
func (p *Pool) Len() int {
	n := 0
	for _, b := range p.batchers {
		n += b.Len()
	}
	return n
}

// Size is the number of Batchers.
func (p *Pool) Size() int { return len(p.batchers) }

// Admit fails with infer.ErrOverloaded when every Batcher would refuse a
// new request.
func (p *Pool) Admit() error {
	for _, b := range p.batchers {
		if !b.WouldReject() {
			return nil
		}
	}
	return fmt.Errorf("model %q: %w: every instance's queue is full", p.model, infer.ErrOverloaded)
}

// Shutdown stops the Batchers: waiting requests run first, within ctx,
// and the ones left when ctx ends get ErrClosed.
func (p *Pool) Shutdown(ctx context.Context) {
	for _, b := range p.batchers {
		if err := b.Shutdown(ctx); err != nil {
			b.Close()
		}
	}
}

// BatchSizes adds up the batch size histograms of the pool's batchers.
func (p *Pool) BatchSizes() []SizeCount {
	var out []SizeCount
	for _, b := range p.batchers {
		for i, sc := range b.m.Sizes() {
			if i < len(out) && out[i].Size == sc.Size {
				out[i].Batches += sc.Batches
			} else if i == len(out) {
				out = append(out, sc)
			}
		}
	}
	return out
}
