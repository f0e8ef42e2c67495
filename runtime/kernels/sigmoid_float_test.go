package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func logisticRun(t *testing.T, x []float32) []float32 {
	t.Helper()
	in := convT("x", tensor.Float32, []int{len(x)}, nil, x)
	out := convT("y", tensor.Float32, []int{len(x)}, nil, nil)
	for j := range out.Data {
		out.Data[j] = 0x5a
	}
	k, err := Logistic(&Config{Threads: 1}, in, out)
	if err != nil {
		t.Fatalf("Logistic(n %d): %v", len(x), err)
	}
	if err := k.Eval(); err != nil {
		t.Fatalf("Eval(n %d): %v", len(x), err)
	}
	return append([]float32(nil), out.Float32s()...)
}

// TestLogisticFloatVariants checks float32 LOGISTIC bit for bit against
// the portable variant, over every tail length and the special values.
func TestLogisticFloatVariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	var xs [][]float32
	for _, n := range eltwiseSizes() {
		x := eltwiseInput(rng, n)
		for i := range x {
			if rng.IntN(3) == 0 {
				x[i] *= 25 // past the cutoff of ±87.3 now and then
			}
		}
		xs = append(xs, x)
	}
	useVariant(t, VariantPortable)
	want := make([][]float32, len(xs))
	for i, x := range xs {
		want[i] = logisticRun(t, x)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for i, x := range xs {
			got := logisticRun(t, x)
			for j := range got {
				g, w := got[j], want[i][j]
				if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
					t.Fatalf("%s: n %d: logistic(%v) [%d] = %v (%#08x); want %v (%#08x) as portable",
						v, len(x), x[j], j, g, math.Float32bits(g), w, math.Float32bits(w))
				}
			}
		}
	})
}

// TestLogisticFloatValues checks float32 LOGISTIC against the sigmoid in
// float64 (within 3 ulp of the float32 result plus 1e-37 absolute, for the
// tiny results near the cutoff) and its limits, under every variant.
func TestLogisticFloatValues(t *testing.T) {
	x := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 88, -88, 87, -87, 200, -200}
	rng := rand.New(rand.NewPCG(9, 1))
	for len(x) < 4099 {
		x = append(x, float32((rng.Float64()*2-1)*20))
	}
	exact := func(v float32) float64 { return 1 / (1 + math.Exp(-float64(v))) }
	forEachVariant(t, func(t *testing.T, v string) {
		got := logisticRun(t, x)
		for i, g := range got {
			w := exact(x[i])
			ulp := float64(math.Nextafter32(float32(w), 2)) - float64(float32(w))
			if d := math.Abs(float64(g) - w); d > 3*ulp+1e-37 || math.IsNaN(float64(g)) {
				t.Errorf("%s: logistic(%v) = %v; want %v (off by %.3g, %.1f ulp)", v, x[i], g, w, d, d/ulp)
			}
		}
		for i, w := range []float32{0.5, 0.5, 1, 0, 1, 0} {
			if got[i] != w {
				t.Errorf("%s: logistic(%v) = %v; want %v", v, x[i], got[i], w)
			}
		}
	})
}

func BenchmarkLogisticFloat(b *testing.B) {
	// yolov5n's largest LOGISTIC: [1, 320, 320, 16] (SiLU after the stem).
	n := 320 * 320 * 16
	for _, v := range Variants() {
		if v != VariantPortable && v != VariantAVX2 {
			continue
		}
		b.Run(v, func(b *testing.B) {
			prev, _ := SetVariant(v)
			defer SetVariant(prev)
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i%200)/10 - 10
			}
			in := convT("x", tensor.Float32, []int{n}, nil, x)
			out := convT("y", tensor.Float32, []int{n}, nil, nil)
			k, err := Logistic(&Config{Threads: 1}, in, out)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(8 * n))
			b.ResetTimer()
			for range b.N {
				if err := k.Eval(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
		})
	}
}
