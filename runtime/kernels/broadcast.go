package kernels

import (
	"fmt"
)

// MaxBroadcastRank is the highest operand rank the element-wise binary
// kernels accept (TFLite's broadcasting kernels go up to 6).
const MaxBroadcastRank = 6

// BroadcastShape returns the NumPy-style broadcast of shapes a and b: both
// are right-aligned and every pair of dimensions must be equal or contain
// a 1.
func BroadcastShape(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast (dimension %d: %d vs %d)", a, b, i, da, db)
		}
	}
	return out, nil
}

// bcastKind is how the operands of a binary kernel line up with its output.
type bcastKind int

const (
	bcastSame    bcastKind = iota // both operands have the output's layout
	bcastScalarA                  // a has one element, b the output's layout
	bcastScalarB                  // b has one element, a the output's layout
	bcastGeneral                  // strided walk
)

// bcastPlan is a precomputed walk of two operands broadcast to an output.
// For the general case the dimensions are collapsed: dimensions of size 1
// are dropped and neighbours with the same broadcast pattern merged, so the
// walk is an odometer over few dimensions with a tight inner loop.
type bcastPlan struct {
	kind  bcastKind
	n     int   // output elements
	shape []int // collapsed output shape (general case)
	aStr  []int // element strides of a per collapsed dimension (0: broadcast)
	bStr  []int
	idx   []int // odometer scratch, reused by every Eval
}

// newBcastPlan plans the walk of a and b into out, whose shape must be
// BroadcastShape(a, b).
func newBcastPlan(a, b, out []int) *bcastPlan {
	p := &bcastPlan{n: numElems(out)}
	na, nb := numElems(a), numElems(b)
	switch {
	case na == p.n && nb == p.n:
		p.kind = bcastSame
		return p
	case na == 1 && nb == p.n:
		p.kind = bcastScalarA
		return p
	case nb == 1 && na == p.n:
		p.kind = bcastScalarB
		return p
	}
	p.kind = bcastGeneral
	r := len(out)
	// Per output dimension: does each operand vary along it?
	type dim struct {
		size       int
		aVar, bVar bool
	}
	var dims []dim
	for i := 0; i < r; i++ {
		if out[i] == 1 {
			continue
		}
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		d := dim{out[i], da != 1, db != 1}
		if k := len(dims) - 1; k >= 0 && dims[k].aVar == d.aVar && dims[k].bVar == d.bVar {
			dims[k].size *= d.size
			continue
		}
		dims = append(dims, d)
	}
	if len(dims) == 0 {
		dims = append(dims, dim{1, true, true})
	}
	p.shape = make([]int, len(dims))
	p.aStr = make([]int, len(dims))
	p.bStr = make([]int, len(dims))
	p.idx = make([]int, len(dims))
	sa, sb := 1, 1
	for k := len(dims) - 1; k >= 0; k-- {
		p.shape[k] = dims[k].size
		if dims[k].aVar {
			p.aStr[k] = sa
			sa *= dims[k].size
		}
		if dims[k].bVar {
			p.bStr[k] = sb
			sb *= dims[k].size
		}
	}
	return p
}

func numElems(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
