package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Quantize converts float32 to int8/uint8/int16 (TFLite's AffineQuantize:
// round(x/scale) half away from zero, in float32, plus the zero point,
// clamped; per-channel output quantization is supported), or requantizes
// between int8, uint8 and int16 (and to int32) with one fixed-point
// multiplier (TFLite's Requantize).
func Quantize(cfg *Config, in, out *tensor.Tensor) (Kernel, error) {
	actSameShape(in, out)
	if err := CheckType("QUANTIZE output", out, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32); err != nil {
		return nil, err
	}
	if out.Quant == nil || len(out.Quant.Scale) == 0 {
		return nil, fmt.Errorf("QUANTIZE output %q has no quantization parameters", out.Name)
	}
	qmin, qmax, err := TypeRange(out.Type)
	if err != nil {
		return nil, err
	}
	switch in.Type {
	case tensor.Float32:
		if out.Type == tensor.Int32 {
			return nil, unsupportedf("QUANTIZE from float32 to int32")
		}
		if cfg.Arithmetic == LiteRT && len(out.Quant.Scale) == 1 && (out.Type == tensor.Int8 || out.Type == tensor.UInt8) {
			if s := out.Quant.Scale[0]; !(s > 0) || math.IsInf(float64(s), 0) {
				return nil, fmt.Errorf("QUANTIZE output %q has scale %g; want a finite positive scale", out.Name, s)
			}
			return quantizeFloatLiteRT(in, out, qmin, qmax), nil
		}
		return quantizeFloat(in, out, qmin, qmax)
	case tensor.Int8, tensor.UInt8, tensor.Int16:
	default:
		return nil, unsupportedf("QUANTIZE from %s", in.Type)
	}
	if err := CheckQuantized("QUANTIZE input", in); err != nil {
		return nil, err
	}
	if err := CheckQuantized("QUANTIZE output", out); err != nil {
		return nil, err
	}
	if in.Quant.PerChannel() || out.Quant.PerChannel() {
		return nil, unsupportedf("QUANTIZE requantization with per-channel parameters")
	}
	// In LiteRT arithmetic XNNPACK takes int8→int8 and uint8→uint8 (within
	// its scale range); every other pair stays with TFLite's kernel.
	if cfg.Arithmetic == LiteRT && in.Type == out.Type && in.Type != tensor.Int16 {
		if k, ok := requantizeLiteRT8(in, out, qmin, qmax); ok {
			return k, nil
		}
	}
	mult, shift := QuantizeMultiplier(float64(in.Scale()) / float64(out.Scale()))
	inZP, outZP := in.ZeroPoint(), out.ZeroPoint()
	f := func(v int32) int32 {
		return Clamp(MultiplyByQuantizedMultiplier(v-inZP, mult, shift)+outZP, qmin, qmax)
	}
	switch in.Type {
	case tensor.Int8:
		return requantizeKernel[int8](in, out, f), nil
	case tensor.UInt8:
		return requantizeKernel[uint8](in, out, f), nil
	}
	return requantizeKernel[int16](in, out, f), nil
}

// requantizeKernel applies f to the raw values of in; between 8-bit types
// through a table of f (table8.go).
func requantizeKernel[T actInt](in, out *tensor.Tensor, f func(int32) int32) Kernel {
	if in.Type.Size() == 1 && out.Type.Size() == 1 {
		return table8Kernel(in, out, newTable8(in.Type, f))
	}
	return Func(func() error {
		x := actView[T](in)
		switch out.Type {
		case tensor.Int8:
			y := out.Int8s()
			for i, v := range x {
				y[i] = int8(f(int32(v)))
			}
		case tensor.UInt8:
			y := out.UInt8s()
			for i, v := range x {
				y[i] = uint8(f(int32(v)))
			}
		case tensor.Int16:
			y := out.Int16s()
			for i, v := range x {
				y[i] = int16(f(int32(v)))
			}
		case tensor.Int32:
			y := out.Int32s()
			for i, v := range x {
				y[i] = f(int32(v))
			}
		}
		return nil
	})
}

// quantizeFloatPerTensor is quantizeFloat with one scale, as a plain loop
// per output type (the per-channel closure cost more than the arithmetic).
func quantizeFloatPerTensor(in, out *tensor.Tensor, scale float32, zp, qmin, qmax int32) Kernel {
	return Func(func() error {
		x := in.Float32s()
		switch out.Type {
		case tensor.Int8:
			quantizeLoop(x, out.Int8s(), scale, zp, qmin, qmax)
		case tensor.UInt8:
			quantizeLoop(x, out.UInt8s(), scale, zp, qmin, qmax)
		case tensor.Int16:
			quantizeLoop(x, out.Int16s(), scale, zp, qmin, qmax)
		}
		return nil
	})
}

func quantizeLoop[T int8 | uint8 | int16](x []float32, y []T, scale float32, zp, qmin, qmax int32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = T(quantizeValue(v, scale, zp, qmin, qmax))
	}
}

// quantizeValue is AffineQuantize for one value.
func quantizeValue(v, scale float32, zp, qmin, qmax int32) int32 {
	r := math.Round(float64(v / scale))
	if math.IsNaN(r) {
		return qmin
	}
	r = math.Max(math.Min(r, float64(qmax-zp)), float64(qmin-zp))
	return Clamp(int32(r)+zp, qmin, qmax)
}

func quantizeFloat(in, out *tensor.Tensor, qmin, qmax int32) (Kernel, error) {
	q := out.Quant
	for _, s := range q.Scale {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return nil, fmt.Errorf("QUANTIZE output %q has scale %g; want a finite positive scale", out.Name, s)
		}
	}
	n := len(q.Scale)
	// Per-channel: element i belongs to channel (i / inner) % n.
	inner := 1
	if n > 1 {
		if q.Axis < 0 || q.Axis >= out.Rank() || out.Shape[q.Axis] != n {
			return nil, fmt.Errorf("QUANTIZE output %q: %d scales on axis %d of shape %v", out.Name, n, q.Axis, out.Shape)
		}
		for _, d := range out.Shape[q.Axis+1:] {
			inner *= d
		}
	}
	if n == 1 {
		return quantizeFloatPerTensor(in, out, q.Scale[0], out.ZeroPoint(), qmin, qmax), nil
	}
	scales := append([]float32(nil), q.Scale...)
	zps := make([]int32, n)
	copy(zps, q.ZeroPoint)
	qv := func(i int, v float32) int32 {
		c := 0
		if n > 1 {
			c = (i / inner) % n
		}
		return quantizeValue(v, scales[c], zps[c], qmin, qmax)
	}
	return Func(func() error {
		x := in.Float32s()
		switch out.Type {
		case tensor.Int8:
			y := out.Int8s()
			for i, v := range x {
				y[i] = int8(qv(i, v))
			}
		case tensor.UInt8:
			y := out.UInt8s()
			for i, v := range x {
				y[i] = uint8(qv(i, v))
			}
		case tensor.Int16:
			y := out.Int16s()
			for i, v := range x {
				y[i] = int16(qv(i, v))
			}
		}
		return nil
	}), nil
}

// Dequantize converts int8/uint8/int16/int32 to float32 (scale * (q -
// zero point), per-tensor in double precision as TFLite's Dequantize,
// per-channel in float32 as PerChannelDequantize), and float16 to float32.
// A constant float16 input is converted once, here.
func Dequantize(cfg *Config, in, out *tensor.Tensor) (Kernel, error) {
	if err := CheckType("DEQUANTIZE output", out, tensor.Float32); err != nil {
		return nil, err
	}
	actSameShape(in, out)
	switch in.Type {
	case tensor.Float16:
		if in.Const {
			h := in.UInt16s()
			vals := make([]float32, len(h))
			for i, b := range h {
				vals[i] = Float16ToFloat32(b)
			}
			return Func(func() error {
				copy(out.Float32s(), vals)
				return nil
			}), nil
		}
		return Func(func() error {
			y := out.Float32s()
			for i, b := range in.UInt16s() {
				y[i] = Float16ToFloat32(b)
			}
			return nil
		}), nil
	case tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32:
	default:
		return nil, unsupportedf("DEQUANTIZE from %s", in.Type)
	}
	q := in.Quant
	if q == nil || len(q.Scale) == 0 {
		return nil, fmt.Errorf("DEQUANTIZE input %q has no quantization parameters", in.Name)
	}
	n := len(q.Scale)
	inner := 1
	if n > 1 {
		if q.Axis < 0 || q.Axis >= in.Rank() || in.Shape[q.Axis] != n {
			return nil, fmt.Errorf("DEQUANTIZE input %q: %d scales on axis %d of shape %v", in.Name, n, q.Axis, in.Shape)
		}
		for _, d := range in.Shape[q.Axis+1:] {
			inner *= d
		}
	}
	scales := append([]float32(nil), q.Scale...)
	zps := make([]int32, n)
	copy(zps, q.ZeroPoint)
	deq := func(i int, v int32) float32 {
		if n == 1 {
			return float32(float64(scales[0]) * float64(v-zps[0]))
		}
		c := (i / inner) % n
		return scales[c] * float32(v-zps[c])
	}
	var fill func(y []float32)
	switch in.Type {
	case tensor.Int8:
		fill = func(y []float32) { dequantizeFill(actView[int8](in), y, deq) }
	case tensor.UInt8:
		fill = func(y []float32) { dequantizeFill(actView[uint8](in), y, deq) }
	case tensor.Int16:
		fill = func(y []float32) { dequantizeFill(actView[int16](in), y, deq) }
	case tensor.Int32:
		fill = func(y []float32) {
			for i, v := range in.Int32s() {
				y[i] = deq(i, v)
			}
		}
	}
	if n == 1 && in.Type.Size() == 1 && !in.Const {
		// 256 possible inputs: a table of their values.
		tbl := new([256]float32)
		lo, hi, _ := TypeRange(in.Type)
		for v := lo; v <= hi; v++ {
			tbl[uint8(v)] = deq(0, v)
		}
		return Describe("table", Func(func() error {
			x := in.Data
			y := out.Float32s()[:len(x)]
			for i, b := range x {
				y[i] = tbl[b]
			}
			return nil
		})), nil
	}
	if in.Const {
		// Constant weights: convert once, copy at run time.
		vals := make([]float32, in.NumElements())
		fill(vals)
		return Func(func() error {
			copy(out.Float32s(), vals)
			return nil
		}), nil
	}
	return Func(func() error {
		fill(out.Float32s())
		return nil
	}), nil
}

func dequantizeFill[T actInt](x []T, y []float32, deq func(int, int32) float32) {
	for i, v := range x {
		y[i] = deq(i, int32(v))
	}
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to float32
// (exactly: every half value is a float32).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: mant * 2^-24.
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// Cast converts between float32, int32, int64, int8, uint8, int16 and
// bool with C++ static_cast semantics: integer narrowing wraps, anything
// to bool is x != 0, bool is 0 or 1; float to integer truncates toward zero
// and saturates (NaN gives 0), as the TFLite oracle does; to int8 it
// saturates to int32 and wraps, as the oracle does (C++ leaves out-of-range
// conversions undefined).
func Cast(cfg *Config, in, out *tensor.Tensor) (Kernel, error) {
	types := []tensor.DType{tensor.Float32, tensor.Int32, tensor.Int64, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Bool}
	if err := CheckType("CAST input", in, types...); err != nil {
		return nil, err
	}
	if err := CheckType("CAST output", out, types...); err != nil {
		return nil, err
	}
	actSameShape(in, out)
	return &castKernel{in: in, out: out}, nil
}

// castChunk is the number of elements converted per step through the
// kernel's scratch buffers.
const castChunk = 256

type castKernel struct {
	in, out *tensor.Tensor
	n       [castChunk]int64
	f       [castChunk]float32
}

func (k *castKernel) Eval() error {
	total := k.in.NumElements()
	isFloat := k.in.Type == tensor.Float32
	for off := 0; off < total; off += castChunk {
		m := min(castChunk, total-off)
		k.load(off, m)
		k.store(off, m, isFloat)
	}
	return nil
}

func (k *castKernel) load(off, m int) {
	n := k.n[:m]
	switch k.in.Type {
	case tensor.Float32:
		copy(k.f[:m], k.in.Float32s()[off:off+m])
	case tensor.Int32:
		for j, v := range k.in.Int32s()[off : off+m] {
			n[j] = int64(v)
		}
	case tensor.Int64:
		copy(n, k.in.Int64s()[off:off+m])
	case tensor.Int8:
		for j, v := range k.in.Int8s()[off : off+m] {
			n[j] = int64(v)
		}
	case tensor.UInt8:
		for j, v := range k.in.UInt8s()[off : off+m] {
			n[j] = int64(v)
		}
	case tensor.Int16:
		for j, v := range k.in.Int16s()[off : off+m] {
			n[j] = int64(v)
		}
	case tensor.Bool:
		for j, v := range k.in.Data[off : off+m] {
			n[j] = 0
			if v != 0 {
				n[j] = 1
			}
		}
	}
}

func (k *castKernel) store(off, m int, isFloat bool) {
	n, f := k.n[:m], k.f[:m]
	if isFloat && k.out.Type != tensor.Float32 && k.out.Type != tensor.Bool {
		// Float to integer: truncate and saturate to the target's range.
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		switch k.out.Type {
		case tensor.Int64:
		case tensor.Int8:
			// The oracle converts to int32 first (saturating) and keeps
			// the low byte: an out-of-range value wraps below.
			lo, hi = math.MinInt32, math.MaxInt32
		default:
			l, h, _ := TypeRange(k.out.Type)
			lo, hi = int64(l), int64(h)
		}
		for j, v := range f {
			n[j] = castFloatInt(v, lo, hi)
		}
	}
	switch k.out.Type {
	case tensor.Float32:
		y := k.out.Float32s()[off : off+m]
		if isFloat {
			copy(y, f)
		} else {
			for j, v := range n {
				y[j] = float32(v)
			}
		}
	case tensor.Bool:
		y := k.out.Data[off : off+m]
		for j := range y {
			nz := n[j] != 0
			if isFloat {
				nz = f[j] != 0
			}
			y[j] = 0
			if nz {
				y[j] = 1
			}
		}
	case tensor.Int32:
		y := k.out.Int32s()[off : off+m]
		for j, v := range n {
			y[j] = int32(v)
		}
	case tensor.Int64:
		copy(k.out.Int64s()[off:off+m], n)
	case tensor.Int8:
		y := k.out.Int8s()[off : off+m]
		for j, v := range n {
			y[j] = int8(v)
		}
	case tensor.UInt8:
		y := k.out.UInt8s()[off : off+m]
		for j, v := range n {
			y[j] = uint8(v)
		}
	case tensor.Int16:
		y := k.out.Int16s()[off : off+m]
		for j, v := range n {
			y[j] = int16(v)
		}
	}
}

// castFloatInt truncates f toward zero and saturates it to [lo, hi]; NaN
// gives 0. (C++ leaves out-of-range conversions undefined; this is what
// the TFLite oracle, a WebAssembly build, computes.)
func castFloatInt(f float32, lo, hi int64) int64 {
	t := math.Trunc(float64(f))
	switch {
	case math.IsNaN(t):
		return 0
	case t <= float64(lo):
		return lo
	case t >= float64(hi):
		return hi
	}
	return int64(t)
}
