package tflitetest

import (
	"fmt"
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Int8MLP writes a fully-connected int8 network with the given layer
// widths (sizes[0] inputs, then one FULLY_CONNECTED layer per further
// size, RELU between layers), random weights from seed, and a batch
// dimension that ResizeInput may change ([1, sizes[0]] in, [1, last] out).
// It is for benchmarks and tests that need a model bigger than the shared
// ones without naming schema types.
func Int8MLP(seed uint64, sizes ...int) ([]byte, error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("building the test model: want at least 2 sizes, got %v", sizes)
	}
	r := rand.New(rand.NewPCG(seed, 0x6d6c70))
	b := NewBuilder()
	act := func(name string, n int) int {
		return b.Tensor(name, tensor.Int8, []int{1, n}, &tensor.Quant{Scale: []float32{0.05}, ZeroPoint: []int32{-3}}, nil)
	}
	in := act("input", sizes[0])
	b.Inputs(in)
	cur := in
	for l := 1; l < len(sizes); l++ {
		depth, units := sizes[l-1], sizes[l]
		w := make([]int8, units*depth)
		for i := range w {
			w[i] = int8(r.IntN(255) - 127)
		}
		bias := make([]int32, units)
		for i := range bias {
			bias[i] = int32(r.IntN(2001) - 1000)
		}
		// Output scale chosen so activations stay in range for these weights.
		wt := b.Tensor(fmt.Sprintf("w%d", l), tensor.Int8, []int{units, depth}, &tensor.Quant{Scale: []float32{0.002}, ZeroPoint: []int32{0}}, Int8Bytes(w))
		bt := b.Tensor(fmt.Sprintf("b%d", l), tensor.Int32, []int{units}, &tensor.Quant{Scale: []float32{0.05 * 0.002}, ZeroPoint: []int32{0}}, Int32Bytes(bias))
		out := act(fmt.Sprintf("fc%d", l), units)
		a := schema.ActivationFunctionTypeRELU
		if l == len(sizes)-1 {
			a = schema.ActivationFunctionTypeNONE
		}
		b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 4, []int{cur, wt, bt}, []int{out}, FullyConnectedOptions(a, false))
		cur = out
	}
	b.Outputs(cur)
	return b.Bytes()
}
