package kernels

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// TestRFFT2D compares the transform with the definition of the 2-D DFT
// evaluated term by term in float64, for crops and zero padding.
func TestRFFT2D(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ shape, fft []int }{
		{[]int{1, 8}, []int{1, 8}},
		{[]int{4, 8}, []int{4, 8}},
		{[]int{2, 3, 5}, []int{4, 8}},     // padded
		{[]int{7, 20}, []int{4, 16}},      // cropped
		{[]int{3, 1, 512}, []int{1, 512}}, // YAMNet's frames
		{[]int{2, 2}, []int{2, 2}},
	} {
		in := &tensor.Tensor{Name: "in", Type: tensor.Float32, Shape: tc.shape}
		in.Data = make([]byte, 4*in.NumElements())
		x := in.Float32s()
		for i := range x {
			x[i] = float32(r.Float64()*2 - 1)
		}
		out := &tensor.Tensor{Name: "out", Type: tensor.Complex64}
		k, err := RFFT2D(in, tc.fft, out)
		if err != nil {
			t.Fatal(err)
		}
		out.Data = make([]byte, 8*out.NumElements())
		if err := k.Eval(); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(3, func() { _ = k.Eval() }); a != 0 {
			t.Errorf("Eval allocates %v times", a)
		}
		rank := len(tc.shape)
		h, w := tc.shape[rank-2], tc.shape[rank-1]
		fh, fw := tc.fft[0], tc.fft[1]
		bins := fw/2 + 1
		y := out.Complex64s()
		for s := 0; s < tensor.NumElements(tc.shape[:rank-2]); s++ {
			for kk := 0; kk < fh; kk++ {
				for l := 0; l < bins; l++ {
					var sum complex128
					for m := 0; m < min(h, fh); m++ {
						for n := 0; n < min(w, fw); n++ {
							a := -2 * math.Pi * (float64(kk*m)/float64(fh) + float64(l*n)/float64(fw))
							sum += complex(float64(x[s*h*w+m*w+n]), 0) * cmplx.Exp(complex(0, a))
						}
					}
					got := complex128(y[(s*fh+kk)*bins+l])
					if cmplx.Abs(got-sum) > 1e-5*(1+cmplx.Abs(sum)) {
						t.Fatalf("%v/%v: X[%d][%d,%d] = %v; want %v", tc.shape, tc.fft, s, kk, l, got, sum)
					}
				}
			}
		}
	}
	in := &tensor.Tensor{Name: "in", Type: tensor.Float32, Shape: []int{4, 4}}
	for _, bad := range [][]int{{3, 4}, {4, 0}, {4}, {4, 1 << 21}} {
		if _, err := RFFT2D(in, bad, &tensor.Tensor{Type: tensor.Complex64}); err == nil {
			t.Errorf("RFFT2D(fft_length %v) succeeded; want an error", bad)
		}
	}
}

// TestHypotf checks the special cases of C's hypotf and values whose
// float32 result is known.
func TestHypotf(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, tc := range []struct{ x, y, want float32 }{
		{3, 4, 5},
		{-3, 4, 5},
		{0, -2, 2},
		{0, 0, 0},
		{inf, nan, inf},
		{nan, -inf, inf},
		{3 * 0x1p100, 4 * 0x1p100, 5 * 0x1p100}, // scaled down
		{3 * 0x1p-100, -4 * 0x1p-100, 5 * 0x1p-100}, // scaled up
		{1, 1e-10, 1},
	} {
		got := hypotf(tc.x, tc.y)
		if got != tc.want {
			t.Errorf("hypotf(%g, %g) = %g; want %g", tc.x, tc.y, got, tc.want)
		}
	}
	if got := hypotf(nan, 1); !math.IsNaN(float64(got)) {
		t.Errorf("hypotf(NaN, 1) = %g; want NaN", got)
	}
}

// TestLUT16 checks the interpolated int16 table on the identity: the
// table maps the output range onto 65536 steps of (max-min)/65536, so
// every input comes back within one step.
func TestLUT16(t *testing.T) {
	q := &tensor.Quant{Scale: []float32{1.0 / 32768}, ZeroPoint: []int32{0}}
	in := &tensor.Tensor{Type: tensor.Int16, Quant: q}
	lut := lutPopulate16(in, in, func(x float32) float32 { return x })
	for v := math.MinInt16; v <= math.MaxInt16; v++ {
		if got := lutLookup16(int16(v), lut); int(got) < v-1 || int(got) > v+1 {
			t.Fatalf("identity table: %d -> %d", v, got)
		}
	}
}
