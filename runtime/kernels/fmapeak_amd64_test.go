package kernels

// fmaPeakKernels are the FMA peak loops this CPU runs, with the float
// operations one iteration does (chains × lanes × 2).
func fmaPeakKernels() []fmaPeakKernel {
	var ks []fmaPeakKernel
	if features.avx2 {
		ks = append(ks, fmaPeakKernel{"avx2", 14 * 8 * 2, fmaPeakAVX2})
	}
	if features.vnni {
		ks = append(ks, fmaPeakKernel{"avx512", 24 * 16 * 2, fmaPeakAVX512})
	}
	return ks
}
