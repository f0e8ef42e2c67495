package kernels

// AVX2 and AVX-512 VNNI micro-kernels for gemmVRun (gemm_amd64.s).

//go:noescape
func gemmVNNI4(a *[gemmVMR]*int8, tails *[gemmVMR]uint32, k4, tail int, b *byte, t *[gemmVMR][gemmVNR]int32, xor uint32)

//go:noescape
func gemmVNNI1(a *[gemmVMR]*int8, tails *[gemmVMR]uint32, k4, tail int, b *byte, t *[gemmVMR][gemmVNR]int32, xor uint32)

//go:noescape
func gemmAVX2Rows(a *[gemmVMR]*int8, tails *[gemmVMR]uint32, k4, tail int, b *byte, t *[gemmVMR][gemmVNR]int32, xor uint32, rows int)

const (
	gemmVIDVNNI = iota
	gemmVIDAVX2
)

//go:noescape
func gemmVRequantAVX2(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, outOff, lo, hi int32)

//go:noescape
func gemmVRequantAVX512(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, outOff, lo, hi int32)

//go:noescape
func gemmVRequantF32AVX2(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, zp int32, lo, hi float32)

//go:noescape
func gemmVRequantF32AVX512(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, zp int32, lo, hi float32)

//go:noescape
func gemmRowSumsAVX2(a *int8, k, rows int, xor uint32, sums *int32)

var (
	// VPDPBUSD multiplies unsigned bytes of A by signed weights.
	gemmVKernVNNI = gemmVKernels{name: VariantVNNI, id: gemmVIDVNNI, unsigned: true, vecRequant: true, f32Requant: true}
	// VPMADDWD on int16 weights: exact int16 products summed in pairs.
	gemmVKernAVX2 = gemmVKernels{name: VariantAVX2, id: gemmVIDAVX2, vecRequant: true, f32Requant: true, wide: true}
)

func (k *gemmVKernels) run(four bool, a *[gemmVMR]*int8, tails *[gemmVMR]uint32, k4, tail int, b *byte, t *[gemmVMR][gemmVNR]int32, xor uint32) {
	switch {
	case k.id == gemmVIDVNNI && four:
		gemmVNNI4(a, tails, k4, tail, b, t, xor)
	case k.id == gemmVIDVNNI:
		gemmVNNI1(a, tails, k4, tail, b, t, xor)
	case four:
		gemmAVX2Rows(a, tails, k4, tail, b, t, xor, gemmVMR)
	default:
		gemmAVX2Rows(a, tails, k4, tail, b, t, xor, 1)
	}
}

// gemmVPick returns the micro-kernels of the variant in use.
func gemmVPick() *gemmVKernels {
	switch {
	case features.vnni:
		return &gemmVKernVNNI
	case features.avx2:
		return &gemmVKernAVX2
	}
	return nil
}

// requant is gemmVStore for rows of t, in assembly: the VNNI variant's
// CPUs have AVX-512 for a 16-lane version.
func (k *gemmVKernels) requant(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, outOff, lo, hi int32) {
	if k.id == gemmVIDVNNI {
		gemmVRequantAVX512(t, rows, p, stride, offs, dst, outOff, lo, hi)
		return
	}
	gemmVRequantAVX2(t, rows, p, stride, offs, dst, outOff, lo, hi)
}

// requantF32 is gemmVStore in the LiteRT arithmetic for rows of t, in
// assembly (see gemmV.setLiteRT for p); lo and hi are relative to zp.
func (k *gemmVKernels) requantF32(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, zp int32, lo, hi float32) {
	if k.id == gemmVIDVNNI {
		gemmVRequantF32AVX512(t, rows, p, stride, offs, dst, zp, lo, hi)
		return
	}
	gemmVRequantF32AVX2(t, rows, p, stride, offs, dst, zp, lo, hi)
}

func gemmVRowSumsAsm(a []int8, k int, flip bool, sums []int32) {
	if len(sums) == 0 {
		return
	}
	_ = a[len(sums)*k-1]
	var xor uint32 = 0x80808080
	if flip {
		xor = 0
	}
	gemmRowSumsAVX2(&a[0], k, len(sums), xor, &sums[0])
}
