package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// DepthwiseConvParams are DEPTHWISE_CONV_2D's options. The depth
// multiplier is derived from the shapes (filter channels / input
// channels), as TFLite does, because the option is unreliable in files.
type DepthwiseConvParams = ConvParams

// DepthwiseConv2D convolves each input channel separately with a filter
// of shape [1, height, width, in_channels*depth_multiplier]; output
// channel c reads input channel c/depth_multiplier. bias may be nil.
func DepthwiseConv2D(cfg *Config, p DepthwiseConvParams, in, filter, bias, out *tensor.Tensor) (Kernel, error) {
	const op = "DEPTHWISE_CONV_2D"
	if filter.Rank() != 4 || filter.Shape[0] != 1 {
		return nil, fmt.Errorf("%s: filter %q has shape %v; want [1, height, width, channels]", op, filter.Name, filter.Shape)
	}
	fH, fW, outC := filter.Shape[1], filter.Shape[2], filter.Shape[3]
	g, err := newConvGeom(op, p, in, fH, fW, outC)
	if err != nil {
		return nil, err
	}
	if g.inC < 1 || outC < 1 || outC%g.inC != 0 {
		return nil, fmt.Errorf("%s: filter %q has %d channels; want a multiple of input %q's %d", op, filter.Name, outC, in.Name, g.inC)
	}
	if err := convCheckBias(op, bias, outC); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], g.batch, g.outH, g.outW, outC)
	k := &dwKernel{g: g, dm: outC / g.inC, in: in, filter: filter, bias: bias, out: out}
	switch in.Type {
	case tensor.Float32:
		if err := convFloatSetup(op, p.Activation, filter, bias, out, &k.flo, &k.fhi); err != nil {
			return nil, err
		}
		k.accF = make([]float32, outC)
		return Func(k.evalFloat), nil
	case tensor.Int8, tensor.UInt8:
		if k.mult, k.shift, k.lo, k.hi, err = convQuantSetup(cfg, op, p.Activation, in, filter, bias, out, outC, in.Type, tensor.Int32); err != nil {
			return nil, err
		}
		k.inOff, k.fOff, k.outOff = -in.ZeroPoint(), -filter.ZeroPoint(), out.ZeroPoint()
		k.acc32 = make([]int32, outC)
		if in.Type == tensor.Int8 {
			return Func(func() error { return dwEvalQuant[int8](k) }), nil
		}
		return Func(func() error { return dwEvalQuant[uint8](k) }), nil
	case tensor.Int16:
		if k.mult, k.shift, k.lo, k.hi, err = convQuantSetup(cfg, op, p.Activation, in, filter, bias, out, outC, tensor.Int8, tensor.Int64, tensor.Int32); err != nil {
			return nil, err
		}
		k.acc64 = make([]int64, outC)
		return Func(k.evalInt16), nil
	}
	return nil, unsupportedf("%s on %s input %q", op, in.Type, in.Name)
}

// dwKernel accumulates all output channels of one output pixel at once in
// a scratch row, visiting the taps in the reference order (filter y, then
// x), so float sums round as TFLite's reference kernel does.
type dwKernel struct {
	g  convGeom
	dm int // depth multiplier

	in, filter, bias, out *tensor.Tensor

	flo, fhi            float32
	mult                []int32
	shift               []int
	lo, hi              int32
	inOff, fOff, outOff int32

	accF  []float32
	acc32 []int32
	acc64 []int64
}

func (k *dwKernel) evalFloat() error {
	g := &k.g
	x, w, y := k.in.Float32s(), k.filter.Float32s(), k.out.Float32s()
	var bs []float32
	if k.bias != nil {
		bs = k.bias.Float32s()
	}
	acc, dm := k.accF, k.dm
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			iy0 := oy*g.strideH - g.padH
			fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
			for ox := 0; ox < g.outW; ox++ {
				ix0 := ox*g.strideW - g.padW
				fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
				clear(acc)
				for fy := fy0; fy < fy1; fy++ {
					row := (b*g.inH + iy0 + fy*g.dilH) * g.inW
					for fx := fx0; fx < fx1; fx++ {
						xi := (row + ix0 + fx*g.dilW) * g.inC
						xs := x[xi : xi+g.inC]
						ws := w[(fy*g.fW+fx)*g.outC:][:len(acc)]
						if dm == 1 {
							ws = ws[:len(xs)]
							a := acc[:len(xs)]
							for c, v := range xs {
								a[c] += v * ws[c]
							}
							continue
						}
						for ic, v := range xs {
							for oc := ic * dm; oc < ic*dm+dm; oc++ {
								acc[oc] += v * ws[oc]
							}
						}
					}
				}
				yo := y[o : o+len(acc)]
				for oc, a := range acc {
					if bs != nil {
						a += bs[oc]
					}
					yo[oc] = ClampF(a, k.flo, k.fhi)
				}
				o += len(acc)
			}
		}
	}
	return nil
}

// dwEvalQuant is DepthwiseConvPerChannel (int8) and the legacy uint8
// DepthwiseConv (filter offset, per-tensor multiplier).
func dwEvalQuant[T int8 | uint8](k *dwKernel) error {
	g := &k.g
	x, w, y := convView[T](k.in.Data), convView[T](k.filter.Data), convView[T](k.out.Data)
	var bs []int32
	if k.bias != nil {
		bs = k.bias.Int32s()
	}
	acc, dm := k.acc32, k.dm
	inOff, fOff := k.inOff, k.fOff
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			iy0 := oy*g.strideH - g.padH
			fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
			for ox := 0; ox < g.outW; ox++ {
				ix0 := ox*g.strideW - g.padW
				fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
				clear(acc)
				for fy := fy0; fy < fy1; fy++ {
					row := (b*g.inH + iy0 + fy*g.dilH) * g.inW
					for fx := fx0; fx < fx1; fx++ {
						xi := (row + ix0 + fx*g.dilW) * g.inC
						xs := x[xi : xi+g.inC]
						ws := w[(fy*g.fW+fx)*g.outC:][:len(acc)]
						if dm == 1 {
							ws = ws[:len(xs)]
							a := acc[:len(xs)]
							for c, v := range xs {
								a[c] += (int32(ws[c]) + fOff) * (int32(v) + inOff)
							}
							continue
						}
						for ic, v := range xs {
							xv := int32(v) + inOff
							for oc := ic * dm; oc < ic*dm+dm; oc++ {
								acc[oc] += (int32(ws[oc]) + fOff) * xv
							}
						}
					}
				}
				yo := y[o : o+len(acc)]
				for oc, a := range acc {
					if bs != nil {
						a += bs[oc]
					}
					a = MultiplyByQuantizedMultiplier(a, k.mult[oc], k.shift[oc]) + k.outOff
					yo[oc] = T(Clamp(a, k.lo, k.hi))
				}
				o += len(acc)
			}
		}
	}
	return nil
}

// evalInt16 is DepthwiseConvPerChannel for int16 activations, int8
// weights and a 64-bit accumulator.
func (k *dwKernel) evalInt16() error {
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
	acc, dm := k.acc64, k.dm
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			iy0 := oy*g.strideH - g.padH
			fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
			for ox := 0; ox < g.outW; ox++ {
				ix0 := ox*g.strideW - g.padW
				fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
				clear(acc)
				for fy := fy0; fy < fy1; fy++ {
					row := (b*g.inH + iy0 + fy*g.dilH) * g.inW
					for fx := fx0; fx < fx1; fx++ {
						xi := (row + ix0 + fx*g.dilW) * g.inC
						xs := x[xi : xi+g.inC]
						ws := w[(fy*g.fW+fx)*g.outC:][:len(acc)]
						for ic, v := range xs {
							for oc := ic * dm; oc < ic*dm+dm; oc++ {
								acc[oc] += int64(int32(ws[oc]) * int32(v))
							}
						}
					}
				}
				yo := y[o : o+len(acc)]
				for oc, a := range acc {
					if b64 != nil {
						a += b64[oc]
					} else if b32 != nil {
						a += int64(b32[oc])
					}
					r := MultiplyByQuantizedMultiplier64(a, k.mult[oc], k.shift[oc])
					yo[oc] = int16(Clamp(r, k.lo, k.hi))
				}
				o += len(acc)
			}
		}
	}
	return nil
}
