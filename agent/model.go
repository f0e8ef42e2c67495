package agent

import (
	"bufio"
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edged-dev/edged/agent/batch"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/drift/monitor"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/pipeline"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/runtime/tflite"
)

// servedModel is one loaded version of a model and its request
// pipeline (see agent/pipeline). It is immutable once built; a new
// version is a new servedModel swapped in atomically, and requests in
// flight finish on the one they started on.
type servedModel struct {
	info infer.ModelInfo
	// handler is the version's pipeline: metrics, check, drift tap,
	// cache, batcher pool, executor.
	handler infer.Handler
	pool    *batch.Pool
	// exec runs the batches on the model's delegate chain; nil for an
	// ensemble, whose members have their own.
	exec     *pipeline.Executor
	loaded   time.Time
	capacity int
	// drift watches the inputs and outputs when the model has a profile.
	drift *monitor.Monitor
	stats pipeline.Counters
	// leftOut are the backends delegates.prefer lists that are not on
	// this host, shown after the chain's.
	leftOut []status.Delegate
	// cpu is what /debug/profile times; nil for an ensemble.
	cpu *cpuModel
}

// loadModel loads a model onto its delegate chain (a single CPU link when
// the host has no accelerator for it) and builds its batchers; the
// pipeline's upper stages are added by the Agent (build).
func loadModel(c *config.Config, mc config.Model, reg prometheus.Registerer, log *slog.Logger, dl *delegateSet) (*servedModel, error) {
	if mc.Path == "" && len(mc.Variants) > 0 {
		// Only accelerator variants: nothing to fall back on.
		_, _, err := delegates.Plan([]delegates.Backend{delegates.CPU{}}, variantNames(mc))
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	path := c.Path(mc.Path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	m, err := tflite.Load(data)
	if err != nil {
		return nil, fmt.Errorf("model %q: %s: %w", mc.Name, path, err)
	}
	opts := cpuOptions(c, mc)
	info, err := describe(m, opts, mc, path)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	if mc.Labels != "" {
		if info.Labels, err = readLabels(c.Path(mc.Labels)); err != nil {
			return nil, fmt.Errorf("model %q: labels: %w", mc.Name, err)
		}
	}
	chain, leftOut, err := dl.chain(c, mc, opts, data, m)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	if mc.Batch.MaxBatch > 1 && !chain.Batchable() {
		log.Info("model fixes its batch size; batched requests run as consecutive invocations", "model", mc.Name)
	}
	s := &servedModel{info: info, loaded: time.Now(), capacity: mc.Batch.QueueCapacity, leftOut: leftOut, cpu: &cpuModel{model: m, opts: opts}}
	s.exec = pipeline.NewExecutor(chain, info, dl.fallbacks(mc.Name, chain))
	invokers := make([]batch.Invoker, mc.Instances)
	for i := range invokers {
		invokers[i] = s.exec.Invoker()
	}
	if s.pool, err = newPool(reg, mc, invokers); err != nil {
		s.closeChain()
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	return s, nil
}

// cpuOptions are the pure-Go interpreters' options for a model.
func cpuOptions(c *config.Config, mc config.Model) *tflite.Options {
	threads := mc.Threads
	if threads == 0 {
		threads = c.Runtime.Threads
	}
	if threads == 0 {
		threads = 1
	}
	// The config's validation has checked both names.
	arith, _ := tflite.ParseArithmetic(cmp.Or(mc.Arithmetic, c.Runtime.Arithmetic))
	return &tflite.Options{Threads: threads, Arithmetic: arith}
}

// describe reads a model's inputs and outputs from an interpreter, whose
// smoke run proves the model invokes before it serves.
func describe(m *tflite.Model, opts *tflite.Options, mc config.Model, path string) (infer.ModelInfo, error) {
	it, err := tflite.NewInterpreter(m, opts)
	if err != nil {
		return infer.ModelInfo{}, err
	}
	if err := it.Invoke(); err != nil {
		return infer.ModelInfo{}, fmt.Errorf("smoke invoke: %w", err)
	}
	info := infer.ModelInfo{
		Name: mc.Name, Version: mc.Version, SHA256: hex.EncodeToString(m.SHA256[:]), Path: path,
		Ready: true, MaxBatch: mc.Batch.MaxBatch,
	}
	for i := 0; i < it.NumInputs(); i++ {
		info.Inputs = append(info.Inputs, infer.SpecOf(it.Input(i), ioName(i, true, it.Input(i).Name)))
	}
	for i := 0; i < it.NumOutputs(); i++ {
		info.Outputs = append(info.Outputs, infer.SpecOf(it.Output(i), ioName(i, false, it.Output(i).Name)))
	}
	return info, nil
}

// newPool starts one batcher per invoker (per instance of the model),
// sharing the model's queue capacity.
func newPool(reg prometheus.Registerer, mc config.Model, invokers []batch.Invoker) (*batch.Pool, error) {
	policy, err := batch.ParsePolicy(mc.Batch.Overload)
	if err != nil {
		return nil, err
	}
	perInstance := (mc.Batch.QueueCapacity + len(invokers) - 1) / len(invokers)
	var bs []*batch.Batcher
	for i, inv := range invokers {
		met, err := batch.NewMetrics(reg, prometheus.Labels{"model": mc.Name, "instance": fmt.Sprint(i)}, mc.Batch.MaxBatch)
		if err != nil {
			for _, b := range bs {
				b.Close()
			}
			return nil, err
		}
		bs = append(bs, batch.New(inv, batch.Options{MaxBatch: mc.Batch.MaxBatch, MaxDelay: mc.Batch.MaxDelay.D(), QueueCapacity: perInstance, Overload: policy, Metrics: met}))
	}
	return batch.NewPool(mc.Name, bs...), nil
}

// ioName prefers the tensor name.
func ioName(pos int, input bool, tensorName string) string {
	if tensorName != "" {
		return tensorName
	}
	if input {
		return fmt.Sprintf("input_%d", pos)
	}
	return fmt.Sprintf("output_%d", pos)
}

func readLabels(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, strings.TrimSpace(sc.Text()))
	}
	return out, sc.Err()
}

// stuckSince returns the start of the oldest invocation still running, or
// the zero time.
func (s *servedModel) stuckSince() time.Time {
	if s.exec == nil {
		return time.Time{}
	}
	return s.exec.StuckSince()
}

// batchable: a batch runs as one invocation.
func (s *servedModel) batchable() bool { return s.exec != nil && s.exec.Chain().Batchable() }

// close stops the batchers: waiting requests run first, within ctx.
func (s *servedModel) close(ctx context.Context) {
	s.pool.Shutdown(ctx)
	if s.drift != nil {
		s.drift.Close()
	}
	s.closeChain()
}

// closeChain closes the delegate chain after the batchers stopped.
func (s *servedModel) closeChain() {
	if s.exec == nil {
		return
	}
	if err := s.exec.Chain().Close(); err != nil {
		slog.Warn("closing the delegate chain", "model", s.info.Name, "err", err)
	}
}

// variantNames maps a model's variants to placeholders, enough for Plan
// to say which are missing.
func variantNames(mc config.Model) map[string][]byte {
	v := map[string][]byte{}
	for name := range mc.Variants {
		v[name] = nil
	}
	if mc.Path != "" {
		v["cpu"] = nil
	}
	return v
}
