package cache

import (
	"context"
	"log/slog"
	"time"

	"github.com/edged-dev/edged/agent/infer"
)

// Stage is the cache stage of a model version's pipeline: it answers a
// request from the store when its inputs were seen before, and stores the
// answer of a miss. model is the version's sha256 (hex); the key is the
// input bytes as the model takes them, so readings that quantize alike
// share an entry. A request with NoCache passes through. A store that
// cannot be read or written is logged and bypassed: the model answers.
func (s *Store) Stage(model string, log *slog.Logger) infer.Middleware {
	return func(next infer.Handler) infer.Handler {
		return infer.HandlerFunc(func(ctx context.Context, req *infer.Request) (*infer.Response, error) {
			if req.NoCache {
				return next.Handle(ctx, req)
			}
			var key []byte
			for _, t := range req.Inputs {
				key = append(key, t.Data...)
			}
			start := time.Now()
			out, ok, err := s.Get(model, key)
			if err == nil && ok {
				return &infer.Response{Outputs: out, CacheHit: true}, nil
			}
			if err != nil {
				log.Warn("cache read", "model", req.Model, "err", err)
			}
			lookup := time.Since(start)
			resp, err := next.Handle(ctx, req)
			if err == nil {
				start := time.Now()
				if perr := s.Put(model, key, resp.Outputs); perr != nil {
					log.Warn("cache write", "model", req.Model, "err", perr)
				}
				resp.CacheMiss = lookup + time.Since(start)
			}
			return resp, err
		})
	}
}
