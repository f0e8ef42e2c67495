package pipeline

import (
	"context"

	"github.com/edged-dev/edged/agent/infer"
)

// Check refuses, with infer.ErrBadInput, a request whose inputs do not fit
// the model: the one check of a request's inputs, before the cache keys on
// them and before a bad request can spoil a batch.
func Check(info infer.ModelInfo) infer.Middleware {
	return func(next infer.Handler) infer.Handler {
		return infer.HandlerFunc(func(ctx context.Context, req *infer.Request) (*infer.Response, error) {
			if err := info.CheckInputs(req.Inputs); err != nil {
				return nil, err
			}
			return next.Handle(ctx, req)
		})
	}
}

// Tap passes every answered request's inputs and outputs to observe (the
// drift monitor), cache hits included; observe must not block.
func Tap(observe func(in, out []infer.Tensor)) infer.Middleware {
	return func(next infer.Handler) infer.Handler {
		return infer.HandlerFunc(func(ctx context.Context, req *infer.Request) (*infer.Response, error) {
			resp, err := next.Handle(ctx, req)
			if err == nil {
				observe(req.Inputs, resp.Outputs)
			}
			return resp, err
		})
	}
}
