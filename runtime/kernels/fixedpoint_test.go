package kernels

import (
	"math"
	"testing"
)

func TestFixedPointScalars(t *testing.T) {
	tests := []struct {
		name string
		got  int32
		want int32
	}{
		// (a+b)/2 with ties away from zero.
		{"RoundingHalfSum(1,2)", RoundingHalfSum(1, 2), 2},
		{"RoundingHalfSum(-1,-2)", RoundingHalfSum(-1, -2), -2},
		{"RoundingHalfSum(1,-2)", RoundingHalfSum(1, -2), -1},
		{"RoundingHalfSum(max,max)", RoundingHalfSum(math.MaxInt32, math.MaxInt32), math.MaxInt32},
		// 2^29 * 4 = 2^31 does not fit: saturates.
		{"SRMulByPOT(2^29,2)", SaturatingRoundingMultiplyByPOT(1<<29, 2), math.MaxInt32},
		{"SRMulByPOT(-2^29,2)", SaturatingRoundingMultiplyByPOT(-(1 << 29), 2), math.MinInt32},
		{"SRMulByPOT(2^29-1,2)", SaturatingRoundingMultiplyByPOT(1<<29-1, 2), (1<<29 - 1) * 4},
		{"SRMulByPOT(5,-1)", SaturatingRoundingMultiplyByPOT(5, -1), 3},
		{"SRMulByPOT(-5,-1)", SaturatingRoundingMultiplyByPOT(-5, -1), -3},
		{"SRMulByPOT(7,0)", SaturatingRoundingMultiplyByPOT(7, 0), 7},
		// exp(0) is the largest Q0.31 value; logistic(0) = 1/2, tanh(0) = 0.
		{"ExpOnNegativeValues(0)", ExpOnNegativeValues(0, 5), math.MaxInt32},
		{"FixedLogistic(0)", FixedLogistic(0, 4), 1 << 30},
		{"FixedTanh(0)", FixedTanh(0, 4), 0},
		// exp(-40) is below the -32 clamp of a Q6 input: exactly 0.
		{"ExpOnNegativeValues(-40 Q6)", ExpOnNegativeValues(-40<<25, 6), 0},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d; want %d", tt.name, tt.got, tt.want)
		}
	}
}

// TestFixedPointAccuracy checks the transcendental functions against
// float64 math: gemmlowp's approximations are accurate to a few 1e-7 of
// full scale.
func TestFixedPointAccuracy(t *testing.T) {
	const q31 = 1 << 31
	tol := 1e-6
	for _, x := range []float64{-0.01, -0.2, -0.25, -0.9, -1, -2.5, -7.3, -15.9, -31} {
		got := float64(ExpOnNegativeValues(int32(x*(1<<26)), 5)) / q31
		if want := math.Exp(x); math.Abs(got-want) > tol {
			t.Errorf("ExpOnNegativeValues(%g) = %.8f; want %.8f", x, got, want)
		}
	}
	for _, x := range []float64{-7.9, -3, -1, -0.3, 0.001, 0.5, 2, 7.9} {
		raw := int32(x * (1 << 27))
		if got, want := float64(FixedLogistic(raw, 4))/q31, 1/(1+math.Exp(-x)); math.Abs(got-want) > tol {
			t.Errorf("FixedLogistic(%g) = %.8f; want %.8f", x, got, want)
		}
		if got, want := float64(FixedTanh(raw, 4))/q31, math.Tanh(x); math.Abs(got-want) > tol {
			t.Errorf("FixedTanh(%g) = %.8f; want %.8f", x, got, want)
		}
	}
	for _, x := range []float64{0, 0.1, 0.5, 0.99} {
		if got, want := float64(OneOverOnePlusXForXIn01(int32(x*q31)))/q31, 1/(1+x); math.Abs(got-want) > tol {
			t.Errorf("OneOverOnePlusXForXIn01(%g) = %.8f; want %.8f", x, got, want)
		}
	}
	for _, x := range []float64{1, 1.5, 2, 10, 100, 1000, 4000} {
		// Input Q12.19, output Q5.26.
		got := float64(LogXForXGreaterThanOrEqualTo1(int32(x*(1<<19)), 5, 12)) / (1 << 26)
		if want := math.Log(x); math.Abs(got-want) > 1e-5 {
			t.Errorf("LogXForXGreaterThanOrEqualTo1(%g) = %.7f; want %.7f", x, got, want)
		}
	}
	for _, x := range []float64{1, 1.25, 3, 100, 4000} {
		scale, bits := GetReciprocal(int32(x*(1<<19)), 12)
		got := float64(scale) / q31 * math.Pow(2, float64(-bits))
		if want := 1 / x; math.Abs(got-want)/want > 1e-6 {
			t.Errorf("GetReciprocal(%g) = %g; want %g", x, got, want)
		}
	}
	for _, x := range []int32{2, 25, 1000, 65025, 1 << 29, math.MaxInt32} {
		m, shift := GetInvSqrtQuantizedMultiplierExp(x, -1)
		got := float64(m) / q31 * math.Pow(2, float64(shift))
		if want := 1 / math.Sqrt(float64(x)); math.Abs(got-want)/want > 1e-5 {
			t.Errorf("GetInvSqrtQuantizedMultiplierExp(%d) = %g; want %g", x, got, want)
		}
	}
}

func TestSoftmaxScaling(t *testing.T) {
	// beta*scale*2^26 = 0.1*2^26 = 0.8*2^23: shift 23; radius
	// floor(31*2^26/2^23) = 248.
	m, shift, err := PreprocessSoftmaxScaling(1, float64(float32(0.1)), 5)
	if err != nil {
		t.Fatal(err)
	}
	if shift != 23 || math.Abs(float64(m)/(1<<31)-0.8) > 1e-7 {
		t.Errorf("PreprocessSoftmaxScaling(1, 0.1, 5) = %d, %d; want ≈0.8*2^31, 23", m, shift)
	}
	if got := CalculateInputRadius(5, 23, 31); got != 248 {
		t.Errorf("CalculateInputRadius(5, 23, 31) = %d; want 248", got)
	}
}
