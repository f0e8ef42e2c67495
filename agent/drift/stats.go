package drift

import "math"

// PSIEpsilon replaces an empty bin's proportion in PSI so that the
// logarithm stays finite. 1e-4 is the value the PSI literature uses; an
// empty bin facing a bin that holds a share p then contributes about
// p·ln(p/1e-4), e.g. 0.46 for p = 0.05.
const PSIEpsilon = 1e-4

// PSI is the Population Stability Index of two binned distributions over
// the same bins, given as proportions (each summing to 1):
//
//	PSI = Σ (live_i − ref_i) · ln(live_i / ref_i)
//
// with proportions below PSIEpsilon raised to PSIEpsilon. It is symmetric
// and 0 for identical distributions. Mismatched or empty inputs give NaN.
func PSI(ref, live []float64) float64 {
	if len(ref) != len(live) || len(ref) == 0 {
		return math.NaN()
	}
	var s float64
	for i := range ref {
		r, l := max(ref[i], PSIEpsilon), max(live[i], PSIEpsilon)
		s += (l - r) * math.Log(l/r)
	}
	return s
}

// KS is the two-sample Kolmogorov–Smirnov statistic D = max |F_ref − F_live|
// of two histograms over the same bins, evaluated at the bin edges. For the
// underlying unbinned samples D lies in [KS, KS + max_i max(ref_i, live_i)]
// (proportions of bin i): both CDFs are monotone inside a bin. Mismatched,
// empty or all-zero inputs give NaN.
func KS(ref, live []uint64) float64 {
	if len(ref) != len(live) || len(ref) == 0 {
		return math.NaN()
	}
	n, m := sum(ref), sum(live)
	if n == 0 || m == 0 {
		return math.NaN()
	}
	var cr, cl uint64
	var d float64
	for i := range ref {
		cr += ref[i]
		cl += live[i]
		d = max(d, math.Abs(float64(cr)/float64(n)-float64(cl)/float64(m)))
	}
	return d
}

// KSPValue is the asymptotic p-value of a two-sample KS statistic d for
// sample sizes n and m (Numerical Recipes, 3rd ed., §14.3.3):
//
//	p = Q_KS((√nₑ + 0.12 + 0.11/√nₑ) · d),  nₑ = n·m/(n+m)
//
// The approximation is good for nₑ ≳ 4; on binned or discrete data it is
// conservative (p too large). Invalid arguments give NaN.
func KSPValue(d float64, n, m int) float64 {
	if n <= 0 || m <= 0 || !(d >= 0 && d <= 1) {
		return math.NaN()
	}
	ne := float64(n) * float64(m) / (float64(n) + float64(m))
	s := math.Sqrt(ne)
	return KolmogorovQ((s + 0.12 + 0.11/s) * d)
}

// KolmogorovQ is the complementary Kolmogorov distribution
//
//	Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} exp(−2j²λ²)
//
// For λ < 1.18 that series converges slowly, so 1 − P_KS is used with
// P_KS(λ) = (√(2π)/λ) Σ_{j≥1} exp(−(2j−1)²π²/(8λ²)) (both as in Numerical
// Recipes). Q_KS(0) = 1.
func KolmogorovQ(lambda float64) float64 {
	switch {
	case math.IsNaN(lambda):
		return math.NaN()
	case lambda < 0.04:
		return 1 // P_KS(0.04) < 1e-300
	case lambda < 1.18:
		var p float64
		for j := 1; j <= 8; j++ {
			k := float64(2*j - 1)
			p += math.Exp(-k * k * math.Pi * math.Pi / (8 * lambda * lambda))
		}
		return 1 - math.Sqrt(2*math.Pi)/lambda*p
	default:
		var q, sign float64 = 0, 1
		for j := 1; j <= 8; j++ {
			jf := float64(j)
			q += sign * math.Exp(-2*jf*jf*lambda*lambda)
			sign = -sign
		}
		return max(0, min(1, 2*q))
	}
}

// Bonferroni corrects a p-value for m tests: min(1, p·m). A feature-wise
// test run on every one of m features and reported as the smallest
// corrected p-value keeps the family-wise false-alarm rate at or below the
// threshold it is compared with.
func Bonferroni(p float64, m int) float64 {
	if m < 1 || math.IsNaN(p) {
		return math.NaN()
	}
	return min(1, p*float64(m))
}

// ChiSquare is Pearson's chi-square test of homogeneity of two count
// vectors over the same categories (a 2×k contingency table): the expected
// count of a cell is its row total × column total / grand total.
// Categories empty in both vectors are left out, so df = (categories
// present) − 1. It treats the reference as the sample it is; for a
// reference much larger than the live counts it approaches the
// goodness-of-fit test against the reference proportions. Mismatched or
// empty inputs give NaN and df 0.
func ChiSquare(ref, live []uint64) (x2 float64, df int) {
	if len(ref) != len(live) {
		return math.NaN(), 0
	}
	n, m := float64(sum(ref)), float64(sum(live))
	if n == 0 || m == 0 {
		return math.NaN(), 0
	}
	t := n + m
	k := 0
	for i := range ref {
		c := float64(ref[i]) + float64(live[i])
		if c == 0 {
			continue
		}
		k++
		er, el := n*c/t, m*c/t
		dr, dl := float64(ref[i])-er, float64(live[i])-el
		x2 += dr*dr/er + dl*dl/el
	}
	if k < 2 {
		return 0, 0
	}
	return x2, k - 1
}

// ChiSquareP is the upper tail P(χ²_df > x2) = Q(df/2, x2/2). df < 1 gives
// 1 (no evidence of a difference), invalid x2 gives NaN.
func ChiSquareP(x2 float64, df int) float64 {
	if df < 1 {
		return 1
	}
	return GammaQ(float64(df)/2, x2/2)
}

// GammaQ is the regularized upper incomplete gamma function
// Q(a, x) = Γ(a, x)/Γ(a), by its series for x < a+1 and by its continued
// fraction (modified Lentz) otherwise (Numerical Recipes, §6.2). It needs
// a > 0 and x ≥ 0, and gives NaN otherwise.
func GammaQ(a, x float64) float64 {
	switch {
	case !(a > 0) || !(x >= 0) || math.IsInf(a, 0):
		return math.NaN()
	case x == 0:
		return 1
	case math.IsInf(x, 1):
		return 0
	case x < a+1:
		return max(0, 1-gammaSeries(a, x))
	default:
		return gammaFraction(a, x)
	}
}

const (
	gammaEps   = 1e-15
	gammaIters = 1000
	gammaTiny  = 1e-300
)

// gammaSeries is P(a, x) by its series; converges quickly for x < a+1.
func gammaSeries(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	ap, del := a, 1/a
	s := del
	for range gammaIters {
		ap++
		del *= x / ap
		s += del
		if math.Abs(del) < math.Abs(s)*gammaEps {
			break
		}
	}
	return s * math.Exp(-x+a*math.Log(x)-lg)
}

// gammaFraction is Q(a, x) by its continued fraction; converges quickly
// for x ≥ a+1.
func gammaFraction(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	b := x + 1 - a
	c := 1 / gammaTiny
	d := 1 / b
	h := d
	for i := 1; i <= gammaIters; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < gammaTiny {
			d = gammaTiny
		}
		c = b + an/c
		if math.Abs(c) < gammaTiny {
			c = gammaTiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < gammaEps {
			break
		}
	}
	return math.Exp(-x+a*math.Log(x)-lg) * h
}

// JS is the Jensen–Shannon distance of two distributions given as
// proportions: the square root of the Jensen–Shannon divergence in bits,
// so it lies in [0, 1] — 0 for identical distributions, 1 for disjoint
// ones — and is a metric. Mismatched or empty inputs give NaN.
func JS(p, q []float64) float64 {
	if len(p) != len(q) || len(p) == 0 {
		return math.NaN()
	}
	var d float64
	for i := range p {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			d += p[i] * math.Log2(p[i]/m)
		}
		if q[i] > 0 {
			d += q[i] * math.Log2(q[i]/m)
		}
	}
	return math.Sqrt(max(0, min(1, d/2)))
}

// Proportions writes counts/Σcounts into dst (grown as needed) and returns
// it; all zeros when the counts sum to 0.
func Proportions(dst []float64, counts []uint64) []float64 {
	if cap(dst) < len(counts) {
		dst = make([]float64, len(counts))
	}
	dst = dst[:len(counts)]
	clear(dst)
	t := sum(counts)
	if t == 0 {
		return dst
	}
	for i, c := range counts {
		dst[i] = float64(c) / float64(t)
	}
	return dst
}

func sum(c []uint64) uint64 {
	var t uint64
	for _, v := range c {
		t += v
	}
	return t
}
