//go:build !amd64

package kernels

func hybridMinMaxAsm(v []float32) (lo, hi float32, n int, ok bool) { return 0, 0, 0, false }

func hybridQuantAsm(v []float32, q []int8, scale float32, zp int32) int { return 0 }

func hybridQuantAwayAsm(v []float32, q []int8, mul, add float32, lo int32) int { return 0 }
