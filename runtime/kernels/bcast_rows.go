package kernels

// Row-wise broadcasting. Element-wise binary kernels run their arithmetic
// over contiguous runs of the output rather than element by element
// through a closure: the broadcast plan (broadcast.go) collapses the
// shapes so that the innermost run is as long as possible, and each run
// has one of four forms, which the kernels implement as plain loops (or
// table lookups, or vector code).

// rowKind is how the two operands line up along one run of the output.
type rowKind uint8

const (
	rowVV rowKind = iota // both operands advance with the output
	rowVS                // a advances, b is one value (b[0] of the run)
	rowSV                // a is one value, b advances
	rowSS                // both are one value
)

// rowKind returns the form every run of the plan has.
func (p *bcastPlan) rowKind() rowKind {
	switch p.kind {
	case bcastSame:
		return rowVV
	case bcastScalarA:
		return rowSV
	case bcastScalarB:
		return rowVS
	}
	r := len(p.shape)
	switch sa, sb := p.aStr[r-1], p.bStr[r-1]; {
	case sa == 1 && sb == 1:
		return rowVV
	case sa == 1:
		return rowVS
	case sb == 1:
		return rowSV
	}
	return rowSS
}

// rowFunc computes one run: y[i] from a[i] (a[0] for rowSV and rowSS)
// and b[i] (b[0] for rowVS and rowSS). y has the run's length.
type rowFunc[A, B, O any] func(k rowKind, a []A, b []B, y []O)

// bcastRows calls row once per contiguous run of the output (once in all
// when the operands have the output's shape or one is a scalar). When b
// is a row repeated along the output (per-channel operands, [R, C] with b
// of shape [C]), runs are short; tile, if it holds at least two copies
// of the row, lets bcastRows join several runs into one rowVV call on
// tile filled with copies of b (and symmetrically for a repeated row,
// with tileA). It does not allocate.
func bcastRows[A, B, O any](p *bcastPlan, a []A, b []B, out []O, tileA []A, tileB []B, row rowFunc[A, B, O]) {
	n := p.n
	if n == 0 {
		return
	}
	out = out[:n]
	switch p.kind {
	case bcastSame:
		row(rowVV, a[:n], b[:n], out)
		return
	case bcastScalarA:
		row(rowSV, a[:1], b[:n], out)
		return
	case bcastScalarB:
		row(rowVS, a[:n], b[:1], out)
		return
	}
	r := len(p.shape)
	inner := p.shape[r-1]
	if r == 2 && p.aStr[0] == inner && p.aStr[1] == 1 && p.bStr[0] == 0 && p.bStr[1] == 1 && len(tileB) >= 2*inner {
		m := len(tileB) / inner
		for i := 0; i < m; i++ {
			copy(tileB[i*inner:(i+1)*inner], b[:inner])
		}
		for o := 0; o < n; o += m * inner {
			e := min(n, o+m*inner)
			row(rowVV, a[o:e], tileB[:e-o], out[o:e])
		}
		return
	}
	if r == 2 && p.bStr[0] == inner && p.bStr[1] == 1 && p.aStr[0] == 0 && p.aStr[1] == 1 && len(tileA) >= 2*inner {
		m := len(tileA) / inner
		for i := 0; i < m; i++ {
			copy(tileA[i*inner:(i+1)*inner], a[:inner])
		}
		for o := 0; o < n; o += m * inner {
			e := min(n, o+m*inner)
			row(rowVV, tileA[:e-o], b[o:e], out[o:e])
		}
		return
	}
	if mid, ok := p.midBroadcast(); ok && mid > 1 {
		// [outer, mid, inner] with one operand's rows repeated along
		// mid: copy that operand's run mid times into its tile, then
		// one rowVV call per outer index.
		span := mid * inner
		switch {
		case p.bStr[1] == 0 && len(tileB) >= span:
			for o, bo := 0, 0; o < n; o, bo = o+span, bo+inner {
				for j := 0; j < mid; j++ {
					copy(tileB[j*inner:(j+1)*inner], b[bo:bo+inner])
				}
				row(rowVV, a[o:o+span], tileB[:span], out[o:o+span])
			}
			return
		case p.aStr[1] == 0 && len(tileA) >= span:
			for o, ao := 0, 0; o < n; o, ao = o+span, ao+inner {
				for j := 0; j < mid; j++ {
					copy(tileA[j*inner:(j+1)*inner], a[ao:ao+inner])
				}
				row(rowVV, tileA[:span], b[o:o+span], out[o:o+span])
			}
			return
		}
	}
	sa, sb := p.aStr[r-1], p.bStr[r-1]
	k := p.rowKind()
	idx := p.idx
	clear(idx)
	ai, bi := 0, 0
	for o := 0; o < n; o += inner {
		var ar []A
		var br []B
		if sa == 1 {
			ar = a[ai : ai+inner]
		} else {
			ar = a[ai : ai+1]
		}
		if sb == 1 {
			br = b[bi : bi+inner]
		} else {
			br = b[bi : bi+1]
		}
		row(k, ar, br, out[o:o+inner])
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			ai += p.aStr[d]
			bi += p.bStr[d]
			if idx[d] < p.shape[d] {
				break
			}
			ai -= p.aStr[d] * p.shape[d]
			bi -= p.bStr[d] * p.shape[d]
			idx[d] = 0
		}
	}
}

// rowTileLen is the length of the tile bcastRows uses to join the short
// runs of a per-channel plan or of a plan whose operand repeats its rows
// along a middle axis (midBroadcast), 0 when it does not.
func (p *bcastPlan) rowTileLen() int {
	if p.kind != bcastGeneral {
		return 0
	}
	if mid, ok := p.midBroadcast(); ok && mid > 1 {
		if span := mid * p.shape[2]; span <= bcastTileMax {
			return span
		}
		return 0
	}
	if len(p.shape) != 2 {
		return 0
	}
	inner := p.shape[1]
	if inner >= bcastTileMin {
		return 0
	}
	return inner * ((bcastTileMin + inner - 1) / inner)
}

// midBroadcast reports whether the plan is [outer, mid, inner] with short
// runs (inner below bcastTileMin), one operand advancing with the output
// and the other holding one run of inner values per outer index, repeated
// along mid (x·[n, 32, 2] with [n, 1, 2], say); it returns mid.
func (p *bcastPlan) midBroadcast() (mid int, ok bool) {
	if p.kind != bcastGeneral || len(p.shape) != 3 {
		return 0, false
	}
	mid, inner := p.shape[1], p.shape[2]
	if inner >= bcastTileMin {
		return 0, false
	}
	full := func(s []int) bool { return s[0] == mid*inner && s[1] == inner && s[2] == 1 }
	rep := func(s []int) bool { return s[0] == inner && s[1] == 0 && s[2] == 1 }
	if full(p.aStr) && rep(p.bStr) || rep(p.aStr) && full(p.bStr) {
		return mid, true
	}
	return 0, false
}

// bcastTileMax bounds the tile of a middle-axis broadcast.
const bcastTileMax = 4096

// bcastTileMin is the run length below which per-channel runs are joined.
const bcastTileMin = 256

// applyRow is the per-element fallback of a rowFunc: f on each element.
func applyRow[A, B, O any](k rowKind, a []A, b []B, y []O, f func(A, B) O) {
	switch k {
	case rowVV:
		a, b = a[:len(y)], b[:len(y)]
		for i := range y {
			y[i] = f(a[i], b[i])
		}
	case rowVS:
		a = a[:len(y)]
		x := b[0]
		for i := range y {
			y[i] = f(a[i], x)
		}
	case rowSV:
		b = b[:len(y)]
		x := a[0]
		for i := range y {
			y[i] = f(x, b[i])
		}
	default:
		v := f(a[0], b[0])
		for i := range y {
			y[i] = v
		}
	}
}

// bcastApply computes out[i] = f(a[ia], b[ib]) over the plan, element by
// element within each run (kernels with loops of their own use
// bcastRows). It does not allocate.
func bcastApply[A, B, O any](p *bcastPlan, a []A, b []B, out []O, f func(A, B) O) {
	bcastRows(p, a, b, out, nil, nil, func(k rowKind, a []A, b []B, y []O) { applyRow(k, a, b, y, f) })
}
