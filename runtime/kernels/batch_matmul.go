package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// BatchMatMulParams are BATCH_MATMUL's options.
type BatchMatMulParams struct {
	AdjX, AdjY bool // transpose the last two dimensions of lhs / rhs
}

// BatchMatMul multiplies the matrices in the last two dimensions of lhs
// and rhs (each of rank 2 to 5), broadcasting the leading batch
// dimensions.
func BatchMatMul(cfg *Config, p BatchMatMulParams, lhs, rhs, out *tensor.Tensor) (Kernel, error) {
	const op = "BATCH_MATMUL"
	lr, rr := lhs.Rank(), rhs.Rank()
	if lr < 2 || lr > 5 || rr < 2 || rr > 5 {
		return nil, fmt.Errorf("%s: operands %q %v and %q %v; want ranks 2 to 5", op, lhs.Name, lhs.Shape, rhs.Name, rhs.Shape)
	}
	rank := max(lr, rr)
	ext := func(s []int) []int {
		e := make([]int, rank)
		for i := range e {
			e[i] = 1
		}
		copy(e[rank-len(s):], s)
		return e
	}
	ls, rs := ext(lhs.Shape), ext(rhs.Shape)
	rows, depth := ls[rank-2], ls[rank-1]
	if p.AdjX {
		rows, depth = depth, rows
	}
	rdepth, cols := rs[rank-2], rs[rank-1]
	if p.AdjY {
		rdepth, cols = cols, rdepth
	}
	if depth != rdepth {
		return nil, fmt.Errorf("%s: inner dimensions differ: %q %v (adj_x %v) and %q %v (adj_y %v)", op, lhs.Name, lhs.Shape, p.AdjX, rhs.Name, rhs.Shape, p.AdjY)
	}
	shape := make([]int, rank)
	for i := 0; i < rank-2; i++ {
		switch {
		case ls[i] == rs[i] || rs[i] == 1:
			shape[i] = ls[i]
		case ls[i] == 1:
			shape[i] = rs[i]
		default:
			return nil, fmt.Errorf("%s: batch dimensions of %q %v and %q %v do not broadcast", op, lhs.Name, lhs.Shape, rhs.Name, rhs.Shape)
		}
	}
	shape[rank-2], shape[rank-1] = rows, cols
	out.Shape = append(out.Shape[:0], shape...)

	// Element offset of each output batch's lhs and rhs matrices; a
	// broadcast dimension (size 1) does not advance.
	nb := tensor.NumElements(shape[:rank-2])
	k := &bmmKernel{rows: rows, cols: cols, depth: depth, adjX: p.AdjX, adjY: p.AdjY,
		lhsOff: make([]int, nb), rhsOff: make([]int, nb), lhs: lhs, rhs: rhs, out: out}
	lStride, rStride := rows*depth, depth*cols
	idx := make([]int, rank-2)
	for bi := 0; bi < nb; bi++ {
		lo, ro := 0, 0
		for i := 0; i < rank-2; i++ {
			li, ri := idx[i], idx[i]
			if ls[i] == 1 {
				li = 0
			}
			if rs[i] == 1 {
				ri = 0
			}
			lo = lo*ls[i] + li
			ro = ro*rs[i] + ri
		}
		k.lhsOff[bi], k.rhsOff[bi] = lo*lStride, ro*rStride
		for i := rank - 3; i >= 0; i-- {
			if idx[i]++; idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}

	switch lhs.Type {
	case tensor.Float32:
		if rhs.Type != tensor.Float32 {
			return nil, unsupportedf("%s: float32 lhs %q with %s rhs %q (hybrid)", op, lhs.Name, rhs.Type, rhs.Name)
		}
		if err := CheckType(op+" output", out, tensor.Float32); err != nil {
			return nil, err
		}
		buf := newBmmBuf[float32](k)
		// In the LiteRT arithmetic the GEMM sums as XNNPACK's: from 0, one
		// rounded product at a time (gemmF.sumFromBias, no bias).
		k.fromBias = cfg.Arithmetic == LiteRT
		if rhs.Const && rhs.Data != nil {
			return bmmConstF32(k, buf), nil
		}
		if rows >= bmmGemmMinRows {
			return bmmPackedF32(k, buf), nil
		}
		return Func(func() error { return bmmEval(k, buf, bmmDotF32) }), nil
	case tensor.Int8, tensor.Int16:
		// Quantized BATCH_MATMUL stays on TFLite's kernel under XNNPACK:
		// reference arithmetic in both modes (exact against the oracle).
		// int16 activations may meet int8 weights (the a16w8 recipe): the
		// products and sums are those of the int8 values widened.
		widen := lhs.Type == tensor.Int16 && rhs.Type == tensor.Int8
		if !widen {
			if err := CheckType(op+" rhs", rhs, lhs.Type); err != nil {
				return nil, err
			}
		}
		if err := CheckType(op+" output", out, lhs.Type); err != nil {
			// int8 x int8 -> int32 (no requantization) is not implemented.
			return nil, err
		}
		for _, t := range []*tensor.Tensor{lhs, rhs, out} {
			if err := CheckQuantized(op+" operand", t); err != nil {
				return nil, err
			}
			if t.Quant.PerChannel() {
				return nil, unsupportedf("%s: per-channel quantized operand %q", op, t.Name)
			}
		}
		// GetQuantizedConvolutionMultipler: lhs_scale*rhs_scale/out_scale.
		mult, shift, err := ChannelMultipliers(lhs, rhs, out, 1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		k.mult, k.shift = mult[0], shift[0]
		k.lo, k.hi, _ = TypeRange(out.Type)
		k.lOff, k.rOff, k.outOff = -lhs.ZeroPoint(), -rhs.ZeroPoint(), out.ZeroPoint()
		if lhs.Type == tensor.Int16 {
			if k.lOff != 0 || k.rOff != 0 || k.outOff != 0 {
				return nil, fmt.Errorf("%s: int16 operands must have zero point 0", op)
			}
			buf := newBmmBuf[int16](k)
			if !widen {
				return Func(func() error { return bmmEval(k, buf, bmmDotI16) }), nil
			}
			w := &tensor.Tensor{Name: rhs.Name, Type: tensor.Int16, Shape: rhs.Shape, Data: make([]byte, 2*rhs.NumElements())}
			k.rhs = w
			if rhs.Const {
				bmmWiden(w, rhs)
				return Func(func() error { return bmmEval(k, buf, bmmDotI16) }), nil
			}
			return Func(func() error {
				bmmWiden(w, rhs)
				return bmmEval(k, buf, bmmDotI16)
			}), nil
		}
		buf := newBmmBuf[int8](k)
		return Func(func() error { return bmmEval(k, buf, bmmDotI8) }), nil
	}
	return nil, unsupportedf("%s on %s lhs %q", op, lhs.Type, lhs.Name)
}

type bmmKernel struct {
	rows, cols, depth int
	adjX, adjY        bool
	lhsOff, rhsOff    []int
	lhs, rhs, out     *tensor.Tensor

	fromBias bool // float GEMM paths: gemmF.sumFromBias

	mult               int32
	shift              int
	lo, hi             int32
	lOff, rOff, outOff int32
}

// bmmBuf holds lhs as [rows][depth] and rhs as [cols][depth] when the
// stored layout differs, so that every dot product reads contiguously.
type bmmBuf[T any] struct{ l, r []T }

func newBmmBuf[T any](k *bmmKernel) *bmmBuf[T] {
	b := &bmmBuf[T]{}
	if k.adjX {
		b.l = make([]T, k.rows*k.depth)
	}
	if !k.adjY {
		b.r = make([]T, k.cols*k.depth)
	}
	return b
}

// bmmConstF32 runs a float BATCH_MATMUL whose rhs is a constant (weights,
// as converters write an einsum or a matmul by a parameter) as a fully
// connected layer: each rhs matrix is packed once for the float GEMM, and
// every lhs matrix of the batch multiplies the one it broadcasts with.
func bmmConstF32(k *bmmKernel, buf *bmmBuf[float32]) Kernel {
	rhs := k.rhs.Float32s()
	rSize := k.depth * k.cols
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	packed := map[int]*gemmF{}
	gs := make([]*gemmF, len(k.rhsOff))
	for bi, off := range k.rhsOff {
		g := packed[off]
		if g == nil {
			w := rhs[off : off+rSize] // [cols][depth] when adjY
			if !k.adjY {
				w = make([]float32, rSize)
				bmmTranspose(w, rhs[off:off+rSize], k.depth, k.cols)
			}
			g = newGemmF(w, nil, k.cols, k.depth, lo, hi)
			if k.fromBias {
				g.sumFromBias()
			}
			packed[off] = g
		}
		gs[bi] = g
	}
	lSize, oSize := k.rows*k.depth, k.rows*k.cols
	run := func() error {
		lhs, y := k.lhs.Float32s(), k.out.Float32s()
		for bi, g := range gs {
			l := lhs[k.lhsOff[bi] : k.lhsOff[bi]+lSize]
			if k.adjX {
				bmmTranspose(buf.l, l, k.depth, k.rows)
				l = buf.l
			}
			gemmFRun(g, l, k.rows, 0, g.nb, y[bi*oSize:(bi+1)*oSize], k.cols)
		}
		return nil
	}
	return Describe("gemm "+gs[0].variant(), Func(run))
}

// bmmGemmMinRows is the lhs rows from which a BATCH_MATMUL of two
// activations packs each rhs matrix for the float GEMM at every invoke:
// packing reads the matrix once, the GEMM then uses it once per row.
const bmmGemmMinRows = 4

// bmmPackedF32 runs a float BATCH_MATMUL of two activations (attention's
// Q·Kᵀ and P·V) on the float GEMM: each rhs matrix is packed into one
// prepared GEMM (in [cols][depth] order) before its lhs rows multiply it.
func bmmPackedF32(k *bmmKernel, buf *bmmBuf[float32]) Kernel {
	rSize, lSize, oSize := k.depth*k.cols, k.rows*k.depth, k.rows*k.cols
	g := newGemmF(make([]float32, rSize), nil, k.cols, k.depth, float32(math.Inf(-1)), float32(math.Inf(1)))
	if k.fromBias {
		g.sumFromBias()
	}
	run := func() error {
		lhs, rhs, y := k.lhs.Float32s(), k.rhs.Float32s(), k.out.Float32s()
		last := -1
		for bi := range k.lhsOff {
			if off := k.rhsOff[bi]; off != last {
				r := rhs[off : off+rSize]
				if !k.adjY {
					bmmTranspose(buf.r, r, k.depth, k.cols)
					r = buf.r
				}
				g.repack(r)
				last = off
			}
			l := lhs[k.lhsOff[bi] : k.lhsOff[bi]+lSize]
			if k.adjX {
				bmmTranspose(buf.l, l, k.depth, k.rows)
				l = buf.l
			}
			gemmFRun(g, l, k.rows, 0, g.nb, y[bi*oSize:(bi+1)*oSize], k.cols)
		}
		return nil
	}
	return Describe("gemm "+g.variant(), Func(run))
}

// bmmWiden writes the int8 values of src into the int16 tensor dst.
func bmmWiden(dst, src *tensor.Tensor) {
	d, v := convView[int16](dst.Data), convView[int8](src.Data)
	for i, x := range v[:len(d)] {
		d[i] = int16(x)
	}
}

// bmmTranspose writes the [n][m] matrix src into dst as [m][n].
func bmmTranspose[T any](dst, src []T, n, m int) {
	for i := 0; i < n; i++ {
		row := src[i*m : i*m+m]
		for j, v := range row {
			dst[j*n+i] = v
		}
	}
}

func bmmDotF32(k *bmmKernel, l, r []float32) float32 {
	r = r[:len(l)]
	var acc float32
	for i, v := range l {
		acc += v * r[i]
	}
	return acc
}

func bmmDotI8(k *bmmKernel, l, r []int8) int8 {
	r = r[:len(l)]
	var acc int32
	for i, v := range l {
		acc += (int32(v) + k.lOff) * (int32(r[i]) + k.rOff)
	}
	acc = MultiplyByQuantizedMultiplier(acc, k.mult, k.shift) + k.outOff
	return int8(Clamp(acc, k.lo, k.hi))
}

func bmmDotI16(k *bmmKernel, l, r []int16) int16 {
	r = r[:len(l)]
	var acc int64
	for i, v := range l {
		acc += int64(int32(v) * int32(r[i]))
	}
	return int16(Clamp(MultiplyByQuantizedMultiplier64(acc, k.mult, k.shift), k.lo, k.hi))
}

// bmmEval is reference_ops::BatchMatMul: out[r][c] = Σ_d L[r][d]·R[d][c],
// summed in increasing d.
func bmmEval[T any](k *bmmKernel, buf *bmmBuf[T], dot func(*bmmKernel, []T, []T) T) error {
	lhs, rhs, y := convView[T](k.lhs.Data), convView[T](k.rhs.Data), convView[T](k.out.Data)
	rows, cols, depth := k.rows, k.cols, k.depth
	lSize, rSize := rows*depth, depth*cols
	o := 0
	for bi := range k.lhsOff {
		l := lhs[k.lhsOff[bi] : k.lhsOff[bi]+lSize]
		r := rhs[k.rhsOff[bi] : k.rhsOff[bi]+rSize]
		if k.adjX {
			bmmTranspose(buf.l, l, depth, rows)
			l = buf.l
		}
		if !k.adjY {
			bmmTranspose(buf.r, r, depth, cols)
			r = buf.r
		}
		for i := 0; i < rows; i++ {
			lr := l[i*depth : i*depth+depth]
			for j := 0; j < cols; j++ {
				y[o] = dot(k, lr, r[j*depth:j*depth+depth])
				o++
			}
		}
	}
	return nil
}
