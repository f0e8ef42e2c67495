package kernels

// dot16Asm returns Σ x[i]·w[i] over n elements, n a multiple of 16 and at
// most dot16Chunk (NEON, dot16.go).
//
//go:noescape
func dot16Asm(x, w *int16, n int) int64

func dot16HaveSIMD() bool { return features.neon }
