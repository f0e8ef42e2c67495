package drift

import "math"

// FeatureScore is one numeric feature's comparison of a window with the
// reference.
type FeatureScore struct {
	Name string `json:"name"`
	// N is the number of finite live values.
	N   int     `json:"n"`
	PSI float64 `json:"psi"`
	// KSD is the binned two-sample KS statistic and KSP its p-value,
	// before the Bonferroni correction.
	KSD     float64 `json:"ks_d"`
	KSP     float64 `json:"ks_p"`
	Mean    float64 `json:"mean"`
	RefMean float64 `json:"ref_mean"`
}

// ClassScore compares the window's top-1 classes with the reference.
type ClassScore struct {
	N         int     `json:"n"`
	ChiSquare float64 `json:"chi2"`
	DF        int     `json:"df"`
	P         float64 `json:"p"`
	JS        float64 `json:"js"`
}

// Scores is every statistic of one window against the reference.
type Scores struct {
	Features []FeatureScore
	// KSP is the smallest Bonferroni-corrected KS p-value over the
	// features (1 without features), and KSFeature its feature's index
	// (−1 without).
	KSP       float64
	KSFeature int
	// Classes is nil when the profile has no classes or the window saw
	// none.
	Classes *ClassScore
}

// Compare computes the scores of window w against its profile p. A
// feature without finite live values scores PSI 0, D 0 and p 1: no
// evidence either way. Values are always finite, so a report marshals.
func Compare(p *Profile, w *Window) Scores {
	s := Scores{Features: make([]FeatureScore, len(p.Features)), KSP: 1, KSFeature: -1}
	var ref, live []float64
	for i := range p.Features {
		f := &p.Features[i]
		counts := w.Counts(i)
		lv := w.Summary(i)
		fs := FeatureScore{Name: f.Name, N: int(lv.Count), KSP: 1, Mean: lv.Mean, RefMean: f.Stats.Mean}
		if lv.Count > 0 {
			ref = Proportions(ref, f.Counts)
			live = Proportions(live, counts)
			fs.PSI = PSI(ref, live)
			fs.KSD = KS(f.Counts, counts)
			fs.KSP = KSPValue(fs.KSD, int(lv.Count), int(min(sum(f.Counts), math.MaxInt32)))
			if adj := Bonferroni(fs.KSP, len(p.Features)); adj < s.KSP {
				s.KSP, s.KSFeature = adj, i
			}
		}
		s.Features[i] = fs
	}
	if p.Classes != nil {
		if lc := w.ClassCounts(); sum(lc) > 0 {
			x2, df := ChiSquare(p.Classes.Counts, lc)
			s.Classes = &ClassScore{
				N:         int(sum(lc)),
				ChiSquare: x2,
				DF:        df,
				P:         ChiSquareP(x2, df),
				JS:        JS(Proportions(ref, p.Classes.Counts), Proportions(live, lc)),
			}
		}
	}
	return s
}
