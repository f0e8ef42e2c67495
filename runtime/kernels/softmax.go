package kernels

import (
	"errors"
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// SoftmaxParams are SOFTMAX's options.
type SoftmaxParams struct {
	Beta float32
}

// softmaxDiffIntegerBits is TFLite's kScaledDiffIntegerBits: input
// differences are rescaled to Q5.26 before exp.
const softmaxDiffIntegerBits = 5

// softmaxAccumIntegerBits is kAccumulationIntegerBits: the sum of exps is
// Q12.19.
const softmaxAccumIntegerBits = 12

var errSoftmaxExponent = errors.New("softmax: reciprocal exponent out of range")

// actRowsOf returns the number of rows and the row length of an op that works
// on the innermost dimension.
func actRowsOf(op string, in *tensor.Tensor) (outer, depth int, err error) {
	if in.Rank() < 1 {
		return 0, 0, fmt.Errorf("%s input %q has shape %v; want rank >= 1", op, in.Name, in.Shape)
	}
	depth = in.Dim(-1)
	if depth == 0 {
		return 0, 0, nil
	}
	return in.NumElements() / depth, depth, nil
}

// actSameShape sets out's shape to in's.
func actSameShape(in, out *tensor.Tensor) {
	out.Shape = append(out.Shape[:0], in.Shape...)
}

// Softmax computes exp(beta*x) / sum(exp(beta*x)) over the innermost
// dimension. Quantized inputs follow TFLite's reference kernel (TFLite
// Micro's for int8): fixed-point exp on Q5.26 differences, int8/uint8
// output with scale 1/256, or int16 output with scale 1/65536 (zero point
// -32768) from int8/uint8 input.
func Softmax(cfg *Config, p SoftmaxParams, in, out *tensor.Tensor) (Kernel, error) {
	outer, depth, err := actRowsOf("SOFTMAX", in)
	if err != nil {
		return nil, err
	}
	actSameShape(in, out)
	switch in.Type {
	case tensor.Float32:
		if err := CheckType("output", out, tensor.Float32); err != nil {
			return nil, err
		}
		beta := p.Beta
		if cfg.Arithmetic == LiteRT && beta == 1 {
			exp := expMinusMaxF32sKernel()
			return Func(func() error {
				x, y := in.Float32s(), out.Float32s()
				for r := 0; r < outer; r++ {
					softmaxRowXNN(x[r*depth:(r+1)*depth], y[r*depth:(r+1)*depth], exp)
				}
				return nil
			}), nil
		}
		return Func(func() error {
			x, y := in.Float32s(), out.Float32s()
			for r := 0; r < outer; r++ {
				softmaxRowFloat(x[r*depth:(r+1)*depth], y[r*depth:(r+1)*depth], beta)
			}
			return nil
		}), nil
	case tensor.Int8, tensor.UInt8:
		return softmaxQuant(cfg, p, in, out, outer, depth)
	case tensor.Int16:
		return softmaxInt16(p, in, out, outer, depth)
	}
	return nil, unsupportedf("SOFTMAX on %s input", in.Type)
}

func softmaxRowFloat(x, y []float32, beta float32) {
	mx := float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64((v - mx) * beta)))
		y[i] = e
		sum += e
	}
	for i := range y {
		y[i] /= sum
	}
}

func softmaxQuant(cfg *Config, p SoftmaxParams, in, out *tensor.Tensor, outer, depth int) (Kernel, error) {
	if err := CheckQuantized("input", in); err != nil {
		return nil, err
	}
	if err := CheckQuantized("output", out); err != nil {
		return nil, err
	}
	// TFLite fixes the output quantization: [0, 1) on the whole range.
	switch out.Type {
	case in.Type:
		wantZP := int32(0)
		if out.Type == tensor.Int8 {
			wantZP = -128
		}
		if out.Scale() != 1.0/256 || out.ZeroPoint() != wantZP {
			return nil, unsupportedf("SOFTMAX %s output %q has scale %g, zero point %d; want 1/256, %d", out.Type, out.Name, out.Scale(), out.ZeroPoint(), wantZP)
		}
	case tensor.Int16:
		if math.Abs(float64(out.Scale())-1.0/65536) > 0.001/65536 || out.ZeroPoint() != -32768 {
			return nil, unsupportedf("SOFTMAX int16 output %q has scale %g, zero point %d; want 1/65536, -32768", out.Name, out.Scale(), out.ZeroPoint())
		}
	default:
		return nil, unsupportedf("SOFTMAX from %s to %s", in.Type, out.Type)
	}
	mult, shift, err := PreprocessSoftmaxScaling(float64(p.Beta), float64(in.Scale()), softmaxDiffIntegerBits)
	if err != nil {
		return nil, err
	}
	diffMin := -CalculateInputRadius(softmaxDiffIntegerBits, shift, 31)
	s := softmaxFixed{mult: mult, shift: shift, diffMin: diffMin, outBits: 8 * out.Type.Size()}
	s.tabulate()
	var outMin int32
	switch out.Type {
	case tensor.Int8:
		outMin = math.MinInt8
	case tensor.Int16:
		outMin = math.MinInt16
	}
	outMax := outMin + 1<<s.outBits - 1
	read := func(x []int32, in *tensor.Tensor, r int) {
		if in.Type == tensor.Int8 {
			for i, v := range in.Int8s()[r*depth : (r+1)*depth] {
				x[i] = int32(v)
			}
			return
		}
		for i, v := range in.UInt8s()[r*depth : (r+1)*depth] {
			x[i] = int32(v)
		}
	}
	row := make([]int32, depth)
	res := make([]int32, depth)
	return Func(func() error {
		for r := 0; r < outer; r++ {
			read(row, in, r)
			if err := s.row(row, res); err != nil {
				return err
			}
			o := r * depth
			switch out.Type {
			case tensor.Int8:
				y := out.Int8s()[o : o+depth]
				for i, v := range res {
					y[i] = int8(Clamp(v+outMin, outMin, outMax))
				}
			case tensor.UInt8:
				y := out.UInt8s()[o : o+depth]
				for i, v := range res {
					y[i] = uint8(Clamp(v+outMin, outMin, outMax))
				}
			case tensor.Int16:
				y := out.Int16s()[o : o+depth]
				for i, v := range res {
					y[i] = int16(Clamp(v+outMin, outMin, outMax))
				}
			}
		}
		return nil
	}), nil
}

// softmaxFixed is TFLite's reference quantized softmax (reference_ops::
// Softmax for int8/uint8 inputs).
type softmaxFixed struct {
	mult    int32
	shift   int
	diffMin int32
	outBits int
	// exps holds the exponential of every 8-bit difference.
	exps *[256]softmaxExp
}

// softmaxExp is the fixed-point exponential of one difference d <= 0
// from the row's maximum, and its rescaling to the accumulator's format.
type softmaxExp struct {
	e, acc int32
}

// tabulate computes the exponentials of the 256 differences an 8-bit row
// can have (max - v in 0..255), so that row looks them up: the same
// arithmetic, once at Prepare instead of per element.
func (s *softmaxFixed) tabulate() {
	s.exps = new([256]softmaxExp)
	for i := range s.exps {
		d := -int32(i)
		if d >= s.diffMin {
			e := ExpOnNegativeValues(MultiplyByQuantizedMultiplierGreaterThanOne(d, s.mult, s.shift), softmaxDiffIntegerBits)
			s.exps[i] = softmaxExp{e: e, acc: Rescale(e, 0, softmaxAccumIntegerBits)}
		}
	}
}

// row writes to res the unshifted outputs (before adding the output type's
// minimum) of one row of input values; entries below diffMin get
// math.MinInt32 / 2 so that the caller's clamp yields the minimum. The
// values are 8-bit (max - v in 0..255, see tabulate).
func (s *softmaxFixed) row(x, res []int32) error {
	mx := int32(math.MinInt32)
	for _, v := range x {
		mx = max(mx, v)
	}
	var sum int32
	for i, v := range x {
		// Entries below diffMin are zero in the table: they add nothing,
		// and their res is replaced below.
		e := s.exps[uint8(mx-v)]
		res[i] = e.e
		sum += e.acc
	}
	scale, bitsOverUnit := GetReciprocal(sum, softmaxAccumIntegerBits)
	exponent := bitsOverUnit + 31 - s.outBits
	if exponent < 0 || exponent > 31 {
		return errSoftmaxExponent
	}
	for i, v := range x {
		if v-mx >= s.diffMin {
			res[i] = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(scale, res[i]), exponent)
		} else {
			res[i] = math.MinInt32 / 2
		}
	}
	return nil
}

// LogSoftmax computes x - max - log(sum(exp(x - max))) over the innermost
// dimension. Quantized outputs have scale 16/256 and zero point 127
// (int8) or 255 (uint8), as TFLite requires; the arithmetic is TFLite's
// reference fixed-point LogSoftmax.
func LogSoftmax(cfg *Config, in, out *tensor.Tensor) (Kernel, error) {
	outer, depth, err := actRowsOf("LOG_SOFTMAX", in)
	if err != nil {
		return nil, err
	}
	actSameShape(in, out)
	if err := CheckType("output", out, in.Type); err != nil {
		return nil, err
	}
	switch in.Type {
	case tensor.Float32:
		return Func(func() error {
			x, y := in.Float32s(), out.Float32s()
			for r := 0; r < outer; r++ {
				xr, yr := x[r*depth:(r+1)*depth], y[r*depth:(r+1)*depth]
				mx := float32(math.Inf(-1))
				for _, v := range xr {
					mx = max(mx, v)
				}
				var sum float32
				for _, v := range xr {
					sum += float32(math.Exp(float64(v - mx)))
				}
				logSum := float32(math.Log(float64(sum)))
				for i, v := range xr {
					yr[i] = v - mx - logSum
				}
			}
			return nil
		}), nil
	case tensor.Int8, tensor.UInt8:
		return logSoftmaxQuant(cfg, in, out, outer, depth)
	}
	return nil, unsupportedf("LOG_SOFTMAX on %s input", in.Type)
}

func logSoftmaxQuant(cfg *Config, in, out *tensor.Tensor, outer, depth int) (Kernel, error) {
	if err := CheckQuantized("input", in); err != nil {
		return nil, err
	}
	if err := CheckQuantized("output", out); err != nil {
		return nil, err
	}
	qmin, qmax, _ := TypeRange(in.Type)
	if out.Scale() != 16.0/256 || out.ZeroPoint() != qmax {
		return nil, unsupportedf("LOG_SOFTMAX %s output %q has scale %g, zero point %d; want 1/16, %d", out.Type, out.Name, out.Scale(), out.ZeroPoint(), qmax)
	}
	const outBits = 4
	mult, shift, err := PreprocessSoftmaxScaling(1, float64(in.Scale()), softmaxDiffIntegerBits)
	if err != nil {
		return nil, err
	}
	// The reverse scaling turns a Q5.26 value back into an input difference.
	revMult, revShift := QuantizeMultiplier(float64(int64(1)<<(31-shift)) / float64(mult))
	if revShift > 0 {
		return nil, unsupportedf("LOG_SOFTMAX input scale %g out of range", in.Scale())
	}
	diffMin := -CalculateInputRadius(softmaxDiffIntegerBits, shift, 31)
	row := make([]int32, depth)
	return Func(func() error {
		y8, yu8 := out.Int8s(), out.UInt8s()
		for r := 0; r < outer; r++ {
			o := r * depth
			if in.Type == tensor.Int8 {
				for i, v := range in.Int8s()[o : o+depth] {
					row[i] = int32(v)
				}
			} else {
				for i, v := range in.UInt8s()[o : o+depth] {
					row[i] = int32(v)
				}
			}
			mx := int32(math.MinInt32)
			for _, v := range row {
				mx = max(mx, v)
			}
			var sum int32
			for _, v := range row {
				if d := v - mx; d >= diffMin {
					e := ExpOnNegativeValues(MultiplyByQuantizedMultiplier(d, mult, shift), softmaxDiffIntegerBits)
					sum += Rescale(e, 0, softmaxAccumIntegerBits)
				}
			}
			logSum := LogXForXGreaterThanOrEqualTo1(sum, softmaxDiffIntegerBits, softmaxAccumIntegerBits)
			adjustedDiffMin := max(diffMin-1, MultiplyByQuantizedMultiplier(logSum+math.MinInt32, revMult, revShift))
			for i, v := range row {
				y := qmin
				if d := v - mx; d > adjustedDiffMin {
					scaled := MultiplyByQuantizedMultiplier(d, mult, shift)
					y = Clamp(RoundingDivideByPOT(scaled-logSum, 31-softmaxDiffIntegerBits-outBits)+qmax, qmin, qmax)
				}
				if in.Type == tensor.Int8 {
					y8[o+i] = int8(y)
				} else {
					yu8[o+i] = uint8(y)
				}
			}
		}
		return nil
	}), nil
}
