package kernels

//go:noescape
func fmaPeakNEON(n int)
