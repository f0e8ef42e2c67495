// Package infertest holds what the tests of the inference protocols (HTTP
// and gRPC) share: the model of Triton's binary-data example and the
// answer the tests' backends give it.
package infertest

import (
	"encoding/binary"
	"math"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// TritonExample is the model of Triton's binary-data example: input0
// UINT32 [2,2], input1 BOOL [3], output0 FP32 [3,2], at version 3.
var TritonExample = infer.ModelInfo{Name: "mymodel", Version: "3", Ready: true,
	Inputs:  []infer.TensorSpec{{Name: "input0", DType: tensor.UInt32, Shape: []int{2, 2}}, {Name: "input1", DType: tensor.Bool, Shape: []int{3}}},
	Outputs: []infer.TensorSpec{{Name: "output0", DType: tensor.Float32, Shape: []int{3, 2}}},
}

// TritonExampleAnswer is the tests' answer to a request for
// TritonExample: output0 = [1.5·input0[0..3], the number of trues in
// input1, -0.25].
func TritonExampleAnswer(req *infer.Request) *infer.Response {
	in0, in1 := req.Inputs[0].Data, req.Inputs[1].Data
	out := make([]byte, 24)
	for i := range 4 {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(1.5*float32(binary.LittleEndian.Uint32(in0[4*i:]))))
	}
	trues := 0
	for _, v := range in1 {
		trues += int(v)
	}
	binary.LittleEndian.PutUint32(out[16:], math.Float32bits(float32(trues)))
	binary.LittleEndian.PutUint32(out[20:], math.Float32bits(-0.25))
	return &infer.Response{Outputs: []infer.Tensor{{Name: "output0", DType: tensor.Float32, Shape: []int{3, 2}, Data: out}}}
}
