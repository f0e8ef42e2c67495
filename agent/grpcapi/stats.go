package grpcapi

import (
	"context"

	"github.com/edged-dev/edged/agent/grpcapi/inferencepb"
	"github.com/edged-dev/edged/agent/inferstats"
)

// ModelStatistics is Triton's statistics extension over gRPC: the table
// the HTTP endpoint reports (GET /v2/models/stats), HTTP and gRPC
// requests alike. Without a name, every model version asked so far and,
// with a repository, the served ones not asked yet (zeros).
func (s *service) ModelStatistics(ctx context.Context, r *inferencepb.ModelStatisticsRequest) (*inferencepb.ModelStatisticsResponse, error) {
	var list []inferstats.Model
	if r.GetName() == "" {
		list = s.stats.List("", r.GetVersion())
		if s.opts.Repository != nil {
			seen := map[[2]string]bool{}
			for _, ms := range list {
				seen[[2]string{ms.Name, ms.Version}] = true
			}
			for _, mi := range s.opts.Repository.Models() {
				if !seen[[2]string{mi.Name, mi.Version}] && (r.GetVersion() == "" || r.GetVersion() == mi.Version) {
					list = append(list, inferstats.Zero(mi.Name, mi.Version))
				}
			}
			inferstats.Sort(list)
		}
	} else {
		mi, err := s.b.Model(r.GetName(), r.GetVersion())
		if err != nil {
			return nil, fail(err)
		}
		list = s.stats.List(mi.Name, r.GetVersion())
		if len(list) == 0 {
			list = []inferstats.Model{inferstats.Zero(mi.Name, mi.Version)}
		}
	}
	resp := &inferencepb.ModelStatisticsResponse{}
	for _, ms := range list {
		is := ms.InferenceStats
		resp.ModelStats = append(resp.ModelStats, &inferencepb.ModelStatistics{
			Name: ms.Name, Version: ms.Version, LastInference: uint64(max(ms.LastInference, 0)),
			InferenceCount: ms.InferenceCount, ExecutionCount: ms.ExecutionCount,
			InferenceStats: &inferencepb.InferStatistics{
				Success: duration(is.Success), Fail: duration(is.Fail), Queue: duration(is.Queue),
				ComputeInput: duration(is.ComputeInput), ComputeInfer: duration(is.ComputeInfer), ComputeOutput: duration(is.ComputeOutput),
				CacheHit: duration(is.CacheHit), CacheMiss: duration(is.CacheMiss),
			},
		})
	}
	return resp, nil
}

func duration(d inferstats.Duration) *inferencepb.StatisticDuration {
	return &inferencepb.StatisticDuration{Count: d.Count, Ns: d.NS}
}
