package tflite

import (
	"errors"
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
)

// CustomOp is what a custom operator's kernel sees of one operator of a
// model when an interpreter prepares it.
type CustomOp struct {
	// Name is the operator's custom code; Version its version in the file.
	Name    string
	Version int
	// Inputs are the operator's inputs, nil for an omitted optional one.
	// The data of a constant input (Const) can be read in Prepare; the
	// others' only in the function Prepare returns, which sees the
	// values of the current invocation.
	Inputs []*tensor.Tensor
	// Outputs have the types and the shapes the file gives them;
	// Prepare sets the shapes it computes. Their Data is only valid in
	// the function Prepare returns.
	Outputs []*tensor.Tensor
	// Options are the operator's custom options as the converter wrote
	// them (usually a FlexBuffer map: see package flexbuf).
	Options []byte
	// Arithmetic is the interpreter's: a quantized kernel may round as
	// the official runtime does (LiteRT) or as TFLite's reference kernels
	// (Reference).
	Arithmetic Arithmetic
}

// CustomKernel implements a custom operator (an operator the converter
// wrote as CUSTOM with a custom code, such as Coral's
// "PosenetDecoderOp").
type CustomKernel interface {
	// Prepare checks the operands of one operator, sets the shapes of its
	// outputs and returns the function every Invoke calls to compute
	// them. Prepare runs when an interpreter is made (and again after
	// ResizeInput); the function it returns must not allocate, so that
	// Invoke does not. An error, wrapping ErrUnsupportedOp for operands
	// the kernel does not handle, makes NewInterpreter fail with it.
	Prepare(op *CustomOp) (eval func() error, err error)
}

// CustomKernelFunc adapts a function to CustomKernel.
type CustomKernelFunc func(op *CustomOp) (eval func() error, err error)

// Prepare calls f.
func (f CustomKernelFunc) Prepare(op *CustomOp) (func() error, error) { return f(op) }

// RegisterCustom makes the custom operator name available to every model
// loaded afterwards (Load checks a model's operators): a model whose
// graph has a CUSTOM operator with that code then runs it with kernel.
// Register before loading models, typically from an init function or
// main; it is safe to call from several goroutines. It fails when name is
// empty, kernel is nil, or the name is taken (by an earlier call or by
// one of the runtime's own custom operators, such as
// "TFLite_Detection_PostProcess").
func RegisterCustom(name string, kernel CustomKernel) error {
	if name == "" {
		return errors.New("registering a custom operator: empty custom operator name")
	}
	if kernel == nil {
		return fmt.Errorf("registering a custom operator: %q: nil kernel", name)
	}
	customMu.Lock()
	defer customMu.Unlock()
	if _, dup := customOps[name]; dup {
		return fmt.Errorf("registering a custom operator: custom operator %q is already registered", name)
	}
	customOps[name] = opEntry{maxVersion: math.MaxInt32, user: true, prepare: func(n *node) (kernels.Kernel, error) {
		op := &CustomOp{Name: name, Version: int(n.version), Inputs: n.in, Outputs: n.out,
			Options: n.op.CustomOptions(), Arithmetic: arithmeticOf(n.cfg)}
		eval, err := kernel.Prepare(op)
		if err != nil {
			return nil, err
		}
		if eval == nil {
			return nil, fmt.Errorf("custom operator %q: its kernel returned no function", name)
		}
		return kernels.Describe("custom", kernels.Func(eval)), nil
	}}
	return nil
}

// arithmeticOf is the interpreter arithmetic of a kernel configuration.
func arithmeticOf(cfg *kernels.Config) Arithmetic {
	if cfg.Arithmetic == kernels.Reference {
		return Reference
	}
	return LiteRT
}
