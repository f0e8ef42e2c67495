package kernels

import (
	"fmt"
	"math"
	"math/bits"
)

// This file holds gemmlowp's fixed-point transcendental functions
// (fixedpoint/fixedpoint.h) and the helpers of TFLite's common.h and
// quantization_util.cc built on them, reproduced bit for bit. A fixed-point
// value is a raw int32 with a number of integer bits n (Qn.(31-n)); the
// functions take n as a parameter where gemmlowp has a template argument.
// Additions and subtractions of raw values wrap, as they do in practice in
// gemmlowp's scalar code.

// FixedOne is the raw value of 1.0 in a format with 0 integer bits (the
// largest representable value, as in gemmlowp).
const FixedOne = math.MaxInt32

// fpOneBits returns the raw value of 1.0 in a format with n > 0 integer
// bits.
func fpOneBits(n int) int32 { return 1 << (31 - n) }

// RoundingHalfSum is gemmlowp's RoundingHalfSum: (a+b)/2 rounded to
// nearest, ties away from zero.
func RoundingHalfSum(a, b int32) int32 {
	sum := int64(a) + int64(b)
	sign := int64(1)
	if sum < 0 {
		sign = -1
	}
	return int32((sum + sign) / 2)
}

// SaturatingRoundingMultiplyByPOT multiplies x by 2^exp: a saturating left
// shift for exp > 0, a rounding right shift (RoundingDivideByPOT) for
// exp < 0. It is gemmlowp's SaturatingRoundingMultiplyByPOT<exp> and
// TFLite's SaturatingRoundingMultiplyByPOTParam.
func SaturatingRoundingMultiplyByPOT(x int32, exp int) int32 {
	switch {
	case exp == 0:
		return x
	case exp < 0:
		return RoundingDivideByPOT(x, -exp)
	}
	threshold := int32(1)<<(31-exp) - 1
	if x > threshold {
		return math.MaxInt32
	}
	if x < -threshold {
		return math.MinInt32
	}
	return x << exp
}

// Rescale converts x from a format with srcBits integer bits to one with
// dstBits (gemmlowp's Rescale<dstBits>).
func Rescale(x int32, srcBits, dstBits int) int32 {
	return SaturatingRoundingMultiplyByPOT(x, srcBits-dstBits)
}

// fpSaturatingAdd32 and fpSaturatingSub32 are TFLite's SaturatingAddNonGemmlowp
// and SaturatingSub for int32.
func fpSaturatingAdd32(a, b int32) int32 { return fpClamp64(int64(a) + int64(b)) }
func fpSaturatingSub32(a, b int32) int32 { return fpClamp64(int64(a) - int64(b)) }

func fpClamp64(v int64) int32 {
	if v > math.MaxInt32 {
		return math.MaxInt32
	}
	if v < math.MinInt32 {
		return math.MinInt32
	}
	return int32(v)
}

// ExpOnIntervalBetweenNegativeOneQuarterAnd0Excl returns exp(a) for a in
// [-1/4, 0), a and the result with 0 integer bits.
func ExpOnIntervalBetweenNegativeOneQuarterAnd0Excl(a int32) int32 {
	const constantTerm = 1895147668 // exp(-1/8)
	const oneThird = 715827883
	// Taylor expansion around -1/8: x = a + 1/8.
	x := a + 1<<28
	x2 := SaturatingRoundingDoublingHighMul(x, x)
	x3 := SaturatingRoundingDoublingHighMul(x2, x)
	x4 := SaturatingRoundingDoublingHighMul(x2, x2)
	x4Over4 := SaturatingRoundingMultiplyByPOT(x4, -2)
	poly := SaturatingRoundingMultiplyByPOT(SaturatingRoundingDoublingHighMul(x4Over4+x3, oneThird)+x2, -1)
	return constantTerm + SaturatingRoundingDoublingHighMul(constantTerm, x+poly)
}

// expBarrel holds exp(-2^k) for k = -2..4 with 0 integer bits.
var expBarrel = [...]struct {
	exp  int
	mult int32
}{
	{-2, 1672461947}, {-1, 1302514674}, {0, 790015084}, {1, 290630308},
	{2, 39332535}, {3, 720401}, {4, 242},
}

// ExpOnNegativeValues returns exp(a) for a <= 0 given with intBits integer
// bits; the result has 0 integer bits.
func ExpOnNegativeValues(a int32, intBits int) int32 {
	fracBits := 31 - intBits
	oneQuarter := int32(1) << (fracBits - 2)
	mask := oneQuarter - 1
	aModQuarterMinusQuarter := (a & mask) - oneQuarter
	result := ExpOnIntervalBetweenNegativeOneQuarterAnd0Excl(Rescale(aModQuarterMinusQuarter, intBits, 0))
	remainder := aModQuarterMinusQuarter - a
	for _, b := range expBarrel {
		if intBits > b.exp && remainder&(int32(1)<<(fracBits+b.exp)) != 0 {
			result = SaturatingRoundingDoublingHighMul(result, b.mult)
		}
	}
	if intBits > 5 {
		clamp := -(int32(1) << (36 - intBits)) // -32.0
		if a < clamp {
			result = 0
		}
	}
	if a == 0 {
		result = FixedOne
	}
	return result
}

// OneOverOnePlusXForXIn01 returns 1/(1+a) for a in [0, 1), with 0 integer
// bits, by Newton-Raphson division.
func OneOverOnePlusXForXIn01(a int32) int32 {
	return Rescale(fpNewtonReciprocal(a), 1, 0)
}

// OneMinusXOverOnePlusXForXIn01 returns (1-a)/(1+a) for a in [0, 1), with
// 0 integer bits.
func OneMinusXOverOnePlusXForXIn01(a int32) int32 {
	return Rescale(fpNewtonReciprocal(a)-fpOneBits(2), 2, 0)
}

// fpNewtonReciprocal returns 1/((1+a)/2) with 2 integer bits, the iteration
// shared by the two functions above.
func fpNewtonReciprocal(a int32) int32 {
	const c48over17 = 1515870810     // 48/17, 2 integer bits
	const cNeg32over17 = -1010580540 // -32/17, 2 integer bits
	half := RoundingHalfSum(a, FixedOne)
	x := c48over17 + SaturatingRoundingDoublingHighMul(half, cNeg32over17)
	for i := 0; i < 3; i++ {
		hx := SaturatingRoundingDoublingHighMul(half, x)
		oneMinus := fpOneBits(2) - hx
		x += Rescale(SaturatingRoundingDoublingHighMul(x, oneMinus), 4, 2)
	}
	return x
}

// FixedTanh is gemmlowp's tanh: a has intBits integer bits, the result 0.
func FixedTanh(a int32, intBits int) int32 {
	if a == 0 {
		return 0
	}
	n := a
	if a > 0 {
		n = -a
	}
	// -tanh(n) for n < 0 is (1 - exp(2n)) / (1 + exp(2n)); 2n is n read
	// with one more integer bit.
	t := OneMinusXOverOnePlusXForXIn01(ExpOnNegativeValues(n, intBits+1))
	if a < 0 {
		return -t
	}
	return t
}

// FixedLogistic is gemmlowp's logistic: a has intBits integer bits, the
// result 0.
func FixedLogistic(a int32, intBits int) int32 {
	if a == 0 {
		return 1 << 30
	}
	abs := a
	if a < 0 {
		abs = -a
	}
	pos := OneOverOnePlusXForXIn01(ExpOnNegativeValues(-abs, intBits))
	if a > 0 {
		return pos
	}
	return FixedOne - pos
}

// LogXForXGreaterThanOrEqualTo1 is TFLite's
// log_x_for_x_greater_than_or_equal_to_1_impl: x has inBits integer bits,
// the result outBits.
func LogXForXGreaterThanOrEqualTo1(x int32, outBits, inBits int) int32 {
	const (
		log2         = 1488522236 // log(2)
		sqrtSqrtHalf = 1805811301 // sqrt(sqrt(0.5))
		sqrtHalf     = 1518500250 // sqrt(0.5)
		oneQuarter   = 536870912
		alphaN       = 117049297
		alphaD       = 127690142
		alphaI       = 1057819769
		alphaF       = 638450708
	)
	accBits := outBits + 1
	shiftedQuarter := Rescale(oneQuarter, 0, accBits)

	za := x
	zaHeadroomPlus1 := bits.LeadingZeros32(uint32(za))
	raTmp := SaturatingRoundingMultiplyByPOT(za, zaHeadroomPlus1-1)
	ra := SaturatingRoundingMultiplyByPOT(SaturatingRoundingDoublingHighMul(raTmp, sqrtHalf), 1)
	zaPow2Adj := fpSaturatingAdd32(SaturatingRoundingMultiplyByPOT(int32(inBits-zaHeadroomPlus1), 31-accBits), shiftedQuarter)

	zb := SaturatingRoundingDoublingHighMul(za, sqrtHalf)
	zbHeadroom := bits.LeadingZeros32(uint32(zb)) - 1
	rb := SaturatingRoundingMultiplyByPOT(za, zbHeadroom)
	zbPow2Adj := fpSaturatingSub32(SaturatingRoundingMultiplyByPOT(int32(inBits-zbHeadroom), 31-accBits), shiftedQuarter)

	r := min(ra, rb)
	zPow2Adj := max(zaPow2Adj, zbPow2Adj)

	p := RoundingHalfSum(r, sqrtSqrtHalf)
	q := r - sqrtSqrtHalf
	q += q
	commonSq := SaturatingRoundingDoublingHighMul(q, q)
	num := SaturatingRoundingDoublingHighMul(q, r) +
		SaturatingRoundingDoublingHighMul(SaturatingRoundingDoublingHighMul(q, commonSq), alphaN)
	denomMinusOne := SaturatingRoundingDoublingHighMul(p, alphaI+q+SaturatingRoundingDoublingHighMul(alphaD, commonSq)) +
		SaturatingRoundingDoublingHighMul(alphaF, q)
	recipDenom := OneOverOnePlusXForXIn01(denomMinusOne)
	numScaled := Rescale(num, 0, accBits)
	sum := SaturatingRoundingDoublingHighMul(zPow2Adj, log2) + SaturatingRoundingDoublingHighMul(numScaled, recipDenom)
	return Rescale(sum, accBits, outBits)
}

// GetReciprocal is TFLite's GetReciprocal: for x > 0 with intDigits
// integer bits it returns a 0-integer-bit scale and the number of bits by
// which 1/x exceeds it (1/x = scale * 2^bitsOverUnit).
func GetReciprocal(x int32, intDigits int) (scale int32, bitsOverUnit int) {
	headroomPlusOne := bits.LeadingZeros32(uint32(x))
	bitsOverUnit = intDigits - headroomPlusOne
	shiftedMinusOne := int32(uint32(x)<<headroomPlusOne - 1<<31)
	return OneOverOnePlusXForXIn01(shiftedMinusOne), bitsOverUnit
}

// GetInvSqrtQuantizedMultiplierExp is TFLite's function of the same name:
// a multiplier and shift approximating 1/sqrt(input). reverseShift is -1
// (kReverseShift) to return a left shift, as the callers do.
func GetInvSqrtQuantizedMultiplierExp(input int32, reverseShift int) (mult int32, shift int) {
	if input <= 1 {
		// TFLite treats 0 (invalid) and 1 alike to avoid overflow.
		return math.MaxInt32, 0
	}
	shift = 11
	for input >= 1<<29 {
		input /= 4
		shift++
	}
	maxLeftShiftBits := bits.LeadingZeros32(uint32(input)) - 1
	leftShiftBitPairs := maxLeftShiftBits/2 - 1
	shift -= leftShiftBitPairs
	input <<= 2 * leftShiftBitPairs
	// Newton-Raphson on 3 integer bits, starting from 1.
	const halfThree = 1<<28 + 1<<27 // 1.5
	in := input >> 1
	halfIn := SaturatingRoundingMultiplyByPOT(in, -1)
	x := fpOneBits(3)
	for i := 0; i < 5; i++ {
		x3 := Rescale(SaturatingRoundingDoublingHighMul(SaturatingRoundingDoublingHighMul(x, x), x), 9, 3)
		x = Rescale(SaturatingRoundingDoublingHighMul(halfThree, x)-SaturatingRoundingDoublingHighMul(halfIn, x3), 6, 3)
	}
	const halfSqrt2 = 1518500250
	mult = SaturatingRoundingDoublingHighMul(x, halfSqrt2)
	if shift < 0 {
		mult <<= -shift
		shift = 0
	}
	return mult, shift * reverseShift
}

// PreprocessSoftmaxScaling is TFLite's function of the same name: the
// multiplier and left shift that take an input difference to a fixed-point
// value with intBits integer bits, scaled by beta.
func PreprocessSoftmaxScaling(beta, inputScale float64, intBits int) (mult int32, leftShift int, err error) {
	real := math.Min(beta*inputScale*float64(int64(1)<<(31-intBits)), float64(int64(1)<<31-1))
	mult, leftShift = QuantizeMultiplier(real)
	if leftShift < 0 {
		return 0, 0, unsupportedf("softmax input scale %g with beta %g is too small for the fixed-point kernel", inputScale, beta)
	}
	return mult, leftShift, nil
}

// CalculateInputRadius is TFLite's function of the same name: the largest
// input difference whose rescaled value still fits intBits integer bits.
func CalculateInputRadius(intBits, leftShift, totalSignedBits int) int32 {
	maxRescaled := float64(int64(1)<<intBits-1) * float64(int64(1)<<(totalSignedBits-intBits)) / float64(int64(1)<<leftShift)
	return int32(math.Floor(maxRescaled))
}

// fpFrexpMultiplier is the multiplier derivation of TFLite Micro's
// LOGISTIC/TANH int8 kernels: frexp(m) rounded to a Q31 significand
// (without QuantizeMultiplier's renormalisation).
func fpFrexpMultiplier(m float64) (int32, int, error) {
	frac, exp := math.Frexp(m)
	q := math.Round(frac * (1 << 31))
	if q > math.MaxInt32 || exp > 31 || exp < -31 {
		return 0, 0, fmt.Errorf("input scale multiplier %g out of range", m)
	}
	return int32(q), exp, nil
}
