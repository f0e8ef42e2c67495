package kernels

// blendXNNAsm is blendXNN's loop for n a positive multiple of 8 (AVX2).
//
//go:noescape
func blendXNNAsm(t, b *int32, v int32, y *byte, n int)

func blendXNNHaveSIMD() bool { return features.avx2 }
