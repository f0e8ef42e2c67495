package agent

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/clock"
	"github.com/edged-dev/edged/runtime/tensor"
)

// BenchmarkCanaryShadow measures what a candidate in shadow costs a
// request of person_detect: compare ns/op of the sub-benchmarks. The
// shadow runs happen on another goroutine, so on a loaded machine they
// also compete for the cores.
//
//	go test -run '^$' -bench CanaryShadow -benchtime 200x -count 3 ./agent/
func BenchmarkCanaryShadow(b *testing.B) {
	model, _ := filepath.Abs("../testdata/models/person_detect.tflite")
	a, _, stop := newBenchAgent(b, fmt.Sprintf("  - name: person\n    path: %s\n", model))
	defer stop()
	in := []infer.Tensor{{DType: tensor.Int8, Data: make([]byte, 96*96)}}
	run := func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n++
			if _, err := a.Handle(context.Background(), &infer.Request{Model: "person", ID: fmt.Sprint("r", n), Inputs: in}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("no_candidate", run)

	db, err := openRecord(filepath.Join(b.TempDir(), "canary.db"), bucketRollouts, slog.New(slog.DiscardHandler))
	must(b, err)
	d := &deployer{a: a, log: slog.New(slog.DiscardHandler), canaryDB: db, canaryTick: defaultCanaryTick}
	d.rctx, d.rcancel = context.WithCancel(context.Background())
	mc, _ := a.configModel("person")
	cand, err := a.prepareModel(mc)
	must(b, err)
	p := canary.DefaultPolicy()
	p.SampleRate, p.MinSamples = 0.1, 1<<30 // stays in shadow
	m, err := canary.New(p, 1, clock.System)
	must(b, err)
	r := d.newRollout(fleet.Command{Op: fleet.OpDeploy, ID: "bench"}, "person", 2, "1", m, cand)
	d.register(r)
	defer d.stopRollouts() // before stop, which closes the agent
	b.Run("shadow_0.1", run)
}
