package kernels

// blendXNNAsm is blendXNN's loop for n a positive multiple of 8 (AVX2).
//
//go:noescape
func blendXNNAsm(t, b *int32, v int32, y *byte, n int)

func blendXNNHaveSIMD() bool { return features.avx2 }

// lerpF32Asm is lerpF32's loop for n a positive multiple of 8 (AVX2,
// VSUBPS, VMULPS, VADDPS: no fused multiply-add).
//
//go:noescape
func lerpF32Asm(a, b *float32, w float32, y *float32, n int)

func lerpF32HaveSIMD() bool { return features.avx2 }
