package main

import (
	"context"
	"slices"
	"time"

	"github.com/edged-dev/edged/runtime/tflite"
)

// benchResult compares edged's time with the oracle's on one thread. The
// machine is shared, so the runtimes take turns: each of benchRounds
// rounds times the oracle (`oracle.mjs bench`, its median), then edged in
// each arithmetic (in-process, median of the same number of runs);
// the ratio is the median over rounds of edged's median over the oracle's.
type benchResult struct {
	Rounds   int        `json:"rounds"`
	Runs     int        `json:"runs_per_round"`
	OracleMS float64    `json:"oracle_ms"`
	EdgedMS  [2]float64 `json:"edged_ms"` // reference, litert; 0 = did not run
	Ratio    [2]float64 `json:"ratio"`    // edged / oracle
	Err      string     `json:"error,omitempty"`
}

const (
	benchRounds = 3
	benchWarmup = 2
	// benchBudget is the time aimed at for one runtime in one round.
	benchBudget = 300 * time.Millisecond
)

func (c *config) benchModel(ctx context.Context, model string, inFiles []string, its [2]*tflite.Interpreter, runs [2]run) *benchResult {
	first := 0.0
	for i := range runs {
		if its[i] != nil && runs[i].FirstMS > first {
			first = runs[i].FirstMS
		}
	}
	if first == 0 {
		return nil
	}
	n := int(float64(benchBudget.Milliseconds()) / first)
	n = min(max(n, 3), 30)
	br := &benchResult{Rounds: benchRounds, Runs: n}
	var oracle []float64
	edged := [2][]float64{}
	for range benchRounds {
		ms, err := c.oracleBench(ctx, model, inFiles, n, benchWarmup)
		if err != nil {
			br.Err = err.Error()
			return br
		}
		oracle = append(oracle, ms)
		for i, it := range its {
			if it == nil {
				continue
			}
			ms, err := timeEdged(it, n)
			if err != nil {
				br.Err = err.Error()
				return br
			}
			edged[i] = append(edged[i], ms)
		}
	}
	br.OracleMS = median(oracle)
	for i := range edged {
		if len(edged[i]) > 0 {
			br.EdgedMS[i] = median(edged[i])
			br.Ratio[i] = br.EdgedMS[i] / br.OracleMS
		}
	}
	return br
}

// timeEdged returns the median milliseconds of n invocations after a
// warm-up.
func timeEdged(it *tflite.Interpreter, n int) (float64, error) {
	for range benchWarmup {
		if err := it.Invoke(); err != nil {
			return 0, err
		}
	}
	var t []float64
	for range n {
		t0 := time.Now()
		if err := it.Invoke(); err != nil {
			return 0, err
		}
		t = append(t, float64(time.Since(t0).Nanoseconds())/1e6)
	}
	return median(t), nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
