package kernels

import "math"

// This file holds gemmlowp's fixed-point logistic and tanh on 16-bit raw
// values (gemmlowp::FixedPoint<int16_t, n>), which TFLite's integer LSTM
// applies to its Q3.12 gate values. The 16-bit instantiation is not the
// 32-bit one shifted: products round at 15 bits, gemmlowp's constants are
// the 32-bit ones rounded to 16 bits, additions wrap except the one
// gemmlowp makes saturating for 16 bits, and the Newton-Raphson division
// runs in 16 bits.

// fp16Const is gemmlowp's RescaleConstantInitializer for int16: a 32-bit
// raw constant rounded to 16 bits.
func fp16Const(raw32 int32) int16 { return int16(RoundingDivideByPOT(raw32, 16)) }

// fp16MulPOT is SaturatingRoundingMultiplyByPOT for int16.
func fp16MulPOT(x int16, exp int) int16 {
	switch {
	case exp == 0:
		return x
	case exp < 0:
		return int16(RoundingDivideByPOT(int32(x), -exp))
	}
	threshold := int16(1)<<(15-exp) - 1
	if x > threshold {
		return math.MaxInt16
	}
	if x < -threshold {
		return math.MinInt16
	}
	return x << exp
}

// fp16SatAdd is gemmlowp's SaturatingAdd for int16.
func fp16SatAdd(a, b int16) int16 {
	return int16(Clamp(int32(a)+int32(b), math.MinInt16, math.MaxInt16))
}

// fp16HalfSum is gemmlowp's RoundingHalfSum for int16.
func fp16HalfSum(a, b int16) int16 {
	sum := int32(a) + int32(b)
	sign := int32(1)
	if sum < 0 {
		sign = -1
	}
	return int16((sum + sign) / 2)
}

var (
	fp16ExpConstTerm = fp16Const(1895147668) // exp(-1/8)
	fp16OneThird     = fp16Const(715827883)
	fp16C48over17    = fp16Const(1515870810)  // 48/17, 2 integer bits
	fp16CNeg32over17 = fp16Const(-1010580540) // -32/17, 2 integer bits
	fp16ExpBarrel    = func() (b [len(expBarrel)]int16) {
		for i, e := range expBarrel {
			b[i] = fp16Const(e.mult)
		}
		return b
	}()
)

// fp16ExpQuarter returns exp(a) for a in [-1/4, 0), 0 integer bits.
func fp16ExpQuarter(a int16) int16 {
	x := a + 1<<12 // a + 1/8
	x2 := hsSRDHM16(x, x)
	x3 := hsSRDHM16(x2, x)
	x4 := hsSRDHM16(x2, x2)
	x4Over4 := fp16MulPOT(x4, -2)
	poly := fp16MulPOT(hsSRDHM16(x4Over4+x3, fp16OneThird)+x2, -1)
	return fp16SatAdd(fp16ExpConstTerm, hsSRDHM16(fp16ExpConstTerm, x+poly))
}

// fp16ExpNeg returns exp(a) for a <= 0 with intBits integer bits; the
// result has 0 integer bits.
func fp16ExpNeg(a int16, intBits int) int16 {
	fracBits := 15 - intBits
	oneQuarter := int16(1) << (fracBits - 2)
	mask := oneQuarter - 1
	aModQuarterMinusQuarter := (a & mask) - oneQuarter
	result := fp16ExpQuarter(fp16MulPOT(aModQuarterMinusQuarter, intBits))
	remainder := aModQuarterMinusQuarter - a
	for i, b := range expBarrel {
		if intBits > b.exp && int32(remainder)&(int32(1)<<(fracBits+b.exp)) != 0 {
			result = hsSRDHM16(result, fp16ExpBarrel[i])
		}
	}
	if intBits > 5 {
		if clamp := fp16Const(-(int32(1) << (36 - intBits))); a < clamp {
			result = 0
		}
	}
	if a == 0 {
		result = math.MaxInt16
	}
	return result
}

// fp16Reciprocal is the Newton-Raphson iteration shared by the two
// divisions below: 1/((1+a)/2) with 2 integer bits.
func fp16Reciprocal(a int16) int16 {
	const oneF2 = 1 << 13
	half := fp16HalfSum(a, math.MaxInt16)
	x := fp16C48over17 + hsSRDHM16(half, fp16CNeg32over17)
	for i := 0; i < 3; i++ {
		hx := hsSRDHM16(half, x)
		x += fp16MulPOT(hsSRDHM16(x, oneF2-hx), 2)
	}
	return x
}

// fp16Logistic is gemmlowp's logistic on int16 with intBits integer bits;
// the result has 0 integer bits (Q0.15).
func fp16Logistic(a int16, intBits int) int16 {
	if a == 0 {
		return fp16Const(1 << 30)
	}
	abs := a
	if a < 0 {
		abs = -a
	}
	pos := fp16MulPOT(fp16Reciprocal(fp16ExpNeg(-abs, intBits)), 1)
	if a > 0 {
		return pos
	}
	return math.MaxInt16 - pos
}

// fp16Tanh is gemmlowp's tanh on int16 with intBits integer bits; the
// result has 0 integer bits.
func fp16Tanh(a int16, intBits int) int16 {
	if a == 0 {
		return 0
	}
	n := a
	if a > 0 {
		n = -a
	}
	// -tanh(n) = (1 - exp(2n)) / (1 + exp(2n)); 2n is n read with one
	// more integer bit.
	t := fp16MulPOT(fp16Reciprocal(fp16ExpNeg(n, intBits+1))-1<<13, 2)
	if a < 0 {
		return -t
	}
	return t
}
