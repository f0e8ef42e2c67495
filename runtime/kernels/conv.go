package kernels

import (
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// ConvParams are CONV_2D's options.
type ConvParams struct {
	Padding              Padding
	StrideH, StrideW     int
	DilationH, DilationW int
	Activation           Activation
	// InOrder makes a float32 convolution sum as XNNPACK's does: from
	// the bias, every product of the window (taps outside the input as
	// zeros) in filter order (row, column, channel), each product and
	// each sum rounded to float32. It is for outputs that are quantized
	// dynamically downstream (hybrid operators), where a difference in
	// the last bit can move a value by a whole quantization step; it is
	// slower than the default path (SIMD, fused multiply-add).
	InOrder bool
}

// convOutSize is TFLite's ComputeOutSize (kernels/padding.h).
func convOutSize(p Padding, in, filter, stride, dilation int) (int, error) {
	eff := (filter-1)*dilation + 1
	switch p {
	case PaddingSame:
		return (in + stride - 1) / stride, nil
	case PaddingValid:
		return (in + stride - eff) / stride, nil
	}
	return 0, unsupportedf("padding %d", int(p))
}

// convPadding is TFLite's ComputePaddingWithOffset: the padding before the
// first element, and the extra padding after the last one (0 or 1).
func convPadding(stride, dilation, in, filter, out int) (pad, offset int) {
	eff := (filter-1)*dilation + 1
	total := (out-1)*stride + eff - in
	if total < 0 {
		total = 0
	}
	return total / 2, total % 2
}

// convView views a byte buffer as elements of type T, like tensor's own
// views, for kernels generic over the element type.
func convView[T any](b []byte) []T {
	var z T
	n := len(b) / int(unsafe.Sizeof(z))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// convGeom is the geometry of a 2-D convolution over NHWC tensors, shared
// by CONV_2D and DEPTHWISE_CONV_2D.
type convGeom struct {
	batch, inH, inW, inC int
	outH, outW, outC     int
	fH, fW               int
	strideH, strideW     int
	dilH, dilW           int
	padH, padW           int
}

// newConvGeom checks the input and the window options and computes the
// output size and padding as TFLite's ComputePaddingHeightWidth does.
func newConvGeom(op string, p ConvParams, in *tensor.Tensor, fH, fW, outC int) (convGeom, error) {
	var g convGeom
	if in.Rank() != 4 {
		return g, fmt.Errorf("%s: input %q has shape %v; want rank 4 (NHWC)", op, in.Name, in.Shape)
	}
	if p.StrideH < 1 || p.StrideW < 1 {
		return g, fmt.Errorf("%s: strides %dx%d; want at least 1", op, p.StrideH, p.StrideW)
	}
	if p.DilationH < 1 || p.DilationW < 1 {
		return g, fmt.Errorf("%s: dilations %dx%d; want at least 1", op, p.DilationH, p.DilationW)
	}
	if fH < 1 || fW < 1 {
		return g, fmt.Errorf("%s: filter window %dx%d is empty", op, fH, fW)
	}
	g = convGeom{
		batch: in.Shape[0], inH: in.Shape[1], inW: in.Shape[2], inC: in.Shape[3],
		outC: outC, fH: fH, fW: fW,
		strideH: p.StrideH, strideW: p.StrideW, dilH: p.DilationH, dilW: p.DilationW,
	}
	var err error
	if g.outH, err = convOutSize(p.Padding, g.inH, fH, g.strideH, g.dilH); err != nil {
		return g, fmt.Errorf("%s: %w", op, err)
	}
	if g.outW, err = convOutSize(p.Padding, g.inW, fW, g.strideW, g.dilW); err != nil {
		return g, fmt.Errorf("%s: %w", op, err)
	}
	if g.outH < 1 || g.outW < 1 {
		return g, fmt.Errorf("%s: input %q %v with a %dx%d window (dilation %dx%d) gives an empty output", op, in.Name, in.Shape, fH, fW, g.dilH, g.dilW)
	}
	g.padH, _ = convPadding(g.strideH, g.dilH, g.inH, fH, g.outH)
	g.padW, _ = convPadding(g.strideW, g.dilW, g.inW, fW, g.outW)
	return g, nil
}

// convTaps returns the range [lo, hi) of filter indices whose input coordinate
// origin+i*dil falls inside [0, size).
func convTaps(origin, dil, n, size int) (lo, hi int) {
	lo, hi = 0, n
	for lo < n && origin+lo*dil < 0 {
		lo++
	}
	for hi > lo && origin+(hi-1)*dil >= size {
		hi--
	}
	return lo, hi
}

// convQuantSetup checks the operands of a quantized convolution and
// returns its per-channel multipliers and activation range. bias may be
// nil; wantBias lists its accepted types.
func convQuantSetup(cfg *Config, op string, act Activation, in, filter, bias, out *tensor.Tensor, outC int, wantFilter tensor.DType, wantBias ...tensor.DType) (mult []int32, shift []int, lo, hi int32, err error) {
	if cfg.Arithmetic != Reference && !litertOp(op) {
		return nil, nil, 0, 0, unsupportedf("%s: %s arithmetic", op, cfg.Arithmetic)
	}
	if err := CheckType(op+" filter", filter, wantFilter); err != nil {
		return nil, nil, 0, 0, err
	}
	if err := CheckType(op+" output", out, in.Type); err != nil {
		return nil, nil, 0, 0, err
	}
	for _, t := range []*tensor.Tensor{in, filter, out} {
		if err := CheckQuantized(op+" operand", t); err != nil {
			return nil, nil, 0, 0, err
		}
	}
	if bias != nil {
		if err := CheckType(op+" bias", bias, wantBias...); err != nil {
			return nil, nil, 0, 0, err
		}
	}
	switch in.Type {
	case tensor.UInt8:
		// Legacy uint8 models are per-tensor: one zero point for the filter.
		if filter.Quant.PerChannel() {
			return nil, nil, 0, 0, unsupportedf("%s: per-channel uint8 filter %q", op, filter.Name)
		}
	case tensor.Int8, tensor.Int16:
		// TFLite requires symmetric int8 filters (zero point 0 on every channel).
		for _, zp := range filter.Quant.ZeroPoint {
			if zp != 0 {
				return nil, nil, 0, 0, fmt.Errorf("%s: int8 filter %q has zero point %d; want 0", op, filter.Name, zp)
			}
		}
		if in.Type == tensor.Int16 && (in.ZeroPoint() != 0 || out.ZeroPoint() != 0) {
			return nil, nil, 0, 0, fmt.Errorf("%s: int16 input %q and output %q must have zero point 0", op, in.Name, out.Name)
		}
	}
	lo, hi, err = activationRange(cfg, act, out)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	// For uint8, TFLite derives the single multiplier with
	// GetQuantizedConvolutionMultipler: the same double product
	// in_scale*filter_scale/out_scale, so per-channel code covers it.
	mult, shift, err = ChannelMultipliers(in, filter, out, outC)
	if err != nil {
		return nil, nil, 0, 0, fmt.Errorf("%s: %w", op, err)
	}
	return mult, shift, lo, hi, nil
}

func convCheckBias(op string, bias *tensor.Tensor, n int) error {
	if bias != nil && bias.NumElements() != n {
		return fmt.Errorf("%s: bias %q has %d elements; want %d", op, bias.Name, bias.NumElements(), n)
	}
	return nil
}

// Conv2D computes a 2-D convolution of an NHWC input with a filter of
// shape [out_channels, height, width, in_channels/groups], plus bias, then
// the fused activation. bias may be nil. Grouped convolution is used when
// the filter has fewer input channels than the input.
func Conv2D(cfg *Config, p ConvParams, in, filter, bias, out *tensor.Tensor) (Kernel, error) {
	const op = "CONV_2D"
	if filter.Rank() != 4 {
		return nil, fmt.Errorf("%s: filter %q has shape %v; want rank 4 (OHWI)", op, filter.Name, filter.Shape)
	}
	outC, fH, fW, fC := filter.Shape[0], filter.Shape[1], filter.Shape[2], filter.Shape[3]
	g, err := newConvGeom(op, p, in, fH, fW, outC)
	if err != nil {
		return nil, err
	}
	if fC < 1 || g.inC%fC != 0 {
		return nil, fmt.Errorf("%s: input %q has %d channels; filter %q has %d per group, which does not divide it", op, in.Name, g.inC, filter.Name, fC)
	}
	groups := g.inC / fC
	if outC < 1 || outC%groups != 0 {
		return nil, fmt.Errorf("%s: %d output channels do not divide into %d groups", op, outC, groups)
	}
	if err := convCheckBias(op, bias, outC); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], g.batch, g.outH, g.outW, outC)
	if in.Type == tensor.Float32 && filter.Type != tensor.Float32 {
		return newConvHybrid(cfg, op, p, g, false, fC, outC/groups, in, filter, bias, out)
	}
	if p.InOrder && in.Type == tensor.Float32 {
		if groups == 1 && !inOrderLanes(g, outC) {
			// The GEMM summing from the bias (the LiteRT arithmetic's
			// float GEMM) adds the same products in the same order.
			lc := *cfg
			lc.Arithmetic = LiteRT
			if fast, err := newConvFast(&lc, p, g, groups, in, filter, bias, out); fast != nil || err != nil {
				return fast, err
			}
		}
		k := &convKernel{g: g, fC: fC, perGroup: outC / groups, in: in, filter: filter, bias: bias, out: out}
		if err := convFloatSetup(op, p.Activation, filter, bias, out, &k.flo, &k.fhi); err != nil {
			return nil, err
		}
		k.rows = make([][]float32, fH*fW)
		k.zeros = make([]float32, fC)
		return Func(k.evalFloatInOrder), nil
	}
	if fast, err := newConvFast(cfg, p, g, groups, in, filter, bias, out); fast != nil || err != nil {
		return fast, err
	}
	k := &convKernel{g: g, fC: fC, perGroup: outC / groups, in: in, filter: filter, bias: bias, out: out}
	switch in.Type {
	case tensor.Float32:
		if err := convFloatSetup(op, p.Activation, filter, bias, out, &k.flo, &k.fhi); err != nil {
			return nil, err
		}
		return Func(k.evalFloat), nil
	case tensor.Int8, tensor.UInt8:
		wantFilter := in.Type
		if k.mult, k.shift, k.lo, k.hi, err = convQuantSetup(cfg, op, p.Activation, in, filter, bias, out, outC, wantFilter, tensor.Int32); err != nil {
			return nil, err
		}
		if k.scale, err = litertScales(cfg, in, filter, out, outC); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		k.inOff, k.fOff, k.outOff = -in.ZeroPoint(), -filter.ZeroPoint(), out.ZeroPoint()
		if in.Type == tensor.Int8 {
			return Func(func() error { return convEvalQuant[int8](k) }), nil
		}
		return Func(func() error { return convEvalQuant[uint8](k) }), nil
	case tensor.Int16:
		if k.mult, k.shift, k.lo, k.hi, err = convQuantSetup(cfg, op, p.Activation, in, filter, bias, out, outC, tensor.Int8, tensor.Int64, tensor.Int32); err != nil {
			return nil, err
		}
		if filter.Data != nil && dot16HaveSIMD() {
			// Constant weights: widened once for the vector dot product.
			fw := filter.Int8s()
			k.w16 = make([]int16, outC*g.fH*g.fW*fC)
			for i := range k.w16 {
				k.w16[i] = int16(fw[i])
			}
			return Describe("dot16 "+Variant(), Func(k.evalInt16)), nil
		}
		return Func(k.evalInt16), nil
	}
	return nil, unsupportedf("%s on %s input %q", op, in.Type, in.Name)
}

// convFloatSetup checks the float operands and returns the clamp range.
func convFloatSetup(op string, act Activation, filter, bias, out *tensor.Tensor, lo, hi *float32) error {
	if filter.Type != tensor.Float32 {
		// Hybrid (float activations, quantized weights) kernels are not implemented.
		return unsupportedf("%s: float32 input with %s filter %q", op, filter.Type, filter.Name)
	}
	if err := CheckType(op+" output", out, tensor.Float32); err != nil {
		return err
	}
	if bias != nil {
		if err := CheckType(op+" bias", bias, tensor.Float32); err != nil {
			return err
		}
	}
	var err error
	*lo, *hi, err = FloatActivationRange(act)
	return err
}

type convKernel struct {
	g        convGeom
	fC       int // input channels per group
	perGroup int // output channels per group

	in, filter, bias, out *tensor.Tensor

	flo, fhi            float32
	mult                []int32
	shift               []int
	scale               []float32 // LiteRT arithmetic (litert.go), else nil
	lo, hi              int32
	inOff, fOff, outOff int32

	// evalFloatInOrder: one window row per tap, zeros for taps outside
	// the input.
	rows  [][]float32
	zeros []float32
	// w16 is the int16×int8 convolution's filter widened to int16 for
	// dot16, nil when it runs the Go loop.
	w16 []int16
}

func (k *convKernel) evalFloat() error {
	g := &k.g
	x, w, y := k.in.Float32s(), k.filter.Float32s(), k.out.Float32s()
	var bs []float32
	if k.bias != nil {
		bs = k.bias.Float32s()
	}
	fC, fSize := k.fC, g.fH*g.fW*k.fC
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			iy0 := oy*g.strideH - g.padH
			fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
			for ox := 0; ox < g.outW; ox++ {
				ix0 := ox*g.strideW - g.padW
				fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
				for oc := 0; oc < g.outC; oc++ {
					icBase := (oc / k.perGroup) * fC
					wo := w[oc*fSize : oc*fSize+fSize]
					var acc float32
					for fy := fy0; fy < fy1; fy++ {
						row := (b*g.inH + iy0 + fy*g.dilH) * g.inW
						for fx := fx0; fx < fx1; fx++ {
							xi := (row+ix0+fx*g.dilW)*g.inC + icBase
							xs := x[xi : xi+fC]
							ws := wo[(fy*g.fW+fx)*fC:][:len(xs)]
							for i, v := range xs {
								acc += v * ws[i]
							}
						}
					}
					if bs != nil {
						acc += bs[oc]
					}
					y[o] = ClampF(acc, k.flo, k.fhi)
					o++
				}
			}
		}
	}
	return nil
}

// evalFloatInOrder is XNNPACK's float convolution (its IGEMM
// micro-kernels without fused multiply-add, as in the official runtime's
// WebAssembly build): the accumulator starts from the bias and takes
// every product of the window one at a time, each rounded; padding taps
// read zeros, as XNNPACK's indirection buffer points them at a zero row.
//
// XNNPACK's micro-kernels take 8 output channels at a time with one
// running sum per output ("4x8 splat"). It switches to its "4x2c4"
// kernels (four lanes over the channels, added pairwise at the end) for
// fewer than 8 output channels per group, and, for a 1×1 convolution with
// stride 1 (a plain GEMM), whenever the channels are not a multiple of 8
// (as measured against the official runtime). With one input and one
// output channel per group it runs its depthwise kernel, whose order this
// does not reproduce.
func (k *convKernel) evalFloatInOrder() error {
	g := &k.g
	lanes := inOrderLanes(*g, k.perGroup)
	x, wAll, y := k.in.Float32s(), k.filter.Float32s(), k.out.Float32s()
	var bs []float32
	if k.bias != nil {
		bs = k.bias.Float32s()
	}
	fC, taps := k.fC, g.fH*g.fW
	zero := k.zeros[:fC]
	// The window's rows, one per tap: the input pixel's channels, or
	// zeros for taps outside the input.
	rows := k.rows
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			iy0 := oy*g.strideH - g.padH
			for ox := 0; ox < g.outW; ox++ {
				ix0 := ox*g.strideW - g.padW
				yo := y[o : o+g.outC]
				for oc := 0; oc < g.outC; {
					icBase := (oc / k.perGroup) * fC
					for t := range taps {
						iy, ix := iy0+(t/g.fW)*g.dilH, ix0+(t%g.fW)*g.dilW
						if iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW {
							rows[t] = zero
							continue
						}
						xi := ((b*g.inH+iy)*g.inW+ix)*g.inC + icBase
						rows[t] = x[xi : xi+fC]
					}
					// Output channels [oc, end) share the group.
					end := min(oc+k.perGroup-oc%k.perGroup, g.outC)
					if !lanes {
						// Four outputs at a time: independent sums, each
						// in its own order.
						for ; oc+4 <= end; oc += 4 {
							var b4 [4]float32
							if bs != nil {
								b4 = [4]float32(bs[oc : oc+4])
							}
							n := taps * fC
							acc := sumInOrder4(rows[:taps], wAll[oc*n:(oc+4)*n], n, b4)
							for j, v := range acc {
								yo[oc+j] = ClampF(v, k.flo, k.fhi)
							}
						}
					}
					for ; oc < end; oc++ {
						var bias float32
						if bs != nil {
							bias = bs[oc]
						}
						w := wAll[oc*taps*fC : (oc+1)*taps*fC]
						var acc float32
						if lanes {
							acc = sumLanes4(rows[:taps], w, bias)
						} else {
							acc = sumInOrder(rows[:taps], w, bias)
						}
						yo[oc] = ClampF(acc, k.flo, k.fhi)
					}
				}
				o += g.outC
			}
		}
	}
	return nil
}

// inOrderLanes reports whether XNNPACK sums a convolution with perGroup
// output channels per group in four lanes (sumLanes4) rather than one
// product at a time (see evalFloatInOrder).
func inOrderLanes(g convGeom, perGroup int) bool {
	gemm := g.fH == 1 && g.fW == 1 && g.strideH == 1 && g.strideW == 1
	return perGroup < 8 || gemm && perGroup%8 != 0
}

// sumInOrder adds bias and then every product of rows (one per tap) and
// w, one at a time. The conversions keep Go from fusing a multiply into
// the add (it does on arm64): each product and each sum is rounded.
func sumInOrder(rows [][]float32, w []float32, bias float32) float32 {
	acc := bias
	for _, xs := range rows {
		ws := w[:len(xs)]
		w = w[len(xs):]
		for i, v := range xs {
			acc = acc + float32(v*ws[i])
		}
	}
	return acc
}

// sumInOrder4 is sumInOrder for four outputs whose weights follow one
// another in w (n each).
func sumInOrder4(rows [][]float32, w []float32, n int, bias [4]float32) [4]float32 {
	a0, a1, a2, a3 := bias[0], bias[1], bias[2], bias[3]
	w0, w1, w2, w3 := w[:n], w[n:2*n], w[2*n:3*n], w[3*n:4*n]
	off := 0
	for _, xs := range rows {
		m := len(xs)
		v0, v1, v2, v3 := w0[off:off+m], w1[off:off+m], w2[off:off+m], w3[off:off+m]
		off += m
		for i, v := range xs {
			a0 = a0 + float32(v*v0[i])
			a1 = a1 + float32(v*v1[i])
			a2 = a2 + float32(v*v2[i])
			a3 = a3 + float32(v*v3[i])
		}
	}
	return [4]float32{a0, a1, a2, a3}
}

// sumLanes4 is XNNPACK's c4 accumulation: lane l adds the products of
// the channels c ≡ l (mod 4), lane 0 from the bias, and the lanes are
// added as (l0 + l2) + (l1 + l3).
func sumLanes4(rows [][]float32, w []float32, bias float32) float32 {
	l0, l1, l2, l3 := bias, float32(0), float32(0), float32(0)
	for _, xs := range rows {
		ws := w[:len(xs)]
		w = w[len(xs):]
		i := 0
		for ; i+4 <= len(xs); i += 4 {
			x4, w4 := xs[i:i+4:i+4], ws[i:i+4:i+4]
			l0 = l0 + float32(x4[0]*w4[0])
			l1 = l1 + float32(x4[1]*w4[1])
			l2 = l2 + float32(x4[2]*w4[2])
			l3 = l3 + float32(x4[3]*w4[3])
		}
		switch len(xs) - i {
		case 3:
			l2 = l2 + float32(xs[i+2]*ws[i+2])
			fallthrough
		case 2:
			l1 = l1 + float32(xs[i+1]*ws[i+1])
			fallthrough
		case 1:
			l0 = l0 + float32(xs[i]*ws[i])
		}
	}
	return (l0 + l2) + (l1 + l3)
}

// convEvalQuant is ConvPerChannel (int8, filter offset 0) and the legacy
// uint8 Conv (input, filter and output offsets, per-tensor multiplier
// broadcast to every channel).
func convEvalQuant[T int8 | uint8](k *convKernel) error {
	g := &k.g
	x, w, y := convView[T](k.in.Data), convView[T](k.filter.Data), convView[T](k.out.Data)
	var bs []int32
	if k.bias != nil {
		bs = k.bias.Int32s()
	}
	fC, fSize := k.fC, g.fH*g.fW*k.fC
	inOff, fOff := k.inOff, k.fOff
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			iy0 := oy*g.strideH - g.padH
			fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
			for ox := 0; ox < g.outW; ox++ {
				ix0 := ox*g.strideW - g.padW
				fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
				for oc := 0; oc < g.outC; oc++ {
					icBase := (oc / k.perGroup) * fC
					wo := w[oc*fSize : oc*fSize+fSize]
					var acc int32
					for fy := fy0; fy < fy1; fy++ {
						row := (b*g.inH + iy0 + fy*g.dilH) * g.inW
						for fx := fx0; fx < fx1; fx++ {
							xi := (row+ix0+fx*g.dilW)*g.inC + icBase
							xs := x[xi : xi+fC]
							ws := wo[(fy*g.fW+fx)*fC:][:len(xs)]
							for i, v := range xs {
								acc += (int32(ws[i]) + fOff) * (int32(v) + inOff)
							}
						}
					}
					if bs != nil {
						acc += bs[oc]
					}
					y[o] = T(requantOut(acc, oc, k.mult, k.shift, k.scale, k.outOff, k.lo, k.hi))
					o++
				}
			}
		}
	}
	return nil
}

// evalInt16 is ConvPerChannel for int16 activations and int8 weights: a
// 64-bit accumulator and bias, zero points all 0.
func (k *convKernel) evalInt16() error {
	g := &k.g
	x, w, y := k.in.Int16s(), k.filter.Int8s(), k.out.Int16s()
	var b64 []int64
	var b32 []int32
	if k.bias != nil {
		if k.bias.Type == tensor.Int64 {
			b64 = k.bias.Int64s()
		} else {
			b32 = k.bias.Int32s()
		}
	}
	fC, fSize := k.fC, g.fH*g.fW*k.fC
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			iy0 := oy*g.strideH - g.padH
			fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
			for ox := 0; ox < g.outW; ox++ {
				ix0 := ox*g.strideW - g.padW
				fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
				for oc := 0; oc < g.outC; oc++ {
					icBase := (oc / k.perGroup) * fC
					wo := w[oc*fSize : oc*fSize+fSize]
					var acc int64
					for fy := fy0; fy < fy1; fy++ {
						row := (b*g.inH + iy0 + fy*g.dilH) * g.inW
						if k.w16 != nil && fx0 == 0 && fx1 == g.fW && g.dilW == 1 && fC == g.inC {
							// The filter row's taps are one run of the input.
							xi := (row + ix0) * g.inC
							n := g.fW * fC
							acc += dot16(x[xi:xi+n], k.w16[oc*fSize+fy*n:][:n])
							continue
						}
						for fx := fx0; fx < fx1; fx++ {
							xi := (row+ix0+fx*g.dilW)*g.inC + icBase
							xs := x[xi : xi+fC]
							if k.w16 != nil {
								acc += dot16(xs, k.w16[oc*fSize+(fy*g.fW+fx)*fC:][:len(xs)])
								continue
							}
							ws := wo[(fy*g.fW+fx)*fC:][:len(xs)]
							for i, v := range xs {
								acc += int64(int32(ws[i]) * int32(v))
							}
						}
					}
					if b64 != nil {
						acc += b64[oc]
					} else if b32 != nil {
						acc += int64(b32[oc])
					}
					r := MultiplyByQuantizedMultiplier64(acc, k.mult[oc], k.shift[oc])
					y[o] = int16(Clamp(r, k.lo, k.hi))
					o++
				}
			}
		}
	}
	return nil
}

// convFast is CONV_2D as a GEMM over packed weights: used for float32,
// int8 and uint8 convolutions without groups whose weights (and bias) are
// constant, i.e. present at construction. Output pixels are processed in
// tiles of tileM rows; a tile's A matrix is the input itself for 1×1
// stride-1 convolutions and an im2col copy otherwise, whose padding
// entries hold the input zero point (0 for floats) so that they add
// exactly nothing to the reference sum.
type convFast struct {
	g      convGeom
	k      int  // filter height × width × input channels
	m      int  // output pixels (batch × height × width)
	direct bool // A is the input itself
	u8     bool // uint8 operands
	tileM  int
	nparts int
	wg     sync.WaitGroup

	in, out *tensor.Tensor
	q       *gemmQ
	f       *gemmF

	// Per part scratch: the im2col tile and the rows' input sums.
	scratch [][]byte
	asum    [][]int32
	fill    [4]byte // the padding value, as the first bytes of one element

	// Float convolutions with the AVX-512 GEMM read the input in place,
	// through row pointers (gemmFRunInd), instead of an im2col copy:
	// per part, for each group of eight rows and each filter row, the
	// eight rows' addresses (uintptr: the arena, zeroRow and scratch are
	// kept alive by the interpreter and the kernel, and Go's collector
	// does not move them); zeroRow stands for filter rows outside the
	// input. nil when not used.
	indPtrs [][]uintptr
	zeroRow []float32
	// ox0, ox1: the output columns whose windows lie inside the input
	// horizontally.
	ox0, ox1 int
}

func newConvFast(cfg *Config, p ConvParams, g convGeom, groups int, in, filter, bias, out *tensor.Tensor) (Kernel, error) {
	if groups != 1 || filter.Data == nil || (bias != nil && bias.Data == nil) {
		return nil, nil
	}
	k := &convFast{g: g, k: g.fH * g.fW * g.inC, m: g.batch * g.outH * g.outW, in: in, out: out}
	k.direct = g.fH == 1 && g.fW == 1 && g.strideH == 1 && g.strideW == 1 && g.padH == 0 && g.padW == 0
	var esize int
	switch in.Type {
	case tensor.Float32:
		var lo, hi float32
		if err := convFloatSetup("CONV_2D", p.Activation, filter, bias, out, &lo, &hi); err != nil {
			return nil, err
		}
		var bs []float32
		if bias != nil {
			bs = bias.Float32s()
		}
		k.f = newGemmF(filter.Float32s(), bs, g.outC, k.k, lo, hi)
		if cfg.Arithmetic == LiteRT {
			k.f.sumFromBias()
		}
		esize = 4
	case tensor.Int8, tensor.UInt8:
		mult, shift, lo, hi, err := convQuantSetup(cfg, "CONV_2D", p.Activation, in, filter, bias, out, g.outC, in.Type, tensor.Int32)
		if err != nil {
			return nil, err
		}
		var bs []int32
		if bias != nil {
			bs = bias.Int32s()
		}
		inOff, fOff, outOff := -in.ZeroPoint(), -filter.ZeroPoint(), out.ZeroPoint()
		if in.Type == tensor.Int8 {
			k.q = newGemmQ(filter.Int8s(), bs, g.outC, k.k, inOff, fOff, mult, shift, outOff, lo, hi)
		} else {
			k.q = newGemmQ(filter.UInt8s(), bs, g.outC, k.k, inOff, fOff, mult, shift, outOff, lo, hi)
		}
		scales, err := litertScales(cfg, in, filter, out, g.outC)
		if err != nil {
			return nil, fmt.Errorf("CONV_2D: %w", err)
		}
		k.q.setLiteRT(scales)
		k.fill[0] = byte(-inOff)
		k.u8 = in.Type == tensor.UInt8
		esize = 1
	default:
		return nil, nil
	}
	// Tiles of A small enough to stay in L1 while every weight block is
	// run over them.
	k.tileM = min(max(4, (16<<10)/(k.k*esize))&^3, 64)
	if k.f != nil && k.f.simd != nil && gemmFHaveWide() {
		// Whole groups of the eight-row kernel, even for deep rows.
		k.tileM = max(k.tileM, 8) &^ 7
	}
	tiles := (k.m + k.tileM - 1) / k.tileM
	k.nparts = parallelThreads(cfg, tiles, convWork(k.m, k.k, g.outC))
	parallelReserve(k.nparts)
	k.scratch = make([][]byte, k.nparts)
	k.asum = make([][]int32, k.nparts)
	for i := range k.scratch {
		if !k.direct {
			k.scratch[i] = make([]byte, k.tileM*k.k*esize+8)
		}
		k.asum[i] = make([]int32, k.tileM)
	}
	if k.f != nil && k.f.simd != nil && gemmFHaveWide() && !k.direct && g.dilW == 1 {
		k.zeroRow = make([]float32, g.fW*g.inC)
		k.indPtrs = make([][]uintptr, k.nparts)
		for i := range k.indPtrs {
			k.indPtrs[i] = make([]uintptr, (k.tileM/8)*g.fH*8)
		}
		k.ox0, k.ox1 = dwInterior(&k.g)
	}
	desc := "gemm "
	switch {
	case k.indPtrs != nil:
		desc = "igemm "
	case !k.direct:
		desc = "im2col+gemm "
	}
	if k.f != nil {
		desc += k.f.variant()
	} else {
		desc += k.q.variant()
	}
	switch in.Type {
	case tensor.Float32:
		return Describe(desc, Func(func() error { parallelRun(convFastTask[float32]{k}, k.nparts, &k.wg); return nil })), nil
	case tensor.Int8:
		return Describe(desc, Func(func() error { parallelRun(convFastTask[int8]{k}, k.nparts, &k.wg); return nil })), nil
	}
	return Describe(desc, Func(func() error { parallelRun(convFastTask[uint8]{k}, k.nparts, &k.wg); return nil })), nil
}

// convFastTask runs convFast's tiles for one element type.
type convFastTask[T float32 | int8 | uint8] struct{ k *convFast }

func (t convFastTask[T]) runPart(part, nparts int) {
	k := t.k
	x, y := convView[T](k.in.Data), convView[T](k.out.Data)
	tiles := (k.m + k.tileM - 1) / k.tileM
	lo, hi := parallelRange(part, nparts, tiles)
	var scratch []T
	if !k.direct {
		scratch = convView[T](k.scratch[part])[:k.tileM*k.k]
	}
	fill := convView[T](k.fill[:])[0]
	asum := k.asum[part]
	n := k.g.outC
	for tile := lo; tile < hi; tile++ {
		m0 := tile * k.tileM
		rows := min(k.tileM, k.m-m0)
		if k.indPtrs != nil {
			k.runIndirect(part, convAs[float32](x), convAs[float32](scratch), convAs[float32](y), m0, rows)
			continue
		}
		var a []T
		if k.direct {
			a = x[m0*k.k : (m0+rows)*k.k]
		} else {
			a = scratch[:rows*k.k]
			convIm2col(&k.g, x, a, m0, rows, fill)
		}
		ys := y[m0*n : (m0+rows)*n]
		if k.f != nil {
			gemmFRun(k.f, convAs[float32](a), rows, 0, k.f.nb, convAs[float32](ys), n)
			continue
		}
		// uint8 data is handed to the GEMM as int8 bytes (see gemmQ).
		aq := convAs[int8](a)
		if k.q.fOff != 0 {
			gemmQRowSums(k.q, aq, asum[:rows])
		}
		if k.u8 {
			gemmQRun(k.q, aq, rows, asum, 0, k.q.nb, convAs[uint8](ys), n)
		} else {
			gemmQRun(k.q, aq, rows, asum, 0, k.q.nb, convAs[int8](ys), n)
		}
	}
}

// runIndirect computes rows [m0, m0+rows) of a float convolution with
// gemmFRunInd: groups of eight rows read the input in place (a row's
// filter rows, each fW·inC contiguous floats, or zeroRow outside the
// input), except pixels whose window crosses the left or right edge,
// whose row is im2col'd into scratch; the last rows%8 go through im2col
// and gemmFRun. A group of eight pixels of one output row, all inside,
// has its addresses filled by increments.
func (k *convFast) runIndirect(part int, x, scratch, y []float32, m0, rows int) {
	g := &k.g
	c, n := g.inC, g.outC
	seg := g.fW * c
	ptrs := k.indPtrs[part]
	zero := uintptr(unsafe.Pointer(unsafe.SliceData(k.zeroRow)))
	xBase := uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	xstep := uintptr(g.strideW * c * 4)
	rowStep := uintptr(g.dilH * g.inW * c * 4)
	full := rows &^ 7
	// The pixel of row m0, then advanced row by row without divisions.
	ox := m0 % g.outW
	oy := (m0 / g.outW) % g.outH
	b := m0 / (g.outW * g.outH)
	for r := 0; r < full; {
		iy0 := oy*g.strideH - g.padH
		p := ptrs[(r/8)*g.fH*8:][:g.fH*8]
		if r%8 == 0 && ox >= k.ox0 && ox+8 <= k.ox1 && iy0 >= 0 && iy0+(g.fH-1)*g.dilH < g.inH {
			// Eight pixels of this output row, every tap inside.
			a := xBase + uintptr(((b*g.inH+iy0)*g.inW+ox*g.strideW-g.padW)*c*4)
			for fy := 0; fy < g.fH; fy++ {
				q := p[fy*8 : fy*8+8]
				q[0], q[1], q[2], q[3] = a, a+xstep, a+2*xstep, a+3*xstep
				q[4], q[5], q[6], q[7] = a+4*xstep, a+5*xstep, a+6*xstep, a+7*xstep
				a += rowStep
			}
			r, ox = r+8, ox+8
		} else {
			ix0 := ox*g.strideW - g.padW
			lane := r % 8
			if ix0 >= 0 && ix0+g.fW <= g.inW {
				for fy := 0; fy < g.fH; fy++ {
					iy := iy0 + fy*g.dilH
					q := zero
					if iy >= 0 && iy < g.inH {
						q = xBase + uintptr(((b*g.inH+iy)*g.inW+ix0)*c*4)
					}
					p[fy*8+lane] = q
				}
			} else {
				row := scratch[r*k.k : (r+1)*k.k]
				convIm2col(g, x, row, m0+r, 1, 0)
				for fy := 0; fy < g.fH; fy++ {
					p[fy*8+lane] = uintptr(unsafe.Pointer(&row[fy*seg]))
				}
			}
			r, ox = r+1, ox+1
		}
		if ox >= g.outW {
			ox, oy = ox-g.outW, oy+1
			if oy == g.outH {
				oy, b = 0, b+1
			}
		}
	}
	if full > 0 {
		gemmFRunInd(k.f, ptrs, full/8, g.fH, seg, y[m0*n:(m0+full)*n], n)
	}
	if full < rows {
		a := scratch[full*k.k : rows*k.k]
		convIm2col(g, x, a, m0+full, rows-full, 0)
		gemmFRun(k.f, a, rows-full, 0, k.f.nb, y[(m0+full)*n:(m0+rows)*n], n)
	}
}

// convAs reinterprets a slice whose element type is known to be U (used
// where generic code has already checked it) without copying.
func convAs[U, T any](s []T) []U {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*U)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// convWork is a×b×c saturated at math.MaxInt32, so that it cannot
// overflow a 32-bit int.
func convWork(a, b, c int) int {
	w := int64(a) * int64(b)
	w = min(w, math.MaxInt32) * int64(c)
	return int(min(w, math.MaxInt32))
}

// convIm2col writes the receptive fields of output pixels [m0, m0+rows)
// to dst, one row of fH·fW·inC values per pixel, in the filter's (y, x,
// channel) order; taps outside the input hold fill.
func convIm2col[T float32 | int8 | uint8](g *convGeom, x, dst []T, m0, rows int, fill T) {
	c := g.inC
	rowLen := g.fW * c
	// The pixel of row m0, then advanced row by row without divisions.
	ox := m0 % g.outW
	oy := (m0 / g.outW) % g.outH
	b := m0 / (g.outW * g.outH)
	for r := 0; r < rows; r, ox = r+1, ox+1 {
		if ox == g.outW {
			ox, oy = 0, oy+1
			if oy == g.outH {
				oy, b = 0, b+1
			}
		}
		iy0 := oy*g.strideH - g.padH
		ix0 := ox*g.strideW - g.padW
		fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
		d := dst[r*g.fH*rowLen : (r+1)*g.fH*rowLen]
		for fy := 0; fy < g.fH; fy++ {
			dr := d[fy*rowLen : fy*rowLen+rowLen]
			iy := iy0 + fy*g.dilH
			if iy < 0 || iy >= g.inH {
				convFill(dr, fill)
				continue
			}
			convFill(dr[:fx0*c], fill)
			convFill(dr[fx1*c:], fill)
			// ix0 may be negative: index from the row start.
			row := (b*g.inH + iy) * g.inW
			if g.dilW == 1 {
				convCopy(dr[fx0*c:fx1*c], x[(row+ix0+fx0)*c:(row+ix0+fx1)*c])
				continue
			}
			for fx := fx0; fx < fx1; fx++ {
				xi := (row + ix0 + fx*g.dilW) * c
				convCopy(dr[fx*c:fx*c+c], x[xi:xi+c])
			}
		}
	}
}

// convCopy is copy for the short runs of im2col (a few pixels of few
// channels), where calling memmove costs more than the copy.
func convCopy[T float32 | int8 | uint8](d, s []T) {
	if len(d) > 32 {
		copy(d, s)
		return
	}
	s = s[:len(d)]
	for i := range d {
		d[i] = s[i]
	}
}

func convFill[T float32 | int8 | uint8](d []T, v T) {
	for i := range d {
		d[i] = v
	}
}
