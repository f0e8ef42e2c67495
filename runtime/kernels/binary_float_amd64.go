package kernels

// f32RowAsm is the AVX2 loop of f32RowSIMD (binary_float_amd64.s).
//
//go:noescape
func f32RowAsm(op int, a *float32, sa int, b *float32, sb int, y *float32, n int, lo, hi float32)

func f32RowHaveSIMD() bool { return features.avx2 }
