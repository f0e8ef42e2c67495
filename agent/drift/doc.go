// Package drift detects, on the device, when a model's live inputs or
// outputs stop looking like the data it was validated on. It is pure
// statistics: no goroutines, no I/O, time passed in. The agent feeds it
// and publishes what it returns.
//
// # Profile
//
// A Profile (JSON, "v":1) is the reference, built once off the device
// (edgectl profile) by a Profiler and shipped in the model bundle. It
// holds, per numeric feature, a fixed-bin histogram — k−1 cut points for k
// bins, the outer two open so every value has a bin — and summary
// statistics (count, mean, std, min, max, quantiles); and for a
// classifier the counts of top-1 classes. Bins are equal-frequency on the
// reference (20 by default), so resolution goes where the data is. A
// quantized feature's cuts fall half-way between quantization levels, so
// a bin holds whole levels (a group of the 256 int8 values). The Profiler
// keeps a uniform reservoir of 8192 values per feature for edges, bin
// counts and quantiles (exact up to that many samples) and exact running
// moments: bounded memory for any amount of reference data. Unmarshal
// rejects unknown fields, bad versions, unsorted or non-finite edges,
// count/edge mismatches and out-of-order stats, naming the field.
//
// # Features
//
// An Extractor turns one tensor sample into features: a vector [1,N]
// gives N features (its elements, dequantized); an image [1,H,W,C] or a
// time series [1,T,C] gives the mean and the standard deviation of each
// channel. Per-channel summaries rather than every pixel in the channel's
// histogram, because the statistics below assume independent
// observations: the 9216 pixels of one frame are not, and counting them
// as such would make every KS p-value tiny. Brightness shifts move the
// mean, a dirty lens moves the std. Top1 gives a classifier's class; an
// Extractor over an output tensor gives score histograms for models that
// are not classifiers. A sample's feature vector is the concatenation of
// its extractors' features, in the profile's order.
//
// # Window
//
// A Window counts live values in the reference's bins: O(features × bins)
// memory whatever its length. A Detector closes a window at MaxSamples
// (1000) samples or after MaxDuration (10 min) from its first sample,
// whichever comes first, but never with fewer than MinSamples (500): a
// quiet device gets longer windows rather than noisy ones.
//
// KS is computed from the binned CDFs instead of a quantile sketch. The
// binned D is a lower bound on the unbinned one, and within
// max_i max(ref_i, live_i) of it (proportions of bin i; both CDFs are
// monotone inside a bin) — about 1/k with equal-frequency bins while the
// live data resembles the reference. Binned data also makes the p-value
// conservative: fewer false alarms, slightly less power for shifts
// smaller than a bin. A mean shift worth reporting moves mass across many
// bins and is not hidden.
//
// # Statistics
//
//   - PSI = Σ (live_i − ref_i)·ln(live_i/ref_i), empty bins raised to
//     PSIEpsilon = 1e-4. Its value under no drift is not zero: it is about
//     (k−1)(1/n + 1/m) (n live, m reference values), PSI/(1/n + 1/m)
//     roughly χ²_{k−1}. With k = 20 and m = 8192 that is 0.040 at n = 500
//     (P(PSI > 0.1) ≈ 3e-4) but 0.097 at n = 200 (P ≈ 0.42): the reason
//     for MinSamples. Fewer bins allow smaller windows.
//   - KS: binned two-sample D and its asymptotic p-value
//     Q_KS((√nₑ + 0.12 + 0.11/√nₑ)·D), nₑ = nm/(n+m) (Numerical Recipes),
//     Bonferroni-corrected across features: the smallest p·features is
//     compared with the threshold, so the family-wise false-alarm rate
//     stays below it.
//   - Classes: Pearson chi-square of the 2×k table reference vs live, its
//     p-value Q(df/2, χ²/2) (regularized upper incomplete gamma), and the
//     Jensen–Shannon distance in bits (0 identical, 1 disjoint).
//
// # States
//
// Each window gets a level — ok, warn or drift — the worst over PSI (warn
// 0.1, drift 0.25, the usual PSI rule of thumb), the corrected KS p-value
// (1e-4, 1e-6), the chi-square p-value (1e-4, 1e-6) and JS (0.1, 0.2).
// The p-value levels are strict because a fleet multiplies false alarms:
// at 1e-3 a healthy device would warn about once per thousand windows.
// The model's state rises as soon as a window's level is above it (ok may
// go straight to drift), and falls only after Recover (3) consecutive
// windows in which every score is below the current state's threshold
// less Hysteresis (20%; for p-values on −log10 p, so warn is left above
// p ≈ 6e-4), to the highest level those windows reached under the same
// lowered thresholds. Each window yields a Report; a change of state also
// yields a StateChange, so a value flapping around a threshold costs one
// event, not one per window.
//
// Samples of a real stream are often correlated (consecutive video
// frames); the p-values assume they are not. Feed the detector a spaced
// sample of the inferences when frames come fast.
package drift
