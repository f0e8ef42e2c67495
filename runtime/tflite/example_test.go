package tflite_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/edged-dev/edged/runtime/flexbuf"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// scaleKernel is a custom operator "Scale": its float32 output is its
// input times the "factor" of the operator's FlexBuffer options.
type scaleKernel struct{}

func (scaleKernel) Prepare(op *tflite.CustomOp) (func() error, error) {
	if len(op.Inputs) != 1 || len(op.Outputs) != 1 || op.Inputs[0] == nil {
		return nil, errors.New("Scale takes one input and one output")
	}
	in, out := op.Inputs[0], op.Outputs[0]
	if in.Type != tensor.Float32 || out.Type != tensor.Float32 {
		return nil, fmt.Errorf("%w: Scale on %s", tflite.ErrUnsupportedOp, in.Type)
	}
	root, err := flexbuf.Root(op.Options)
	if err != nil {
		return nil, err
	}
	opts, err := root.Map()
	if err != nil {
		return nil, err
	}
	ref, err := opts.Get("factor")
	if err != nil {
		return nil, err
	}
	f, err := ref.Float()
	if err != nil {
		return nil, err
	}
	factor := float32(f)
	out.Shape = append(out.Shape[:0], in.Shape...) // same shape as the input
	return func() error {
		x, y := in.Float32s(), out.Float32s()
		for i, v := range x {
			y[i] = v * factor
		}
		return nil
	}, nil
}

// A model with a custom operator runs once its kernel is registered.
func ExampleRegisterCustom() {
	if err := tflite.RegisterCustom("Scale", scaleKernel{}); err != nil {
		log.Fatal(err)
	}

	// A model as a converter would write it: x → CUSTOM "Scale" → y.
	options, err := flexbuf.Encode(map[string]any{"factor": 2.5})
	if err != nil {
		log.Fatal(err)
	}
	b := tflitetest.NewBuilder()
	x := b.Tensor("x", tensor.Float32, []int{1, 3}, nil, nil)
	y := b.Tensor("y", tensor.Float32, []int{1, 3}, nil, nil)
	b.Custom("Scale", 1, []int{x}, []int{y}, options)
	b.Inputs(x)
	b.Outputs(y)
	data, err := b.Bytes()
	if err != nil {
		log.Fatal(err)
	}

	m, err := tflite.Load(data)
	if err != nil {
		log.Fatal(err)
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		log.Fatal(err)
	}
	copy(it.Input(0).Float32s(), []float32{1, -2, 0.5})
	if err := it.Invoke(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(it.Output(0).Float32s())
	// Output: [2.5 -5 1.25]
}
