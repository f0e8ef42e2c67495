package kernels

import (
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// TestRNNHandWorked: one unit, one input, w = 2, r = 0.5, b = 1 over the
// sequence x = (1, 2): h1 = 2·1 + 0.5·0 + 1 = 3, h2 = 2·2 + 0.5·3 + 1 =
// 6.5; run again, the state carries: h1 = 2 + 0.5·6.5 + 1 = 6.25, h2 = 4
// + 0.5·6.25 + 1 = 8.125. With RELU and x = (−2, −2) from h = 0: h1 =
// relu(−3) = 0, h2 = 0.
func TestRNNHandWorked(t *testing.T) {
	x := convT("x", tensor.Float32, []int{1, 2, 1}, nil, []float32{1, 2})
	w := constT("w", tensor.Float32, []int{1, 1}, nil, []float32{2})
	r := constT("r", tensor.Float32, []int{1, 1}, nil, []float32{0.5})
	b := constT("b", tensor.Float32, []int{1}, nil, []float32{1})
	h := convT("h", tensor.Float32, []int{1, 1}, nil, []float32{0})
	y := convT("y", tensor.Float32, []int{1, 2, 1}, nil, nil)
	k, err := RNN(&Config{}, RNNParams{Sequence: true}, x, w, r, b, h, y)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]float64{{3, 6.5}, {6.25, 8.125}} {
		if err := k.Eval(); err != nil {
			t.Fatal(err)
		}
		checkNear(t, "output", f64s(y.Float32s()), []float32{float32(want[0]), float32(want[1])}, 0)
	}
	if a := testing.AllocsPerRun(5, func() { _ = k.Eval() }); a != 0 {
		t.Errorf("Eval allocates %v times", a)
	}
	copy(x.Float32s(), []float32{-2, -2})
	h.Float32s()[0] = 0
	k, err = RNN(&Config{}, RNNParams{Sequence: true, Activation: ActRelu}, x, w, r, b, h, y)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Eval(); err != nil {
		t.Fatal(err)
	}
	checkNear(t, "relu output", f64s(y.Float32s()), []float32{0, 0}, 0)
}
