package kernels

// A float transposed convolution with constant weights, in LiteRT
// arithmetic, runs as XNNPACK's deconvolution does: split by output phase
// (output row mod stride, column mod stride) into sub-convolutions, each
// a dense convolution of the input with the filter taps that reach that
// phase. Every output element is the bias plus its products in the order
// (filter row, filter column, input channel), taps outside the input
// counting as zeros, which is XNNPACK's subconvolution order. Each phase
// runs through the packed float GEMM: one output row of a phase is one
// GEMM call over the row's pixels, reading the input in place when a
// single tap covers the whole row (a filter no larger than the stride),
// else through a one-row im2col copy. With the SIMD GEMM the products are
// fused multiply-adds and the bias comes last, so results differ from
// XNNPACK's in the last bits (within the float tolerance); the portable
// GEMM sums in the same order without fusing.

// tconvPhase is one output phase: the output rows oy0, oy0+strideH, ...
// (ny of them) and columns ox0, ox0+strideW, ... (nx). Output row j of the
// phase reads input rows j+dy[t] for its filter rows fy[t], output column
// i input columns i+dx[t] for filter columns fx[t].
type tconvPhase struct {
	oy0, ox0, ny, nx int
	fy, fx, dy, dx   []int
	f                *gemmF // nil: no tap reaches the phase (bias only)
}

// tconvGEMM is the phase decomposition of a float transposed convolution.
type tconvGEMM struct {
	phases []tconvPhase
	col    []float32 // one phase row's im2col
	bias   []float32 // nil: none
	lo, hi float32

	// tiles, when not nil, replaces the phases for a filter that tiles
	// the output (filter = stride, no padding, output = input·stride, as
	// in the segmentation models' 2×2 upsampling): output row s·iy+fy is
	// input row iy times tiles[fy], whose columns are (fx, output
	// channel), so the GEMM's rows are the output row's pixels' blocks
	// side by side. The columns are padded to whole SIMD panels; a row is
	// computed into col (tileLd floats per input pixel) and compacted into
	// the output unless no padding was needed.
	tiles  []*gemmF
	tileN  int // fW·outC
	tileLd int // the GEMM's columns rounded up to whole panels
	// tileFold: one GEMM whose columns are (filter row, filter column,
	// output channel) computes every filter row at once, when that needs
	// fewer panels than one GEMM per filter row (narrow outputs).
	tileFold bool
}

// newTconvGEMM prepares the phases of k's geometry, or returns nil when
// the weights are not constant.
func newTconvGEMM(k *tconvKernel) *tconvGEMM {
	g := &k.g
	if k.filter.Data == nil || (k.bias != nil && k.bias.Data == nil) {
		return nil
	}
	t := &tconvGEMM{lo: k.flo, hi: k.fhi}
	if k.bias != nil {
		t.bias = k.bias.Float32s()
	}
	w := k.filter.Float32s()
	if g.fH == g.strideH && g.fW == g.strideW && g.padH == 0 && g.padW == 0 && g.outH == g.inH*g.strideH && g.outW == g.inW*g.strideW {
		t.newTiles(g, w)
		return t
	}
	maxCol := 0
	for py := 0; py < min(g.strideH, g.outH); py++ {
		for px := 0; px < min(g.strideW, g.outW); px++ {
			ph := tconvPhase{oy0: py, ox0: px,
				ny: (g.outH - py + g.strideH - 1) / g.strideH,
				nx: (g.outW - px + g.strideW - 1) / g.strideW}
			// Output row oy = py + j·s takes filter row fy from input
			// row (oy + pad − fy)/s when that divides exactly.
			ph.fy, ph.dy = tconvPhaseTaps(py, g.padH, g.strideH, g.fH)
			ph.fx, ph.dx = tconvPhaseTaps(px, g.padW, g.strideW, g.fW)
			if taps := len(ph.fy) * len(ph.fx); taps > 0 {
				kk := taps * g.inC
				pw := make([]float32, g.outC*kk)
				for oc := 0; oc < g.outC; oc++ {
					d := pw[oc*kk:]
					for _, fy := range ph.fy {
						for _, fx := range ph.fx {
							src := ((oc*g.fH+fy)*g.fW + fx) * g.inC
							d = d[copy(d, w[src:src+g.inC]):]
						}
					}
				}
				ph.f = newGemmF(pw, t.bias, g.outC, kk, k.flo, k.fhi)
				maxCol = max(maxCol, ph.nx*kk)
			}
			t.phases = append(t.phases, ph)
		}
	}
	t.col = make([]float32, maxCol)
	return t
}

// newTiles packs one GEMM per filter row (see tconvGEMM.tiles).
func (t *tconvGEMM) newTiles(g *convGeom, w []float32) {
	panels := func(n int) int { return (n + gemmFPanel - 1) / gemmFPanel }
	n := g.fW * g.outC
	rows := 1 // filter rows per GEMM
	if panels(g.fH*n) < g.fH*panels(n) {
		rows, t.tileFold = g.fH, true
	}
	ld := n * rows
	if ld%gemmFPanel != 0 || t.tileFold {
		ld = panels(ld) * gemmFPanel
		t.col = make([]float32, g.inW*ld)
	}
	t.tileN, t.tileLd = n, ld
	var bias []float32
	if t.bias != nil {
		bias = make([]float32, ld)
		for i := 0; i < rows*g.fW; i++ {
			copy(bias[i*g.outC:], t.bias)
		}
	}
	for fy0 := 0; fy0 < g.fH; fy0 += rows {
		// Column ((fy−fy0)·fW + fx)·outC + oc is filter[oc, fy, fx, :];
		// padded columns are zero.
		pw := make([]float32, ld*g.inC)
		for fy := fy0; fy < fy0+rows; fy++ {
			for fx := 0; fx < g.fW; fx++ {
				for oc := 0; oc < g.outC; oc++ {
					src := ((oc*g.fH+fy)*g.fW + fx) * g.inC
					copy(pw[(((fy-fy0)*g.fW+fx)*g.outC+oc)*g.inC:], w[src:src+g.inC])
				}
			}
		}
		t.tiles = append(t.tiles, newGemmF(pw, bias, ld, g.inC, t.lo, t.hi))
	}
}

// evalTiles computes one image with the tiles.
func (t *tconvGEMM) evalTiles(g *convGeom, x, y []float32) {
	n, ld := t.tileN, t.tileLd
	rowIn, rowOut := g.inW*g.inC, g.outW*g.outC
	for iy := 0; iy < g.inH; iy++ {
		a := x[iy*rowIn : (iy+1)*rowIn]
		if t.tileFold {
			f := t.tiles[0]
			gemmFRun(f, a, g.inW, 0, f.nb, t.col, ld)
			for fy := 0; fy < g.fH; fy++ {
				yr := y[(iy*g.strideH+fy)*rowOut : (iy*g.strideH+fy+1)*rowOut]
				compactRows(yr, t.col[fy*n:], g.inW, n, ld)
			}
			continue
		}
		for fy, f := range t.tiles {
			yr := y[(iy*g.strideH+fy)*rowOut : (iy*g.strideH+fy+1)*rowOut]
			if n == ld {
				gemmFRun(f, a, g.inW, 0, f.nb, yr, n)
				continue
			}
			gemmFRun(f, a, g.inW, 0, f.nb, t.col, ld)
			compactRows(yr, t.col, g.inW, n, ld)
		}
	}
}

// compactRows copies rows of n floats, ld apart in src, to dst
// back to back.
func compactRows(dst, src []float32, rows, n, ld int) {
	switch n {
	case 2:
		for i := 0; i < rows; i++ {
			*(*[2]float32)(dst[i*2:]) = *(*[2]float32)(src[i*ld:])
		}
	case 4:
		for i := 0; i < rows; i++ {
			*(*[4]float32)(dst[i*4:]) = *(*[4]float32)(src[i*ld:])
		}
	case 8:
		for i := 0; i < rows; i++ {
			*(*[8]float32)(dst[i*8:]) = *(*[8]float32)(src[i*ld:])
		}
	default:
		for i := 0; i < rows; i++ {
			copy(dst[i*n:i*n+n], src[i*ld:])
		}
	}
}

// variant names the path and the GEMM's kernels, for profiles.
func (t *tconvGEMM) variant() string {
	if len(t.tiles) > 0 {
		return "tiles " + t.tiles[0].variant()
	}
	for _, ph := range t.phases {
		if ph.f != nil {
			return "subconv " + ph.f.variant()
		}
	}
	return "subconv"
}

// tconvPhaseTaps returns the filter positions that reach the outputs
// o0, o0+stride, ... along one axis, ascending, and for each the offset d
// such that the phase's output j reads input j+d.
func tconvPhaseTaps(o0, pad, stride, filter int) (f, d []int) {
	for fi := (o0 + pad) % stride; fi < filter; fi += stride {
		f = append(f, fi)
		d = append(d, (o0+pad-fi)/stride)
	}
	return f, d
}

func (t *tconvGEMM) eval(k *tconvKernel) error {
	g := &k.g
	x, y := k.in.Float32s(), k.out.Float32s()
	inPix, outPix := g.inH*g.inW*g.inC, g.outH*g.outW*g.outC
	for b := 0; b < g.batch; b++ {
		xb, yb := x[b*inPix:(b+1)*inPix], y[b*outPix:(b+1)*outPix]
		if t.tiles != nil {
			t.evalTiles(g, xb, yb)
			continue
		}
		for i := range t.phases {
			t.phase(g, &t.phases[i], xb, yb)
		}
	}
	return nil
}

// phase computes one phase of one image.
func (t *tconvGEMM) phase(g *convGeom, ph *tconvPhase, x, y []float32) {
	ldy := g.strideW * g.outC
	for j := 0; j < ph.ny; j++ {
		oy := ph.oy0 + j*g.strideH
		yr := y[(oy*g.outW+ph.ox0)*g.outC:]
		if ph.f == nil {
			t.biasOnly(g, yr, ph.nx, ldy)
			continue
		}
		gemmFRun(ph.f, t.row(g, ph, x, j), ph.nx, 0, ph.f.nb, yr, ldy)
	}
}

// row returns the GEMM's A for output row j of a phase: the input row
// itself when one tap covers it, else an im2col copy with zeros for taps
// outside the input.
func (t *tconvGEMM) row(g *convGeom, ph *tconvPhase, x []float32, j int) []float32 {
	c := g.inC
	if len(ph.fy) == 1 && len(ph.fx) == 1 {
		iy, ix := j+ph.dy[0], ph.dx[0]
		if iy >= 0 && iy < g.inH && ix >= 0 && ix+ph.nx <= g.inW {
			o := (iy*g.inW + ix) * c
			return x[o : o+ph.nx*c]
		}
	}
	kk := len(ph.fy) * len(ph.fx) * c
	a := t.col[:ph.nx*kk]
	for ti, dy := range ph.dy {
		iy := j + dy
		inside := iy >= 0 && iy < g.inH
		xr := x[max(0, min(iy, g.inH-1))*g.inW*c:]
		for tj, dx := range ph.dx {
			o := (ti*len(ph.dx) + tj) * c
			for i := 0; i < ph.nx; i++ {
				d := a[i*kk+o : i*kk+o+c]
				if ix := i + dx; inside && ix >= 0 && ix < g.inW {
					copy(d, xr[ix*c:ix*c+c])
				} else {
					clear(d)
				}
			}
		}
	}
	return a
}

// biasOnly writes the clamped bias to n pixels ldy apart.
func (t *tconvGEMM) biasOnly(g *convGeom, y []float32, n, ldy int) {
	for i := 0; i < n; i++ {
		d := y[i*ldy : i*ldy+g.outC]
		for oc := range d {
			var v float32
			if t.bias != nil {
				v = t.bias[oc]
			}
			d[oc] = ClampF(v, t.lo, t.hi)
		}
	}
}
