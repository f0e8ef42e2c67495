package kernels

import (
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// TestFCHybridHandWorked runs a 2-input, 1-unit hybrid FULLY_CONNECTED
// (weights 10, 20 with scale 0.5, bias 1) on x = (1, −2), worked by hand:
//
//   - TFLite's symmetric quantization: scale 2/127, q = (64, −127)
//     (63.5 rounds away from zero), acc = 640 − 2540 = −1900, y = 1 +
//     −1900·(2/127·0.5) = −13.96063;
//   - XNNPACK's qd8: range [−2, 1], scale 255/3 = 85, zero point 127 − 85
//     = 42, q = (127, −128), acc = 10·85 + 20·(−170) = −2550, y =
//     −2550·(1/85)·0.5 + 1 = −14;
//   - with asymmetric_quantize_inputs TFLite's range gives scale 3/255
//     and zero point −128 + 2·85 = 42: the same q and y = −14.
func TestFCHybridHandWorked(t *testing.T) {
	for _, tc := range []struct {
		arith Arithmetic
		asym  bool
		want  float64
	}{
		{Reference, false, -13.96063},
		{Reference, true, -14},
		{LiteRT, false, -14},
		{LiteRT, true, -14},
	} {
		x := convT("x", tensor.Float32, []int{1, 2}, nil, []float32{1, -2})
		w := constT("w", tensor.Int8, []int{1, 2}, convQ(0.5, 0), []int8{10, 20})
		b := constT("b", tensor.Float32, []int{1}, nil, []float32{1})
		y := convT("y", tensor.Float32, []int{1, 1}, nil, nil)
		k, err := FullyConnected(&Config{Arithmetic: tc.arith}, FullyConnectedParams{AsymmetricQuantizeInputs: tc.asym}, x, w, b, y)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Eval(); err != nil {
			t.Fatal(err)
		}
		if got := float64(y.Float32s()[0]); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("%s asymmetric %v: y = %g; want %g", tc.arith, tc.asym, got, tc.want)
		}
		if a := testing.AllocsPerRun(5, func() { _ = k.Eval() }); a != 0 {
			t.Errorf("Eval allocates %v times", a)
		}
	}
}

// TestConvHybridHandWorked: a 1×1 CONV_2D over two pixels (1, −2) and
// (0, 0.5) with the same weights. TFLite quantizes the whole image
// symmetrically with scale 2/127: pixel 2 is q = (0, 32) (31.75 rounds
// to 32), acc = 640, y = 1 + 640·(1/127) = 6.03937. XNNPACK runs a
// stride-1 pointwise convolution as a fully connected layer and
// quantizes each pixel on its own: pixel 1 as the FC above (−14), pixel
// 2 over [0, 0.5] with scale 510 and zero point −128, q = (−128, 127),
// acc = 20·255 = 5100, y = 5100·(1/510)·0.5 + 1 = 6.
func TestConvHybridHandWorked(t *testing.T) {
	for _, tc := range []struct {
		arith Arithmetic
		want  [2]float64
	}{
		{Reference, [2]float64{-13.96063, 6.03937}},
		{LiteRT, [2]float64{-14, 6}},
	} {
		x := convT("x", tensor.Float32, []int{1, 1, 2, 2}, nil, []float32{1, -2, 0, 0.5})
		w := constT("w", tensor.Int8, []int{1, 1, 1, 2}, convQ(0.5, 0), []int8{10, 20})
		b := constT("b", tensor.Float32, []int{1}, nil, []float32{1})
		y := convT("y", tensor.Float32, []int{1, 1, 2, 1}, nil, nil)
		k, err := Conv2D(&Config{Arithmetic: tc.arith}, ConvParams{Padding: PaddingValid, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}, x, w, b, y)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Eval(); err != nil {
			t.Fatal(err)
		}
		for i, want := range tc.want {
			if got := float64(y.Float32s()[i]); math.Abs(got-want) > 1e-5 {
				t.Errorf("%s pixel %d: y = %g; want %g", tc.arith, i, got, want)
			}
		}
		if a := testing.AllocsPerRun(5, func() { _ = k.Eval() }); a != 0 {
			t.Errorf("Eval allocates %v times", a)
		}
	}
}
