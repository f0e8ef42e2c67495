package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func softmaxFloatRun(t testing.TB, a Arithmetic, beta float32, rows, depth int, x []float32) []float32 {
	t.Helper()
	in := convT("x", tensor.Float32, []int{rows, depth}, nil, x)
	out := convT("y", tensor.Float32, []int{rows, depth}, nil, nil)
	for j := range out.Data {
		out.Data[j] = 0x5a
	}
	k, err := Softmax(&Config{Arithmetic: a, Threads: 1}, SoftmaxParams{Beta: beta}, in, out)
	if err != nil {
		t.Fatalf("Softmax(%d×%d): %v", rows, depth, err)
	}
	if err := k.Eval(); err != nil {
		t.Fatalf("Eval(%d×%d): %v", rows, depth, err)
	}
	return append([]float32(nil), out.Float32s()...)
}

// TestSoftmaxFloatLiteRTVariants checks the LiteRT float SOFTMAX bit for
// bit against the portable variant, over row lengths around the vector
// width and the special values.
func TestSoftmaxFloatLiteRTVariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	type c struct {
		rows, depth int
		x           []float32
	}
	var cases []c
	for _, depth := range []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 64, 100, 335} {
		rows := 1 + rng.IntN(3)
		x := make([]float32, rows*depth)
		for i := range x {
			x[i] = float32((rng.Float64()*2 - 1) * 30)
			switch rng.IntN(40) {
			case 0:
				x[i] = float32(math.Inf(-1))
			case 1:
				x[i] = -200 // below the cutoff once the maximum is taken off
			}
		}
		cases = append(cases, c{rows, depth, x})
	}
	useVariant(t, VariantPortable)
	want := make([][]float32, len(cases))
	for i, cs := range cases {
		want[i] = softmaxFloatRun(t, LiteRT, 1, cs.rows, cs.depth, cs.x)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for i, cs := range cases {
			got := softmaxFloatRun(t, LiteRT, 1, cs.rows, cs.depth, cs.x)
			for j := range got {
				g, w := got[j], want[i][j]
				if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
					t.Fatalf("%s: %d×%d [%d] (x %v) = %v (%#08x); want %v (%#08x) as portable",
						v, cs.rows, cs.depth, j, cs.x[j], g, math.Float32bits(g), w, math.Float32bits(w))
				}
			}
		}
	})
}

// TestExpMinusMaxF32 checks the exponential against math.Exp, within 2.5
// ulp of the float32 result (the polynomial and the two-step reduction
// each add about one), and its exact points: exp(0) = 1, and 0 below the
// cutoff.
func TestExpMinusMaxF32(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v string) {
		exp := expMinusMaxF32sKernel()
		var x []float32
		for d := float32(0); d > -87.3; d -= 0.0137 {
			x = append(x, d)
		}
		x = append(x, 0, -87.4, -88, -200, float32(math.Inf(-1)))
		y := make([]float32, len(x))
		exp(x, y, 0)
		for i, d := range x {
			w := math.Exp(float64(d))
			if d < -87.33654 { // the cutoff, -0x1.5D589Ep6
				if y[i] != 0 {
					t.Errorf("%s: exp(%v) = %v; want 0 below the cutoff", v, d, y[i])
				}
				continue
			}
			ulp := float64(math.Nextafter32(float32(w), 2)) - float64(float32(w))
			if diff := math.Abs(float64(y[i]) - w); diff > 2.5*ulp {
				t.Errorf("%s: exp(%v) = %v; want %v (%.1f ulp off)", v, d, y[i], w, diff/ulp)
			}
		}
		if y[0] != 1 {
			t.Errorf("%s: exp(0) = %v; want 1", v, y[0])
		}
		// The same through the maximum: exp(x - mx) with x = mx = 5.
		exp([]float32{5, 5, 5, 5, 5, 5, 5, 5, 5}, y[:9], 5)
		for i := range 9 {
			if y[i] != 1 {
				t.Errorf("%s: exp(5 - 5) [%d] = %v; want 1", v, i, y[i])
			}
		}
	})
}

// TestSoftmaxFloatLiteRTValues checks hand-worked rows: equal values give
// 1/n (exact for n a power of 2), a value 200 below the maximum gives 0
// and the maximum 1, a NaN makes the row NaN; and that beta other than 1
// keeps the TFLite kernel (exp in double precision, then a division).
func TestSoftmaxFloatLiteRTValues(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v string) {
		got := softmaxFloatRun(t, LiteRT, 1, 1, 16, []float32{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3})
		for i, g := range got {
			if g != 1.0/16 {
				t.Errorf("%s: equal row [%d] = %v; want 1/16", v, i, g)
			}
		}
		got = softmaxFloatRun(t, LiteRT, 1, 1, 2, []float32{1, -199})
		if got[0] != 1 || got[1] != 0 {
			t.Errorf("%s: softmax(1, -199) = %v; want [1 0]", v, got)
		}
		got = softmaxFloatRun(t, LiteRT, 1, 1, 9, []float32{0, 1, 2, float32(math.NaN()), 4, 5, 6, 7, 8})
		for i, g := range got {
			if g == g {
				t.Errorf("%s: row with a NaN [%d] = %v; want NaN", v, i, g)
			}
		}
		// ln 3 apart: e^0 : e^-ln3 = 3 : 1, so 0.75 and 0.25 within the
		// exponential's error.
		got = softmaxFloatRun(t, LiteRT, 1, 1, 2, []float32{0, float32(-math.Log(3))})
		if math.Abs(float64(got[0])-0.75) > 2e-7 || math.Abs(float64(got[1])-0.25) > 2e-7 {
			t.Errorf("%s: softmax(0, -ln 3) = %v; want [0.75 0.25]", v, got)
		}
	})
	x := []float32{0.5, -1.25, 2}
	got := softmaxFloatRun(t, LiteRT, 0.5, 1, 3, x)
	var sum float32
	e := make([]float32, 3)
	for i, v := range x {
		e[i] = float32(math.Exp(float64((v - 2) * 0.5)))
		sum += e[i]
	}
	for i := range e {
		if w := e[i] / sum; got[i] != w {
			t.Errorf("beta 0.5 [%d] = %v; want %v (TFLite's kernel)", i, got[i], w)
		}
	}
}

func BenchmarkSoftmaxFloat(b *testing.B) {
	// torchaudio Conformer's attention softmax: rows of 335.
	const rows, depth = 400, 335
	x := make([]float32, rows*depth)
	for i := range x {
		x[i] = float32(i%97)/8 - 6
	}
	for _, a := range []Arithmetic{Reference, LiteRT} {
		b.Run(a.String(), func(b *testing.B) {
			in := convT("x", tensor.Float32, []int{rows, depth}, nil, x)
			out := convT("y", tensor.Float32, []int{rows, depth}, nil, nil)
			k, err := Softmax(&Config{Arithmetic: a, Threads: 1}, SoftmaxParams{Beta: 1}, in, out)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if err := k.Eval(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows*depth), "ns/elem")
		})
	}
}
