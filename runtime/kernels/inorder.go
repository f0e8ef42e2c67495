package kernels

import "github.com/edged-dev/edged/runtime/tensor"

// convInOrderFast is the in-order float CONV_2D (ConvParams.InOrder)
// without groups on a vector unit: the same sums, one product at a time
// from the bias in filter order with each product and each sum rounded,
// computed for 8 output channels at once (one lane each) over tiles of
// im2col rows whose taps outside the input are zeros, as the direct loop
// adds them. Every lane's operations are the direct loop's, so the
// outputs are bit-identical to it.
type convInOrderFast struct {
	g      convGeom
	k      int
	in     *tensor.Tensor
	out    *tensor.Tensor
	w      []float32 // blocks of 8 channels: k groups of 8 weights
	bias   []float32 // 8 per block, zeros beyond the channels
	lo, hi float32
	tileM  int
	cols   []float32 // tileM rows of k, a multiple of 4 rows
}

// newConvInOrderFast returns the vector kernel for an in-order float
// convolution without groups with constant weights (and bias) that
// evalFloatInOrder sums one channel at a time, or nil.
func newConvInOrderFast(k *convKernel) *convInOrderFast {
	g := k.g
	// evalFloatInOrder's c4 lanes (sumLanes4) are another order.
	gemm := g.fH == 1 && g.fW == 1 && g.strideH == 1 && g.strideW == 1
	if k.perGroup < 8 || gemm && k.perGroup%8 != 0 {
		return nil
	}
	if !inOrderHaveSIMD() || k.fC != g.inC || k.filter.Data == nil || (k.bias != nil && k.bias.Data == nil) {
		return nil
	}
	kk := g.fH * g.fW * g.inC
	nb := (g.outC + 7) / 8
	f := &convInOrderFast{g: g, k: kk, in: k.in, out: k.out, w: make([]float32, nb*kk*8), bias: make([]float32, nb*8), lo: k.flo, hi: k.fhi}
	w := k.filter.Float32s()
	for c := range g.outC {
		for d := range kk {
			f.w[(c/8*kk+d)*8+c%8] = w[c*kk+d]
		}
	}
	if k.bias != nil {
		copy(f.bias, k.bias.Float32s()[:g.outC])
	}
	f.tileM = min(max(4, (16<<10)/(kk*4))&^3, 64)
	f.cols = make([]float32, f.tileM*kk)
	return f
}

func (f *convInOrderFast) Eval() error {
	g := &f.g
	x, y := f.in.Float32s(), f.out.Float32s()
	m := g.batch * g.outH * g.outW
	var out [4][8]float32
	for m0 := 0; m0 < m; m0 += f.tileM {
		rows := min(f.tileM, m-m0)
		convIm2col(g, x, f.cols[:rows*f.k], m0, rows, 0)
		// The last group of four rows is completed with zeros, whose
		// outputs are not stored.
		full := (rows + 3) &^ 3
		clear(f.cols[rows*f.k : full*f.k])
		for c := 0; c < g.outC; c += 8 {
			nv := min(8, g.outC-c)
			w, b := &f.w[c/8*f.k*8], &f.bias[c]
			for r := 0; r < rows; r += 4 {
				inOrderAsm(&f.cols[r*f.k], f.k, w, b, f.lo, f.hi, &out)
				for i := range min(4, rows-r) {
					copy(y[(m0+r+i)*g.outC+c:][:nv], out[i][:nv])
				}
			}
		}
	}
	return nil
}
