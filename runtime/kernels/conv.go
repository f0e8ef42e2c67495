package kernels

import (
	"fmt"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// ConvParams are CONV_2D's options.
type ConvParams struct {
	Padding              Padding
	StrideH, StrideW     int
	DilationH, DilationW int
	Activation           Activation
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
	if cfg.Arithmetic != Reference {
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
	lo, hi, err = QuantizedActivationRange(act, out)
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
		k.inOff, k.fOff, k.outOff = -in.ZeroPoint(), -filter.ZeroPoint(), out.ZeroPoint()
		if in.Type == tensor.Int8 {
			return Func(func() error { return convEvalQuant[int8](k) }), nil
		}
		return Func(func() error { return convEvalQuant[uint8](k) }), nil
	case tensor.Int16:
		if k.mult, k.shift, k.lo, k.hi, err = convQuantSetup(cfg, op, p.Activation, in, filter, bias, out, outC, tensor.Int8, tensor.Int64, tensor.Int32); err != nil {
			return nil, err
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
	lo, hi              int32
	inOff, fOff, outOff int32
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
					acc = MultiplyByQuantizedMultiplier(acc, k.mult[oc], k.shift[oc]) + k.outOff
					y[o] = T(Clamp(acc, k.lo, k.hi))
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
						for fx := fx0; fx < fx1; fx++ {
							xi := (row+ix0+fx*g.dilW)*g.inC + icBase
							xs := x[xi : xi+fC]
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
