package kernels

import "math"

// Float32 LOGISTIC as XNNPACK computes it (its "rr2-p5-div" sigmoid, the
// kernel of the official runtime's CPU delegate): for z = |x|,
// exp(-z) = 2^n · e^t with n = round(-z/ln 2) and t reduced in two steps
// (ln 2 split in a high and a low part), e^t from a degree-5 polynomial,
// f = e/(e+1), 0 beyond the denormal cutoff, and 1-f for positive x. Every
// operation is rounded to float32 on its own (no fused multiply-add, as in
// the WebAssembly build), so the portable loop and the AVX2 one give the
// same bits, and those of the official runtime's WebAssembly build
// (compared on 65536 inputs in [-30, 30]). Accuracy: within 3 ulp of the
// exact sigmoid.
const (
	sigMagicBias    = 0x1.8000FEp23
	sigMinusLog2e   = -0x1.715476p+0
	sigLn2Hi        = 0x1.62E400p-1
	sigLn2Lo        = 0x1.7F7D1Cp-20
	sigC5           = -0x1.0F9F9Cp-7
	sigC4           = 0x1.573A1Ap-5
	sigC3           = -0x1.555A80p-3
	sigC2           = 0x1.FFFDC6p-2
	sigC1           = -0x1.FFFFF6p-1
	sigDenormCutoff = 0x1.5D589Ep+6
)

// sigmoidF32 is one element of the algorithm above. The explicit float32
// conversions keep the compiler from fusing a multiply and an add.
func sigmoidF32(x float32) float32 {
	z := math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
	n := float32(z*sigMinusLog2e) + sigMagicBias
	s := math.Float32frombits(math.Float32bits(n) << 23)
	n -= sigMagicBias
	t := float32(n*sigLn2Hi) + z
	t = float32(n*sigLn2Lo) + t
	p := float32(t*sigC5) + sigC4
	p = float32(t*p) + sigC3
	p = float32(t*p) + sigC2
	p = float32(t*p) + sigC1
	t *= s
	e := float32(t*p) + s
	f := e / (e + 1)
	if z > sigDenormCutoff {
		f = 0
	}
	if math.Float32bits(x)>>31 == 0 {
		f = 1 - f
	}
	return f
}

func sigmoidF32sGo(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = sigmoidF32(v)
	}
}

// sigmoidF32sSIMD runs the assembly on whole blocks of 8 and Go on the tail.
func sigmoidF32sSIMD(x, y []float32) {
	n := len(x)
	y = y[:n]
	if m := n &^ 7; m > 0 {
		sigmoidF32sAsm(&x[0], &y[0], m)
	}
	sigmoidF32sGo(x[n&^7:], y[n&^7:])
}

// sigmoidF32sKernel returns the float32 LOGISTIC loop for the variant in use.
func sigmoidF32sKernel() func(x, y []float32) {
	if eltwiseHaveSIMD() {
		return sigmoidF32sSIMD
	}
	return sigmoidF32sGo
}
