package kernels

import (
	"fmt"
	"sync"

	"github.com/edged-dev/edged/runtime/tensor"
)

// FullyConnectedParams are FULLY_CONNECTED's options.
type FullyConnectedParams struct {
	Activation  Activation
	KeepNumDims bool
	// AsymmetricQuantizeInputs selects asymmetric (zero-point) input
	// quantization in the hybrid kernel (float input, int8 weights).
	AsymmetricQuantizeInputs bool
}

// FullyConnected computes out = act(in · filterᵀ + bias) with filter of
// shape [units, depth]; in is read as [batch, depth]. bias may be nil.
func FullyConnected(cfg *Config, p FullyConnectedParams, in, filter, bias, out *tensor.Tensor) (Kernel, error) {
	if filter.Rank() != 2 {
		return nil, fmt.Errorf("filter %q has shape %v; want rank 2", filter.Name, filter.Shape)
	}
	units, depth := filter.Shape[0], filter.Shape[1]
	if depth == 0 || in.NumElements()%depth != 0 {
		return nil, fmt.Errorf("input %q shape %v does not divide into rows of filter depth %d", in.Name, in.Shape, depth)
	}
	batch := in.NumElements() / depth
	if bias != nil && bias.NumElements() != units {
		return nil, fmt.Errorf("bias %q has %d elements; want %d", bias.Name, bias.NumElements(), units)
	}
	if p.KeepNumDims {
		out.Shape = append(append(out.Shape[:0], in.Shape[:in.Rank()-1]...), units)
	} else {
		out.Shape = append(out.Shape[:0], batch, units)
	}
	if in.Type == tensor.Float32 && filter.Type != tensor.Float32 {
		return newFCHybrid(cfg, p, in, filter, bias, out, batch, units, depth)
	}
	if fast, err := newFCFast(cfg, p, in, filter, bias, out, batch, units, depth); fast != nil || err != nil {
		return fast, err
	}
	switch in.Type {
	case tensor.Float32:
		return fullyConnectedFloat(p, in, filter, bias, out, batch, units, depth)
	case tensor.Int8, tensor.UInt8:
		return fullyConnectedQuant(cfg, p, in, filter, bias, out, batch, units, depth)
	}
	return nil, unsupportedf("FULLY_CONNECTED on %s input", in.Type)
}

func fullyConnectedFloat(p FullyConnectedParams, in, filter, bias, out *tensor.Tensor, batch, units, depth int) (Kernel, error) {
	if err := CheckType("filter", filter, tensor.Float32); err != nil {
		return nil, err
	}
	if err := CheckType("output", out, tensor.Float32); err != nil {
		return nil, err
	}
	if bias != nil {
		if err := CheckType("bias", bias, tensor.Float32); err != nil {
			return nil, err
		}
	}
	lo, hi, err := FloatActivationRange(p.Activation)
	if err != nil {
		return nil, err
	}
	return Func(func() error {
		x, w, y := in.Float32s(), filter.Float32s(), out.Float32s()
		var b []float32
		if bias != nil {
			b = bias.Float32s()
		}
		for bi := 0; bi < batch; bi++ {
			row := x[bi*depth : bi*depth+depth]
			for u := 0; u < units; u++ {
				wr := w[u*depth : u*depth+depth]
				var acc float32
				for d, v := range row {
					acc += v * wr[d]
				}
				if b != nil {
					acc += b[u]
				}
				y[bi*units+u] = ClampF(acc, lo, hi)
			}
		}
		return nil
	}), nil
}

// fullyConnectedQuantSetup checks quantized operands and returns the
// multipliers, activation range and offsets.
func fullyConnectedQuantSetup(cfg *Config, p FullyConnectedParams, in, filter, bias, out *tensor.Tensor, units int) (mult []int32, shift []int, lo, hi, inOff, filterOff, outOff int32, err error) {
	fail := func(err error) ([]int32, []int, int32, int32, int32, int32, int32, error) {
		return nil, nil, 0, 0, 0, 0, 0, err
	}
	if err := CheckType("filter", filter, in.Type); err != nil {
		return fail(err)
	}
	if err := CheckType("output", out, in.Type); err != nil {
		return fail(err)
	}
	for _, t := range []*tensor.Tensor{in, filter, out} {
		if err := CheckQuantized("operand", t); err != nil {
			return fail(err)
		}
	}
	if bias != nil {
		if err := CheckType("bias", bias, tensor.Int32); err != nil {
			return fail(err)
		}
	}
	lo, hi, err = activationRange(cfg, p.Activation, out)
	if err != nil {
		return fail(err)
	}
	mult, shift, err = ChannelMultipliers(in, filter, out, units)
	if err != nil {
		return fail(err)
	}
	inOff, outOff = -in.ZeroPoint(), out.ZeroPoint()
	filterOff = -filter.ZeroPoint()
	if in.Type == tensor.Int8 && filterOff != 0 {
		return fail(fmt.Errorf("int8 filter %q has zero point %d; want 0", filter.Name, -filterOff))
	}
	return mult, shift, lo, hi, inOff, filterOff, outOff, nil
}

func fullyConnectedQuant(cfg *Config, p FullyConnectedParams, in, filter, bias, out *tensor.Tensor, batch, units, depth int) (Kernel, error) {
	mult, shift, lo, hi, inOff, filterOff, outOff, err := fullyConnectedQuantSetup(cfg, p, in, filter, bias, out, units)
	if err != nil {
		return nil, err
	}
	scales, err := litertScales(cfg, in, filter, out, units)
	if err != nil {
		return nil, err
	}
	return Func(func() error {
		var b []int32
		if bias != nil {
			b = bias.Int32s()
		}
		if in.Type == tensor.Int8 {
			x, w, y := in.Int8s(), filter.Int8s(), out.Int8s()
			for bi := 0; bi < batch; bi++ {
				row := x[bi*depth : bi*depth+depth]
				for u := 0; u < units; u++ {
					wr := w[u*depth : u*depth+depth]
					var acc int32
					for d, v := range row {
						acc += (int32(wr[d]) + filterOff) * (int32(v) + inOff)
					}
					if b != nil {
						acc += b[u]
					}
					y[bi*units+u] = int8(requantOut(acc, u, mult, shift, scales, outOff, lo, hi))
				}
			}
			return nil
		}
		x, w, y := in.UInt8s(), filter.UInt8s(), out.UInt8s()
		for bi := 0; bi < batch; bi++ {
			row := x[bi*depth : bi*depth+depth]
			for u := 0; u < units; u++ {
				wr := w[u*depth : u*depth+depth]
				var acc int32
				for d, v := range row {
					acc += (int32(wr[d]) + filterOff) * (int32(v) + inOff)
				}
				if b != nil {
					acc += b[u]
				}
				y[bi*units+u] = uint8(requantOut(acc, u, mult, shift, scales, outOff, lo, hi))
			}
		}
		return nil
	}), nil
}

// ChannelMultipliers computes the fixed-point output multiplier of each of
// n output channels, as TFLite's PopulateConvolutionQuantizationParams:
// in_scale * filter_scale[c] / out_scale in double precision, per-tensor
// filter scales broadcast.
func ChannelMultipliers(in, filter, out *tensor.Tensor, n int) (mult []int32, shift []int, err error) {
	fs := filter.Quant.Scale
	if len(fs) != 1 && len(fs) != n {
		return nil, nil, fmt.Errorf("filter %q has %d scales; want 1 or %d", filter.Name, len(fs), n)
	}
	mult, shift = make([]int32, n), make([]int, n)
	for c := 0; c < n; c++ {
		s := fs[0]
		if len(fs) > 1 {
			s = fs[c]
		}
		real := float64(in.Scale()) * float64(s) / float64(out.Scale())
		mult[c], shift[c] = QuantizeMultiplier(real)
	}
	return mult, shift, nil
}

// fcFast is FULLY_CONNECTED as a GEMM over weights packed at construction
// (see gemm.go), used when the weights and bias are constant. Threads
// split the output units.
type fcFast struct {
	batch, depth int
	u8           bool
	nparts       int
	wg           sync.WaitGroup
	in, out      *tensor.Tensor
	q            *gemmQ
	f            *gemmF
	asum         [][]int32 // per part: the rows' input sums
}

func newFCFast(cfg *Config, p FullyConnectedParams, in, filter, bias, out *tensor.Tensor, batch, units, depth int) (Kernel, error) {
	if filter.Data == nil || (bias != nil && bias.Data == nil) || filter.NumElements() != units*depth {
		return nil, nil
	}
	k := &fcFast{batch: batch, depth: depth, in: in, out: out}
	var nb int
	switch in.Type {
	case tensor.Float32:
		if err := CheckType("filter", filter, tensor.Float32); err != nil {
			return nil, err
		}
		if err := CheckType("output", out, tensor.Float32); err != nil {
			return nil, err
		}
		var bs []float32
		if bias != nil {
			if err := CheckType("bias", bias, tensor.Float32); err != nil {
				return nil, err
			}
			bs = bias.Float32s()
		}
		lo, hi, err := FloatActivationRange(p.Activation)
		if err != nil {
			return nil, err
		}
		k.f = newGemmF(filter.Float32s(), bs, units, depth, lo, hi)
		if cfg.Arithmetic == LiteRT {
			k.f.sumFromBias()
		}
		nb = k.f.nb
	case tensor.Int8, tensor.UInt8:
		mult, shift, lo, hi, inOff, fOff, outOff, err := fullyConnectedQuantSetup(cfg, p, in, filter, bias, out, units)
		if err != nil {
			return nil, err
		}
		var bs []int32
		if bias != nil {
			bs = bias.Int32s()
		}
		if in.Type == tensor.Int8 {
			k.q = newGemmQ(filter.Int8s(), bs, units, depth, inOff, fOff, mult, shift, outOff, lo, hi)
		} else {
			k.q = newGemmQ(filter.UInt8s(), bs, units, depth, inOff, fOff, mult, shift, outOff, lo, hi)
			k.u8 = true
		}
		scales, err := litertScales(cfg, in, filter, out, units)
		if err != nil {
			return nil, err
		}
		k.q.setLiteRT(scales)
		// Parts take pairs of blocks, the main kernel's width.
		nb = (k.q.nb + 1) / 2
	default:
		return nil, nil
	}
	k.nparts = parallelThreads(cfg, nb, convWork(batch, depth, units))
	parallelReserve(k.nparts)
	k.asum = make([][]int32, k.nparts)
	if k.q != nil && k.q.fOff != 0 {
		for i := range k.asum {
			k.asum[i] = make([]int32, batch)
		}
	}
	desc := "gemm "
	if k.f != nil {
		desc += k.f.variant()
	} else {
		desc += k.q.variant()
	}
	return Describe(desc, Func(func() error { parallelRun(k, k.nparts, &k.wg); return nil })), nil
}

func (k *fcFast) runPart(part, nparts int) {
	if k.f != nil {
		j0, j1 := parallelRange(part, nparts, k.f.nb)
		gemmFRun(k.f, k.in.Float32s()[:k.batch*k.depth], k.batch, j0, j1, k.out.Float32s(), k.f.n)
		return
	}
	pairs := (k.q.nb + 1) / 2
	j0, j1 := parallelRange(part, nparts, pairs)
	j0, j1 = 2*j0, min(2*j1, k.q.nb)
	a := convView[int8](k.in.Data)[:k.batch*k.depth]
	asum := k.asum[part]
	if k.q.fOff != 0 {
		gemmQRowSums(k.q, a, asum)
	}
	if k.u8 {
		gemmQRun(k.q, a, k.batch, asum, j0, j1, k.out.UInt8s(), k.q.n)
	} else {
		gemmQRun(k.q, a, k.batch, asum, j0, j1, k.out.Int8s(), k.q.n)
	}
}
