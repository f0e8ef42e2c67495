package drift

import (
	"math"
	"testing"
)

func near(got, want, tol float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= tol
}

func TestPSI(t *testing.T) {
	tests := []struct {
		name      string
		ref, live []float64
		want      float64
	}{
		// (0.25−0.5)·ln(0.25/0.5) + (0.75−0.5)·ln(0.75/0.5)
		// = 0.25·ln 2 + 0.25·ln 1.5 = 0.173287 + 0.101366
		{"halves vs quarters", []float64{0.5, 0.5}, []float64{0.25, 0.75}, 0.274653},
		{"symmetric", []float64{0.25, 0.75}, []float64{0.5, 0.5}, 0.274653},
		{"identical", []float64{0.1, 0.2, 0.7}, []float64{0.1, 0.2, 0.7}, 0},
		// Empty reference bin raised to ε = 1e-4:
		// (0.4−0.5)·ln(0.8) + (0.1−0.0001)·ln(0.1/0.0001)
		// = 0.022314 + 0.0999·6.907755 = 0.712399
		{"empty bin epsilon", []float64{0.5, 0.5, 0}, []float64{0.5, 0.4, 0.1}, 0.712399},
		{"length mismatch", []float64{1}, []float64{0.5, 0.5}, math.NaN()},
		{"empty", nil, nil, math.NaN()},
	}
	for _, tt := range tests {
		if got := PSI(tt.ref, tt.live); !near(got, tt.want, 1e-6) {
			t.Errorf("PSI(%s) = %.7g; want %.7g", tt.name, got, tt.want)
		}
	}
}

func TestKS(t *testing.T) {
	tests := []struct {
		name      string
		ref, live []uint64
		want      float64
	}{
		// Samples {1,2,3,4,5} and {3,4,5,6,7,8}, one bin per integer.
		// CDFs .2 .4 .6 .8 1 1 1 1 and 0 0 1/6 2/6 3/6 4/6 5/6 1:
		// differences .2 .4 .433 .467 .5 .333 .167 0, so D = 0.5.
		{"small samples", []uint64{1, 1, 1, 1, 1, 0, 0, 0}, []uint64{0, 0, 1, 1, 1, 1, 1, 1}, 0.5},
		// CDFs .2 .5 1 and .5 .8 1.
		{"counts", []uint64{2, 3, 5}, []uint64{5, 3, 2}, 0.3},
		{"disjoint", []uint64{3, 0}, []uint64{0, 7}, 1},
		{"same shape, other n", []uint64{1, 2, 1}, []uint64{100, 200, 100}, 0},
		{"empty live", []uint64{1, 2}, []uint64{0, 0}, math.NaN()},
		{"length mismatch", []uint64{1}, []uint64{1, 1}, math.NaN()},
	}
	for _, tt := range tests {
		if got := KS(tt.ref, tt.live); !near(got, tt.want, 1e-12) {
			t.Errorf("KS(%s) = %g; want %g", tt.name, got, tt.want)
		}
	}
}

func TestKolmogorovQ(t *testing.T) {
	// Critical values of the Kolmogorov distribution (Smirnov 1948;
	// e.g. Massey 1951, Table 1 asymptotic row): 1.2238 (α=0.10),
	// 1.3581 (0.05), 1.6276 (0.01); Q(0.5) = 1−0.0361, Q(0.8) = 1−0.4559.
	tests := []struct {
		name   string
		lambda float64
		want   float64
		tol    float64
	}{
		{"alpha 0.10", 1.2238, 0.10, 1e-4},
		{"alpha 0.05", 1.3581, 0.05, 1e-4},
		{"alpha 0.01", 1.6276, 0.01, 1e-4},
		{"0.5 (small-lambda branch)", 0.5, 0.9639, 1e-4},
		{"0.8 (small-lambda branch)", 0.8, 0.5441, 1e-4},
		{"zero", 0, 1, 0},
		{"large", 10, 0, 1e-80},
		{"NaN", math.NaN(), math.NaN(), 0},
	}
	for _, tt := range tests {
		if got := KolmogorovQ(tt.lambda); !near(got, tt.want, tt.tol) {
			t.Errorf("KolmogorovQ(%s) = %.6g; want %.6g ± %g", tt.name, got, tt.want, tt.tol)
		}
	}
	// The two branches meet at 1.18.
	if a, b := KolmogorovQ(1.18-1e-9), KolmogorovQ(1.18); !near(a, b, 1e-9) {
		t.Errorf("KolmogorovQ branches at 1.18: %g vs %g", a, b)
	}
}

func TestKSPValue(t *testing.T) {
	tests := []struct {
		name string
		d    float64
		n, m int
		want float64
		tol  float64
	}{
		// Large-sample critical value D = 1.358·√((n+m)/(n·m)) is the
		// α = 0.05 point; the NR small-sample correction moves it by
		// (0.12 + 0.11/√nₑ)/√nₑ, under 1% of λ for nₑ = 500.
		{"n=m=1000 at D_crit(0.05)", 1.358 * math.Sqrt(2.0/1000), 1000, 1000, 0.05, 0.003},
		{"n=1000 m=8192 at D_crit(0.05)", 1.358 * math.Sqrt((1000.0+8192)/(1000*8192)), 1000, 8192, 0.05, 0.003},
		{"n=1000 m=8192 at D_crit(0.01)", 1.628 * math.Sqrt((1000.0+8192)/(1000*8192)), 1000, 8192, 0.01, 0.001},
		// n=m=10, D=0.3: nₑ=5, λ=(2.236068+0.12+0.049193)·0.3=0.721578;
		// Q = 2(e^−1.041351 − e^−4.165403 + e^−9.372157 − …) = 0.675078.
		{"n=m=10 D=0.3", 0.3, 10, 10, 0.675078, 1e-5},
		{"D=0", 0, 10, 10, 1, 0},
		{"bad n", 0.3, 0, 10, math.NaN(), 0},
		{"bad d", 1.5, 10, 10, math.NaN(), 0},
	}
	for _, tt := range tests {
		if got := KSPValue(tt.d, tt.n, tt.m); !near(got, tt.want, tt.tol) {
			t.Errorf("KSPValue(%s) = %.6g; want %.6g ± %g", tt.name, got, tt.want, tt.tol)
		}
	}
}

func TestBonferroni(t *testing.T) {
	tests := []struct {
		name string
		p    float64
		m    int
		want float64
	}{
		{"one test", 0.03, 1, 0.03},
		{"ten tests", 0.003, 10, 0.03},
		{"capped", 0.2, 10, 1},
		{"no tests", 0.2, 0, math.NaN()},
	}
	for _, tt := range tests {
		if got := Bonferroni(tt.p, tt.m); !near(got, tt.want, 1e-15) {
			t.Errorf("Bonferroni(%s) = %g; want %g", tt.name, got, tt.want)
		}
	}
}

func TestGammaQ(t *testing.T) {
	tests := []struct {
		name string
		a, x float64
		want float64
		tol  float64
	}{
		// Q(1, x) = e^−x.
		{"a=1 x=0.5 (series)", 1, 0.5, 0.6065307, 1e-7},
		{"a=1 x=5 (fraction)", 1, 5, 0.006737947, 1e-9},
		// Q(1/2, x) = erfc(√x); erfc(1) = 0.1572992.
		{"a=1/2 x=1", 0.5, 1, 0.1572992, 1e-7},
		{"x=0", 3, 0, 1, 0},
		{"a=0", 0, 1, math.NaN(), 0},
		{"x<0", 1, -1, math.NaN(), 0},
	}
	for _, tt := range tests {
		if got := GammaQ(tt.a, tt.x); !near(got, tt.want, tt.tol) {
			t.Errorf("GammaQ(%s) = %.8g; want %.8g", tt.name, got, tt.want)
		}
	}
}

func TestChiSquareP(t *testing.T) {
	// Upper-tail critical values from the chi-square table (e.g. NIST
	// Engineering Statistics Handbook §1.3.6.7.4).
	tests := []struct {
		name string
		x2   float64
		df   int
		want float64
		tol  float64
	}{
		{"df=1 3.841", 3.841, 1, 0.05, 1e-4},
		{"df=2 5.991", 5.991, 2, 0.05, 1e-4},
		{"df=5 15.086", 15.086, 5, 0.01, 1e-4},
		{"df=10 18.307", 18.307, 10, 0.05, 1e-4},
		{"df=10 3.940", 3.940, 10, 0.95, 1e-4},
		{"df=30 50.892", 50.892, 30, 0.01, 1e-4},
		{"df=100 124.342", 124.342, 100, 0.05, 1e-4},
		// df=2 has the closed form e^(−x/2): e^−5.
		{"df=2 x=10", 10, 2, 0.006737947, 1e-9},
		{"df=0", 3, 0, 1, 0},
	}
	for _, tt := range tests {
		if got := ChiSquareP(tt.x2, tt.df); !near(got, tt.want, tt.tol) {
			t.Errorf("ChiSquareP(%s) = %.6g; want %.6g ± %g", tt.name, got, tt.want, tt.tol)
		}
	}
}

func TestChiSquare(t *testing.T) {
	tests := []struct {
		name      string
		ref, live []uint64
		want      float64
		wantDF    int
	}{
		// Totals 100 and 100, columns 80 and 120: expected 40 and 60 in
		// each row; χ² = 2·(10²/40 + 10²/60) = 8.333333.
		{"2x2", []uint64{50, 50}, []uint64{30, 70}, 8.333333, 1},
		{"empty category dropped", []uint64{50, 0, 50}, []uint64{30, 0, 70}, 8.333333, 1},
		// Columns 15 and 5 over 20: expected 7.5, 2.5 per row;
		// χ² = 2·(2.5²/7.5) + 2·(2.5²/2.5) = 1.666667 + 5.
		{"class unseen in reference", []uint64{10, 0}, []uint64{5, 5}, 6.666667, 1},
		{"identical shape", []uint64{10, 20, 30}, []uint64{1, 2, 3}, 0, 2},
		{"single category", []uint64{10, 0}, []uint64{5, 0}, 0, 0},
		{"empty live", []uint64{10, 5}, []uint64{0, 0}, math.NaN(), 0},
	}
	for _, tt := range tests {
		got, df := ChiSquare(tt.ref, tt.live)
		if !near(got, tt.want, 1e-6) || df != tt.wantDF {
			t.Errorf("ChiSquare(%s) = %.7g, df %d; want %.7g, df %d", tt.name, got, df, tt.want, tt.wantDF)
		}
	}
}

func TestJS(t *testing.T) {
	tests := []struct {
		name string
		p, q []float64
		want float64
	}{
		{"identical", []float64{0.2, 0.3, 0.5}, []float64{0.2, 0.3, 0.5}, 0},
		{"disjoint", []float64{0.5, 0.5, 0, 0}, []float64{0, 0, 0.4, 0.6}, 1},
		// M = (0.75, 0.25); KL(P‖M) = log2(4/3) = 0.415037;
		// KL(Q‖M) = 0.5·log2(2/3) + 0.5·log2(2) = 0.207519;
		// JSD = 0.311278, distance √0.311278 = 0.557923.
		{"point vs uniform", []float64{1, 0}, []float64{0.5, 0.5}, 0.557923},
		{"length mismatch", []float64{1}, []float64{0.5, 0.5}, math.NaN()},
	}
	for _, tt := range tests {
		if got := JS(tt.p, tt.q); !near(got, tt.want, 1e-6) {
			t.Errorf("JS(%s) = %.7g; want %.7g", tt.name, got, tt.want)
		}
	}
}
