package canary

import (
	"math"
)

// Test is the outcome of comparing the candidate's proportion (or mean)
// with the active model's. Its p-values are for the null hypothesis that
// both arms are alike.
type Test struct {
	// Method is "fisher" (Fisher's exact test), "z" (two-proportion
	// z-test) or "welch-z" (difference of means, normal approximation).
	Method string `json:"method"`
	// Z is the statistic of a z-test, candidate minus active; 0 for Fisher.
	Z float64 `json:"z,omitempty"`
	// PWorse is the one-sided p-value against "the candidate is worse".
	PWorse float64 `json:"p_worse"`
	// PBetter is the one-sided p-value against "the candidate is better".
	PBetter float64 `json:"p_better"`
	// PTwoSided is the two-sided p-value.
	PTwoSided float64 `json:"p_two_sided"`
}

// NormalSF is the upper tail of the standard normal, P(Z > z).
func NormalSF(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// CompareProportions tests whether xc successes out of nc (candidate)
// differ from xa out of na (active). It uses Fisher's exact test when any
// expected cell of the 2×2 table is below 5, where the normal
// approximation of the z-test is poor, and the two-proportion z-test
// otherwise. Counts with nc or na of 0, or x > n, give p-values of 1.
func CompareProportions(xc, nc, xa, na uint64) Test {
	if nc == 0 || na == 0 || xc > nc || xa > na {
		return Test{Method: "none", PWorse: 1, PBetter: 1, PTwoSided: 1}
	}
	n := float64(nc + na)
	succ, fail := float64(xc+xa), float64(nc-xc+na-xa)
	minExp := math.Min(math.Min(float64(nc)*succ, float64(nc)*fail), math.Min(float64(na)*succ, float64(na)*fail)) / n
	// Fisher's cost is the smallest margin, at most sqrt(5·n) here; the
	// bound keeps it to a few thousand terms (and a damaged count from
	// disk from looping for ever). Beyond it the z-test is good enough.
	if minExp < 5 && nc <= fisherMaxN && na <= fisherMaxN {
		less, greater, two := Fisher(xc, nc-xc, xa, na-xa)
		return Test{Method: "fisher", PWorse: less, PBetter: greater, PTwoSided: two}
	}
	z, _ := TwoProportionZ(xc, nc, xa, na)
	return Test{Method: "z", Z: z, PWorse: NormalSF(-z), PBetter: NormalSF(z), PTwoSided: math.Min(1, 2*NormalSF(math.Abs(z)))}
}

// fisherMaxN is the largest table CompareProportions gives to Fisher.
const fisherMaxN = 1 << 20

// TwoProportionZ is the pooled two-proportion z statistic for x1/n1
// against x2/n2, with its two-sided p-value. When every outcome is alike
// (pooled proportion 0 or 1) there is no evidence of a difference: z = 0,
// p = 1.
func TwoProportionZ(x1, n1, x2, n2 uint64) (z, p float64) {
	if n1 == 0 || n2 == 0 {
		return 0, 1
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	pool := float64(x1+x2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 || math.IsNaN(se) {
		return 0, 1
	}
	z = (p1 - p2) / se
	return z, math.Min(1, 2*NormalSF(math.Abs(z)))
}

// Fisher is Fisher's exact test on the 2×2 table [[a, b], [c, d]] (rows:
// candidate, active; columns: success, failure). less is P(A ≤ a) and
// greater P(A ≥ a) under the hypergeometric law of A with the table's
// margins; two-sided sums the probabilities of every table no more likely
// than the observed one (the convention of R's fisher.test, with the same
// relative tolerance 1e-7 for ties). It sums min(a+b, c+d, a+c, b+d)+1
// terms.
func Fisher(a, b, c, d uint64) (less, greater, two float64) {
	r1, r2, c1 := a+b, c+d, a+c
	n := r1 + r2
	lo := uint64(0)
	if c1 > r2 {
		lo = c1 - r2
	}
	hi := min(r1, c1)
	// log C(r1,k) + log C(r2,c1−k) − log C(n,c1), the common term hoisted.
	base := lchoose(n, c1)
	logp := func(k uint64) float64 { return lchoose(r1, k) + lchoose(r2, c1-k) - base }
	pObs := math.Exp(logp(a))
	const relTol = 1 + 1e-7
	for k := lo; k <= hi; k++ {
		pk := math.Exp(logp(k))
		if k <= a {
			less += pk
		}
		if k >= a {
			greater += pk
		}
		if pk <= pObs*relTol {
			two += pk
		}
	}
	return math.Min(1, less), math.Min(1, greater), math.Min(1, two)
}

func lchoose(n, k uint64) float64 {
	return lgamma(float64(n)+1) - lgamma(float64(k)+1) - lgamma(float64(n-k)+1)
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// CompareMeans tests the difference of two means given each arm's count,
// sum and sum of squares (candidate first), with Welch's standard error
// and the normal approximation — fair for the tens of scores or more a
// canary collects before it decides. Fewer than 2 values in an arm, or
// no variance in either, give p-values of 1.
func CompareMeans(nc uint64, sumc, sqc float64, na uint64, suma, sqa float64) Test {
	none := Test{Method: "none", PWorse: 1, PBetter: 1, PTwoSided: 1}
	if nc < 2 || na < 2 {
		return none
	}
	mc, ma := sumc/float64(nc), suma/float64(na)
	vc := (sqc - float64(nc)*mc*mc) / float64(nc-1)
	va := (sqa - float64(na)*ma*ma) / float64(na-1)
	se := math.Sqrt(math.Max(vc, 0)/float64(nc) + math.Max(va, 0)/float64(na))
	if !(se > 0) || math.IsInf(se, 0) {
		return none
	}
	z := (mc - ma) / se
	return Test{Method: "welch-z", Z: z, PWorse: NormalSF(-z), PBetter: NormalSF(z), PTwoSided: math.Min(1, 2*NormalSF(math.Abs(z)))}
}
