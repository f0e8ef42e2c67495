package kernels

// fmaPeakKernels are the FMA peak loops this CPU runs, with the float
// operations one iteration does (chains × lanes × 2).
func fmaPeakKernels() []fmaPeakKernel {
	if !features.neon {
		return nil
	}
	return []fmaPeakKernel{{"neon", 24 * 4 * 2, fmaPeakNEON}}
}
