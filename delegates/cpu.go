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
}

// Name returns "cpu".
func (CPU) Name() string { return "cpu" }

// Variants says the CPU runs the "cpu" variant only.
func (CPU) Variants() []string { return []string{"cpu"} }

// Probe always reports the CPU loaded.
func (CPU) Probe(ctx context.Context) (bool, error) { return true, nil }

// Prepare loads and validates model and plans one interpreter for it.
func (b CPU) Prepare(ctx context.Context, model []byte, variant string) (Runner, error) {
	m, err := tflite.Load(model)
	if err != nil {
		return nil, fmt.Errorf("cpu.Prepare %s variant: %w", variant, err)
	}
	it, err := tflite.NewInterpreter(m, b.Options)
	if err != nil {
		return nil, fmt.Errorf("cpu.Prepare %s variant: %w", variant, err)
	}
	r := &CPURunner{it: it}
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

// CPURunner runs a model on one tflite.Interpreter; like the interpreter
// it is not safe for concurrent use.
type CPURunner struct {
	it      *tflite.Interpreter
	in, out []Spec
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
		return fmt.Errorf("cpu.Invoke: %w", err)
	}
	if err := checkInputs(r.in, inputs); err != nil {
		return fmt.Errorf("cpu.Invoke: %w", err)
	}
	if len(outputs) != len(r.out) {
		return fmt.Errorf("cpu.Invoke: %w: %d output tensors given; the model has %d", ErrBadInput, len(outputs), len(r.out))
	}
	for i, t := range inputs {
		copy(r.it.Input(i).Data, t.Data)
	}
	if err := r.it.Invoke(); err != nil {
		return fmt.Errorf("cpu.Invoke: %w", err)
	}
	for j := range outputs {
		o := r.it.Output(j)
		setOutput(&outputs[j], o.Type, o.Shape, o.Data)
	}
	return nil
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
