//go:build !amd64 && !arm64

package kernels

func fmaPeakKernels() []fmaPeakKernel { return nil }
