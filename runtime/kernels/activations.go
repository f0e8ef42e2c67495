package kernels

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// actInt is the element types of quantized activations.
type actInt interface{ int8 | uint8 | int16 }

// actView views a tensor's data as T without allocating.
func actView[T actInt](t *tensor.Tensor) []T {
	var z T
	n := len(t.Data) / int(unsafe.Sizeof(z))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(t.Data))), n)
}

// actMapQuant returns a kernel applying f (whose results must fit T)
// element by element.
func actMapQuant[T actInt](in, out *tensor.Tensor, f func(int32) int32) Kernel {
	return Func(func() error {
		x, y := actView[T](in), actView[T](out)
		for i, v := range x {
			y[i] = T(f(int32(v)))
		}
		return nil
	})
}

// actUnaryQuant returns the kernel of a quantized unary operator whose
// arithmetic on raw values is f: a table of f (table8.go) for 8-bit
// types, actMapQuant for int16.
func actUnaryQuant(in, out *tensor.Tensor, f func(int32) int32) (Kernel, error) {
	switch in.Type {
	case tensor.Int8, tensor.UInt8:
		return table8Kernel(in, out, newTable8(in.Type, f)), nil
	case tensor.Int16:
		return actMapQuant[int16](in, out, f), nil
	}
	return nil, unsupportedf("%s input", in.Type)
}

// actMapFloat returns a kernel applying f element by element.
func actMapFloat(in, out *tensor.Tensor, f func(float32) float32) Kernel {
	return Func(func() error {
		x, y := in.Float32s(), out.Float32s()
		for i, v := range x {
			y[i] = f(v)
		}
		return nil
	})
}

// actPrepare checks a unary activation's operands and sets the output
// shape. quantized reports whether the operands are int8/uint8/int16 with
// quantization parameters.
func actPrepare(cfg *Config, op string, in, out *tensor.Tensor, types ...tensor.DType) (quantized bool, err error) {
	if err := CheckType(op+" input", in, types...); err != nil {
		return false, err
	}
	if err := CheckType(op+" output", out, in.Type); err != nil {
		return false, err
	}
	actSameShape(in, out)
	if in.Type == tensor.Float32 {
		return false, nil
	}
	if cfg.Arithmetic != Reference && !litertOp(op) {
		return false, unsupportedf("%s: %s arithmetic", op, cfg.Arithmetic)
	}
	if err := CheckQuantized(op+" input", in); err != nil {
		return false, err
	}
	if err := CheckQuantized(op+" output", out); err != nil {
		return false, err
	}
	return true, nil
}

// actLUT8 returns TFLite's 256-entry lookup table (PopulateLookupTable /
// LUTPopulate) of f for 8-bit in and out, indexed by the raw input byte:
// dequantize in float32, apply f, divide by the output scale, round half
// away from zero, add the zero point and clamp.
func actLUT8(in, out *tensor.Tensor, f func(float32) float32) *[256]uint8 {
	lo, hi, _ := TypeRange(in.Type)
	inScale, inZP := in.Scale(), in.ZeroPoint()
	invScale := 1 / out.Scale()
	outZP := out.ZeroPoint()
	var lut [256]uint8
	for v := lo; v <= hi; v++ {
		deq := inScale * float32(v-inZP)
		q := int32(math.Round(float64(f(deq)*invScale))) + outZP
		lut[uint8(v)] = uint8(Clamp(q, lo, hi))
	}
	return &lut
}

// actLUTKernel applies an 8-bit lookup table to the raw bytes.
func actLUTKernel(in, out *tensor.Tensor, lut *[256]uint8) Kernel {
	return table8Kernel(in, out, lut)
}

// sigmoid32 is TFLite's float transform for LOGISTIC tables.
func sigmoid32(x float32) float32 {
	e := float32(math.Exp(float64(-x)))
	return 1 / (1 + e)
}

func tanh32(x float32) float32 { return float32(math.Tanh(float64(x))) }

// Logistic computes 1/(1+exp(-x)): float32 as the official runtime's
// XNNPACK kernel (sigmoid_float.go); int8 with TFLite's fixed output
// quantization (1/256, -128) uses TFLite Micro's fixed-point kernel; uint8
// (and int8 with another output zero point) uses the float-built lookup
// table of TFLite's reference kernel type; int16 (zero points 0, output
// scale 2^-15) TFLite Micro's interpolated table (see actInt16Sigmoid).
func Logistic(cfg *Config, in, out *tensor.Tensor) (Kernel, error) {
	q, err := actPrepare(cfg, "LOGISTIC", in, out, tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16)
	if err != nil {
		return nil, err
	}
	if !q {
		sigmoid := sigmoidF32sKernel()
		return Func(func() error {
			sigmoid(in.Float32s(), out.Float32s())
			return nil
		}), nil
	}
	if in.Type == tensor.Int16 {
		f, err := actInt16Sigmoid(cfg, in, out, false)
		if err != nil {
			return nil, fmt.Errorf("LOGISTIC: %w", err)
		}
		return actUnaryQuant(in, out, f)
	}
	if cfg.Arithmetic == LiteRT {
		return actLUTKernel(in, out, litertLUT8(in, out, sigmoid32)), nil
	}
	if out.Scale() != 1.0/256 {
		return nil, unsupportedf("LOGISTIC output %q has scale %g; want 1/256", out.Name, out.Scale())
	}
	if in.Type == tensor.Int8 && out.ZeroPoint() == -128 {
		f, err := actFixedSigmoid(in, false)
		if err != nil {
			return nil, err
		}
		return actUnaryQuant(in, out, f)
	}
	return actLUTKernel(in, out, actLUT8(in, out, sigmoid32)), nil
}

// Tanh computes tanh(x). int8 with output quantization (1/128, 0) uses
// TFLite Micro's fixed-point kernel; uint8 (and other int8 outputs) the
// float-built lookup table of TFLite's reference kernel type; int16 as
// Logistic.
func Tanh(cfg *Config, in, out *tensor.Tensor) (Kernel, error) {
	q, err := actPrepare(cfg, "TANH", in, out, tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16)
	if err != nil {
		return nil, err
	}
	if !q {
		return actMapFloat(in, out, tanh32), nil
	}
	if in.Type == tensor.Int16 {
		f, err := actInt16Sigmoid(cfg, in, out, true)
		if err != nil {
			return nil, fmt.Errorf("TANH: %w", err)
		}
		return actUnaryQuant(in, out, f)
	}
	if cfg.Arithmetic == LiteRT {
		return actLUTKernel(in, out, litertLUT8(in, out, tanh32)), nil
	}
	if in.Type == tensor.Int8 && out.Scale() == 1.0/128 && out.ZeroPoint() == 0 {
		f, err := actFixedSigmoid(in, true)
		if err != nil {
			return nil, err
		}
		return actUnaryQuant(in, out, f)
	}
	return actLUTKernel(in, out, actLUT8(in, out, tanh32)), nil
}

// actFixedSigmoid is TFLite Micro's int8 LOGISTIC (tanh false) or TANH
// kernel: the input is rescaled to Q4.27 and fed to gemmlowp's logistic or
// tanh; inputs beyond the radius saturate.
func actFixedSigmoid(in *tensor.Tensor, tanh bool) (func(int32) int32, error) {
	const intBits = 4
	mult, shift, err := fpFrexpMultiplier(float64(in.Scale()) * float64(int64(1)<<(31-intBits)))
	if err != nil {
		return nil, err
	}
	if shift < 0 {
		return nil, unsupportedf("input scale %g too small for the fixed-point kernel", in.Scale())
	}
	radius := CalculateInputRadius(intBits, shift, 31)
	zp := in.ZeroPoint()
	return func(v int32) int32 {
		x := v - zp
		if x <= -radius {
			return math.MinInt8
		}
		if x >= radius {
			return math.MaxInt8
		}
		q4 := MultiplyByQuantizedMultiplier(x, mult, shift)
		if tanh {
			return Clamp(RoundingDivideByPOT(FixedTanh(q4, intBits), 24), math.MinInt8, math.MaxInt8)
		}
		return Clamp(RoundingDivideByPOT(FixedLogistic(q4, intBits), 23)-128, math.MinInt8, math.MaxInt8)
	}, nil
}

// ReluX computes RELU (act ActRelu), RELU6 (ActRelu6) or RELU_N1_TO_1
// (ActReluN1To1). Quantized tensors are requantized from the input to the
// output scale and clamped to the activation's range on the output scale
// (TFLite's ReluX).
func ReluX(cfg *Config, act Activation, in, out *tensor.Tensor) (Kernel, error) {
	op := act.String()
	q, err := actPrepare(cfg, op, in, out, tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16)
	if err != nil {
		return nil, err
	}
	if act != ActRelu && act != ActRelu6 && act != ActReluN1To1 {
		return nil, fmt.Errorf("ReluX: activation %s is not a RELU", act)
	}
	if !q {
		lo, hi, err := FloatActivationRange(act)
		if err != nil {
			return nil, err
		}
		clamp := clampF32sKernel()
		return Func(func() error {
			clamp(in.Float32s(), out.Float32s(), lo, hi)
			return nil
		}), nil
	}
	if in.Type == tensor.Int16 && (in.ZeroPoint() != 0 || out.ZeroPoint() != 0) {
		return nil, unsupportedf("%s int16 with nonzero zero points", op)
	}
	lo, hi, err := QuantizedActivationRange(act, out)
	if err != nil {
		return nil, err
	}
	// TFLite Micro (int8, int16) divides the scales in double precision,
	// TFLite (the uint8 reference, and int16 in LiteRT arithmetic, which
	// XNNPACK leaves to TFLite's kernel) in float.
	real := float64(in.Scale()) / float64(out.Scale())
	if in.Type == tensor.UInt8 || (in.Type == tensor.Int16 && cfg.Arithmetic == LiteRT) {
		real = float64(in.Scale() / out.Scale())
	}
	mult, shift := QuantizeMultiplier(real)
	inZP, outZP := in.ZeroPoint(), out.ZeroPoint()
	return actUnaryQuant(in, out, func(v int32) int32 {
		return Clamp(outZP+MultiplyByQuantizedMultiplier(v-inZP, mult, shift), lo, hi)
	})
}

// LeakyRelu computes x >= 0 ? x : alpha*x. Quantized tensors use two
// multipliers (identity and alpha) computed in float as TFLite does.
func LeakyRelu(cfg *Config, alpha float32, in, out *tensor.Tensor) (Kernel, error) {
	q, err := actPrepare(cfg, "LEAKY_RELU", in, out, tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16)
	if err != nil {
		return nil, err
	}
	if !q {
		return actMapFloat(in, out, func(x float32) float32 {
			if x > 0 {
				return x
			}
			return x * alpha
		}), nil
	}
	if cfg.Arithmetic == LiteRT {
		if f := litertLeakyRelu(alpha, in, out); f != nil {
			return actUnaryQuant(in, out, f)
		}
	}
	idMult, idShift := QuantizeMultiplier(float64(in.Scale() / out.Scale()))
	alMult, alShift := QuantizeMultiplier(float64(in.Scale() * alpha / out.Scale()))
	qmin, qmax, _ := TypeRange(in.Type)
	inZP, outZP := in.ZeroPoint(), out.ZeroPoint()
	return actUnaryQuant(in, out, func(v int32) int32 {
		x := v - inZP
		var y int32
		if x >= 0 {
			y = MultiplyByQuantizedMultiplier(x, idMult, idShift)
		} else {
			y = MultiplyByQuantizedMultiplier(x, alMult, alShift)
		}
		return Clamp(outZP+y, qmin, qmax)
	})
}

// HardSwish computes x * relu6(x+3) / 6. Quantized tensors follow TFLite's
// reference kernel (16-bit fixed point).
func HardSwish(cfg *Config, in, out *tensor.Tensor) (Kernel, error) {
	q, err := actPrepare(cfg, "HARD_SWISH", in, out, tensor.Float32, tensor.Int8, tensor.UInt8)
	if err != nil {
		return nil, err
	}
	if !q {
		f := hardSwishF32sKernel()
		return Func(func() error {
			f(in.Float32s(), out.Float32s())
			return nil
		}), nil
	}
	p, err := newHardSwishParams(in, out)
	if err != nil {
		return nil, err
	}
	qmin, qmax, _ := TypeRange(in.Type)
	return actUnaryQuant(in, out, func(v int32) int32 { return p.eval(v, qmin, qmax) })
}

type hardSwishParams struct {
	inZP, outZP         int32
	outMult, reluMult   int16
	outShift, reluShift int
}

func newHardSwishParams(in, out *tensor.Tensor) (*hardSwishParams, error) {
	p := &hardSwishParams{inZP: in.ZeroPoint(), outZP: out.ZeroPoint()}
	// As TFLite: float32 arithmetic for the real multipliers.
	hiresInScale := (1.0 / 128) * in.Scale()
	const reluishScale = float32(3.0 / 32768)
	m, s := QuantizeMultiplier(float64(hiresInScale / out.Scale()))
	p.outMult, p.outShift = hsDownScale(m), s
	if s > 0 {
		return nil, unsupportedf("HARD_SWISH output scale %g too small for input scale %g", out.Scale(), in.Scale())
	}
	m, s = QuantizeMultiplier(float64(hiresInScale / reluishScale))
	p.reluMult, p.reluShift = hsDownScale(m), s
	return p, nil
}

// hsDownScale is TFLite's DownScaleInt32ToInt16Multiplier.
func hsDownScale(m int32) int16 {
	const round = 1 << 15
	if m >= math.MaxInt32-round {
		return math.MaxInt16
	}
	return int16((m + round) >> 16)
}

// hsSRDHM16 is gemmlowp's SaturatingRoundingDoublingHighMul for int16.
func hsSRDHM16(a, b int16) int16 {
	if a == b && a == math.MinInt16 {
		return math.MaxInt16
	}
	ab := int32(a) * int32(b)
	nudge := int32(1 << 14)
	if ab < 0 {
		nudge = 1 - (1 << 14)
	}
	return int16((ab + nudge) / (1 << 15))
}

// hsSDHM16 is SaturatingDoublingHighMul (truncating) for int16.
func hsSDHM16(a, b int16) int16 {
	if a == b && a == math.MinInt16 {
		return math.MaxInt16
	}
	return int16(int32(a) * int32(b) / (1 << 15))
}

func hsSatLeftShift16(v int16, amount int) int16 {
	r := int64(v) * (1 << amount)
	return int16(min(max(r, math.MinInt16), math.MaxInt16))
}

func (p *hardSwishParams) eval(v, qmin, qmax int32) int32 {
	x := int16(v - p.inZP)
	hires := x * (1 << 7)
	preshiftOut := hsSRDHM16(hires, p.outMult)
	reluish := hires
	if p.reluShift > 0 {
		reluish = hsSatLeftShift16(reluish, p.reluShift-1)
	}
	reluish = hsSRDHM16(reluish, p.reluMult)
	if p.reluShift > 0 {
		reluish = hsSatLeftShift16(reluish, 1)
	}
	if p.reluShift < 0 {
		reluish = int16(RoundingDivideByPOT(int32(reluish), -p.reluShift))
	}
	reluish = int16((int32(reluish) + (1 << 15)) >> 1)
	preshift := hsSDHM16(reluish, preshiftOut)
	y := int16(RoundingDivideByPOT(int32(preshift), -p.outShift))
	y += int16(p.outZP)
	return Clamp(int32(y), qmin, qmax)
}

// Prelu computes x >= 0 ? x : alpha*x with alpha broadcast to x's shape.
// Quantized tensors follow TFLite's reference BroadcastPrelu4DSlow with an
// identity and an alpha multiplier.
func Prelu(cfg *Config, in, alpha, out *tensor.Tensor) (Kernel, error) {
	q, err := actPrepare(cfg, "PRELU", in, out, tensor.Float32, tensor.Int8, tensor.UInt8)
	if err != nil {
		return nil, err
	}
	if err := CheckType("PRELU alpha", alpha, in.Type); err != nil {
		return nil, err
	}
	if _, err := preluAlphaStrides(in.Shape, alpha.Shape); err != nil {
		return nil, fmt.Errorf("PRELU alpha %q: %w", alpha.Name, err)
	}
	if !q {
		// Runs of the input against alpha (bcast_rows.go).
		plan := newBcastPlan(in.Shape, alpha.Shape, in.Shape)
		tileA, tileB := make([]float32, plan.rowTileLen()), make([]float32, plan.rowTileLen())
		inf := float32(math.Inf(1))
		row := f32RowClamped(f32RowOpPrelu, f32RowPrelu, false, -inf, inf)
		desc := "rows " + VariantPortable
		if f32RowHaveSIMD() {
			desc = "rows " + floatVariant()
		}
		return Describe(desc, Func(func() error {
			bcastRows(plan, in.Float32s(), alpha.Float32s(), out.Float32s(), tileA, tileB, row)
			return nil
		})), nil
	}
	if err := CheckQuantized("PRELU alpha", alpha); err != nil {
		return nil, err
	}
	if alpha.Quant.PerChannel() {
		return nil, unsupportedf("PRELU with per-channel alpha %q", alpha.Name)
	}
	m1, s1 := QuantizeMultiplier(float64(in.Scale()) / float64(out.Scale()))
	m2, s2 := QuantizeMultiplier(float64(in.Scale()) * float64(alpha.Scale()) / float64(out.Scale()))
	inOff, alOff, outOff := -in.ZeroPoint(), -alpha.ZeroPoint(), out.ZeroPoint()
	qmin, qmax, _ := TypeRange(in.Type)
	f := func(v, av int32) int32 {
		x := inOff + v
		var y int32
		if x >= 0 {
			y = MultiplyByQuantizedMultiplier(x, m1, s1)
		} else {
			y = MultiplyByQuantizedMultiplier(x*(alOff+av), m2, s2)
		}
		return Clamp(y+outOff, qmin, qmax)
	}
	plan := newBcastPlan(in.Shape, alpha.Shape, in.Shape)
	if in.Type == tensor.Int8 {
		return binary8Kernel[int8](plan, in, alpha, out, f, nil), nil
	}
	return binary8Kernel[uint8](plan, in, alpha, out, f, nil), nil
}

// preluAlphaStrides returns, for each dimension of the input, the stride of
// alpha's matching dimension (0 where alpha broadcasts). alpha must
// broadcast to the input's shape without enlarging it.
func preluAlphaStrides(inShape, aShape []int) ([]int, error) {
	if len(aShape) > len(inShape) {
		return nil, fmt.Errorf("shape %v has more dimensions than the input's %v", aShape, inShape)
	}
	strides := make([]int, len(inShape))
	stride := 1
	for k := 1; k <= len(inShape); k++ {
		d := len(inShape) - k
		ad := 1
		if j := len(aShape) - k; j >= 0 {
			ad = aShape[j]
		}
		switch ad {
		case inShape[d]:
			strides[d] = stride
		case 1:
			strides[d] = 0
		default:
			return nil, fmt.Errorf("shape %v does not broadcast to the input's %v", aShape, inShape)
		}
		stride *= ad
	}
	return strides, nil
}

// actSigmoidTable16 is TFLite's sigmoid_table_uint16 (common.h):
// sigmoid(i/24) in 0.16 fixed point, shared by the int16 LOGISTIC and TANH
// kernels (tanh(x) = 2*sigmoid(2x) - 1).
var actSigmoidTable16 = [256]uint32{
	32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
	40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
	47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
	53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
	57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
	60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
	62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
	63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
	64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
	64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
	65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
	65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
	65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
	65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
	65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
	65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
	65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
	65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
	65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
	65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
	65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
	65534, 65534, 65534, 65535,
}

// actCheckedLog2 is TFLite's CheckedLog2: the rounded base-2 logarithm of
// x (computed in float32) and whether x is within 1e-3 of that power.
func actCheckedLog2(x float32) (int, bool) {
	l := float32(math.Log(float64(x))) * float32(1/math.Log(2))
	r := float32(math.Round(float64(l)))
	return int(r), math.Abs(float64(l-r)) < 1e-3
}

// actInt16Sigmoid prepares TFLite Micro's int16 LOGISTIC (tanh false) or
// TANH kernel: the input is brought to a scale of 1/(3*4096) (a power-of-
// two input scale uses the multiplier 3 directly) and looked up in the
// interpolated sigmoid table. Zero points must be 0 and the output scale
// 2^-15. In LiteRT arithmetic a power-of-two input scale takes TFLite's
// optimized fixed-point kernel instead (a table otherwise, as here).
func actInt16Sigmoid(cfg *Config, in, out *tensor.Tensor, tanh bool) (func(int32) int32, error) {
	if in.ZeroPoint() != 0 || out.ZeroPoint() != 0 {
		return nil, unsupportedf("int16 with nonzero zero points")
	}
	if l, ok := actCheckedLog2(out.Scale()); !ok || l != -15 {
		return nil, unsupportedf("int16 output scale %g; want 2^-15", out.Scale())
	}
	l, pot := actCheckedLog2(in.Scale())
	shift := 12 + l
	if tanh {
		pot = pot && (shift == 0 || shift == 1)
	} else {
		pot = pot && shift == 0
	}
	var mult int32
	if pot && cfg.Arithmetic == LiteRT {
		// TFLite's optimized kernel: gemmlowp's 16-bit logistic or tanh
		// on the input read as Q3.12 (tanh: Q2.13 doubled first).
		if tanh {
			return func(v int32) int32 { return int32(fp16Tanh(fp16MulPOT(int16(v), shift), 3)) }, nil
		}
		return func(v int32) int32 { return int32(fp16Logistic(int16(v), 3)) }, nil
	}
	if pot {
		mult, shift = 3<<shift, 0
	} else {
		m := float64(in.Scale()) * 4096 * 3
		shift = 0
		for m <= 32767.0/2 && shift <= 30 {
			shift++
			m *= 2
		}
		if m > 32767 {
			return nil, unsupportedf("int16 input scale %g too large", in.Scale())
		}
		mult = int32(m)
	}
	return int16SigmoidFunc(mult, shift, tanh), nil
}

// int16SigmoidFunc is TFLite Micro's int16 logistic (tanh false) or tanh
// table kernel on inputs brought to its scale by v*mult >> shift (with
// rounding).
func int16SigmoidFunc(mult int32, shift int, tanh bool) func(int32) int32 {
	round := int32(0)
	if shift > 0 {
		round = 1 << (shift - 1)
	}
	if tanh {
		return func(v int32) int32 {
			x := (v*mult + round) >> shift
			abs := uint32(x)
			if x < 0 {
				abs = uint32(-x)
			}
			var r int32
			if uh := abs >> 8; uh >= 255 {
				r = 0xFFFF << 8
			} else {
				ua, ub := actSigmoidTable16[uh], actSigmoidTable16[uh+1]
				r = int32(ua<<8 + (abs&0xFF)*(ub-ua))
			}
			if x >= 0 {
				r = r - 1<<23 + 1<<7
			} else {
				r = -r + 1<<23 + 1<<7 - 1
			}
			return int32(int16(r >> 8))
		}
	}
	return func(v int32) int32 {
		x := (v*mult + round) >> shift
		abs := uint32(x)
		if x < 0 {
			abs = uint32(-x)
		}
		var r uint32
		if uh := abs >> 9; uh >= 255 {
			r = 0x7FFF << 10
		} else {
			ua, ub := actSigmoidTable16[uh], actSigmoidTable16[uh+1]
			r = ua<<9 + (abs&0x1ff)*(ub-ua)
		}
		if x >= 0 {
			r += 1 << 9
		} else {
			r = 1<<25 - r + 1<<9 - 1
		}
		return int32(int16(r >> 10))
	}
}
