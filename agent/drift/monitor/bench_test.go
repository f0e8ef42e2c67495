package monitor

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/drift"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tflite"
)

// BenchmarkDriftPersonDetect measures what the drift monitor spends per
// served person_detect request — the copy of its input made on the
// request's path (sample), then on the monitor's goroutine the feature
// extraction, the detector's and the plot window's Add, and each window's
// comparison amortized over its 1000 samples (process) — against one
// Invoke of the model on one thread.
func BenchmarkDriftPersonDetect(b *testing.B) {
	path, _ := filepath.Abs("../../../testdata/models/person_detect.tflite")
	m, err := tflite.LoadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	it, err := tflite.NewInterpreter(m, &tflite.Options{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	mi := infer.ModelInfo{Name: "person_detect", Version: "1", Inputs: []infer.TensorSpec{infer.SpecOf(it.Input(0), "input")}, Outputs: []infer.TensorSpec{infer.SpecOf(it.Output(0), "output")}}
	schema, err := drift.NewSchema(mi)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	frame := func() ([]infer.Tensor, []infer.Tensor) {
		in := make([]byte, len(it.Input(0).Data))
		base := rng.IntN(64)
		for i := range in {
			in[i] = byte(base + rng.IntN(128))
		}
		out := []byte{byte(rng.IntN(256)), byte(rng.IntN(256))}
		return []infer.Tensor{{Data: in}}, []infer.Tensor{{Data: out}}
	}
	pr, _ := drift.NewProfiler(schema.Features(), schema.Labels(mi), nil)
	var x []float64
	for range 2000 {
		in, out := frame()
		var class int
		x, class, _ = schema.Sample(x[:0], in, out)
		pr.Add(x, class)
	}
	p, err := pr.Profile()
	if err != nil {
		b.Fatal(err)
	}
	pb, _ := p.Marshal()
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "p.json"), pb, 0o644)
	cfg, err := config.Parse([]byte(fmt.Sprintf("version: 1\nstate_dir: %s\nmodels:\n  - name: person_detect\n    path: %s\n    drift: {profile: p.json}\n", dir, path)), dir)
	if err != nil {
		b.Fatal(err)
	}
	mon, err := New(cfg, cfg.Models[0], mi, nil, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	const pool = 64
	ins, outs := make([][]infer.Tensor, pool), make([][]infer.Tensor, pool)
	for i := range pool {
		ins[i], outs[i] = frame()
	}

	copy(it.Input(0).Data, ins[0][0].Data)
	for range 3 {
		it.Invoke() // warm up
	}
	const invokes = 50
	start := time.Now()
	for range invokes {
		if err := it.Invoke(); err != nil {
			b.Fatal(err)
		}
	}
	perInvoke := time.Since(start) / invokes

	b.ReportAllocs()
	b.ResetTimer()
	windows := 0
	for i := range b.N {
		if res := mon.process(mon.copyIn(ins[i%pool], outs[i%pool])); res.Report != nil {
			windows++
		}
	}
	b.StopTimer()
	if b.N >= 1000 && windows == 0 {
		b.Fatal("no window closed")
	}
	perSample := b.Elapsed() / time.Duration(max(b.N, 1))
	b.ReportMetric(float64(perSample.Nanoseconds()), "ns/sample")
	b.ReportMetric(float64(perInvoke.Microseconds()), "µs/invoke")
	b.ReportMetric(100*float64(perSample)/float64(perInvoke), "%_of_invoke")
}
