//go:build edged_dynamic

package litert

import (
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// The check model a library must run before edged trusts it: y = x + c
// on float32 [1,4], with c a constant. Float additions of these values
// are exact, so the answer is known without running anything.
var (
	checkInput  = []float32{1, -2, 0.5, 1024}
	checkConst  = []float32{0.25, 3, -0.5, -1}
	checkOutput = []float32{1.25, 1, 0, 1023}
)

// checkModel builds the check model with the given ADD version (1 for the
// real one; tests use an impossible version to make the library refuse
// it).
func checkModel(addVersion int) ([]byte, error) {
	b := tflitetest.NewBuilder()
	b.Description = "edged library check"
	x := b.Tensor("x", tensor.Float32, []int{1, 4}, nil, nil)
	c := b.Const("c", tensor.Float32, []int{1, 4}, nil, tflitetest.Float32Bytes(checkConst))
	y := b.Tensor("y", tensor.Float32, []int{1, 4}, nil, nil)
	b.Op(builtinADD, addVersion, []int{x, c}, []int{y}, tflitetest.AddOptions(actNone))
	b.Inputs(x)
	b.Outputs(y)
	return b.Bytes()
}
