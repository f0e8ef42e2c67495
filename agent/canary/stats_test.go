package canary

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestFisher(t *testing.T) {
	// Expected values are exact hypergeometric sums worked by hand (the
	// tea-tasting table: P(4)=1/70, P(3)=16/70, P(2)=36/70; Wikipedia's
	// dieting example with C(24,12) = 2704156: P(a=0) = 91/2704156,
	// P(1) = 10·364/2704156, P(9) = P(1) and P(10) = P(0) by symmetry,
	// P(8) = 45·1001/2704156; two-sided 7462/2704156 = 0.002759 as R's
	// fisher.test prints).
	tests := []struct {
		name               string
		a, b, c, d         uint64
		less, greater, two float64
	}{
		{"tea tasting [[3,1],[1,3]]", 3, 1, 1, 3, 69.0 / 70, 17.0 / 70, 34.0 / 70},
		{"dieting [[1,9],[11,3]]", 1, 9, 11, 3, 3731.0 / 2704156, 1 - 91.0/2704156, 7462.0 / 2704156},
		{"all alike [[5,0],[5,0]]", 5, 0, 5, 0, 1, 1, 1},
		{"one cell [[1,0],[0,0]]", 1, 0, 0, 0, 1, 1, 1},
		{"empty", 0, 0, 0, 0, 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			less, greater, two := Fisher(tt.a, tt.b, tt.c, tt.d)
			if !near(less, tt.less, 5e-7) || !near(greater, tt.greater, 5e-7) || !near(two, tt.two, 5e-7) {
				t.Errorf("Fisher(%d,%d,%d,%d) = %.7f, %.7f, %.7f; want %.7f, %.7f, %.7f",
					tt.a, tt.b, tt.c, tt.d, less, greater, two, tt.less, tt.greater, tt.two)
			}
		})
	}
}

func TestTwoProportionZ(t *testing.T) {
	// By hand: pooled p = (x1+x2)/(n1+n2), se = sqrt(p(1−p)(1/n1+1/n2)),
	// z = (x1/n1 − x2/n2)/se; the p-value 2·Q(|z|) from erfc.
	//   91/100 vs 84/100: p = .875, se = sqrt(.0021875) = .0467707, z = 1.496663, p = .134481
	//   45/60 vs 30/60:   p = .625, se = sqrt(.0078125) = .0883883, z = 2√2 = 2.828427, p = .004678
	tests := []struct {
		name           string
		x1, n1, x2, n2 uint64
		z, p           float64
	}{
		{"91/100 vs 84/100", 91, 100, 84, 100, 1.496663, 0.134481},
		{"45/60 vs 30/60", 45, 60, 30, 60, 2.828427, 0.004678},
		{"30/60 vs 45/60", 30, 60, 45, 60, -2.828427, 0.004678},
		{"all correct", 10, 10, 20, 20, 0, 1},
		{"empty arm", 0, 0, 3, 4, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, p := TwoProportionZ(tt.x1, tt.n1, tt.x2, tt.n2)
			if !near(z, tt.z, 1e-6) || !near(p, tt.p, 1e-6) {
				t.Errorf("TwoProportionZ(%d/%d, %d/%d) = %.6f, %.6f; want %.6f, %.6f", tt.x1, tt.n1, tt.x2, tt.n2, z, p, tt.z, tt.p)
			}
		})
	}
}

func TestCompareProportions(t *testing.T) {
	tests := []struct {
		name                 string
		xc, nc, xa, na       uint64
		method               string
		pWorse, pBetter, two float64
	}{
		// Expected cell 2 (4·4/8): Fisher, the tea-tasting figures.
		{"small counts use fisher", 3, 4, 1, 4, "fisher", 69.0 / 70, 17.0 / 70, 34.0 / 70},
		// Smallest expected cell 60·45/120 = 22.5: z-test; one-sided
		// p = Q(2.828427) = 0.0023389 by hand as above.
		{"large counts use z", 45, 60, 30, 60, "z", 1 - 0.0023389, 0.0023389, 0.0046777},
		{"no data", 0, 0, 0, 0, "none", 1, 1, 1},
		// Expected cell 2^40·2/2^41 = 1 < 5, but Fisher would sum 2^40
		// terms: the z-test answers. With n = 2^40: pooled p ≈ 1/n,
		// se ≈ sqrt((1/n)(2/n)) = √2/n, z = (2/n)/se = √2; Q(√2) = .0786496.
		{"huge counts skip fisher", 2, 1 << 40, 0, 1 << 40, "z", 1 - 0.0786496, 0.0786496, 0.157299},
		{"x > n", 5, 4, 1, 4, "none", 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CompareProportions(tt.xc, tt.nc, tt.xa, tt.na)
			if got.Method != tt.method || !near(got.PWorse, tt.pWorse, 1e-6) || !near(got.PBetter, tt.pBetter, 1e-6) || !near(got.PTwoSided, tt.two, 1e-6) {
				t.Errorf("CompareProportions(%d/%d, %d/%d) = %+v; want %s %.7f %.7f %.7f", tt.xc, tt.nc, tt.xa, tt.na, got, tt.method, tt.pWorse, tt.pBetter, tt.two)
			}
		})
	}
}

func TestCompareMeans(t *testing.T) {
	// Candidate scores 1..5: mean 3, sample variance 2.5; active five 2s:
	// mean 2, variance 0. se = sqrt(2.5/5) = .707107, z = 1.414214,
	// two-sided p = 2·Q(1.414214) = .157299.
	var sc, qc, sa, qa float64
	for i := 1; i <= 5; i++ {
		sc += float64(i)
		qc += float64(i * i)
		sa += 2
		qa += 4
	}
	got := CompareMeans(5, sc, qc, 5, sa, qa)
	if !near(got.Z, 1.414214, 1e-6) || !near(got.PTwoSided, 0.157299, 1e-6) || !near(got.PBetter, 0.157299/2, 1e-6) {
		t.Errorf("CompareMeans(1..5 vs 2×5) = %+v; want z 1.414214, p 0.157299", got)
	}
	if got := CompareMeans(1, 1, 1, 5, sa, qa); got.PTwoSided != 1 {
		t.Errorf("CompareMeans(one candidate score) p = %g; want 1", got.PTwoSided)
	}
	if got := CompareMeans(5, 10, 20, 5, 10, 20); got.PTwoSided != 1 {
		t.Errorf("CompareMeans(no variance) p = %g; want 1", got.PTwoSided)
	}
}

func TestNormalSF(t *testing.T) {
	// Standard normal table: Q(0) = .5, Q(1.959964) = .025, Q(−1.644854) = .95.
	tests := []struct{ z, want float64 }{{0, 0.5}, {1.959964, 0.025}, {-1.644854, 0.95}}
	for _, tt := range tests {
		if got := NormalSF(tt.z); !near(got, tt.want, 1e-6) {
			t.Errorf("NormalSF(%g) = %.7f; want %.7f", tt.z, got, tt.want)
		}
	}
}

func nan() float64 { return math.NaN() }
