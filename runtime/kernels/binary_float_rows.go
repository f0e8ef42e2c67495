package kernels

// Float32 binary arithmetic over contiguous runs (bcast_rows.go): one
// plain loop per operator and run form, so that the compiler keeps the
// operands in registers and no closure is called per element.

// f32Row returns the run function of op, nil for operators without one.
func f32Row(op BinaryOp) rowFunc[float32, float32, float32] {
	switch op {
	case OpAdd:
		return f32RowAdd
	case OpSub:
		return f32RowSub
	case OpMul:
		return f32RowMul
	case OpDiv:
		return f32RowDiv
	case OpSquaredDifference:
		return f32RowSqDiff
	case OpMaximum:
		return f32RowMax
	case OpMinimum:
		return f32RowMin
	}
	return nil
}

func f32RowAdd(k rowKind, a, b, y []float32) {
	switch k {
	case rowVV:
		a, b = a[:len(y)], b[:len(y)]
		for i := range y {
			y[i] = a[i] + b[i]
		}
	case rowVS:
		a, s := a[:len(y)], b[0]
		for i := range y {
			y[i] = a[i] + s
		}
	case rowSV:
		s, b := a[0], b[:len(y)]
		for i := range y {
			y[i] = s + b[i]
		}
	default:
		f32Fill(y, a[0]+b[0])
	}
}

func f32RowSub(k rowKind, a, b, y []float32) {
	switch k {
	case rowVV:
		a, b = a[:len(y)], b[:len(y)]
		for i := range y {
			y[i] = a[i] - b[i]
		}
	case rowVS:
		a, s := a[:len(y)], b[0]
		for i := range y {
			y[i] = a[i] - s
		}
	case rowSV:
		s, b := a[0], b[:len(y)]
		for i := range y {
			y[i] = s - b[i]
		}
	default:
		f32Fill(y, a[0]-b[0])
	}
}

func f32RowMul(k rowKind, a, b, y []float32) {
	switch k {
	case rowVV:
		a, b = a[:len(y)], b[:len(y)]
		for i := range y {
			y[i] = a[i] * b[i]
		}
	case rowVS:
		a, s := a[:len(y)], b[0]
		for i := range y {
			y[i] = a[i] * s
		}
	case rowSV:
		s, b := a[0], b[:len(y)]
		for i := range y {
			y[i] = s * b[i]
		}
	default:
		f32Fill(y, a[0]*b[0])
	}
}

func f32RowDiv(k rowKind, a, b, y []float32) {
	switch k {
	case rowVV:
		a, b = a[:len(y)], b[:len(y)]
		for i := range y {
			y[i] = a[i] / b[i]
		}
	case rowVS:
		a, s := a[:len(y)], b[0]
		for i := range y {
			y[i] = a[i] / s
		}
	case rowSV:
		s, b := a[0], b[:len(y)]
		for i := range y {
			y[i] = s / b[i]
		}
	default:
		f32Fill(y, a[0]/b[0])
	}
}

func f32RowSqDiff(k rowKind, a, b, y []float32) {
	switch k {
	case rowVV:
		a, b = a[:len(y)], b[:len(y)]
		for i := range y {
			d := a[i] - b[i]
			y[i] = d * d
		}
	case rowVS:
		a, s := a[:len(y)], b[0]
		for i := range y {
			d := a[i] - s
			y[i] = d * d
		}
	case rowSV:
		s, b := a[0], b[:len(y)]
		for i := range y {
			d := s - b[i]
			y[i] = d * d
		}
	default:
		d := a[0] - b[0]
		f32Fill(y, d*d)
	}
}

// f32RowMax is TFLite's MaximumOp: el1 > el2 ? el1 : el2 (NaN in a gives b).
func f32RowMax(k rowKind, a, b, y []float32) {
	applyRow(k, a, b, y, func(x, z float32) float32 {
		if x > z {
			return x
		}
		return z
	})
}

// f32RowMin is TFLite's MinimumOp: el1 < el2 ? el1 : el2.
func f32RowMin(k rowKind, a, b, y []float32) {
	applyRow(k, a, b, y, func(x, z float32) float32 {
		if x < z {
			return x
		}
		return z
	})
}

func f32Fill(y []float32, v float32) {
	for i := range y {
		y[i] = v
	}
}

// f32RowPrelu is PRELU over a run: a the input, b alpha.
func f32RowPrelu(k rowKind, a, b, y []float32) {
	switch k {
	case rowVV:
		a, b = a[:len(y)], b[:len(y)]
		for i := range y {
			v := a[i]
			if v < 0 {
				v *= b[i]
			}
			y[i] = v
		}
	case rowVS:
		a, s := a[:len(y)], b[0]
		for i := range y {
			v := a[i]
			if v < 0 {
				v *= s
			}
			y[i] = v
		}
	default:
		// alpha never has more elements than the input: no rowSV run.
		applyRow(k, a, b, y, func(v, s float32) float32 {
			if v < 0 {
				return v * s
			}
			return v
		})
	}
}

// Operator codes of f32RowAsm.
const (
	f32RowOpAdd = iota
	f32RowOpSub
	f32RowOpMul
	f32RowOpDiv
	f32RowOpMax
	f32RowOpMin
	f32RowOpSqDiff
	f32RowOpPrelu
)

// f32RowCode is op's code for f32RowAsm, or -1.
func f32RowCode(op BinaryOp) int {
	switch op {
	case OpAdd:
		return f32RowOpAdd
	case OpSub:
		return f32RowOpSub
	case OpMul:
		return f32RowOpMul
	case OpDiv:
		return f32RowOpDiv
	case OpMaximum:
		return f32RowOpMax
	case OpMinimum:
		return f32RowOpMin
	case OpSquaredDifference:
		return f32RowOpSqDiff
	}
	return -1
}

// f32RowClamped returns the run function of operator code, with the
// clamp to [lo, hi] (a fused activation; ±Inf for none): the vector loop
// where there is one, goRow (then ClampF) on what it leaves. Vector and
// Go give the same bits: IEEE operations rounded once, the same NaN and
// zero rules (see binary_float_amd64.s).
func f32RowClamped(code int, goRow rowFunc[float32, float32, float32], clamp bool, lo, hi float32) rowFunc[float32, float32, float32] {
	finish := func(k rowKind, a, b, y []float32) {
		goRow(k, a, b, y)
		if clamp {
			for i, v := range y {
				y[i] = ClampF(v, lo, hi)
			}
		}
	}
	if !f32RowHaveSIMD() {
		return finish
	}
	return func(k rowKind, a, b, y []float32) {
		n := len(y)
		m := n &^ 7
		if m == 0 || k == rowSS {
			finish(k, a, b, y)
			return
		}
		var sa, sb [8]float32
		pa, pb, stepA, stepB := &sa[0], &sb[0], 0, 0
		switch k {
		case rowVV:
			pa, pb, stepA, stepB = &a[0], &b[0], 32, 32
		case rowVS:
			pa, stepA = &a[0], 32
			sb = [8]float32{b[0], b[0], b[0], b[0], b[0], b[0], b[0], b[0]}
		case rowSV:
			pb, stepB = &b[0], 32
			sa = [8]float32{a[0], a[0], a[0], a[0], a[0], a[0], a[0], a[0]}
		}
		f32RowAsm(code, pa, stepA, pb, stepB, &y[0], m, lo, hi)
		if m == n {
			return
		}
		ta, tb := a, b
		if k == rowVV || k == rowVS {
			ta = a[m:]
		}
		if k == rowVV || k == rowSV {
			tb = b[m:]
		}
		finish(k, ta, tb, y[m:])
	}
}
