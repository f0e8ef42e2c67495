package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// TransposeConvParams are TRANSPOSE_CONV's options.
type TransposeConvParams struct {
	Padding          Padding
	StrideH, StrideW int
	// Activation is fused in TRANSPOSE_CONV version 4 and later; older
	// files leave it NONE.
	Activation Activation
}

// TransposeConv computes a transposed convolution of an NHWC input with a
// filter of shape [out_channels, height, width, in_channels] into an
// output of shape outShape (the constant output_shape operand). bias may
// be nil.
func TransposeConv(cfg *Config, p TransposeConvParams, outShape []int, filter, in, bias, out *tensor.Tensor) (Kernel, error) {
	const op = "TRANSPOSE_CONV"
	if in.Rank() != 4 {
		return nil, fmt.Errorf("%s: input %q has shape %v; want rank 4 (NHWC)", op, in.Name, in.Shape)
	}
	if filter.Rank() != 4 {
		return nil, fmt.Errorf("%s: filter %q has shape %v; want rank 4 (OHWI)", op, filter.Name, filter.Shape)
	}
	if len(outShape) != 4 {
		return nil, fmt.Errorf("%s: output_shape %v; want 4 dimensions", op, outShape)
	}
	if p.StrideH < 1 || p.StrideW < 1 {
		return nil, fmt.Errorf("%s: strides %dx%d; want at least 1", op, p.StrideH, p.StrideW)
	}
	outC, fH, fW, fC := filter.Shape[0], filter.Shape[1], filter.Shape[2], filter.Shape[3]
	if fC != in.Shape[3] {
		return nil, fmt.Errorf("%s: filter %q has %d input channels; input %q has %d", op, filter.Name, fC, in.Name, in.Shape[3])
	}
	if outShape[0] != in.Shape[0] || outShape[3] != outC {
		return nil, fmt.Errorf("%s: output_shape %v does not match batch %d and filter %q's %d output channels", op, outShape, in.Shape[0], filter.Name, outC)
	}
	for _, d := range outShape {
		if d < 1 {
			return nil, fmt.Errorf("%s: output_shape %v has an empty dimension", op, outShape)
		}
	}
	if fH < 1 || fW < 1 {
		return nil, fmt.Errorf("%s: filter %q has an empty window", op, filter.Name)
	}
	if err := convCheckBias(op, bias, outC); err != nil {
		return nil, err
	}
	g := convGeom{
		batch: in.Shape[0], inH: in.Shape[1], inW: in.Shape[2], inC: fC,
		outH: outShape[1], outW: outShape[2], outC: outC, fH: fH, fW: fW,
		strideH: p.StrideH, strideW: p.StrideW, dilH: 1, dilW: 1,
	}
	// TFLite pads as if the output were the input of a convolution with
	// this filter: ComputePaddingHeightWidth on the output's size.
	convH, err := convOutSize(p.Padding, g.outH, fH, g.strideH, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	convW, _ := convOutSize(p.Padding, g.outW, fW, g.strideW, 1)
	g.padH, _ = convPadding(g.strideH, 1, g.outH, fH, convH)
	g.padW, _ = convPadding(g.strideW, 1, g.outW, fW, convW)
	out.Shape = append(out.Shape[:0], outShape...)

	k := &tconvKernel{g: g, in: in, filter: filter, bias: bias, out: out}
	n := tensor.NumElements(outShape)
	switch in.Type {
	case tensor.Float32:
		if err := convFloatSetup(op, p.Activation, filter, bias, out, &k.flo, &k.fhi); err != nil {
			return nil, err
		}
		return Func(k.evalFloat), nil
	case tensor.Int8, tensor.UInt8:
		if k.mult, k.shift, k.lo, k.hi, err = convQuantSetup(cfg, op, p.Activation, in, filter, bias, out, outC, in.Type, tensor.Int32); err != nil {
			return nil, err
		}
		k.inOff, k.fOff, k.outOff = -in.ZeroPoint(), -filter.ZeroPoint(), out.ZeroPoint()
		// XNNPACK's deconvolution requantizes as its convolution does;
		// the geometries it refuses run on TFLite's kernel, whose
		// arithmetic is the reference one.
		if k.scale, err = litertScales(cfg, in, filter, out, outC); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if k.scale != nil && !xnnDeconvTakes(p.Padding, &g, k.scale) {
			k.scale = nil
		}
		k.scratch32 = make([]int32, n)
		if in.Type == tensor.Int8 {
			return Func(func() error { return tconvEvalQuant[int8](k) }), nil
		}
		return Func(func() error { return tconvEvalQuant[uint8](k) }), nil
	case tensor.Int16:
		if k.mult, k.shift, k.lo, k.hi, err = convQuantSetup(cfg, op, p.Activation, in, filter, bias, out, outC, tensor.Int8, tensor.Int64); err != nil {
			return nil, err
		}
		k.scratch64 = make([]int64, n)
		return Func(k.evalInt16), nil
	}
	return nil, unsupportedf("%s on %s input %q", op, in.Type, in.Name)
}

// xnnDeconvTakes reports whether TFLite's XNNPACK delegate takes a
// quantized TRANSPOSE_CONV (CalculateTransposeConvPaddings and the
// deconvolution's scale check): with SAME padding, the output must be the
// input times the stride (rounded up) and the filter no smaller than the
// stride; with VALID padding, the filter no larger than the output; every
// requantization scale below 256.
func xnnDeconvTakes(pad Padding, g *convGeom, scales []float32) bool {
	switch pad {
	case PaddingSame:
		if (g.outH+g.strideH-1)/g.strideH != g.inH || (g.outW+g.strideW-1)/g.strideW != g.inW {
			return false
		}
		if g.fH < g.strideH || g.fW < g.strideW {
			return false
		}
	case PaddingValid:
		if g.fH > g.outH || g.fW > g.outW {
			return false
		}
	default:
		return false
	}
	for _, s := range scales {
		if s >= 256 {
			return false
		}
	}
	return true
}

// tconvKernel scatters each input pixel into the outputs it touches, as
// TFLite's reference kernel does. For each output element the
// contributions arrive in the reference's order (input y, x, channel), so
// float sums round the same way.
type tconvKernel struct {
	g convGeom

	in, filter, bias, out *tensor.Tensor

	flo, fhi            float32
	mult                []int32
	shift               []int
	scale               []float32 // LiteRT arithmetic (litert.go), else nil
	lo, hi              int32
	inOff, fOff, outOff int32

	scratch32 []int32
	scratch64 []int64
}

// tconvScatter adds the products of every input pixel into acc (laid out
// like the output); mul returns the product of an input and a filter value.
func tconvScatter[X, W any, A int32 | int64 | float32](g *convGeom, x []X, w []W, acc []A, mul func(X, W) A) {
	fSize := g.fH * g.fW * g.inC
	for b := 0; b < g.batch; b++ {
		for iy := 0; iy < g.inH; iy++ {
			oy0 := iy*g.strideH - g.padH
			fy0, fy1 := convTaps(oy0, 1, g.fH, g.outH)
			for ix := 0; ix < g.inW; ix++ {
				ox0 := ix*g.strideW - g.padW
				fx0, fx1 := convTaps(ox0, 1, g.fW, g.outW)
				xi := ((b*g.inH+iy)*g.inW + ix) * g.inC
				xs := x[xi : xi+g.inC]
				for fy := fy0; fy < fy1; fy++ {
					for fx := fx0; fx < fx1; fx++ {
						oi := ((b*g.outH+oy0+fy)*g.outW + ox0 + fx) * g.outC
						ao := acc[oi : oi+g.outC]
						for oc := range ao {
							wi := oc*fSize + (fy*g.fW+fx)*g.inC
							ws := w[wi : wi+len(xs)]
							s := ao[oc]
							for ic, v := range xs {
								s += mul(v, ws[ic])
							}
							ao[oc] = s
						}
					}
				}
			}
		}
	}
}

func (k *tconvKernel) evalFloat() error {
	y := k.out.Float32s()
	clear(y)
	tconvScatter(&k.g, k.in.Float32s(), k.filter.Float32s(), y, func(a, b float32) float32 { return a * b })
	var bs []float32
	if k.bias != nil {
		bs = k.bias.Float32s()
	}
	c := k.g.outC
	for i, v := range y {
		if bs != nil {
			v += bs[i%c]
		}
		y[i] = ClampF(v, k.flo, k.fhi)
	}
	return nil
}

// tconvEvalQuant is reference_integer_ops::TransposeConv (int8) and the
// legacy uint8 reference_ops::TransposeConv: int32 scratch, then bias,
// requantization, output offset and clamp; with k.scale, XNNPACK's
// deconvolution (the same sums, requantized in float32).
func tconvEvalQuant[T int8 | uint8](k *tconvKernel) error {
	acc := k.scratch32
	clear(acc)
	inOff, fOff := k.inOff, k.fOff
	tconvScatter(&k.g, convView[T](k.in.Data), convView[T](k.filter.Data), acc, func(a, b T) int32 {
		return (int32(a) + inOff) * (int32(b) + fOff)
	})
	var bs []int32
	if k.bias != nil {
		bs = k.bias.Int32s()
	}
	y := convView[T](k.out.Data)
	c := k.g.outC
	if k.scale != nil {
		lc := newLiteRTClamp(k.outOff, k.lo, k.hi)
		for i, a := range acc {
			oc := i % c
			if bs != nil {
				a += bs[oc]
			}
			y[i] = T(lc.requant(a, k.scale[oc]))
		}
		return nil
	}
	for i, a := range acc {
		oc := i % c
		if bs != nil {
			a += bs[oc]
		}
		a = MultiplyByQuantizedMultiplier(a, k.mult[oc], k.shift[oc]) + k.outOff
		y[i] = T(Clamp(a, k.lo, k.hi))
	}
	return nil
}

// evalInt16 is reference_integer_ops::TransposeConv for int16 activations:
// int64 scratch and bias.
func (k *tconvKernel) evalInt16() error {
	acc := k.scratch64
	clear(acc)
	tconvScatter(&k.g, k.in.Int16s(), k.filter.Int8s(), acc, func(a int16, b int8) int64 {
		return int64(int32(a) * int32(b))
	})
	var bs []int64
	if k.bias != nil {
		bs = k.bias.Int64s()
	}
	y := k.out.Int16s()
	c := k.g.outC
	for i, a := range acc {
		oc := i % c
		if bs != nil {
			a += bs[oc]
		}
		r := MultiplyByQuantizedMultiplier64(a, k.mult[oc], k.shift[oc]) + k.outOff
		y[i] = int16(Clamp(r, k.lo, k.hi))
	}
	return nil
}
