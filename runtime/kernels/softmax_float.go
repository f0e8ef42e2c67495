package kernels

import "math"

// Float32 SOFTMAX with beta 1 in the LiteRT arithmetic, as XNNPACK's
// softmax operator computes it: the row's maximum, then exp(x - max) for
// every element from the "rr2-p5" exponential of its raddstoreexpminusmax
// kernels (the one LOGISTIC uses, see sigmoid_float.go, here for
// non-positive arguments: n = round(d·log2 e), t = d - n·ln 2 in two
// steps, e^t from a degree-5 polynomial, 2^n from n's bits, 0 below the
// denormal cutoff; every operation rounded to float32 on its own), the sum
// of those, and every element multiplied by 1/sum. Each exponential is
// computed element by element, so the portable loop and the AVX2 one give
// the same bits; the sum runs over eight lanes in a fixed order on every
// variant.
const expLog2e = 0x1.715476p+0

// expMinusMaxF32 is one element of the exponential above.
func expMinusMaxF32(x, mx float32) float32 {
	d := x - mx
	n := float32(d*expLog2e) + sigMagicBias
	s := math.Float32frombits(math.Float32bits(n) << 23)
	n -= sigMagicBias
	t := float32(n*-sigLn2Hi) + d
	t = float32(n*-sigLn2Lo) + t
	p := float32(t*-sigC5) + sigC4
	p = float32(t*p) + -sigC3
	p = float32(t*p) + sigC2
	p = float32(t*p) + -sigC1
	t *= s
	f := float32(t*p) + s
	if d < -sigDenormCutoff {
		f = 0
	}
	return f
}

func expMinusMaxF32sGo(x, y []float32, mx float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = expMinusMaxF32(v, mx)
	}
}

// expMinusMaxF32sSIMD runs the assembly on whole blocks of 8 and Go on the
// tail.
func expMinusMaxF32sSIMD(x, y []float32, mx float32) {
	n := len(x)
	y = y[:n]
	if m := n &^ 7; m > 0 {
		expMinusMaxF32sAsm(&x[0], &y[0], m, mx)
	}
	expMinusMaxF32sGo(x[n&^7:], y[n&^7:], mx)
}

// expMinusMaxF32sKernel returns the exponential loop for the variant in
// use.
func expMinusMaxF32sKernel() func(x, y []float32, mx float32) {
	if eltwiseHaveSIMD() {
		return expMinusMaxF32sSIMD
	}
	return expMinusMaxF32sGo
}

// softmaxRowXNN is one row of the float SOFTMAX above; exp is
// expMinusMaxF32sKernel's loop.
func softmaxRowXNN(x, y []float32, exp func(x, y []float32, mx float32)) {
	exp(x, y, rowMaxF32(x))
	y = y[:len(x)]
	var acc [8]float32
	i := 0
	for ; i+8 <= len(y); i += 8 {
		acc[0] += y[i]
		acc[1] += y[i+1]
		acc[2] += y[i+2]
		acc[3] += y[i+3]
		acc[4] += y[i+4]
		acc[5] += y[i+5]
		acc[6] += y[i+6]
		acc[7] += y[i+7]
	}
	for j := 0; i < len(y); i, j = i+1, j+1 {
		acc[j] += y[i]
	}
	sum := ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
	inv := 1 / sum
	for i := range y {
		y[i] *= inv
	}
}

// rowMaxF32 is the largest of x (-Inf for none), over four running
// maxima. A NaN is passed over here; its own exponential is NaN and makes
// the row's sum, and so the whole row, NaN.
func rowMaxF32(x []float32) float32 {
	m := [4]float32{float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1))}
	i := 0
	for ; i+4 <= len(x); i += 4 {
		if v := x[i]; v > m[0] {
			m[0] = v
		}
		if v := x[i+1]; v > m[1] {
			m[1] = v
		}
		if v := x[i+2]; v > m[2] {
			m[2] = v
		}
		if v := x[i+3]; v > m[3] {
			m[3] = v
		}
	}
	for ; i < len(x); i++ {
		if v := x[i]; v > m[0] {
			m[0] = v
		}
	}
	return max(m[0], m[1], m[2], m[3])
}
