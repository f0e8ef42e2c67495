package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Hybrid (dynamic-range quantized) kernels: float32 input and output,
// int8 symmetric weights. The input is quantized to int8 on the fly,
// multiplied with the int8 weights in int32, and the accumulator scaled
// back to float by the input's and the weights' scales before the float
// bias and activation. The two arithmetics quantize differently:
//
//   - Reference is TFLite's builtin hybrid kernels (what its C library
//     computes): one quantization per batch, symmetric (scale max|x|/127)
//     or asymmetric (zero point, computed in float64), per the operator's
//     asymmetric_quantize_inputs flag and, for CONV_2D, per-channel
//     weights.
//   - LiteRT is XNNPACK's dynamic quantization (qd8), which the official
//     runtime's delegate applies to FULLY_CONNECTED and CONV_2D whatever
//     the flag says: asymmetric, one quantization per row of the GEMM (per
//     batch row for FULLY_CONNECTED, per image for CONV_2D), float32
//     scale 255/(max−min) and a zero point rounded to even; the
//     accumulator is scaled as (acc·input scale)·weight scale + bias.
//
// DEPTHWISE_CONV_2D is not delegated: both arithmetics run TFLite's
// per-channel hybrid kernel (asymmetric input, (acc·input
// scale)·channel scale + bias).
//
// Products that are then added are converted to float32 explicitly: Go
// may otherwise fuse them into one multiply-add (arm64 does), which
// rounds once where TFLite and XNNPACK round twice.

// hybridMinMax returns the minimum and maximum of v (NaN if v holds
// one; 0, 0 if v is empty).
func hybridMinMax(v []float32) (lo, hi float32) {
	if len(v) > 0 {
		lo, hi = v[0], v[0]
	}
	i := 0
	if alo, ahi, n, ok := hybridMinMaxAsm(v); ok {
		lo, hi, i = alo, ahi, n
	}
	for _, x := range v[i:] {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// hybridFinite reports whether the range [lo, hi] and the multiplier m
// are finite, so that every value times m is: the vector quantization
// loops then give the Go loops' bytes (they differ on infinities and
// NaNs, which convert to integers differently).
func hybridFinite(lo, hi, m float32) bool {
	for _, f := range [3]float32{lo, hi, m} {
		if math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
			return false
		}
	}
	return true
}

// hybridQuantizeSymmetric is TFLite's SymmetricQuantizeFloats: scale =
// max|v|/127, q = round(v·127/max|v|) (ties away from zero), clamped to
// ±127; all zeros quantize to zeros with scale 1.
func hybridQuantizeSymmetric(v []float32, q []int8) (scale float32) {
	lo, hi := hybridMinMax(v)
	r := max(float32(math.Abs(float64(lo))), float32(math.Abs(float64(hi))))
	if r == 0 {
		clear(q)
		return 1
	}
	inv := 127 / r
	i := 0
	if hybridFinite(lo, hi, inv) {
		i = hybridQuantAwayAsm(v, q, inv, 0, -127)
	}
	for j, x := range v[i:] {
		q[i+j] = int8(min(127, max(-127, int32(math.Round(float64(x*inv))))))
	}
	return r / 127
}

// hybridQuantizeAsymmetric is TFLite's AsymmetricQuantizeFloats: the range
// [min(0, min v), max(0, max v)] over int8 with a nudged zero point,
// computed in float64 as TFLite does.
func hybridQuantizeAsymmetric(v []float32, q []int8) (scale float32, zp int32) {
	lo, hi := hybridMinMax(v)
	rmin, rmax := float64(min(0, lo)), float64(max(0, hi))
	if rmin == rmax {
		clear(q)
		return 1, 0
	}
	const qmin, qmax = -128.0, 127.0
	s := (rmax - rmin) / (qmax - qmin)
	zpFromMin, zpFromMax := qmin-rmin/s, qmax-rmax/s
	zpd := zpFromMax
	if math.Abs(qmin)+math.Abs(rmin/s) < math.Abs(qmax)+math.Abs(rmax/s) {
		zpd = zpFromMin
	}
	switch {
	case zpd <= qmin:
		zp = qmin
	case zpd >= qmax:
		zp = qmax
	default:
		zp = int32(math.Round(zpd))
	}
	scale = float32(s)
	inv := 1 / scale
	fzp := float32(zp)
	i := 0
	if hybridFinite(lo, hi, inv) {
		i = hybridQuantAwayAsm(v, q, inv, fzp, -128)
	}
	for j, x := range v[i:] {
		q[i+j] = int8(min(127, max(-128, int32(math.Round(float64(fzp+float32(x*inv)))))))
	}
	return scale, zp
}

// hybridWeights checks an int8 symmetric weight tensor and returns its
// per-channel scales (one per output channel, repeated when per-tensor)
// and whether TFLite treats it as per-channel (more than one scale and
// not all equal).
func hybridWeights(op string, w *tensor.Tensor, channels int) (scales []float32, perChannel bool, err error) {
	if w.Type != tensor.Int8 {
		return nil, false, unsupportedf("%s: float32 input with %s weights %q", op, w.Type, w.Name)
	}
	if err := CheckQuantized(op+" weights", w); err != nil {
		return nil, false, err
	}
	q := w.Quant
	for _, z := range q.ZeroPoint {
		if z != 0 {
			return nil, false, unsupportedf("%s: weights %q with zero point %d; hybrid kernels take symmetric weights", op, w.Name, z)
		}
	}
	scales = make([]float32, channels)
	switch len(q.Scale) {
	case 1:
		for i := range scales {
			scales[i] = q.Scale[0]
		}
	case channels:
		copy(scales, q.Scale)
		for _, s := range q.Scale[1:] {
			if s != q.Scale[0] {
				perChannel = true
			}
		}
	default:
		return nil, false, fmt.Errorf("%s: weights %q have %d scales for %d channels", op, w.Name, len(q.Scale), channels)
	}
	return scales, perChannel, nil
}

// hybridFloatOperands checks the float bias and output.
func hybridFloatOperands(op string, bias, out *tensor.Tensor) error {
	if err := CheckType(op+" output", out, tensor.Float32); err != nil {
		return err
	}
	if bias != nil {
		return CheckType(op+" bias", bias, tensor.Float32)
	}
	return nil
}

// hybridQD8 is XNNPACK's f32→qdint8 conversion of one row: the range
// [min(0, min v), max(0, max v)] mapped onto [−128, 127] with scale
// 255/(max−min) in float32, a zero point chosen like TFLite's and rounded
// to even, q = round-to-even(v·scale) + zero point. It returns the
// reciprocal scale the GEMM multiplies by.
func hybridQD8(v []float32, q []int8) (invScale float32, zp int32) {
	lo, hi := hybridMinMax(v)
	rmin, rmax := min(0, lo), max(0, hi)
	scale := float32(1)
	if rmin != rmax {
		scale = 255 / (rmax - rmin)
	}
	rminScaled, rmaxScaled := float32(rmin*scale), float32(rmax*scale)
	zpf := 127 - rmaxScaled
	if (-128+rminScaled)+(127+rmaxScaled) > 0 {
		zpf = -128 - rminScaled
	}
	zpf = min(max(zpf, -128), 127)
	zp = int32(math.RoundToEven(float64(zpf)))
	i := 0
	if hybridFinite(lo, hi, scale) {
		// Every x·scale is finite and within ±256: the vector loop
		// rounds and clamps as the loop below does.
		i = hybridQuantAsm(v, q, scale, zp)
	}
	for j, x := range v[i:] {
		q[i+j] = int8(min(127, max(-128, int32(math.RoundToEven(float64(x*scale)))+zp)))
	}
	return 1 / scale, zp
}

// hybridQD8Rows runs hybridQD8 on each row of n values of x into q,
// row i's reciprocal scale and zero point into inv[i] and zp[i].
func hybridQD8Rows(x []float32, q []int8, n int, inv []float32, zp []int32) {
	for r := 0; r < len(inv); r++ {
		r += hybridQD8RowsAsm(x[r*n:], q[r*n:], n, inv[r:], zp[r:])
		if r < len(inv) {
			inv[r], zp[r] = hybridQD8(x[r*n:(r+1)*n], q[r*n:(r+1)*n])
		}
	}
}

// ---- FULLY_CONNECTED ----

type fcHybrid struct {
	batch, units, depth int
	litert              bool
	in, out             *tensor.Tensor
	w                   []int8
	bias                []float32
	scales              []float32
	perChannel, asym    bool
	lo, hi              float32
	q                   []int8
	rowSums             []int32
	// w16 and q16 are the weights and the quantized row widened to
	// int16 for dot16 (nil without a vector dot product or with short
	// rows).
	w16, q16 []int16
	// gm is the packed GEMM (hybrid_gemm.go) on a SIMD variant, nil
	// otherwise; mul holds the unit multipliers, zp and r the row's zero
	// point and scale.
	gm  *hybridGemm
	mul []float32
	zp  [1]int32
	r   [1]float32
}

func newFCHybrid(cfg *Config, p FullyConnectedParams, in, filter, bias, out *tensor.Tensor, batch, units, depth int) (Kernel, error) {
	const op = "FULLY_CONNECTED"
	scales, perChannel, err := hybridWeights(op, filter, units)
	if err != nil {
		return nil, err
	}
	if err := hybridFloatOperands(op, bias, out); err != nil {
		return nil, err
	}
	k := &fcHybrid{batch: batch, units: units, depth: depth, litert: cfg.Arithmetic == LiteRT, in: in, out: out,
		w: filter.Int8s(), bias: floatsOf(bias), scales: scales, perChannel: len(filter.Quant.Scale) > 1 || perChannel,
		asym: p.AsymmetricQuantizeInputs, q: make([]int8, depth)}
	if k.lo, k.hi, err = FloatActivationRange(p.Activation); err != nil {
		return nil, err
	}
	k.rowSums = make([]int32, units)
	for u := range k.rowSums {
		for _, v := range k.w[u*depth : (u+1)*depth] {
			k.rowSums[u] += int32(v)
		}
	}
	if filter.Data != nil {
		// A missing bias: LiteRT adds nothing, TFLite adds to zero.
		zero := float32(math.Copysign(0, -1))
		if !k.litert {
			zero = 0
		}
		if k.gm = newHybridGemm(k.w, units, depth, k.bias, zero, k.lo, k.hi); k.gm != nil {
			k.mul = make([]float32, units)
			if k.litert {
				copy(k.mul, k.scales)
			}
			return Describe("gemm hybrid "+k.gm.v.kern.name, k), nil
		}
	}
	if dot16HaveSIMD() && depth >= 16 {
		k.w16, k.q16 = make([]int16, units*depth), make([]int16, depth)
		for i, v := range k.w[:units*depth] {
			k.w16[i] = int16(v)
		}
		return Describe("dot16 "+Variant(), k), nil
	}
	return k, nil
}

// widen copies the quantized row into q16 for dot16.
func (k *fcHybrid) widen() {
	if k.q16 == nil {
		return
	}
	for i, v := range k.q[:len(k.q16)] {
		k.q16[i] = int16(v)
	}
}

func (k *fcHybrid) Eval() error {
	x, y := k.in.Float32s(), k.out.Float32s()
	for b := 0; b < k.batch; b++ {
		xr, yr := x[b*k.depth:(b+1)*k.depth], y[b*k.units:(b+1)*k.units]
		if k.gm != nil {
			k.rowGemm(xr, yr)
			continue
		}
		if k.litert {
			k.rowQD8(xr, yr)
		} else {
			k.rowTFLite(xr, yr)
		}
		for u, v := range yr {
			yr[u] = ClampF(v, k.lo, k.hi)
		}
	}
	return nil
}

func (k *fcHybrid) dot(u int, zp int32) int32 {
	var acc int32
	if k.w16 != nil {
		// The same sum modulo 2³², which is all int32 keeps.
		return int32(dot16(k.q16, k.w16[u*k.depth:(u+1)*k.depth])) - k.rowSums[u]*zp
	}
	for i, w := range k.w[u*k.depth : (u+1)*k.depth] {
		acc += int32(w) * int32(k.q[i])
	}
	return acc - k.rowSums[u]*zp
}

// rowGemm is rowQD8 or rowTFLite on the packed GEMM: the same
// quantization, sums and float steps.
func (k *fcHybrid) rowGemm(x, y []float32) {
	if k.litert {
		k.r[0], k.zp[0] = hybridQD8(x, k.q)
		k.gm.run(k.q, 1, y, k.mul, true, k.zp[:], k.r[:])
		return
	}
	var sf float32
	k.zp[0] = 0
	if k.asym {
		sf, k.zp[0] = hybridQuantizeAsymmetric(x, k.q)
	} else {
		sf = hybridQuantizeSymmetric(x, k.q)
	}
	if !k.perChannel {
		sf *= k.scales[0]
	}
	for u := range k.mul {
		k.mul[u] = sf
		if k.perChannel {
			k.mul[u] *= k.scales[u]
		}
	}
	k.gm.run(k.q, 1, y, k.mul, false, k.zp[:], k.r[:])
}

// rowQD8 is XNNPACK's qd8-f32-qc8w GEMM row.
func (k *fcHybrid) rowQD8(x, y []float32) {
	inv, zp := hybridQD8(x, k.q)
	k.widen()
	for u := range y {
		v := float32(float32(k.dot(u, zp)) * inv * k.scales[u])
		if k.bias != nil {
			v += k.bias[u]
		}
		y[u] = v
	}
}

// rowTFLite is TFLite's fully_connected EvalHybrid for one batch row:
// the output starts from the bias, then adds the dot product (minus row
// sum × zero point) times the batch scale, folded with the per-tensor
// weight scale or multiplied by the channel's.
func (k *fcHybrid) rowTFLite(x, y []float32) {
	var sf float32
	var zp int32
	if k.asym {
		sf, zp = hybridQuantizeAsymmetric(x, k.q)
	} else {
		sf = hybridQuantizeSymmetric(x, k.q)
	}
	k.widen()
	if !k.perChannel {
		sf *= k.scales[0]
	}
	for u := range y {
		scale := sf
		if k.perChannel {
			scale *= k.scales[u]
		}
		var v float32
		if k.bias != nil {
			v = k.bias[u]
		}
		y[u] = v + float32(float32(k.dot(u, zp))*scale)
	}
}

// ---- CONV_2D and DEPTHWISE_CONV_2D ----

type convHybrid struct {
	g                convGeom
	depthwise        bool
	litert           bool
	fC, perGroup, dm int
	in, out          *tensor.Tensor
	w                []int8
	bias             []float32
	scales           []float32
	perChannel       bool
	lo, hi           float32
	q                []int8
	// pointwise: a 1×1 CONV_2D with stride 1 (any dilation) and more than
	// one input or output channel, which XNNPACK runs as a
	// fully connected layer, quantizing every pixel on its own.
	pointwise bool
	// w16 is the filter widened to int16 and q16 the quantized image
	// less its zero point, for dot16 (nil for depthwise convolutions and
	// without a vector dot product).
	w16, q16 []int16
	// gm is the packed GEMM (hybrid_gemm.go) of a CONV_2D without groups
	// on a SIMD variant, nil otherwise. direct: A is the quantized image
	// itself (1×1, stride 1); else im2col copies tiles of tileM rows
	// into cols. mul holds the channel multipliers, rowZP and rowR the
	// zero point and scale of each pixel when every pixel is quantized
	// on its own (else of the image, in their first element).
	gm     *hybridGemm
	direct bool
	tileM  int
	cols   []int8
	mul    []float32
	rowZP  []int32
	rowR   []float32
	// qz is the quantized image less its zero point and sums one
	// pixel's sums, for a depthwise convolution with one output per
	// channel (evalDepthwise).
	qz   []int16
	sums []int32
	// dwZero is c zeros, dwBias the bias or c times −0 (x + −0 = x).
	dwZero []int32
	dwBias []float32
}

func newConvHybrid(cfg *Config, op string, p ConvParams, g convGeom, depthwise bool, fC, perGroup int, in, filter, bias, out *tensor.Tensor) (Kernel, error) {
	scales, perChannel, err := hybridWeights(op, filter, g.outC)
	if err != nil {
		return nil, err
	}
	if err := hybridFloatOperands(op, bias, out); err != nil {
		return nil, err
	}
	if depthwise {
		// TFLite's hybrid depthwise kernel is per-channel only. (With one
		// scale it reads past the scale array; edged uses that scale for
		// every channel.)
		perChannel = true
	}
	k := &convHybrid{g: g, depthwise: depthwise, litert: cfg.Arithmetic == LiteRT && !depthwise, fC: fC, perGroup: perGroup,
		in: in, out: out, w: filter.Int8s(), bias: floatsOf(bias), scales: scales, perChannel: perChannel,
		q: make([]int8, g.inH*g.inW*g.inC)}
	if depthwise {
		k.dm = g.outC / g.inC
		if k.dm == 1 {
			k.qz, k.sums = make([]int16, len(k.q)), make([]int32, g.outC)
			k.dwZero, k.dwBias = make([]int32, g.outC), make([]float32, g.outC)
			for i := range k.dwBias {
				k.dwBias[i] = float32(math.Copysign(0, -1))
				if k.bias != nil {
					k.dwBias[i] = k.bias[i]
				}
			}
		}
	}
	k.pointwise = !depthwise && g.fH == 1 && g.fW == 1 && g.strideH == 1 && g.strideW == 1 && k.fC == g.inC && (g.inC > 1 || g.outC > 1)
	if k.lo, k.hi, err = FloatActivationRange(p.Activation); err != nil {
		return nil, err
	}
	if !depthwise && k.fC == g.inC && filter.Data != nil {
		k.setGemm()
		if k.gm != nil {
			desc := "gemm hybrid "
			if !k.direct {
				desc = "im2col+gemm hybrid "
			}
			return Describe(desc+k.gm.v.kern.name, k), nil
		}
	}
	if !depthwise && dot16HaveSIMD() {
		k.w16, k.q16 = make([]int16, len(k.w)), make([]int16, len(k.q))
		for i, v := range k.w {
			k.w16[i] = int16(v)
		}
		return Describe("dot16 "+Variant(), k), nil
	}
	return k, nil
}

// widen fills q16 with the first n quantized values less zp.
func (k *convHybrid) widen(n int, zp int32) {
	if k.q16 == nil {
		return
	}
	for i, v := range k.q[:n] {
		k.q16[i] = int16(int32(v) - zp)
	}
}

// evalPointwiseQD8 runs one image of a pointwise convolution as XNNPACK
// does: each pixel is a GEMM row with its own dynamic quantization.
func (k *convHybrid) evalPointwiseQD8(x, y []float32) {
	g := &k.g
	for p := 0; p < g.inH*g.inW; p++ {
		xr, yr := x[p*g.inC:(p+1)*g.inC], y[p*g.outC:(p+1)*g.outC]
		q := k.q[:g.inC]
		inv, zp := hybridQD8(xr, q)
		k.widen(g.inC, zp)
		for oc := range yr {
			var acc int32
			if k.w16 != nil {
				// The same sum modulo 2³², which is all int32 keeps.
				acc = int32(dot16(k.q16[:g.inC], k.w16[oc*g.inC:(oc+1)*g.inC]))
			} else {
				for i, w := range k.w[oc*g.inC : (oc+1)*g.inC] {
					acc += int32(w) * (int32(q[i]) - zp)
				}
			}
			v := float32(float32(acc) * inv * k.scales[oc])
			if k.bias != nil {
				v += k.bias[oc]
			}
			yr[oc] = ClampF(v, k.lo, k.hi)
		}
	}
}

// Eval quantizes each image, accumulates (q − zero point)·w over the taps
// inside the image (padding contributes nothing) and scales: LiteRT
// (acc·inverse scale)·weight scale; TFLite's CONV_2D acc·(input scale ·
// weight scale) per tensor (symmetric input) or acc·(channel scale ·
// input scale) per channel; its DEPTHWISE_CONV_2D (acc·input scale)·
// channel scale.
func (k *convHybrid) Eval() error {
	g := &k.g
	x, y := k.in.Float32s(), k.out.Float32s()
	n := g.inH * g.inW * g.inC
	if k.gm != nil || k.qz != nil {
		m := g.outH * g.outW * g.outC
		for b := 0; b < g.batch; b++ {
			if k.qz != nil {
				k.evalDepthwise(x[b*n:(b+1)*n], y[b*m:(b+1)*m])
				continue
			}
			k.evalGemm(x[b*n:(b+1)*n], y[b*m:(b+1)*m])
		}
		return nil
	}
	o := 0
	for b := 0; b < g.batch; b++ {
		xb := x[b*n : (b+1)*n]
		var sf float32
		var zp int32
		switch {
		case k.litert && k.pointwise:
			k.evalPointwiseQD8(xb, y[o:o+g.outH*g.outW*g.outC])
			o += g.outH * g.outW * g.outC
			continue
		case k.litert:
			sf, zp = hybridQD8(xb, k.q)
		case k.perChannel:
			sf, zp = hybridQuantizeAsymmetric(xb, k.q)
		default:
			sf = hybridQuantizeSymmetric(xb, k.q) * k.scales[0]
		}
		k.widen(n, zp)
		for oy := 0; oy < g.outH; oy++ {
			iy0 := oy*g.strideH - g.padH
			fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
			for ox := 0; ox < g.outW; ox++ {
				ix0 := ox*g.strideW - g.padW
				fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
				for oc := 0; oc < g.outC; oc++ {
					acc := k.acc(oc, zp, iy0, ix0, fy0, fy1, fx0, fx1)
					var v float32
					switch {
					case k.litert || k.depthwise:
						v = float32(float32(acc) * sf * k.scales[oc])
					case k.perChannel:
						v = float32(float32(acc) * (k.scales[oc] * sf))
					default:
						v = float32(float32(acc) * sf)
					}
					if k.bias != nil {
						v += k.bias[oc]
					}
					y[o] = ClampF(v, k.lo, k.hi)
					o++
				}
			}
		}
	}
	return nil
}

func (k *convHybrid) acc(oc int, zp int32, iy0, ix0, fy0, fy1, fx0, fx1 int) int32 {
	g := &k.g
	var acc int32
	for fy := fy0; fy < fy1; fy++ {
		row := (iy0 + fy*g.dilH) * g.inW
		if k.w16 != nil && fx0 == 0 && fx1 == g.fW && g.dilW == 1 && k.fC == g.inC {
			// The filter row's taps are one run of the image; the same
			// sum modulo 2³².
			n := g.fW * g.inC
			pix := (row + ix0) * g.inC
			acc += int32(dot16(k.q16[pix:pix+n], k.w16[oc*g.fH*n+fy*n:][:n]))
			continue
		}
		for fx := fx0; fx < fx1; fx++ {
			pix := (row + ix0 + fx*g.dilW) * g.inC
			if k.w16 != nil {
				ic0 := (oc / k.perGroup) * k.fC
				acc += int32(dot16(k.q16[pix+ic0:][:k.fC], k.w16[oc*g.fH*g.fW*k.fC+(fy*g.fW+fx)*k.fC:][:k.fC]))
				continue
			}
			if k.depthwise {
				w := k.w[(fy*g.fW+fx)*g.outC+oc]
				acc += int32(w) * (int32(k.q[pix+oc/k.dm]) - zp)
				continue
			}
			ic0 := (oc / k.perGroup) * k.fC
			ws := k.w[oc*g.fH*g.fW*k.fC+(fy*g.fW+fx)*k.fC:][:k.fC]
			q := k.q[pix+ic0:][:k.fC]
			for i, w := range ws {
				acc += int32(w) * (int32(q[i]) - zp)
			}
		}
	}
	return acc
}

// setGemm packs the weights for the hybrid GEMM if a SIMD variant is in
// use.
func (k *convHybrid) setGemm() {
	g := &k.g
	kk := g.fH * g.fW * g.inC
	// A missing bias: the direct loop adds nothing.
	k.gm = newHybridGemm(k.w, g.outC, kk, k.bias, float32(math.Copysign(0, -1)), k.lo, k.hi)
	if k.gm == nil {
		return
	}
	k.direct = g.fH == 1 && g.fW == 1 && g.strideH == 1 && g.strideW == 1 && g.padH == 0 && g.padW == 0
	if !k.direct {
		// Tiles of A small enough to stay in L1 while every weight block
		// runs over them.
		k.tileM = min(max(4, (16<<10)/kk)&^3, 64)
		k.cols = make([]int8, k.tileM*kk)
	}
	k.mul = make([]float32, g.outC)
	rows := 1
	if k.litert && k.pointwise {
		rows = g.inH * g.inW
	}
	k.rowZP, k.rowR = make([]int32, rows), make([]float32, rows)
}

// evalGemm runs one image on the hybrid GEMM: the quantization and the
// float steps of Eval, the sums from the micro-kernels.
func (k *convHybrid) evalGemm(x, y []float32) {
	g := &k.g
	two := false
	switch {
	case k.litert && k.pointwise:
		// XNNPACK's fully connected layer: a quantization per pixel.
		hybridQD8Rows(x, k.q, g.inC, k.rowR, k.rowZP)
		copy(k.mul, k.scales)
		two = true
	case k.litert:
		k.rowR[0], k.rowZP[0] = hybridQD8(x, k.q)
		copy(k.mul, k.scales)
		two = true
	case k.perChannel:
		sf, zp := hybridQuantizeAsymmetric(x, k.q)
		for oc := range k.mul {
			k.mul[oc] = k.scales[oc] * sf
		}
		k.rowZP[0] = zp
	default:
		sf := hybridQuantizeSymmetric(x, k.q) * k.scales[0]
		for oc := range k.mul {
			k.mul[oc] = sf
		}
		k.rowZP[0] = 0
	}
	m := g.outH * g.outW
	if k.direct {
		k.gm.run(k.q, m, y, k.mul, two, k.rowZP, k.rowR)
		return
	}
	kk := k.gm.k
	fill := int8(k.rowZP[0])
	for m0 := 0; m0 < m; m0 += k.tileM {
		rows := min(k.tileM, m-m0)
		a := k.cols[:rows*kk]
		convIm2col(g, k.q, a, m0, rows, fill)
		k.gm.run(a, rows, y[m0*g.outC:], k.mul, two, k.rowZP[:1], k.rowR[:1])
	}
}

// evalDepthwise is Eval's depthwise convolution with one output per
// channel for one image: the same quantization and float steps, the sums
// of each pixel's taps accumulated over all channels at once.
func (k *convHybrid) evalDepthwise(x, y []float32) {
	g := &k.g
	sf, zp := hybridQuantizeAsymmetric(x, k.q)
	for i, v := range k.q {
		k.qz[i] = int16(int32(v) - zp)
	}
	c := g.outC
	acc := k.sums[:c]
	scales := k.scales[:c]
	o := 0
	for oy := 0; oy < g.outH; oy++ {
		iy0 := oy*g.strideH - g.padH
		fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
		for ox := 0; ox < g.outW; ox++ {
			ix0 := ox*g.strideW - g.padW
			fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
			clear(acc)
			for fy := fy0; fy < fy1; fy++ {
				row := (iy0 + fy*g.dilH) * g.inW
				for fx := fx0; fx < fx1; fx++ {
					pix := (row + ix0 + fx*g.dilW) * c
					qs := k.qz[pix : pix+c]
					ws := k.w[(fy*g.fW+fx)*c:][:c]
					i := hybridDWAccAsm(acc, qs, ws)
					for ; i < c; i++ {
						acc[i] += int32(ws[i]) * int32(qs[i])
					}
				}
			}
			// (acc·sf)·scale + bias, as the per-output loop.
			hybridStore(acc, y[o:o+c], k.dwZero, k.dwZero, scales, k.dwBias, true, 0, sf, k.lo, k.hi)
			o += c
		}
	}
}
