package pipeline

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edged-dev/edged/agent/batch"
	"github.com/edged-dev/edged/agent/cache"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// BenchmarkStages measures what each stage of the pipeline adds to a
// request, on hello_world_int8 (a model of a few microseconds, so that the
// stages are not lost in the invocation): compare ns/op of consecutive
// sub-benchmarks. invoke is the bare interpreter; executor the delegate
// chain (one CPU link); batcher adds the batch pool (max batch 1);
// cache_miss and cache_hit add the result cache; check and metrics the
// input check and the metrics stage, with the cache hitting.
func BenchmarkStages(b *testing.B) {
	data, err := os.ReadFile("../../testdata/models/hello_world_int8.tflite")
	if err != nil {
		b.Fatal(err)
	}
	m, err := tflite.Load(data)
	if err != nil {
		b.Fatal(err)
	}
	info := infer.ModelInfo{Name: "hello", Version: "1", SHA256: hex.EncodeToString(m.SHA256[:]),
		Inputs:  []infer.TensorSpec{{Name: "x", DType: tensor.Int8, Shape: []int{1, 1}}},
		Outputs: []infer.TensorSpec{{Name: "y", DType: tensor.Int8, Shape: []int{1, 1}}}}
	req := &infer.Request{Model: "hello", Inputs: []infer.Tensor{{DType: tensor.Int8, Shape: []int{1, 1}, Data: []byte{0x9c}}}}
	ctx := context.Background()
	run := func(b *testing.B, h infer.Handler) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Handle(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	}

	b.Run("invoke", func(b *testing.B) {
		it, err := tflite.NewInterpreter(m, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			it.Input(0).Data[0] = 0x9c
			if err := it.Invoke(); err != nil {
				b.Fatal(err)
			}
		}
	})
	cpu, _ := delegates.Configured("cpu", delegates.Config{Model: m})
	chain, err := delegates.NewChain(ctx, "hello", []delegates.Link{{Backend: cpu, Variant: "cpu", Model: data}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer chain.Close()
	exec := NewExecutor(chain, info, nil)
	b.Run("executor", func(b *testing.B) {
		inv := exec.Invoker()
		reqs := [][]infer.Tensor{req.Inputs}
		b.ReportAllocs()
		for b.Loop() {
			if _, errs := inv.InvokeBatch(ctx, reqs); errs[0] != nil {
				b.Fatal(errs[0])
			}
		}
	})
	pool := batch.NewPool("hello", batch.New(exec.Invoker(), batch.Options{MaxBatch: 1}))
	defer pool.Shutdown(ctx)
	b.Run("batcher", func(b *testing.B) { run(b, pool) })
	st, err := cache.Open(filepath.Join(b.TempDir(), "cache.db"), &cache.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cached := infer.Pipeline(pool, st.Stage(info.SHA256, slog.New(slog.DiscardHandler)))
	b.Run("cache_miss", func(b *testing.B) {
		// A new model sha256 each time: a read that finds nothing, the
		// model, a write.
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n++
			h := infer.Pipeline(pool, st.Stage(fmt.Sprintf("%064x", n), slog.New(slog.DiscardHandler)))
			if _, err := h.Handle(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cache_hit", func(b *testing.B) { run(b, cached) })
	checked := infer.Pipeline(pool, Check(info), st.Stage(info.SHA256, slog.New(slog.DiscardHandler)))
	b.Run("check", func(b *testing.B) { run(b, checked) })
	var c Counters
	full := infer.Pipeline(pool, NewMetrics(prometheus.NewRegistry()).Stage(info, &c), Check(info), st.Stage(info.SHA256, slog.New(slog.DiscardHandler)))
	b.Run("metrics", func(b *testing.B) { run(b, full) })
}
