package kernels

// litertStoreWidth is the channel granularity of litertStore4.
const litertStoreWidth = 4

// litertStore4 stores n (a multiple of 4) requantized values
// litertClamp{lo, hi, zp}.requant(t[i]+cst[i]+off, scale[i]) as int8
// bytes, or uint8 if u8 is 1 (litert_amd64.s).
//
//go:noescape
func litertStore4(dst *byte, t, cst *int32, scale *float32, n int, off, zp int32, lo, hi float32, u8 int)

// litertAdd8AVX2 is litertAddKernel's loop on n (a multiple of 8)
// elements, int8 or uint8 if u8 is 1 (litert_amd64.s).
//
//go:noescape
func litertAdd8AVX2(dst, a, b *byte, n int, p *litertAddParams, u8 int)

// litertAddAsm reports whether litertAdd8 has a vector kernel here.
func litertAddAsm() bool { return features.avx2 }

func litertAdd8(dst, a, b *byte, n int, p *litertAddParams, u8 int) {
	litertAdd8AVX2(dst, a, b, n, p, u8)
}
