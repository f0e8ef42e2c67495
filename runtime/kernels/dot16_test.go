package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestDot16 checks the int16×int8 dot product under every variant: at
// the extremes (every product 2²², the lane bound dot16's chunks keep),
// over lengths around the vector and chunk sizes, against the sum of the
// products in int64.
func TestDot16(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	forEachVariant(t, func(t *testing.T, v string) {
		for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 48, 256, 768, 1023, 1024, 1025, 1040, 4096 + 16 + 5} {
			x, w := make([]int16, n), make([]int16, n)
			for i := range x {
				x[i], w[i] = -32768, -128
			}
			if got, want := dot16(x, w), int64(n)*4194304; got != want {
				t.Errorf("%s: n=%d, every product (-32768)·(-128): %d; want %d", v, n, got, want)
			}
			for i := range x {
				x[i], w[i] = 32767, -128
			}
			if got, want := dot16(x, w), -int64(n)*4194176; got != want {
				t.Errorf("%s: n=%d, every product 32767·(-128): %d; want %d", v, n, got, want)
			}
			var want int64
			for i := range x {
				x[i], w[i] = int16(rng.IntN(65536)-32768), int16(rng.IntN(256)-128)
				want += int64(x[i]) * int64(w[i])
			}
			if got := dot16(x, w); got != want {
				t.Errorf("%s: n=%d, random: %d; want %d", v, n, got, want)
			}
		}
	})
}
