package kernels

import (
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"

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
	if in.Type == tensor.Float32 && filter.Type != tensor.Float32 {
		return newConvHybrid(cfg, op, p, g, true, 1, 1, in, filter, bias, out)
	}
	if g.inC == 1 && outC > 1 && (!(fH == 3 && fW == 3) || in.Type == tensor.Float32) {
		if k, err := dwAsConv(cfg, p, g, in, filter, bias, out); k != nil || err != nil {
			return k, err
		}
	}
	if fast, err := newDWFast(cfg, p, g, in, filter, bias, out); fast != nil || err != nil {
		return fast, err
	}
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
		if k.scale, err = litertScales(cfg, in, filter, out, outC); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
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

// dwAsConv runs a depthwise convolution of a one-channel input (a depth
// multiplier of outC: micro_speech's first layer) as the convolution it
// is, through the packed GEMM: output channel oc sums x·w[tap][oc] over
// the taps either way, the integer sums are equal, and the per-channel
// requantization is the same. The filter [1, h, w, outC] becomes
// [outC, h, w, 1]. It returns nil when the weights are not constants.
// (Quantized 3×3 filters keep dwFast's vector kernels on repeated
// channels; float ones have none and take this path too.)
func dwAsConv(cfg *Config, p ConvParams, g convGeom, in, filter, bias, out *tensor.Tensor) (Kernel, error) {
	if filter.Data == nil || (bias != nil && bias.Data == nil) {
		return nil, nil
	}
	es := filter.Type.Size()
	taps, oc := g.fH*g.fW, g.outC
	if len(filter.Data) < taps*oc*es {
		return nil, nil
	}
	t := make([]byte, taps*oc*es)
	for tap := 0; tap < taps; tap++ {
		for c := 0; c < oc; c++ {
			copy(t[(c*taps+tap)*es:(c*taps+tap+1)*es], filter.Data[(tap*oc+c)*es:])
		}
	}
	cf := &tensor.Tensor{Name: filter.Name, Type: filter.Type, Shape: []int{oc, g.fH, g.fW, 1}, Data: t, Const: true}
	if filter.Quant != nil {
		q := *filter.Quant
		q.Axis = 0
		cf.Quant = &q
	}
	return newConvFast(cfg, p, g, 1, in, cf, bias, out)
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
	scale               []float32 // LiteRT arithmetic (litert.go), else nil
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
					yo[oc] = T(requantOut(a, oc, k.mult, k.shift, k.scale, k.outOff, k.lo, k.hi))
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

// dwFast is DEPTHWISE_CONV_2D with constant weights, for int8 and uint8
// (any depth multiplier) and float32 (depth multiplier 1). Output rows are
// split across threads. 3×3 windows keep each channel's sum in a register
// over all nine taps, with weights interleaved per channel; other window
// sizes accumulate tap by tap in a scratch row. Both visit the taps in the
// reference order. 3×3 windows run on SIMD kernels where the CPU has them
// (depthwise_rows.go), bit-identical to the Go loops; for a quantized
// depth multiplier above 1 the input is first copied with each channel
// repeated dm times (xdm), which makes it a depth multiplier 1 problem.
// Without SIMD, undilated quantized 3×3 windows of stride 1 or 2 run along
// output rows with several outputs per multiply (depthwise_portable.go).
//
// Quantized weights are stored with the filter offset added (w+fOff). On
// the fast path the input offset is folded into a per-channel constant
// (bias + inOff·Σw'), exact in wrapping int32 arithmetic.
type dwFast struct {
	g      convGeom
	nparts int
	wg     sync.WaitGroup

	in, out *tensor.Tensor

	// Quantized.
	wq    []int32    // [tap][channel] w+fOff
	w9    [][9]int32 // [channel][tap] for 3×3 windows
	bias  []int32    // nil: no bias
	inOff int32
	rq    gemmRequantParams // cst: bias + inOff·Σ_taps w'

	// Float.
	wf       []float32
	w9f      [][9]float32
	biasF    []float32
	flo, fhi float32

	acc  [][]int32 // per part scratch
	accF [][]float32

	// SIMD 3×3 kernels (depth multiplier 1), chosen from features at
	// construction; nil when not available.
	qblk    []int32
	qnarrow bool // qblk holds dwPackQ's narrow blocks
	fblk    []float32
	nb      int
	// xdm is the input with channels repeated dm times and gdm its
	// geometry, for quantized SIMD kernels with depth multiplier dm > 1.
	xdm []byte
	gdm convGeom
	// sw is the portable stride-1 3×3 quantized path
	// (depthwise_portable.go), when there is no SIMD kernel.
	sw *dwSwar
	// pad stands for taps outside the input on the 3×3 path: one pixel of
	// the input zero point (quantized; its product with w' cancels the
	// inOff·w' in cst exactly) or of zeros (float; adding 0·w leaves the
	// sum unchanged for finite weights).
	pad []byte
	// ftaps is the general float vector kernel (depthwise_taps.go), and
	// qtaps the quantized one (depthwise_qtaps.go); nil when not used.
	ftaps *dwTapsF
	qtaps *dwTapsQ
	// desc names the path, for profiles.
	desc string
}

// Describe names the kernel's path (Describer).
func (k *dwFast) Describe() string { return k.desc }

func newDWFast(cfg *Config, p ConvParams, g convGeom, in, filter, bias, out *tensor.Tensor) (Kernel, error) {
	if filter.Data == nil || (bias != nil && bias.Data == nil) || (in.Type == tensor.Float32 && g.outC != g.inC) {
		return nil, nil
	}
	const op = "DEPTHWISE_CONV_2D"
	k := &dwFast{g: g, in: in, out: out}
	c, taps := g.outC, g.fH*g.fW
	is3x3 := g.fH == 3 && g.fW == 3
	switch in.Type {
	case tensor.Float32:
		if err := convFloatSetup(op, p.Activation, filter, bias, out, &k.flo, &k.fhi); err != nil {
			return nil, err
		}
		k.wf = filter.Float32s()[:taps*c]
		if bias != nil {
			k.biasF = bias.Float32s()[:c]
		}
		if is3x3 {
			k.w9f = make([][9]float32, c)
			for t := 0; t < 9; t++ {
				for ch := 0; ch < c; ch++ {
					k.w9f[ch][t] = k.wf[t*c+ch]
				}
			}
		}
	case tensor.Int8, tensor.UInt8:
		mult, shift, lo, hi, err := convQuantSetup(cfg, op, p.Activation, in, filter, bias, out, c, in.Type, tensor.Int32)
		if err != nil {
			return nil, err
		}
		k.rq = newGemmRequantParams(mult, shift, out.ZeroPoint(), lo, hi)
		scales, err := litertScales(cfg, in, filter, out, c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		k.rq.setLiteRT(scales)
		k.inOff = -in.ZeroPoint()
		fOff := -filter.ZeroPoint()
		k.wq = make([]int32, taps*c)
		for i := range k.wq {
			if in.Type == tensor.Int8 {
				k.wq[i] = int32(filter.Int8s()[i]) + fOff
			} else {
				k.wq[i] = int32(filter.UInt8s()[i]) + fOff
			}
		}
		if bias != nil {
			k.bias = bias.Int32s()[:c]
		}
		for ch := 0; ch < c; ch++ {
			var s int32
			for t := 0; t < taps; t++ {
				s += k.wq[t*c+ch]
			}
			k.rq.ch[ch].cst = k.inOff * s
			if k.bias != nil {
				k.rq.ch[ch].cst += k.bias[ch]
			}
		}
		if is3x3 {
			k.w9 = make([][9]int32, c)
			for t := 0; t < 9; t++ {
				for ch := 0; ch < c; ch++ {
					k.w9[ch][t] = k.wq[t*c+ch]
				}
			}
		}
	default:
		return nil, nil
	}
	k.pad = make([]byte, g.outC*4)
	if in.Type != tensor.Float32 {
		for i := range k.pad {
			k.pad[i] = byte(-k.inOff)
		}
	}
	if is3x3 && in.Type == tensor.Float32 {
		// With AVX-512 the general kernel (depthwise_taps.go) is faster
		// than the 3×3 one, except over fewer channels than its blocks
		// of 16 fill well.
		if !features.vnni || (c%16 != 0 && c < 32) {
			k.fblk, k.nb = dwPackF(k.w9f, k.biasF, k.flo, k.fhi, c)
		}
	} else if is3x3 {
		// Packed for the kernels of the arithmetic in use (dwLiteRT).
		k.qblk, k.nb, k.qnarrow = dwPackQ(k.w9, &k.rq, c)
		if k.qblk != nil && g.outC != g.inC {
			k.gdm = g
			k.gdm.inC = g.outC
			k.xdm = make([]byte, g.batch*g.inH*g.inW*g.outC)
		}
	}
	rows := g.batch * g.outH
	k.nparts = parallelThreads(cfg, rows, convWork(rows*g.outW, taps, c))
	parallelReserve(k.nparts)
	if is3x3 && in.Type != tensor.Float32 && k.qblk == nil {
		k.sw = newDWSwar(&k.g, k.w9, k.pad[0], k.nparts)
	}
	switch {
	case k.fblk != nil:
		k.desc = "3x3 " + floatVariant()
	case k.qblk != nil:
		k.desc = "3x3 " + Variant()
	case k.sw != nil:
		k.desc = "3x3 swar"
	case k.w9 != nil || k.w9f != nil:
		k.desc = "3x3 portable"
	default:
		k.desc = "taps portable"
	}
	if in.Type != tensor.Float32 && k.w9 == nil {
		if k.qtaps = newDWTapsQ(k, byte(-k.inOff)); k.qtaps != nil {
			k.desc = "taps " + Variant()
		}
	}
	if in.Type == tensor.Float32 && k.fblk == nil && dwTapsHaveSIMD() {
		k.ftaps = newDWTapsF(k.wf, k.biasF, taps, c, k.nparts)
		k.desc = "taps " + floatVariant()
		if features.vnni {
			k.desc = "taps avx512"
		}
	}
	k.acc = make([][]int32, k.nparts)
	k.accF = make([][]float32, k.nparts)
	for i := range k.acc {
		if in.Type == tensor.Float32 {
			k.accF[i] = make([]float32, c)
		} else {
			k.acc[i] = make([]int32, c)
		}
	}
	return k, nil
}

// Eval runs the convolution.
func (k *dwFast) Eval() error {
	switch k.in.Type {
	case tensor.Float32:
		parallelRun(dwFloatTask{k}, k.nparts, &k.wg)
	case tensor.Int8:
		k.repeatChannels()
		parallelRun(dwQuantTask[int8]{k}, k.nparts, &k.wg)
	default:
		k.repeatChannels()
		parallelRun(dwQuantTask[uint8]{k}, k.nparts, &k.wg)
	}
	return nil
}

// repeatChannels fills xdm, if used, with the input's channels each
// repeated dm times: output channel oc reads input channel oc/dm.
func (k *dwFast) repeatChannels() {
	if k.xdm == nil {
		return
	}
	ci, co := k.g.inC, k.g.outC
	dm := co / ci
	x := k.in.Data[:len(k.xdm)/dm]
	if dm == 8 {
		// One byte to eight with a multiplication.
		for i, v := range x {
			binary.LittleEndian.PutUint64(k.xdm[i*8:], uint64(v)*0x0101010101010101)
		}
		return
	}
	for i, v := range x {
		d := k.xdm[i*dm : i*dm+dm]
		for j := range d {
			d[j] = v
		}
	}
}

type dwQuantTask[T int8 | uint8] struct{ k *dwFast }

func (t dwQuantTask[T]) runPart(part, nparts int) {
	k := t.k
	g := &k.g
	r0, r1 := parallelRange(part, nparts, g.batch*g.outH)
	if k.qblk != nil {
		var z T
		kind := dwInt8
		if ^z > 0 {
			kind = dwUInt8
		}
		if k.qnarrow {
			kind += dwInt8Narrow - dwInt8
		}
		if k.rq.scale != nil {
			kind += dwLiteRT
		}
		xs := k.in.Data
		if k.xdm != nil {
			g, xs = &k.gdm, k.xdm
		}
		dwRows3x3(g, kind, xs, k.out.Data, k.pad, 1, unsafe.Pointer(unsafe.SliceData(k.qblk)), k.nb, r0, r1)
		return
	}
	if k.sw != nil {
		dwSwarRows[T](k, part, r0, r1)
		return
	}
	if k.qtaps != nil {
		var z T
		u8 := 0
		if ^z > 0 {
			u8 = 1
		}
		x, y := k.in.Data, k.out.Data
		ox0, ox1 := dwInterior(g)
		if g.outW == 1 && ox1 == 1 {
			oyA, oyB := convInterior(g.padH, g.strideH, g.inH, g.fH, g.dilH, g.outH)
			for row := r0; row < r1; {
				b, oy := row/g.outH, row%g.outH
				if oy < oyA || oy >= oyB {
					t.pixels(part, row, 0, 1)
					row++
					continue
				}
				n := min(r1, b*g.outH+oyB) - row
				k.runTapsQ(part, x, y, u8, b, oy, 0, n, g.strideH*g.inW*g.inC)
				row += n
			}
			return
		}
		for row := r0; row < r1; row++ {
			k.runTapsQ(part, x, y, u8, row/g.outH, row%g.outH, ox0, ox1-ox0, g.strideW*g.inC)
			t.pixels(part, row, 0, ox0)
			t.pixels(part, row, ox1, g.outW)
		}
		return
	}
	for row := r0; row < r1; row++ {
		t.pixels(part, row, 0, g.outW)
	}
}

// pixels computes output pixels [oxa, oxb) of output row row (batch ×
// height) with the Go loops.
func (t dwQuantTask[T]) pixels(part, row, oxa, oxb int) {
	k := t.k
	g := &k.g
	x, y := convView[T](k.in.Data), convView[T](k.out.Data)
	c, ci := g.outC, g.inC
	dm := c / ci
	acc := k.acc[part]
	pad := convView[T](k.pad)[:ci]
	var taps [9][]T
	{
		b, oy := row/g.outH, row%g.outH
		for ox := oxa; ox < oxb; ox++ {
			o := (row*g.outW + ox) * c
			yo := y[o : o+c]
			iy0, ix0 := oy*g.strideH-g.padH, ox*g.strideW-g.padW
			if k.w9 != nil {
				dwTaps3x3(g, &taps, x, pad, b, iy0, ix0)
				if dm == 1 {
					dwQuant3x3(yo, &taps, k.w9, &k.rq)
				} else {
					dwQuant3x3DM(yo, &taps, dm, k.w9, &k.rq)
				}
				continue
			}
			// Tap by tap, with the reference formula.
			fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
			fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
			a := acc[:c]
			clear(a)
			for fy := fy0; fy < fy1; fy++ {
				xrow := (b*g.inH + iy0 + fy*g.dilH) * g.inW
				for fx := fx0; fx < fx1; fx++ {
					xi := (xrow + ix0 + fx*g.dilW) * ci
					xs := x[xi : xi+ci]
					ws := k.wq[(fy*g.fW+fx)*c:][:c]
					if dm == 1 {
						ws := ws[:len(xs)]
						a := a[:len(xs)]
						for i, v := range xs {
							a[i] += ws[i] * (int32(v) + k.inOff)
						}
						continue
					}
					for i, v := range xs {
						xv := int32(v) + k.inOff
						for oc := i * dm; oc < i*dm+dm; oc++ {
							a[oc] += ws[oc] * xv
						}
					}
				}
			}
			if k.rq.scale != nil {
				lc := newLiteRTClamp(k.rq.outOff, k.rq.lo, k.rq.hi)
				for i, v := range a {
					if k.bias != nil {
						v += k.bias[i]
					}
					yo[i] = T(lc.requant(v, k.rq.scale[i]))
				}
				continue
			}
			for i, v := range a {
				if k.bias != nil {
					v += k.bias[i]
				}
				yo[i] = T(k.rq.out(v, i))
			}
		}
	}
}

// dwTaps3x3 points taps at the input pixels of a 3×3 window whose
// top-left corner is (iy0, ix0) in batch b, and at pad where the window
// leaves the input.
func dwTaps3x3[T float32 | int8 | uint8](g *convGeom, taps *[9][]T, x, pad []T, b, iy0, ix0 int) {
	ci := g.inC
	for fy := 0; fy < 3; fy++ {
		iy := iy0 + fy*g.dilH
		rowIn := iy >= 0 && iy < g.inH
		for fx := 0; fx < 3; fx++ {
			ix := ix0 + fx*g.dilW
			if rowIn && ix >= 0 && ix < g.inW {
				off := ((b*g.inH+iy)*g.inW + ix) * ci
				taps[fy*3+fx] = x[off : off+ci]
			} else {
				taps[fy*3+fx] = pad
			}
		}
	}
}

// dwQuant3x3DM is dwQuant3x3 for a depth multiplier dm > 1: each input
// channel's nine taps are loaded once for its dm output channels.
func dwQuant3x3DM[T int8 | uint8](y []T, taps *[9][]T, dm int, w9 [][9]int32, rq *gemmRequantParams) {
	ci := len(y) / dm
	x0, x1, x2 := taps[0][:ci], taps[1][:ci], taps[2][:ci]
	x3, x4, x5 := taps[3][:ci], taps[4][:ci], taps[5][:ci]
	x6, x7, x8 := taps[6][:ci], taps[7][:ci], taps[8][:ci]
	w9, chans := w9[:len(y)], rq.ch[:len(y)]
	outOff, lo, hi := rq.outOff, rq.lo, rq.hi
	lc := newLiteRTClamp(outOff, lo, hi)
	for i := range x0 {
		v0, v1, v2 := int32(x0[i]), int32(x1[i]), int32(x2[i])
		v3, v4, v5 := int32(x3[i]), int32(x4[i]), int32(x5[i])
		v6, v7, v8 := int32(x6[i]), int32(x7[i]), int32(x8[i])
		for c := i * dm; c < i*dm+dm; c++ {
			w, ch := &w9[c], &chans[c]
			acc := ch.cst + w[0]*v0 + w[1]*v1 + w[2]*v2 + w[3]*v3 + w[4]*v4 +
				w[5]*v5 + w[6]*v6 + w[7]*v7 + w[8]*v8
			if rq.scale != nil {
				y[c] = T(lc.requant(acc, rq.scale[c]))
				continue
			}
			v := ch.requant(acc) + outOff
			y[c] = T(min(max(v, lo), hi))
		}
	}
}

// dwQuant3x3 computes one output pixel from the nine taps of its window.
func dwQuant3x3[T int8 | uint8](y []T, taps *[9][]T, w9 [][9]int32, rq *gemmRequantParams) {
	n := len(y)
	x0, x1, x2 := taps[0][:n], taps[1][:n], taps[2][:n]
	x3, x4, x5 := taps[3][:n], taps[4][:n], taps[5][:n]
	x6, x7, x8 := taps[6][:n], taps[7][:n], taps[8][:n]
	w9, chans := w9[:n], rq.ch[:n]
	outOff, lo, hi := rq.outOff, rq.lo, rq.hi
	lc := newLiteRTClamp(outOff, lo, hi)
	for c := range y {
		w, ch := &w9[c], &chans[c]
		acc := ch.cst + w[0]*int32(x0[c]) + w[1]*int32(x1[c]) + w[2]*int32(x2[c]) +
			w[3]*int32(x3[c]) + w[4]*int32(x4[c]) + w[5]*int32(x5[c]) +
			w[6]*int32(x6[c]) + w[7]*int32(x7[c]) + w[8]*int32(x8[c])
		if rq.scale != nil {
			y[c] = T(lc.requant(acc, rq.scale[c]))
			continue
		}
		v := ch.requant(acc) + outOff
		y[c] = T(min(max(v, lo), hi))
	}
}

type dwFloatTask struct{ k *dwFast }

func (t dwFloatTask) runPart(part, nparts int) {
	k := t.k
	g := &k.g
	x, y := k.in.Float32s(), k.out.Float32s()
	r0, r1 := parallelRange(part, nparts, g.batch*g.outH)
	if k.fblk != nil {
		dwRows3x3(g, dwFloat32, k.in.Data, k.out.Data, k.pad, 4, unsafe.Pointer(unsafe.SliceData(k.fblk)), k.nb, r0, r1)
		return
	}
	if k.ftaps != nil {
		ox0, ox1 := dwInterior(g)
		for row := r0; row < r1; row++ {
			b, oy := row/g.outH, row%g.outH
			if fy0, fy1 := convTaps(oy*g.strideH-g.padH, g.dilH, g.fH, g.inH); fy0 >= fy1 {
				// No filter row inside the input: the bias alone.
				t.pixels(part, row, 0, g.outW)
				continue
			}
			k.rowTapsF(part, x, y, b, oy, ox0, ox1, 0, g.fW)
			for ox := 0; ox < g.outW; ox++ {
				if ox == ox0 && ox1 > ox0 {
					ox = ox1 - 1
					continue
				}
				fx0, fx1 := convTaps(ox*g.strideW-g.padW, g.dilW, g.fW, g.inW)
				if !k.rowTapsF(part, x, y, b, oy, ox, ox+1, fx0, fx1) {
					t.pixels(part, row, ox, ox+1)
				}
			}
		}
		return
	}
	t.pixels(part, r0, 0, (r1-r0)*g.outW)
}

// pixels computes the output pixels [oxa, oxb) counted from the start of
// output row row (batch × height; the range may run on over the next
// rows) with the Go loops.
func (t dwFloatTask) pixels(part, row, oxa, oxb int) {
	k := t.k
	g := &k.g
	x, y := k.in.Float32s(), k.out.Float32s()
	c := g.outC
	acc := k.accF[part]
	pad := convView[float32](k.pad)[:c]
	var taps [9][]float32
	for p := row*g.outW + oxa; p < row*g.outW+oxb; p++ {
		b, oy, ox := p/(g.outW*g.outH), p/g.outW%g.outH, p%g.outW
		o := p * c
		yo := y[o : o+c]
		iy0, ix0 := oy*g.strideH-g.padH, ox*g.strideW-g.padW
		if k.w9f != nil {
			dwTaps3x3(g, &taps, x, pad, b, iy0, ix0)
			k.float3x3(yo, &taps)
			continue
		}
		fy0, fy1 := convTaps(iy0, g.dilH, g.fH, g.inH)
		fx0, fx1 := convTaps(ix0, g.dilW, g.fW, g.inW)
		a := acc[:c]
		clear(a)
		for fy := fy0; fy < fy1; fy++ {
			xrow := (b*g.inH + iy0 + fy*g.dilH) * g.inW
			for fx := fx0; fx < fx1; fx++ {
				xi := (xrow + ix0 + fx*g.dilW) * c
				xs := x[xi : xi+c]
				ws := k.wf[(fy*g.fW+fx)*c:][:len(xs)]
				a := a[:len(xs)]
				for i, v := range xs {
					a[i] += v * ws[i]
				}
			}
		}
		for i, v := range a {
			if k.biasF != nil {
				v += k.biasF[i]
			}
			yo[i] = ClampF(v, k.flo, k.fhi)
		}
	}
}

// float3x3 is dwQuant3x3 for floats: the products are added one by one
// from 0 in tap order, then the bias, as the reference does.
func (k *dwFast) float3x3(y []float32, taps *[9][]float32) {
	n := len(y)
	x0, x1, x2 := taps[0][:n], taps[1][:n], taps[2][:n]
	x3, x4, x5 := taps[3][:n], taps[4][:n], taps[5][:n]
	x6, x7, x8 := taps[6][:n], taps[7][:n], taps[8][:n]
	w9 := k.w9f[:n]
	lo, hi := k.flo, k.fhi
	for c := range y {
		w := &w9[c]
		var acc float32
		acc += x0[c] * w[0]
		acc += x1[c] * w[1]
		acc += x2[c] * w[2]
		acc += x3[c] * w[3]
		acc += x4[c] * w[4]
		acc += x5[c] * w[5]
		acc += x6[c] * w[6]
		acc += x7[c] * w[7]
		acc += x8[c] * w[8]
		if k.biasF != nil {
			acc += k.biasF[c]
		}
		y[c] = ClampF(acc, lo, hi)
	}
}
