package kernels

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/edged-dev/edged/runtime/tensor"
)

// softmaxInt16 is TFLite's int16 SOFTMAX (reference SoftmaxInt16): input
// and output zero points 0, output scale 1/32768. Differences to the row
// maximum, scaled so that [-65535, 0] spans [-10, 0], go through an
// interpolated exp table; the sum's reciprocal comes from a table of
// 1/(1+x) after normalising the sum to [1, 2).
func softmaxInt16(p SoftmaxParams, in, out *tensor.Tensor, outer, depth int) (Kernel, error) {
	if err := CheckQuantized("input", in); err != nil {
		return nil, err
	}
	if err := CheckQuantized("output", out); err != nil {
		return nil, err
	}
	if out.Type != tensor.Int16 {
		return nil, unsupportedf("SOFTMAX from int16 to %s", out.Type)
	}
	if in.ZeroPoint() != 0 || out.ZeroPoint() != 0 {
		return nil, fmt.Errorf("SOFTMAX: int16 zero points are %d and %d; want 0", in.ZeroPoint(), out.ZeroPoint())
	}
	if math.Abs(float64(out.Scale())-1.0/32768) > 0.001/32768 {
		return nil, unsupportedf("SOFTMAX int16 output %q has scale %g; want 1/32768", out.Name, out.Scale())
	}
	const rng = 65535
	expLUT := lutPopulate16d(10.0/rng, math.MaxInt16, 2.0/rng, 0, math.Exp)
	recipLUT := lutPopulate16d(1.0/rng, math.MinInt16, 2.0/rng, 0, func(x float64) float64 { return 1 / (1 + x) })
	mult, shift := QuantizeMultiplier(float64(in.Scale()) * float64(p.Beta) / (10.0 / 65535.0))
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		x, y := in.Int16s(), out.Int16s()
		for r := 0; r < outer; r++ {
			xr, yr := x[r*depth:(r+1)*depth], y[r*depth:(r+1)*depth]
			mx := int16(math.MinInt16)
			for _, v := range xr {
				mx = max(mx, v)
			}
			var sum int32
			for c, v := range xr {
				d := MultiplyByQuantizedMultiplier(int32(v)-int32(mx), mult, shift) + 32767
				e := lutLookup16(int16(Clamp(d, math.MinInt16, math.MaxInt16)), expLUT)
				yr[c] = e
				sum += int32(e)
			}
			// The row maximum contributes exp(0) ≈ 32767, so the sum has
			// 1 to 16 leading zeros unless a row of over 65536 elements
			// overflows it (garbage in TFLite too); clamp the shifts so
			// that such a row cannot panic.
			hp1 := min(max(bits.LeadingZeros32(uint32(sum)), 1), 30)
			shifted := int32((int64(sum)<<(hp1-1) + 1<<13) >> 14)
			sym := Clamp(shifted-(1<<15+1<<16), math.MinInt16, math.MaxInt16)
			recip := int64(lutLookup16(int16(sym), recipLUT))
			rs := 31 - hp1
			round := int64(1) << (rs - 1)
			for c := range yr {
				v := (int64(yr[c])*recip + round) >> rs
				yr[c] = int16(min(max(v, 0), 32767))
			}
		}
		return nil
	}), nil
}

// lutPopulate16d is TFLite's int16 table built in float64
// (LUTPopulateInt16<double>, kept for SOFTMAX); see lutPopulate16.
func lutPopulate16d(inScale float64, inZP int32, outScale float64, outZP int32, f func(float64) float64) *[513]int16 {
	inMin := inScale * float64(math.MinInt16-inZP)
	inMax := inScale * float64(math.MaxInt16-inZP)
	outMin := outScale * float64(math.MinInt16-outZP)
	outMax := outScale * float64(math.MaxInt16-outZP)
	const steps = 512
	step := (inMax - inMin) / steps
	half := step / 2
	scaleInv := 65536 / (outMax - outMin)
	clamp := func(x float64) int16 { return int16(min(max(x, math.MinInt16), math.MaxInt16)) }
	var lut [513]int16
	for i := 0; i < steps; i++ {
		x := inMin + float64(float64(i)*step)
		val := f(x)
		mid := f(x + half)
		next := f(inMin + float64(float64(i+1)*step))
		sample := math.Round(float64(val * scaleInv))
		interp := math.Round((float64(next*scaleInv) + math.Round(float64(val*scaleInv))) / 2)
		midVal := math.Round(float64(mid * scaleInv))
		bias := math.Round((interp - midVal) / 2)
		lut[i] = clamp(sample - bias)
	}
	lut[steps] = clamp(math.Round(float64(f(inMax) * scaleInv)))
	return &lut
}
