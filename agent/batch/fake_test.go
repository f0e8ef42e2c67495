package batch

import (
	"context"
	"sync"
	"time"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/internal/clock"
	"github.com/edged-dev/edged/runtime/tensor"
)

// fakeInvoker echoes each request's one-byte id as its output, records
// batch sizes, and can fail chosen requests, hold batches at a gate, or
// take a fixed time per invocation plus per request.
type fakeInvoker struct {
	fail    func(id byte) error // nil: nothing fails
	gate    chan struct{}       // non-nil: each batch waits for a receive (or its ctx)
	started chan int            // non-nil: gets each batch's size as it starts
	perCall time.Duration
	perItem time.Duration

	mu      sync.Mutex
	sizes   []int
	ctxErrs []error // the batch context's error when a gated batch was released
}

func (f *fakeInvoker) InvokeBatch(ctx context.Context, reqs [][]infer.Tensor) ([][]infer.Tensor, []error) {
	f.mu.Lock()
	f.sizes = append(f.sizes, len(reqs))
	f.mu.Unlock()
	if f.started != nil {
		f.started <- len(reqs)
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
		}
		f.mu.Lock()
		f.ctxErrs = append(f.ctxErrs, ctx.Err())
		f.mu.Unlock()
	}
	if d := f.perCall + time.Duration(len(reqs))*f.perItem; d > 0 {
		time.Sleep(d)
	}
	outs := make([][]infer.Tensor, len(reqs))
	errs := make([]error, len(reqs))
	for i, in := range reqs {
		id := in[0].Data[0]
		if f.fail != nil {
			if errs[i] = f.fail(id); errs[i] != nil {
				continue
			}
		}
		outs[i] = []infer.Tensor{{Name: "out", DType: tensor.UInt8, Shape: []int{1}, Data: []byte{id}}}
	}
	return outs, errs
}

func (f *fakeInvoker) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.sizes...)
}

func input(id byte) []infer.Tensor {
	return []infer.Tensor{{Name: "in", DType: tensor.UInt8, Shape: []int{1}, Data: []byte{id}}}
}

// outID is the id a fakeInvoker echoed.
func outID(out []infer.Tensor) int {
	if len(out) != 1 || len(out[0].Data) != 1 {
		return -1
	}
	return int(out[0].Data[0])
}

// newFakeClock starts at the real time so that context deadlines set from
// it are in the real future too.
func newFakeClock() *clock.Fake { return clock.NewFake(time.Now().Truncate(time.Second)) }
