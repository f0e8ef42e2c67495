package agent

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// servedModel is one loaded version of a model with its interpreters.
// It is immutable once built; a new version is a new servedModel swapped
// in atomically, and requests in flight finish on the one they started on.
type servedModel struct {
	info   infer.ModelInfo
	model  *tflite.Model
	pool   chan *instance
	all    []*instance
	queued atomic.Int64
	limit  int64
	loaded time.Time
}

func loadModel(c *config.Config, mc config.Model) (*servedModel, error) {
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
	s := &servedModel{model: m, pool: make(chan *instance, mc.Instances), loaded: time.Now()}
	for i := 0; i < mc.Instances; i++ {
		it, err := tflite.NewInterpreter(m, &tflite.Options{Threads: threads, Arithmetic: arith})
		if err != nil {
			return nil, fmt.Errorf("model %q: %w", mc.Name, err)
		}
		// A smoke run proves the model invokes before it serves.
		if i == 0 {
			if err := it.Invoke(); err != nil {
				return nil, fmt.Errorf("model %q: smoke invoke: %w", mc.Name, err)
			}
		}
		in := &instance{it: it}
		s.all = append(s.all, in)
		s.pool <- in
	}
	s.limit = int64(mc.Batch.QueueCapacity + mc.Instances)
	it := s.all[0].it
	s.info = infer.ModelInfo{
		Name: mc.Name, Version: mc.Version, SHA256: hex.EncodeToString(m.SHA256[:]), Path: path,
		Ready: true, MaxBatch: mc.Batch.MaxBatch,
	}
	for i := 0; i < it.NumInputs(); i++ {
		s.info.Inputs = append(s.info.Inputs, spec(it.Input(i), ioName(m, true, i, it.Input(i).Name)))
	}
	for i := 0; i < it.NumOutputs(); i++ {
		s.info.Outputs = append(s.info.Outputs, spec(it.Output(i), ioName(m, false, i, it.Output(i).Name)))
	}
	if mc.Labels != "" {
		labels, err := readLabels(c.Path(mc.Labels))
		if err != nil {
			return nil, fmt.Errorf("model %q: labels: %w", mc.Name, err)
		}
		s.info.Labels = labels
	}
	return s, nil
}

// ioName prefers the tensor name; the serving signature's name is an
// alias the API also accepts.
func ioName(m *tflite.Model, input bool, pos int, tensorName string) string {
	if tensorName != "" {
		return tensorName
	}
	if input {
		return fmt.Sprintf("input_%d", pos)
	}
	return fmt.Sprintf("output_%d", pos)
}

func spec(t *tensor.Tensor, name string) infer.TensorSpec {
	s := infer.TensorSpec{Name: name, DType: t.Type, Shape: slices.Clone(t.Shape)}
	if t.Quant != nil && len(t.Quant.Scale) == 1 {
		s.Quantized, s.Scale, s.ZeroPoint = true, t.Quant.Scale[0], t.ZeroPoint()
	}
	return s
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

// instance is one interpreter of a model; busySince is the start of the
// invocation running on it (UnixNano), 0 when idle.
type instance struct {
	it        *tflite.Interpreter
	busySince atomic.Int64
}

// stuckSince returns the start of the oldest invocation still running, or
// the zero time.
func (s *servedModel) stuckSince() time.Time {
	var oldest int64
	for _, in := range s.all {
		if b := in.busySince.Load(); b != 0 && (oldest == 0 || b < oldest) {
			oldest = b
		}
	}
	if oldest == 0 {
		return time.Time{}
	}
	return time.Unix(0, oldest)
}

// run performs one inference on a pooled interpreter.
func (s *servedModel) run(ctx context.Context, in []infer.Tensor) ([]infer.Tensor, error) {
	if len(in) != len(s.info.Inputs) {
		return nil, fmt.Errorf("%w: model %q takes %d inputs; got %d", infer.ErrBadInput, s.info.Name, len(s.info.Inputs), len(in))
	}
	for i, t := range in {
		want := s.info.Inputs[i]
		if t.DType != want.DType {
			return nil, fmt.Errorf("%w: input %d %q is %s; the model takes %s", infer.ErrBadInput, i, want.Name, t.DType, want.DType)
		}
		if t.Shape != nil && !tensor.SameShape(t.Shape, want.Shape) {
			return nil, fmt.Errorf("%w: input %d %q has shape %v; the model takes %v", infer.ErrBadInput, i, want.Name, t.Shape, want.Shape)
		}
		if n := tensor.NumElements(want.Shape) * want.DType.Size(); len(t.Data) != n {
			return nil, fmt.Errorf("%w: input %d %q has %d bytes; %s%v needs %d", infer.ErrBadInput, i, want.Name, len(t.Data), want.DType, want.Shape, n)
		}
	}
	if s.queued.Add(1) > s.limit {
		s.queued.Add(-1)
		return nil, fmt.Errorf("%w: model %q has %d requests waiting", infer.ErrOverloaded, s.info.Name, s.limit)
	}
	defer s.queued.Add(-1)
	var inst *instance
	select {
	case inst = <-s.pool:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { s.pool <- inst }()
	inst.busySince.Store(time.Now().UnixNano())
	defer inst.busySince.Store(0)
	it := inst.it
	for i, t := range in {
		copy(it.Input(i).Data, t.Data)
	}
	if err := it.Invoke(); err != nil {
		return nil, fmt.Errorf("model %q: %w", s.info.Name, err)
	}
	out := make([]infer.Tensor, it.NumOutputs())
	for k := range out {
		o := it.Output(k)
		out[k] = infer.Tensor{Name: s.info.Outputs[k].Name, DType: o.Type, Shape: slices.Clone(o.Shape), Data: slices.Clone(o.Data)}
	}
	return out, nil
}
