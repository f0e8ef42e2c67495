package kernels

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The LiteRT arithmetic: what TFLite computes with its XNNPACK delegate
// (the default CPU path of LiteRT, and the oracle's). XNNPACK requantizes
// convolutions, fully connected layers and multiplications in float32
// ("fp32" requantization):
//
//	scale = in_scale · filter_scale[c] / out_scale   (float32, in that order)
//	y     = clamp(rne(float32(acc) · scale), lo−zp, hi−zp) + zp
//
// with rne rounding half to even (the magic-bias or lrintf variants of its
// micro-kernels compute exactly that), and derives clamp bounds as
// lrintf(v/out_scale + zp) (xnn_qs8_quantize). Additions use their own
// fixed-point scheme (litertAdd). Operators the delegate does not take
// (quantized SOFTMAX, AVERAGE_POOL_2D, ...) run on TFLite's builtin kernels
// and keep the reference arithmetic here.

// litertRequant is XNNPACK's fp32 requantization of one accumulator.
func litertRequant(acc int32, scale float32, zp, lo, hi int32) int32 {
	return newLiteRTClamp(zp, lo, hi).requant(acc, scale)
}

// litertClamp is an output range relative to the zero point, in float32
// (hoisted out of the loops that requantize).
type litertClamp struct {
	lo, hi float32
	zp     int32
}

func newLiteRTClamp(zp, lo, hi int32) litertClamp {
	return litertClamp{lo: float32(lo - zp), hi: float32(hi - zp), zp: zp}
}

// requant is XNNPACK's fp32 requantization of acc.
func (c litertClamp) requant(acc int32, scale float32) int32 {
	// The explicit conversion keeps the product rounded to float32 (no
	// fused multiply-add).
	x := float32(float32(acc) * scale)
	// Plain comparisons: the min and max builtins also order NaNs and
	// signed zeros, which costs branches here for nothing.
	if x < c.lo {
		x = c.lo
	}
	if x > c.hi {
		x = c.hi
	}
	// Adding 1.5·2^23 rounds |x| < 2^22 to an integer, half to even, as
	// XNNPACK's magic-bias kernels do.
	return int32(float32(x+0x1.8p23)-0x1.8p23) + c.zp
}

// litertQuantize is xnn_qs8_quantize / xnn_qu8_quantize: v/scale + zp in
// float32, clamped to [qmin, qmax], rounded half to even.
func litertQuantize(v, scale float32, zp, qmin, qmax int32) int32 {
	x := float32(float32(v/scale) + float32(zp))
	x = min(max(x, float32(qmin)), float32(qmax))
	return int32(math.RoundToEven(float64(x)))
}

// litertActivationRange is QuantizedActivationRange as XNNPACK derives it
// from the float bounds the delegate passes.
func litertActivationRange(a Activation, out *tensor.Tensor) (lo, hi int32, err error) {
	qmin, qmax, err := TypeRange(out.Type)
	if err != nil {
		return 0, 0, err
	}
	flo, fhi, err := FloatActivationRange(a)
	if err != nil {
		return 0, 0, unsupportedf("fused activation %s on %s output", a, out.Type)
	}
	s, zp := out.Scale(), out.ZeroPoint()
	lo, hi = qmin, qmax
	if !math.IsInf(float64(flo), 0) {
		lo = litertQuantize(flo, s, zp, qmin, qmax)
	}
	if !math.IsInf(float64(fhi), 0) {
		hi = litertQuantize(fhi, s, zp, qmin, qmax)
	}
	return lo, hi, nil
}

// activationRange returns the clamp bounds of a fused activation for a
// quantized output in cfg's arithmetic.
func activationRange(cfg *Config, a Activation, out *tensor.Tensor) (lo, hi int32, err error) {
	if cfg.Arithmetic == LiteRT && (out.Type == tensor.Int8 || out.Type == tensor.UInt8) {
		return litertActivationRange(a, out)
	}
	return QuantizedActivationRange(a, out)
}

// litertScales returns XNNPACK's requantization scale of each of n output
// channels, or nil in reference arithmetic or for int16 operands (which
// the delegate leaves to TFLite's kernels).
func litertScales(cfg *Config, in, filter, out *tensor.Tensor, n int) ([]float32, error) {
	if cfg.Arithmetic != LiteRT || (in.Type != tensor.Int8 && in.Type != tensor.UInt8) {
		return nil, nil
	}
	fs := filter.Quant.Scale
	if len(fs) != 1 && len(fs) != n {
		return nil, fmt.Errorf("filter %q has %d scales; want 1 or %d", filter.Name, len(fs), n)
	}
	scales := make([]float32, n)
	for c := range scales {
		s := fs[0]
		if len(fs) > 1 {
			s = fs[c]
		}
		scales[c] = float32(float32(in.Scale()*s) / out.Scale())
	}
	return scales, nil
}

// requantOut turns channel c's accumulator into a clamped output: with
// scales (LiteRT) if they are set, else with TFLite's fixed-point
// multipliers.
func requantOut(acc int32, c int, mult []int32, shift []int, scales []float32, outOff, lo, hi int32) int32 {
	if scales != nil {
		return litertRequant(acc, scales[c], outOff, lo, hi)
	}
	return Clamp(MultiplyByQuantizedMultiplier(acc, mult[c], shift[c])+outOff, lo, hi)
}

// setLiteRT makes p requantize with per-channel float scales; the
// channel constants must be set already.
func (p *gemmRequantParams) setLiteRT(scales []float32) {
	if scales == nil {
		return
	}
	p.scale = make([]float32, len(p.ch))
	copy(p.scale, scales)
	p.cst = make([]int32, len(p.ch))
	for c := range p.ch {
		p.cst[c] = p.ch[c].cst
	}
}

// litertStoreRow requantizes one row of accumulators: y[i] from
// t[i]+cst[i]+off with scale[i].
func litertStoreRow[T int8 | uint8](y []T, t, cst []int32, scale []float32, off int32, lc litertClamp) {
	t, cst, scale = t[:len(y)], cst[:len(y)], scale[:len(y)]
	n := 0
	if litertStoreWidth > 0 && len(y) >= litertStoreWidth {
		n = len(y) &^ 3 // litertStore4 takes groups of four
		var z T
		u8 := 0
		if ^z > 0 {
			u8 = 1
		}
		litertStore4((*byte)(unsafe.Pointer(&y[0])), &t[0], &cst[0], &scale[0], n, off, lc.zp, lc.lo, lc.hi, u8)
	}
	for i := n; i < len(y); i++ {
		y[i] = T(lc.requant(t[i]+cst[i]+off, scale[i]))
	}
}

// setLiteRT switches g to XNNPACK's requantization: the variant's fp32
// assembly epilogue if it has one, else the Go store.
func (g *gemmQ) setLiteRT(scales []float32) {
	if scales == nil {
		return
	}
	g.rq.setLiteRT(scales)
	if g.v != nil {
		g.v.setLiteRT(&g.rq)
	}
}

// setLiteRT lays out rq's LiteRT parameters for the requantF32 method:
// two arrays of npad channels, the constants and the scales' float32
// bits (padding channels get 0 and 0: their outputs go to scratch).
func (v *gemmV) setLiteRT(rq *gemmRequantParams) {
	v.f32 = false
	if !v.kern.f32Requant {
		v.epi = nil
		return
	}
	n := len(rq.scale)
	v.npad = (n + gemmVNR - 1) / gemmVNR * gemmVNR
	v.epi = make([]int32, 2*v.npad)
	for c := 0; c < n; c++ {
		v.epi[c] = rq.cst[c]
		v.epi[v.npad+c] = int32(math.Float32bits(rq.scale[c]))
	}
	lc := newLiteRTClamp(rq.outOff, rq.lo, rq.hi)
	v.f32, v.f32lo, v.f32hi = true, lc.lo, lc.hi
}

// litertOp reports whether op implements the LiteRT arithmetic.
func litertOp(op string) bool {
	switch op {
	case "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "LOGISTIC", "TANH", "LEAKY_RELU":
		return true
	case "RELU", "RELU6", "RELU_N1_TO_1", "HARD_SWISH", "PRELU", "L2_NORMALIZATION":
		// Differential tests find the reference arithmetic exact here.
		return true
	}
	return false
}

// litertBinary prepares 8-bit ADD, SUB or MUL as XNNPACK computes them,
// or returns nil if XNNPACK would not take the operation (other ops and
// types, or scale ratios outside the ranges its parameter setup accepts;
// the TFLite delegate then leaves the node to TFLite's kernels).
//
// ADD and SUB (xnn_init_qs8_add_minmax_scalar_params): the float32 ratios
// a_scale/out_scale and ±b_scale/out_scale become integer multipliers of
// about 21 bits, m = rne(ratio·2^shift) with shift = 20 − exponent of the
// larger ratio, and
//
//	y = clamp((2^(shift−1) + m_a·(a−a_zp) + m_b·(b−b_zp)) >> shift, lo−zp, hi−zp) + zp
//
// with an arithmetic shift. MUL (xnn_init_qs8_mul_minmax_scalar_params)
// is fp32 requantization of (a−a_zp)(b−b_zp) with the float32 scale
// (a_scale·b_scale)/out_scale.
func litertBinary(op BinaryOp, p BinaryParams, plan *bcastPlan, a, b, out *tensor.Tensor) (Kernel, error) {
	if a.Type != tensor.Int8 && a.Type != tensor.UInt8 {
		return nil, nil
	}
	lo, hi, err := litertActivationRange(p.Activation, out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	za, zb, zo := a.ZeroPoint(), b.ZeroPoint(), out.ZeroPoint()
	var f func(x, y int32) int32
	switch op {
	case OpAdd, OpSub:
		ra := float32(a.Scale() / out.Scale())
		rb := float32(b.Scale() / out.Scale())
		inRange := func(r float32) bool { return r >= 0x1p-10 && r < 0x1p8 }
		if !inRange(ra) || !inRange(rb) {
			return nil, nil
		}
		_, exp := math.Frexp(float64(max(ra, rb))) // max = frac·2^exp, frac in [0.5, 1)
		shift := 20 - (exp - 1)
		ma := int32(math.RoundToEven(math.Ldexp(float64(ra), shift)))
		mb := int32(math.RoundToEven(math.Ldexp(float64(rb), shift)))
		if op == OpSub {
			mb = -mb
		}
		p := &litertAddParams{ma: ma, mb: mb, c: int32(1)<<(shift-1) - ma*za - mb*zb,
			shift: uint32(shift), lo: lo - zo, hi: hi - zo, zp: zo}
		if a.Type == tensor.Int8 {
			return litertAddKernel[int8](plan, a, b, out, p), nil
		}
		return litertAddKernel[uint8](plan, a, b, out, p), nil
	case OpMul:
		scale := float32(float32(a.Scale()*b.Scale()) / out.Scale())
		if scale < 0x1p-16 || scale >= 0x1p8 {
			return nil, nil
		}
		lc := newLiteRTClamp(zo, lo, hi)
		f = func(x, y int32) int32 { return lc.requant((x-za)*(y-zb), scale) }
	default:
		return nil, nil
	}
	return quantKernel(a.Type, plan, a, b, out, f), nil
}

// litertAddParams is XNNPACK's 8-bit ADD or SUB, y = clamp((ma·a +
// mb·b + c) >> shift, lo, hi) + zp, in wrapping int32 arithmetic (the
// zero points and the rounding term folded into c; the sum wraps alike
// in any order). The assembly reads it by offset (TestLiteRTAddLayout).
type litertAddParams struct {
	ma, mb, c  int32
	shift      uint32
	lo, hi, zp int32
}

// litertAddKernel is ADD or SUB with p; operands of the output's shape
// take a plain loop, with the vector kernel where there is one.
func litertAddKernel[T int8 | uint8](plan *bcastPlan, a, b, out *tensor.Tensor, p *litertAddParams) Kernel {
	ma, mb, c, sh, lo, hi, zp := p.ma, p.mb, p.c, p.shift&31, p.lo, p.hi, p.zp
	if plan.kind != bcastSame {
		return binary8Kernel[T](plan, a, b, out, func(x, y int32) int32 {
			return min(max((ma*x+mb*y+c)>>sh, lo), hi) + zp
		}, nil)
	}
	var z T
	u8 := 0
	if ^z > 0 {
		u8 = 1
	}
	asm := litertAddAsm() // chosen at construction, as every kernel's variant
	return Func(func() error {
		av, bv, ov := binView[T](a), binView[T](b), binView[T](out)
		n := plan.n
		av, bv, ov = av[:n], bv[:n], ov[:n]
		i := 0
		if asm && n >= 8 {
			i = n &^ 7
			litertAdd8((*byte)(unsafe.Pointer(&ov[0])), (*byte)(unsafe.Pointer(&av[0])), (*byte)(unsafe.Pointer(&bv[0])), i, p, u8)
		}
		for ; i < n; i++ {
			ov[i] = T(min(max((ma*int32(av[i])+mb*int32(bv[i])+c)>>sh, lo), hi) + zp)
		}
		return nil
	})
}

// litertLUT8 is XNNPACK's lookup table of a quantized unary operator:
// each input value dequantized in float32, f applied, the result
// quantized as litertQuantize does.
func litertLUT8(in, out *tensor.Tensor, f func(float32) float32) *[256]uint8 {
	lo, hi, _ := TypeRange(in.Type)
	inScale, inZP := in.Scale(), in.ZeroPoint()
	outScale, outZP := out.Scale(), out.ZeroPoint()
	var lut [256]uint8
	for v := lo; v <= hi; v++ {
		x := float32(float32(v-inZP) * inScale)
		lut[uint8(v)] = uint8(litertQuantize(f(x), outScale, outZP, lo, hi))
	}
	return &lut
}

// litertLeakyRelu is XNNPACK's 8-bit LEAKY_RELU (xnn_init_qs8_lrelu_params
// and the vlrelu kernels), or nil where XNNPACK would refuse the scales:
// the input-to-output scale ratio and alpha times it become Q8
// multipliers m = lrintf(256·ratio), and
//
//	y = clamp(((x−in_zp)·m + 128) >> 8 + out_zp)
//
// with m chosen by the sign of x−in_zp.
func litertLeakyRelu(alpha float32, in, out *tensor.Tensor) func(int32) int32 {
	if in.Type != tensor.Int8 && in.Type != tensor.UInt8 {
		return nil
	}
	pos := float32(in.Scale() / out.Scale())
	neg := float32(float32(alpha*in.Scale()) / out.Scale())
	if pos < 0x1p-8 || pos > 0x1p7 || neg > 0x1p7 || neg < -0x1.FFFCp6 || float32(math.Abs(float64(neg))) < 0x1p-8 {
		return nil
	}
	mp := int32(math.RoundToEven(float64(float32(256 * pos))))
	mn := int32(math.RoundToEven(float64(float32(256 * neg))))
	qmin, qmax, _ := TypeRange(in.Type)
	inZP, outZP := in.ZeroPoint(), out.ZeroPoint()
	return func(v int32) int32 {
		x := v - inZP
		m := mp
		if x < 0 {
			m = mn
		}
		return min(max((x*m+128)>>8+outZP, qmin), qmax)
	}
}
