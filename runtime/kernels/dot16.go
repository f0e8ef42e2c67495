package kernels

// The int16×int8 convolution's dot products (16x8 quantization: int16
// activations, int8 weights, a 64-bit accumulator). The weights are
// widened to int16 once at construction; the vector kernels multiply
// pairs of int16 into int32 (VPMADDWD, SMLAL) and add the int32 lanes,
// which is exact while a lane holds fewer than 2⁹ products (|x·w| ≤
// 2¹⁵·2⁷ = 2²²): dot16 hands them at most dot16Chunk elements at a time,
// which puts at most 2⁸ products in a lane, and adds the chunks' sums in
// int64. The
// result is Σ x·w exactly, the int64 the Go loop computes.

// dot16Chunk is the most elements one call of dot16Asm takes.
const dot16Chunk = 1024

// dot16 returns Σ x[i]·w[i] in int64; w holds int8 values.
func dot16(x, w []int16) int64 {
	w = w[:len(x)]
	n := 0
	var s int64
	if dot16HaveSIMD() {
		n = len(x) &^ 15
		for i := 0; i < n; i += dot16Chunk {
			m := min(dot16Chunk, n-i)
			s += dot16Asm(&x[i], &w[i], m)
		}
	}
	for i := n; i < len(x); i++ {
		s += int64(int32(x[i]) * int32(w[i]))
	}
	return s
}
