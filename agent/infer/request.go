package infer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Request is one inference request as it travels down a model version's
// pipeline.
type Request struct {
	// Model and Version name what serves it; Version "" is the version
	// served now (and the request may take part in a canary experiment).
	Model   string
	Version string
	// ID is the caller's request id ("" for none): a canary routes a
	// request by it and scores later feedback that names it.
	ID     string
	Inputs []Tensor
	// Deadline, when set, ends the request with context.DeadlineExceeded
	// at that time, whatever its context allows.
	Deadline time.Time
	// NoCache answers the request without the result cache: the canary
	// times both of its arms over the same path.
	NoCache bool
}

// Response is a request's answer.
type Response struct {
	Outputs []Tensor
	// Version is the model version that answered.
	Version string
	// CacheHit is set when the result cache answered.
	CacheHit bool
	// Queue is how long the request waited for its batch.
	Queue time.Duration
	// CacheMiss is how long the result cache took to look the request up
	// and store its answer, when it did not have it.
	CacheMiss time.Duration
}

// Handler serves requests; each stage of a pipeline is one.
type Handler interface {
	Handle(ctx context.Context, req *Request) (*Response, error)
}

// HandlerFunc is a function as a Handler.
type HandlerFunc func(ctx context.Context, req *Request) (*Response, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req *Request) (*Response, error) { return f(ctx, req) }

// Middleware is a stage of a pipeline: it does its part of a request and
// hands it on to the next stage.
type Middleware func(next Handler) Handler

// Pipeline stacks stages on h: the first stage sees a request first.
// Nil stages (ones a model does not use) are left out.
func Pipeline(h Handler, stages ...Middleware) Handler {
	for i := len(stages) - 1; i >= 0; i-- {
		if stages[i] != nil {
			h = stages[i](h)
		}
	}
	return h
}

// Outcome is how a request ended, as the edged_inferences_total metric
// labels it: ok, bad_input, overloaded, not_ready, deadline or error.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrBadInput):
		return "bad_input"
	case errors.Is(err, ErrOverloaded):
		return "overloaded"
	case errors.Is(err, ErrNotReady):
		return "not_ready"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "deadline"
	}
	return "error"
}

// CheckInputs reports, wrapping ErrBadInput, whether inputs fit the
// model's: count, types, shapes (when given) and sizes.
func (mi ModelInfo) CheckInputs(in []Tensor) error {
	if len(in) != len(mi.Inputs) {
		return fmt.Errorf("%w: model %q takes %d inputs; got %d", ErrBadInput, mi.Name, len(mi.Inputs), len(in))
	}
	for i, t := range in {
		want := mi.Inputs[i]
		if t.DType != want.DType {
			return fmt.Errorf("%w: input %d %q is %s; the model takes %s", ErrBadInput, i, want.Name, t.DType, want.DType)
		}
		if t.Shape != nil && !tensor.SameShape(t.Shape, want.Shape) {
			return fmt.Errorf("%w: input %d %q has shape %v; the model takes %v", ErrBadInput, i, want.Name, t.Shape, want.Shape)
		}
		if n := tensor.NumElements(want.Shape) * want.DType.Size(); len(t.Data) != n {
			return fmt.Errorf("%w: input %d %q has %d bytes; %s%v needs %d", ErrBadInput, i, want.Name, len(t.Data), want.DType, want.Shape, n)
		}
	}
	return nil
}
