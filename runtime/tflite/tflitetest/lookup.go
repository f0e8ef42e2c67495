package tflitetest

import (
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Lookup writes a model that answers an int32 index ([1], input "index")
// with that entry of table ([1] float32, output "value"): one GATHER
// from a constant. An index outside the table fails the invocation, so
// that a test can make a real interpreter fail chosen requests without
// naming schema types.
func Lookup(table []float32) ([]byte, error) {
	b := NewBuilder()
	params := b.Const("table", tensor.Float32, []int{len(table)}, nil, Float32Bytes(table))
	idx := b.Tensor("index", tensor.Int32, []int{1}, nil, nil)
	out := b.Tensor("value", tensor.Float32, []int{1}, nil, nil)
	b.Op(schema.BuiltinOperatorGATHER, 1, []int{params, idx}, []int{out}, GatherOptions(0, 0))
	b.Inputs(idx)
	b.Outputs(out)
	return b.Bytes()
}
