package delegates

import (
	"context"
	"fmt"
	"slices"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

func init() { Register(CPU{}) }

// CPU is the pure-Go runtime (runtime/tflite) as a backend. It is always
// present, and a chain's fallback.
type CPU struct {
	// Options configure each interpreter; nil means tflite's defaults.
	Options *tflite.Options
	// MaxBatch, above 1, readies each runner for batches of up to
	// MaxBatch requests run as one invocation when the model's graph
	// carries the batch dimension (see CPURunner.InvokeBatch).
	MaxBatch int
	// Model, when set, is the cpu variant already loaded: Prepare uses it
	// instead of parsing the bytes again, and its runners share it.
	Model *tflite.Model
}

// Configure returns the CPU with c's interpreter options, batch size and
// loaded model.
func (CPU) Configure(c Config) Backend {
	return CPU{Options: c.CPU, MaxBatch: c.MaxBatch, Model: c.Model}
}

// Name returns "cpu".
func (CPU) Name() string { return "cpu" }

// Variants says the CPU runs the "cpu" variant only.
func (CPU) Variants() []string { return []string{"cpu"} }

// Probe always reports the CPU loaded.
func (CPU) Probe(ctx context.Context) (bool, error) { return true, nil }

// Prepare loads and validates model and plans one interpreter for it.
func (b CPU) Prepare(ctx context.Context, model []byte, variant string) (Runner, error) {
	m := b.Model
	if m == nil {
		var err error
		if m, err = tflite.Load(model); err != nil {
			return nil, fmt.Errorf("preparing the model for the CPU, %s variant: %w", variant, err)
		}
	}
	it, err := tflite.NewInterpreter(m, b.Options)
	if err != nil {
		return nil, fmt.Errorf("preparing the model for the CPU, %s variant: %w", variant, err)
	}
	r := &CPURunner{m: m, opts: b.Options, it: it, byBatch: map[int]*tflite.Interpreter{}}
	if b.MaxBatch > 1 && !it.Stateful() {
		// One interpreter at the largest batch proves the graph resizes;
		// it serves the full batches. (A stateful model's state rows
		// are not requests: it runs one request at a time.)
		if probe, err := r.resized(b.MaxBatch); err == nil {
			r.byBatch[b.MaxBatch], r.batchable = probe, true
		}
	}
	for i := range it.NumInputs() {
		t := it.Input(i)
		r.in = append(r.in, Spec{Name: t.Name, Type: t.Type, Shape: slices.Clone(t.Shape)})
	}
	for i := range it.NumOutputs() {
		t := it.Output(i)
		r.out = append(r.out, Spec{Name: t.Name, Type: t.Type, Shape: slices.Clone(t.Shape)})
	}
	return r, nil
}

// CPURunner runs a model on one tflite.Interpreter (and, for batches, one
// per batch size); like the interpreter it is not safe for concurrent use.
type CPURunner struct {
	m       *tflite.Model
	opts    *tflite.Options
	it      *tflite.Interpreter
	byBatch map[int]*tflite.Interpreter
	// batchable: the graph carries the batch dimension.
	batchable bool
	in, out   []Spec
}

// Inputs describes the model's inputs.
func (r *CPURunner) Inputs() []Spec { return r.in }

// Outputs describes the model's outputs.
func (r *CPURunner) Outputs() []Spec { return r.out }

// Invoke checks inputs against the model, runs it and copies the outputs.
// The pure-Go interpreter cannot be interrupted, so ctx is only checked
// before the run.
func (r *CPURunner) Invoke(ctx context.Context, inputs, outputs []tensor.Tensor) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("running on the CPU: %w", err)
	}
	if err := checkInputs(r.in, inputs); err != nil {
		return fmt.Errorf("running on the CPU: %w", err)
	}
	if len(outputs) != len(r.out) {
		return fmt.Errorf("running on the CPU: %w: %d output tensors given; the model has %d", ErrBadInput, len(outputs), len(r.out))
	}
	return r.invoke(r.it, inputs, outputs)
}

// Batchable reports whether a batch runs as one invocation.
func (r *CPURunner) Batchable() bool { return r.batchable }

// InvokeBatch runs the requests as one invocation at batch n when the
// graph carries the batch dimension, else one after another; see
// BatchRunner. Inputs are not checked: the caller has.
func (r *CPURunner) InvokeBatch(ctx context.Context, inputs, outputs [][]tensor.Tensor) []error {
	errs := make([]error, len(inputs))
	n := len(inputs)
	if n > 1 && r.batchable {
		if err := r.invokeBatched(inputs, outputs); err != nil {
			err = fmt.Errorf("running a batch on the CPU: batch of %d: %w", n, err)
			for k := range errs {
				errs[k] = err
			}
		}
		return errs
	}
	for k := range inputs {
		if err := ctx.Err(); err != nil {
			errs[k] = fmt.Errorf("running a batch on the CPU: %w", err)
			continue
		}
		errs[k] = r.invoke(r.it, inputs[k], outputs[k])
	}
	return errs
}

// invokeBatched runs n requests as one invocation at batch n and copies
// sample k of every output into outputs[k].
func (r *CPURunner) invokeBatched(inputs, outputs [][]tensor.Tensor) error {
	n := len(inputs)
	it := r.byBatch[n]
	if it == nil {
		var err error
		if it, err = r.resized(n); err != nil {
			return err
		}
		r.byBatch[n] = it
	}
	for k, req := range inputs {
		for i, t := range req {
			copy(it.Input(i).Data[k*len(t.Data):], t.Data)
		}
	}
	if err := it.Invoke(); err != nil {
		return err
	}
	for k := range outputs {
		for j := range outputs[k] {
			o := it.Output(j)
			per := len(o.Data) / n
			setOutput(&outputs[k][j], o.Type, o.Shape, o.Data[k*per:(k+1)*per])
			if len(o.Shape) > 0 {
				outputs[k][j].Shape[0] /= n
			}
		}
	}
	return nil
}

// invoke runs one request on it. A stateful model (an LSTM's or SVDF's
// variable tensors) starts every request from zero state, so that
// requests stay independent of each other and of which instance serves
// them.
func (r *CPURunner) invoke(it *tflite.Interpreter, inputs, outputs []tensor.Tensor) error {
	if it.Stateful() {
		it.ResetVariables()
	}
	for i, t := range inputs {
		copy(it.Input(i).Data, t.Data)
	}
	if err := it.Invoke(); err != nil {
		return fmt.Errorf("running on the CPU: %w", err)
	}
	for j := range outputs {
		o := it.Output(j)
		setOutput(&outputs[j], o.Type, o.Shape, o.Data)
	}
	return nil
}

// resized is a new interpreter of the model with every input at batch n.
func (r *CPURunner) resized(n int) (*tflite.Interpreter, error) {
	it, err := tflite.NewInterpreter(r.m, r.opts)
	if err != nil {
		return nil, err
	}
	for i := 0; i < it.NumInputs(); i++ {
		shape := slices.Clone(it.Input(i).Shape)
		if len(shape) == 0 {
			return nil, fmt.Errorf("input %d is a scalar", i)
		}
		shape[0] = n
		if err := it.ResizeInput(i, shape); err != nil {
			return nil, err
		}
	}
	return it, nil
}

// Close releases nothing: the interpreter's memory belongs to the GC.
func (r *CPURunner) Close() error { return nil }

// checkInputs reports whether inputs fit specs, wrapping ErrBadInput.
func checkInputs(specs []Spec, inputs []tensor.Tensor) error {
	if len(inputs) != len(specs) {
		return fmt.Errorf("%w: %d inputs; the model takes %d", ErrBadInput, len(inputs), len(specs))
	}
	for i, s := range specs {
		t := inputs[i]
		if t.Type != s.Type {
			return fmt.Errorf("%w: input %d (%s) is %s; want %s", ErrBadInput, i, s.Name, t.Type, s.Type)
		}
		if t.Shape != nil && !tensor.SameShape(t.Shape, s.Shape) {
			return fmt.Errorf("%w: input %d (%s) has shape %v; want %v", ErrBadInput, i, s.Name, t.Shape, s.Shape)
		}
		if len(t.Data) != s.Bytes() {
			return fmt.Errorf("%w: input %d (%s) has %d bytes; want %d for %s", ErrBadInput, i, s.Name, len(t.Data), s.Bytes(), s)
		}
	}
	return nil
}

// checkOutputs reports whether outputs match specs, wrapping ErrBadOutput.
func checkOutputs(specs []Spec, outputs []tensor.Tensor) error {
	if len(outputs) != len(specs) {
		return fmt.Errorf("%w: %d outputs; want %d", ErrBadOutput, len(outputs), len(specs))
	}
	for j, s := range specs {
		o := outputs[j]
		if o.Type != s.Type || !tensor.SameShape(o.Shape, s.Shape) || len(o.Data) != s.Bytes() {
			return fmt.Errorf("%w: output %d (%s) is %s%v in %d bytes; want %s in %d", ErrBadOutput, j, s.Name, o.Type, o.Shape, len(o.Data), s, s.Bytes())
		}
	}
	return nil
}

// setOutput copies a result into dst, reusing dst.Data when it fits.
func setOutput(dst *tensor.Tensor, typ tensor.DType, shape []int, data []byte) {
	dst.Type = typ
	dst.Shape = append(dst.Shape[:0], shape...)
	if cap(dst.Data) >= len(data) {
		dst.Data = dst.Data[:len(data)]
	} else {
		dst.Data = make([]byte, len(data))
	}
	copy(dst.Data, data)
}
