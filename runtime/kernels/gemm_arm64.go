package kernels

// NEON and dot-product micro-kernels for gemmVRun (gemm_arm64.s). Both
// read A as signed bytes.

//go:noescape
func gemmNEONRows(a *[gemmVMR]*int8, tails *[gemmVMR]uint32, k4, tail int, b *byte, t *[gemmVMR][gemmVNR]int32, xor uint32, rows int)

//go:noescape
func gemmSDOTRows(a *[gemmVMR]*int8, tails *[gemmVMR]uint32, k4, tail int, b *byte, t *[gemmVMR][gemmVNR]int32, xor uint32, rows int)

const (
	gemmVIDNEON = iota
	gemmVIDDotProd
)

var (
	// SMULL/SMULL2 + SADALP: exact int16 products summed into int32.
	gemmVKernNEON = gemmVKernels{name: VariantNEON, id: gemmVIDNEON, vecRequant: true, f32Requant: true}
	// SDOT: four int8 products summed into each int32 lane.
	gemmVKernDotProd = gemmVKernels{name: VariantDotProd, id: gemmVIDDotProd, vecRequant: true, f32Requant: true}
)

// gemmVPick returns the micro-kernels of the variant in use.
func gemmVPick() *gemmVKernels {
	switch {
	case features.dotprod:
		return &gemmVKernDotProd
	case features.neon:
		return &gemmVKernNEON
	}
	return nil
}

func (k *gemmVKernels) run(four bool, a *[gemmVMR]*int8, tails *[gemmVMR]uint32, k4, tail int, b *byte, t *[gemmVMR][gemmVNR]int32, xor uint32) {
	rows := 1
	if four {
		rows = gemmVMR
	}
	if k.id == gemmVIDDotProd {
		gemmSDOTRows(a, tails, k4, tail, b, t, xor, rows)
		return
	}
	gemmNEONRows(a, tails, k4, tail, b, t, xor, rows)
}

//go:noescape
func gemmVRequantNEON(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, outOff, lo, hi int32)

//go:noescape
func gemmRowSumsNEON(a *int8, k, rows int, xor uint32, sums *int32)

// requant is gemmVStore for rows of t, in assembly.
func (k *gemmVKernels) requant(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, outOff, lo, hi int32) {
	gemmVRequantNEON(t, rows, p, stride, offs, dst, outOff, lo, hi)
}

//go:noescape
func gemmVRequantF32NEON(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, zp int32, lo, hi float32)

// requantF32 is gemmVStore in the LiteRT arithmetic for rows of t, in
// assembly (see gemmV.setLiteRT for p); lo and hi are relative to zp.
func (k *gemmVKernels) requantF32(t *[gemmVMR][gemmVNR]int32, rows int, p *int32, stride int, offs *[gemmVMR]int32, dst *[gemmVMR]*byte, zp int32, lo, hi float32) {
	gemmVRequantF32NEON(t, rows, p, stride, offs, dst, zp, lo, hi)
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
	gemmRowSumsNEON(&a[0], k, len(sums), xor, &sums[0])
}
