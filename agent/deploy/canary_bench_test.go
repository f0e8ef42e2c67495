package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/clock"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// modelVersion is a version of person_detect on one interpreter, without
// the agent's pipeline: enough to see what the router and the shadow add.
type modelVersion struct {
	info infer.ModelInfo
	mu   sync.Mutex
	it   *tflite.Interpreter
}

func newModelVersion(b *testing.B, version string) *modelVersion {
	m, err := tflite.LoadFile("../../testdata/models/person_detect.tflite")
	if err != nil {
		b.Fatal(err)
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		b.Fatal(err)
	}
	info := infer.ModelInfo{Name: "person", Version: version, SHA256: "00112233445566778899aabbccddeeff",
		Outputs: []infer.TensorSpec{infer.SpecOf(it.Output(0), "out")}}
	return &modelVersion{info: info, it: it}
}

func (v *modelVersion) Info() infer.ModelInfo     { return v.info }
func (v *modelVersion) Close(ctx context.Context) {}
func (v *modelVersion) Handle(_ context.Context, req *infer.Request) (*infer.Response, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	copy(v.it.Input(0).Data, req.Inputs[0].Data)
	if err := v.it.Invoke(); err != nil {
		return nil, err
	}
	o := v.it.Output(0)
	return &infer.Response{Outputs: []infer.Tensor{{DType: o.Type, Shape: slices.Clone(o.Shape), Data: slices.Clone(o.Data)}}}, nil
}

// routeHost is a Host that only records routes.
type routeHost struct{ Host }

func (routeHost) Route(string, *Rollout) {}

// BenchmarkCanaryShadow measures what a candidate in shadow costs a
// request of person_detect: compare ns/op of the sub-benchmarks. The
// shadow runs happen on another goroutine, so on a loaded machine they
// also compete for the cores.
//
//	go test -run '^$' -bench CanaryShadow -benchtime 200x -count 3 ./agent/deploy/
func BenchmarkCanaryShadow(b *testing.B) {
	active, cand := newModelVersion(b, "1"), newModelVersion(b, "2")
	in := []infer.Tensor{{DType: tensor.Int8, Data: make([]byte, 96*96)}}
	run := func(b *testing.B, h func(context.Context, *infer.Request) (*infer.Response, error)) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n++
			if _, err := h(context.Background(), &infer.Request{Model: "person", ID: fmt.Sprint("r", n), Inputs: in}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("no_candidate", func(b *testing.B) { run(b, active.Handle) })

	db, err := openRecord(filepath.Join(b.TempDir(), "canary.db"), bucketRollouts, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	cfg := &config.Config{}
	cfg.HTTP.RequestTimeout = config.Duration(10e9)
	d := &Deployer{host: routeHost{}, cfg: cfg, log: slog.New(slog.DiscardHandler), canaryDB: db, canaryTick: defaultCanaryTick}
	d.rctx, d.rcancel = context.WithCancel(context.Background())
	p := canary.DefaultPolicy()
	p.SampleRate, p.MinSamples = 0.1, 1<<30 // stays in shadow
	m, err := canary.New(p, 1, clock.System)
	if err != nil {
		b.Fatal(err)
	}
	r := d.newRollout(fleet.Command{Op: fleet.OpDeploy, ID: "bench"}, "person", 2, "1", m, cand)
	d.register(r)
	defer d.StopRollouts()
	b.Run("shadow_0.1", func(b *testing.B) {
		run(b, func(ctx context.Context, req *infer.Request) (*infer.Response, error) {
			return r.Handle(ctx, req, active)
		})
	})
}
