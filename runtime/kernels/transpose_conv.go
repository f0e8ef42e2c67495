package kernels

import (
	"fmt"
	"math"
	"slices"

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
	_, kern, err := newTransposeConv(cfg, p, outShape, 0, filter, in, bias, out, true)
	return kern, err
}

// newTransposeConv prepares TRANSPOSE_CONV for outShape, with scratch
// space for capElems output elements when that is more (a run-time
// output_shape); xnn allows XNNPACK's arithmetic in LiteRT mode (its
// delegate takes only a constant output_shape).
func newTransposeConv(cfg *Config, p TransposeConvParams, outShape []int, capElems int, filter, in, bias, out *tensor.Tensor, xnn bool) (*tconvKernel, Kernel, error) {
	const op = "TRANSPOSE_CONV"
	if err := tconvCheck(p, filter, in); err != nil {
		return nil, nil, err
	}
	if len(outShape) != 4 {
		return nil, nil, fmt.Errorf("%s: output_shape %v; want 4 dimensions", op, outShape)
	}
	outC, fH, fW, fC := filter.Shape[0], filter.Shape[1], filter.Shape[2], filter.Shape[3]
	if outShape[0] != in.Shape[0] || outShape[3] != outC {
		return nil, nil, fmt.Errorf("%s: output_shape %v does not match batch %d and filter %q's %d output channels", op, outShape, in.Shape[0], filter.Name, outC)
	}
	for _, d := range outShape {
		if d < 1 {
			return nil, nil, fmt.Errorf("%s: output_shape %v has an empty dimension", op, outShape)
		}
	}
	if err := convCheckBias(op, bias, outC); err != nil {
		return nil, nil, err
	}
	k := &tconvKernel{p: p, in: in, filter: filter, bias: bias, out: out}
	k.g = convGeom{
		batch: in.Shape[0], inH: in.Shape[1], inW: in.Shape[2], inC: fC,
		outC: outC, fH: fH, fW: fW,
		strideH: p.StrideH, strideW: p.StrideW, dilH: 1, dilW: 1,
	}
	if err := k.setOutSize(outShape[1], outShape[2]); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	out.Shape = append(out.Shape[:0], outShape...)

	n := max(tensor.NumElements(outShape), capElems)
	var err error
	switch in.Type {
	case tensor.Float32:
		if err := convFloatSetup(op, p.Activation, filter, bias, out, &k.flo, &k.fhi); err != nil {
			return nil, nil, err
		}
		if cfg.Arithmetic == LiteRT && xnn {
			if t := newTconvGEMM(k); t != nil {
				return k, Describe(t.variant(), Func(func() error { return t.eval(k) })), nil
			}
		}
		return k, Func(k.evalFloat), nil
	case tensor.Int8, tensor.UInt8:
		if k.mult, k.shift, k.lo, k.hi, err = convQuantSetup(cfg, op, p.Activation, in, filter, bias, out, outC, in.Type, tensor.Int32); err != nil {
			return nil, nil, err
		}
		k.inOff, k.fOff, k.outOff = -in.ZeroPoint(), -filter.ZeroPoint(), out.ZeroPoint()
		// XNNPACK's deconvolution requantizes as its convolution does;
		// the geometries it refuses run on TFLite's kernel, whose
		// arithmetic is the reference one.
		if k.scale, err = litertScales(cfg, in, filter, out, outC); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", op, err)
		}
		if k.scale != nil && (!xnn || !xnnDeconvTakes(p.Padding, &k.g, k.scale)) {
			k.scale = nil
		}
		k.scratch32 = make([]int32, n)
		if in.Type == tensor.Int8 {
			return k, Func(func() error { return tconvEvalQuant[int8](k) }), nil
		}
		return k, Func(func() error { return tconvEvalQuant[uint8](k) }), nil
	case tensor.Int16:
		if k.mult, k.shift, k.lo, k.hi, err = convQuantSetup(cfg, op, p.Activation, in, filter, bias, out, outC, tensor.Int8, tensor.Int64); err != nil {
			return nil, nil, err
		}
		k.scratch64 = make([]int64, n)
		return k, Func(k.evalInt16), nil
	}
	return nil, nil, unsupportedf("%s on %s input %q", op, in.Type, in.Name)
}

// tconvCheck checks the operands every TRANSPOSE_CONV needs.
func tconvCheck(p TransposeConvParams, filter, in *tensor.Tensor) error {
	const op = "TRANSPOSE_CONV"
	if in.Rank() != 4 {
		return fmt.Errorf("%s: input %q has shape %v; want rank 4 (NHWC)", op, in.Name, in.Shape)
	}
	if filter.Rank() != 4 {
		return fmt.Errorf("%s: filter %q has shape %v; want rank 4 (OHWI)", op, filter.Name, filter.Shape)
	}
	if p.StrideH < 1 || p.StrideW < 1 {
		return fmt.Errorf("%s: strides %dx%d; want at least 1", op, p.StrideH, p.StrideW)
	}
	if filter.Shape[3] != in.Shape[3] {
		return fmt.Errorf("%s: filter %q has %d input channels; input %q has %d", op, filter.Name, filter.Shape[3], in.Name, in.Shape[3])
	}
	if filter.Shape[1] < 1 || filter.Shape[2] < 1 {
		return fmt.Errorf("%s: filter %q has an empty window", op, filter.Name)
	}
	return nil
}

// setOutSize sets the output's height and width and the padding TFLite
// derives from them: ComputePaddingHeightWidth on the output's size, as
// if the output were the input of a convolution with this filter.
func (k *tconvKernel) setOutSize(h, w int) error {
	g := &k.g
	convH, err := convOutSize(k.p.Padding, h, g.fH, g.strideH, 1)
	if err != nil {
		return err
	}
	convW, _ := convOutSize(k.p.Padding, w, g.fW, g.strideW, 1)
	g.outH, g.outW = h, w
	g.padH, _ = convPadding(g.strideH, 1, h, g.fH, convH)
	g.padW, _ = convPadding(g.strideW, 1, w, g.fW, convW)
	return nil
}

// elems is the number of output elements of the current geometry.
func (k *tconvKernel) elems() int {
	return k.g.batch * k.g.outH * k.g.outW * k.g.outC
}

// tconvOutRange returns the output sizes along one axis whose convolution
// with the filter (same stride and padding) has the input's size: the
// sizes TFLite's kernel accepts for a run-time output_shape. It counts in
// int64: a stride from the file times the input's size may not fit an int
// on 32-bit targets.
func tconvOutRange(pad Padding, in, filter, stride int) (lo, hi int64, err error) {
	n, f, s := int64(in), int64(filter), int64(stride)
	switch pad {
	case PaddingSame:
		// ceil(out / stride) == in
		return (n-1)*s + 1, n * s, nil
	case PaddingValid:
		// (out + stride - filter) / stride == in
		return (n-1)*s + f, n*s + f - 1, nil
	}
	return 0, 0, unsupportedf("padding %d", int(pad))
}

// TransposeConvDynamic is TRANSPOSE_CONV whose output_shape is computed
// at run time (a graph input, or the output of an operator that depends
// on input data): the kernel reads its values at every Eval, checks them
// against the input, filter, stride and padding (batch and channels must
// match, and a convolution of the output with the same filter must give
// the input's height and width), and sets the output's shape. The arena
// holds the largest output those sizes allow (MaxOutputBytes), so Eval
// allocates nothing. The output starts with the shape the file declares
// when that is one of them, else the largest; when fixed (other operators
// read the output, prepared for that shape), Eval refuses any other.
func TransposeConvDynamic(cfg *Config, p TransposeConvParams, shape, filter, in, bias, out *tensor.Tensor, fixed bool) (*TransposeConvRunTime, error) {
	const op = "TRANSPOSE_CONV"
	if shape.Type != tensor.Int32 || shape.Rank() != 1 || shape.Shape[0] != 4 {
		return nil, fmt.Errorf("%s: output_shape %q is %s%v; want int32[4]", op, shape.Name, shape.Type, shape.Shape)
	}
	if err := tconvCheck(p, filter, in); err != nil {
		return nil, err
	}
	hLo, hHi, err := tconvOutRange(p.Padding, in.Shape[1], filter.Shape[1], p.StrideH)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	wLo, wHi, _ := tconvOutRange(p.Padding, in.Shape[2], filter.Shape[2], p.StrideW)
	maxElems := int64(1)
	for _, d := range []int64{int64(in.Shape[0]), hHi, wHi, int64(filter.Shape[0])} {
		if maxElems *= d; maxElems > math.MaxInt32 {
			return nil, fmt.Errorf("%s: the output could reach %dx%d (input %v, filter %v, strides %dx%d), more than 2^31 elements", op, hHi, wHi, in.Shape, filter.Shape, p.StrideH, p.StrideW)
		}
	}
	maxShape := []int{in.Shape[0], int(hHi), int(wHi), filter.Shape[0]}
	start := maxShape
	if s := out.Shape; len(s) == 4 && s[0] == maxShape[0] && s[3] == maxShape[3] && int64(s[1]) >= hLo && int64(s[1]) <= hHi && int64(s[2]) >= wLo && int64(s[2]) <= wHi {
		start = slices.Clone(s)
	}
	k, kern, err := newTransposeConv(cfg, p, start, int(maxElems), filter, in, bias, out, false)
	if err != nil {
		return nil, err
	}
	return &TransposeConvRunTime{k: k, eval: kern, shape: shape, fixed: fixed,
		hLo: int(hLo), hHi: int(hHi), wLo: int(wLo), wHi: int(wHi), maxBytes: int(maxElems) * out.Type.Size()}, nil
}

// TransposeConvRunTime is the kernel of a TRANSPOSE_CONV with a run-time
// output_shape (TransposeConvDynamic).
type TransposeConvRunTime struct {
	k                  *tconvKernel
	eval               Kernel
	shape              *tensor.Tensor
	fixed              bool
	hLo, hHi, wLo, wHi int
	maxBytes           int
}

// MaxOutputBytes is the size of the largest output Eval may produce; the
// output's data must have that capacity.
func (r *TransposeConvRunTime) MaxOutputBytes() int { return r.maxBytes }

// Eval reads output_shape, checks it, resizes the output and computes it.
func (r *TransposeConvRunTime) Eval() error {
	k := r.k
	v := r.shape.Int32s()
	if len(v) != 4 {
		return fmt.Errorf("output_shape has %d values; want 4", len(v))
	}
	b, h, w, c := int(v[0]), int(v[1]), int(v[2]), int(v[3])
	if b != k.g.batch || c != k.g.outC {
		return fmt.Errorf("output_shape %v: batch must be the input's (%d) and channels the filter's output channels (%d)", v, k.g.batch, k.g.outC)
	}
	if h < r.hLo || h > r.hHi || w < r.wLo || w > r.wHi {
		return fmt.Errorf("output_shape %v does not fit input %v with a %dx%d filter, strides %dx%d and %s padding: height must be within [%d, %d] and width within [%d, %d]",
			v, k.in.Shape, k.g.fH, k.g.fW, k.g.strideH, k.g.strideW, k.p.Padding, r.hLo, r.hHi, r.wLo, r.wHi)
	}
	if h != k.g.outH || w != k.g.outW {
		if r.fixed {
			return fmt.Errorf("output_shape %v differs from %v, the shape the operators reading this output were prepared for", v, k.out.Shape)
		}
		if err := k.setOutSize(h, w); err != nil {
			return err
		}
		k.out.Shape[1], k.out.Shape[2] = h, w
	}
	n := k.elems() * k.out.Type.Size()
	if n > cap(k.out.Data) {
		return fmt.Errorf("output %q holds %d bytes; output_shape %v needs %d", k.out.Name, cap(k.out.Data), v, n)
	}
	k.out.Data = k.out.Data[:n]
	return r.eval.Eval()
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
	p TransposeConvParams

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
	acc := k.scratch32[:k.elems()]
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
	acc := k.scratch64[:k.elems()]
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
