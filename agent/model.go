package agent

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edged-dev/edged/agent/batch"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// servedModel is one loaded version of a model: its interpreters, each
// behind a dynamic batcher. It is immutable once built; a new version is a
// new servedModel swapped in atomically, and requests in flight finish on
// the one they started on.
type servedModel struct {
	info      infer.ModelInfo
	model     *tflite.Model
	instances []*instance
	// batchers feed the instances (or, for an ensemble, its members).
	batchers []*batch.Batcher
	next     atomic.Uint64
	// batchable: the graph carries a batch dimension, so a batch of n
	// requests runs as one invocation at batch n.
	batchable bool
	loaded    time.Time
	opts      *tflite.Options
	capacity  int
	// drift watches the inputs and outputs when the model has a profile.
	drift *driftMonitor
	stats modelCounters
	// chain, when set, runs every request through the delegate chain
	// (accelerators, then the CPU) instead of the instances' interpreters;
	// first is its first backend and falls counts requests served by a
	// later one.
	chain *delegates.Chain
	first string
	// leftOut are the backends delegates.prefer lists that are not on
	// this host, shown after the chain's.
	leftOut []DelegateStatus
	falls   prometheus.Counter
}

// instance is one interpreter of a model and the batcher feeding it.
// busySince is the start of the invocation running on it (UnixNano), 0
// when idle.
type instance struct {
	s         *servedModel
	it        *tflite.Interpreter
	byBatch   map[int]*tflite.Interpreter
	batcher   *batch.Batcher
	busySince atomic.Int64
	mu        sync.Mutex // guards it and byBatch (one batch at a time anyway)
}

// loadModel loads a model; dl, when set, builds its delegate chain.
func loadModel(c *config.Config, mc config.Model, reg prometheus.Registerer, log *slog.Logger, dl *delegateSet) (*servedModel, error) {
	if mc.Path == "" && len(mc.Variants) > 0 {
		// Only accelerator variants: nothing to fall back on.
		_, _, err := delegates.Plan([]delegates.Backend{delegates.CPU{}}, variantNames(mc))
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	path := c.Path(mc.Path)
	m, err := tflite.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	threads := mc.Threads
	if threads == 0 {
		threads = c.Runtime.Threads
	}
	if threads == 0 {
		threads = 1
	}
	arith := tflite.Reference
	if c.Runtime.Arithmetic == "litert" {
		arith = tflite.LiteRT
	}
	s := &servedModel{model: m, loaded: time.Now(), opts: &tflite.Options{Threads: threads, Arithmetic: arith}, capacity: mc.Batch.QueueCapacity}
	policy, err := batch.ParsePolicy(mc.Batch.Overload)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", mc.Name, err)
	}
	if dl != nil {
		if s.chain, s.leftOut, err = dl.chain(c, mc, s.opts, mc.Instances); err != nil {
			return nil, fmt.Errorf("model %q: %w", mc.Name, err)
		}
	}
	loaded := false
	defer func() {
		if !loaded {
			s.closeChain()
		}
	}()
	for i := 0; i < mc.Instances; i++ {
		if s.chain != nil && i > 0 {
			// The chain holds the interpreters; instance 0's describes
			// the model and proves it invokes.
			s.instances = append(s.instances, &instance{s: s, byBatch: map[int]*tflite.Interpreter{}})
			continue
		}
		it, err := tflite.NewInterpreter(m, s.opts)
		if err != nil {
			return nil, fmt.Errorf("model %q: %w", mc.Name, err)
		}
		// A smoke run proves the model invokes before it serves.
		if i == 0 {
			if err := it.Invoke(); err != nil {
				return nil, fmt.Errorf("model %q: smoke invoke: %w", mc.Name, err)
			}
		}
		s.instances = append(s.instances, &instance{s: s, it: it, byBatch: map[int]*tflite.Interpreter{}})
	}
	it := s.instances[0].it
	s.info = infer.ModelInfo{
		Name: mc.Name, Version: mc.Version, SHA256: hex.EncodeToString(m.SHA256[:]), Path: path,
		Ready: true, MaxBatch: mc.Batch.MaxBatch,
	}
	for i := 0; i < it.NumInputs(); i++ {
		s.info.Inputs = append(s.info.Inputs, infer.SpecOf(it.Input(i), ioName(i, true, it.Input(i).Name)))
	}
	for i := 0; i < it.NumOutputs(); i++ {
		s.info.Outputs = append(s.info.Outputs, infer.SpecOf(it.Output(i), ioName(i, false, it.Output(i).Name)))
	}
	if mc.Labels != "" {
		labels, err := readLabels(c.Path(mc.Labels))
		if err != nil {
			return nil, fmt.Errorf("model %q: labels: %w", mc.Name, err)
		}
		s.info.Labels = labels
	}
	if s.chain != nil {
		st := s.chain.Status()
		s.first = st[0].Delegate
		s.falls = dl.falls.WithLabelValues(mc.Name, s.first)
	}
	if mc.Batch.MaxBatch > 1 && s.chain == nil {
		probe, err := tflite.NewInterpreter(m, s.opts)
		if err == nil {
			err = resizeBatch(probe, mc.Batch.MaxBatch)
		}
		s.batchable = err == nil
		if err != nil {
			log.Info("model fixes its batch size; batched requests run as consecutive invocations", "model", mc.Name, "reason", err)
		} else {
			s.instances[0].byBatch[mc.Batch.MaxBatch] = probe
		}
	}
	perInstance := (mc.Batch.QueueCapacity + mc.Instances - 1) / mc.Instances
	for i, in := range s.instances {
		met, err := batch.NewMetrics(reg, prometheus.Labels{"model": mc.Name, "instance": fmt.Sprint(i)}, mc.Batch.MaxBatch)
		if err != nil {
			return nil, fmt.Errorf("model %q: %w", mc.Name, err)
		}
		in.batcher = batch.New(in, batch.Options{MaxBatch: mc.Batch.MaxBatch, MaxDelay: mc.Batch.MaxDelay.D(), QueueCapacity: perInstance, Overload: policy, Metrics: met})
		s.batchers = append(s.batchers, in.batcher)
	}
	loaded = true
	return s, nil
}

// resizeBatch resizes every input of it to batch n.
func resizeBatch(it *tflite.Interpreter, n int) error {
	for i := 0; i < it.NumInputs(); i++ {
		shape := slices.Clone(it.Input(i).Shape)
		if len(shape) == 0 {
			return fmt.Errorf("input %d is a scalar", i)
		}
		shape[0] = n
		if err := it.ResizeInput(i, shape); err != nil {
			return err
		}
	}
	return nil
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
	var oldest int64
	for _, in := range s.instances {
		if b := in.busySince.Load(); b != 0 && (oldest == 0 || b < oldest) {
			oldest = b
		}
	}
	if oldest == 0 {
		return time.Time{}
	}
	return time.Unix(0, oldest)
}

// queued is the number of requests waiting in the model's batchers.
func (s *servedModel) queued() int {
	n := 0
	for _, b := range s.batchers {
		n += b.Len()
	}
	return n
}

// check validates request inputs against the model before they queue, so
// one bad request cannot spoil a batch.
func (s *servedModel) check(in []infer.Tensor) error {
	if len(in) != len(s.info.Inputs) {
		return fmt.Errorf("%w: model %q takes %d inputs; got %d", infer.ErrBadInput, s.info.Name, len(s.info.Inputs), len(in))
	}
	for i, t := range in {
		want := s.info.Inputs[i]
		if t.DType != want.DType {
			return fmt.Errorf("%w: input %d %q is %s; the model takes %s", infer.ErrBadInput, i, want.Name, t.DType, want.DType)
		}
		if t.Shape != nil && !tensor.SameShape(t.Shape, want.Shape) {
			return fmt.Errorf("%w: input %d %q has shape %v; the model takes %v", infer.ErrBadInput, i, want.Name, t.Shape, want.Shape)
		}
		if n := tensor.NumElements(want.Shape) * want.DType.Size(); len(t.Data) != n {
			return fmt.Errorf("%w: input %d %q has %d bytes; %s%v needs %d", infer.ErrBadInput, i, want.Name, len(t.Data), want.DType, want.Shape, n)
		}
	}
	return nil
}

// admit fails with infer.ErrOverloaded when every instance's batcher would
// refuse a new request.
func (s *servedModel) admit() error {
	for _, b := range s.batchers {
		if !b.WouldReject() {
			return nil
		}
	}
	return fmt.Errorf("model %q: %w: every instance's queue is full", s.info.Name, infer.ErrOverloaded)
}

// run submits one request to the least loaded instance's batcher.
func (s *servedModel) run(ctx context.Context, in []infer.Tensor) ([]infer.Tensor, error) {
	if err := s.check(in); err != nil {
		return nil, err
	}
	best := s.batchers[int(s.next.Add(1)%uint64(len(s.batchers)))]
	for _, b := range s.batchers {
		if b.Len() < best.Len() {
			best = b
		}
	}
	out, err := best.Submit(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", s.info.Name, err)
	}
	return out, nil
}

// close stops the batchers: waiting requests run first, within ctx.
func (s *servedModel) close(ctx context.Context) {
	for _, b := range s.batchers {
		if err := b.Shutdown(ctx); err != nil {
			b.Close()
		}
	}
	if s.drift != nil {
		s.drift.close()
	}
	s.closeChain()
}

// closeChain closes the delegate chain after the batchers stopped.
func (s *servedModel) closeChain() {
	if s.chain == nil {
		return
	}
	if err := s.chain.Close(); err != nil {
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

// InvokeBatch implements batch.Invoker: a batch of n > 1 requests runs as
// one invocation at batch n when the graph allows it, else one request
// after another on this instance's interpreter.
func (in *instance) InvokeBatch(ctx context.Context, reqs [][]infer.Tensor) ([][]infer.Tensor, []error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.busySince.Store(time.Now().UnixNano())
	defer in.busySince.Store(0)
	outs := make([][]infer.Tensor, len(reqs))
	errs := make([]error, len(reqs))
	n := len(reqs)
	if n > 1 && in.s.batchable {
		it, err := in.forBatch(n)
		if err == nil {
			for k, req := range reqs {
				for i, t := range req {
					d := it.Input(i).Data
					copy(d[k*len(t.Data):], t.Data)
				}
			}
			if err = it.Invoke(); err == nil {
				for k := range reqs {
					outs[k] = in.s.slice(it, k, n)
				}
				return outs, errs
			}
		}
		err = fmt.Errorf("batch of %d: %w", n, err)
		for k := range errs {
			errs[k] = err
		}
		return outs, errs
	}
	for k, req := range reqs {
		if err := ctx.Err(); err != nil {
			errs[k] = err
			continue
		}
		if in.s.chain != nil {
			outs[k], errs[k] = in.s.invokeChain(ctx, req)
			continue
		}
		for i, t := range req {
			copy(in.it.Input(i).Data, t.Data)
		}
		if err := in.it.Invoke(); err != nil {
			errs[k] = err
			continue
		}
		outs[k] = in.s.slice(in.it, 0, 1)
	}
	return outs, errs
}

// forBatch returns this instance's interpreter resized to batch n,
// creating it on first use.
func (in *instance) forBatch(n int) (*tflite.Interpreter, error) {
	if it := in.byBatch[n]; it != nil {
		return it, nil
	}
	it, err := tflite.NewInterpreter(in.s.model, in.s.opts)
	if err != nil {
		return nil, err
	}
	if err := resizeBatch(it, n); err != nil {
		return nil, err
	}
	in.byBatch[n] = it
	return it, nil
}

// slice copies sample k of n out of every output of it.
func (s *servedModel) slice(it *tflite.Interpreter, k, n int) []infer.Tensor {
	out := make([]infer.Tensor, it.NumOutputs())
	for j := range out {
		o := it.Output(j)
		per := len(o.Data) / n
		shape := slices.Clone(o.Shape)
		if n > 1 && len(shape) > 0 {
			shape[0] /= n
		}
		out[j] = infer.Tensor{Name: s.info.Outputs[j].Name, DType: o.Type, Shape: shape, Data: slices.Clone(o.Data[k*per : (k+1)*per])}
	}
	return out
}
