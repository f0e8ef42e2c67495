package kernels

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestReduce(t *testing.T) {
	x23 := []float64{1, 2, 3, 4, 5, 6} // [[1,2,3],[4,5,6]]
	tests := []struct {
		name      string
		arith     Arithmetic
		p         ReduceParams
		dt        tensor.DType
		qin, qout *tensor.Quant
		inShape   []int
		in        []float64
		wantShape []int
		want      []float64
		wantErr   error
	}{
		{
			name: "mean float axis 1",
			p:    ReduceParams{Kind: ReduceMean, Axes: []int{1}}, dt: tensor.Float32,
			inShape: []int{2, 3}, in: x23, wantShape: []int{2}, want: []float64{2, 5},
		},
		{
			name: "mean float axis -2 keep_dims",
			p:    ReduceParams{Kind: ReduceMean, Axes: []int{-2}, KeepDims: true}, dt: tensor.Float32,
			inShape: []int{2, 3}, in: x23, wantShape: []int{1, 3}, want: []float64{2.5, 3.5, 4.5},
		},
		{
			name: "sum float all axes, repeated",
			p:    ReduceParams{Kind: ReduceSum, Axes: []int{0, 1, -1}}, dt: tensor.Float32,
			inShape: []int{2, 3}, in: x23, wantShape: []int{}, want: []float64{21},
		},
		{
			name: "sum float middle axis of rank 3",
			p:    ReduceParams{Kind: ReduceSum, Axes: []int{1}}, dt: tensor.Float32,
			inShape: []int{2, 2, 2}, in: []float64{1, 2, 3, 4, 5, 6, 7, 8},
			wantShape: []int{2, 2}, want: []float64{4, 6, 12, 14},
		},
		{
			name: "max float axes 0 and 2",
			p:    ReduceParams{Kind: ReduceMax, Axes: []int{0, 2}}, dt: tensor.Float32,
			inShape: []int{2, 2, 2}, in: []float64{-1, -2, 3, -4, -5, -6, -7, -8},
			wantShape: []int{2}, want: []float64{-1, 3},
		},
		{
			name: "min float keep_dims",
			p:    ReduceParams{Kind: ReduceMin, Axes: []int{1}, KeepDims: true}, dt: tensor.Float32,
			inShape: []int{2, 3}, in: x23, wantShape: []int{2, 1}, want: []float64{1, 4},
		},
		{
			name: "no axes copies",
			p:    ReduceParams{Kind: ReduceMean}, dt: tensor.Float32,
			inShape: []int{2, 3}, in: x23, wantShape: []int{2, 3}, want: x23,
		},
		{
			name: "mean int32 truncates toward zero",
			p:    ReduceParams{Kind: ReduceMean, Axes: []int{0}}, dt: tensor.Int32,
			inShape: []int{2, 2}, in: []float64{-7, 7, 2, 2}, wantShape: []int{2}, want: []float64{-2, 4},
		},
		{
			name: "sum int64",
			p:    ReduceParams{Kind: ReduceSum, Axes: []int{1}}, dt: tensor.Int64,
			inShape: []int{2, 3}, in: x23, wantShape: []int{2}, want: []float64{6, 15},
		},
		{
			name: "max int8 raw values",
			p:    ReduceParams{Kind: ReduceMax, Axes: []int{0}}, dt: tensor.Int8,
			qin: poolQ(0.5, 3), qout: poolQ(0.5, 3),
			inShape: []int{2, 2}, in: []float64{1, -5, -3, 4}, wantShape: []int{2}, want: []float64{1, 4},
		},
		{
			// QuantizedMeanOrSum, the reference kernels' only integer MEAN
			// path. Σ(q-zp) = -2-1+6+8 = 11; multiplier 0.5/0.25 = 2 is
			// 2^30·2^2, folding 1/4 (k = 2) gives 2^30·2^0; 11·2^30/2^31 =
			// 5.5 rounds (half up) to 6; +3.
			name: "mean int8 hw",
			p:    ReduceParams{Kind: ReduceMean, Axes: []int{1, 2}, KeepDims: true}, dt: tensor.Int8,
			qin: poolQ(0.5, -1), qout: poolQ(0.25, 3),
			inShape: []int{1, 2, 2, 1}, in: []float64{-3, -2, 5, 7}, wantShape: []int{1, 1, 1, 1}, want: []float64{9},
		},
		{
			// Σ(q-zp) = -7; multiplier 1 = 2^30·2^1, folding 1/4 gives
			// 2^30·2^-1: (-7·2^30 + 1 - 2^30)/2^31 truncates to -3, and
			// -3/2 rounds half away from zero to -2; +0.
			name: "mean int8 hw negative",
			p:    ReduceParams{Kind: ReduceMean, Axes: []int{2, 1}, KeepDims: true}, dt: tensor.Int8,
			qin: poolQ(0.5, 1), qout: poolQ(0.5, 0),
			inShape: []int{1, 2, 2, 1}, in: []float64{0, -1, -1, -1}, wantShape: []int{1, 1, 1, 1}, want: []float64{-2},
		},
		{
			// Σ = -3 over 2: folding 1/2 gives multiplier 2^30·2^0, and
			// (-3·2^30 + 1 - 2^30)/2^31 truncates to -1 (-1.5 rounds up).
			// TFLite's integer Mean kernel (its optimized 4-D path) would
			// divide -3 by 2 half away from zero: -2.
			name: "mean int8 hw rounds half up",
			p:    ReduceParams{Kind: ReduceMean, Axes: []int{1, 2}, KeepDims: true}, dt: tensor.Int8,
			qin: poolQ(0.5, 0), qout: poolQ(0.5, 0),
			inShape: []int{1, 1, 2, 1}, in: []float64{-1, -2}, wantShape: []int{1, 1, 1, 1}, want: []float64{-1},
		},
		{
			// Equal parameters still requantize: Σ = -7 over 4 is -1.75,
			// computed as in "mean int8 hw negative": -2 (a truncating
			// integer mean would give -1).
			name: "mean int8 equal params",
			p:    ReduceParams{Kind: ReduceMean, Axes: []int{1}}, dt: tensor.Int8,
			qin: poolQ(0.5, 0), qout: poolQ(0.5, 0),
			inShape: []int{1, 4}, in: []float64{-2, -2, -2, -1}, wantShape: []int{1}, want: []float64{-2},
		},
		{
			// No axis: each element requantized, (q-2)·0.5/0.25 + 1.
			name: "mean int8 no axes requantizes",
			p:    ReduceParams{Kind: ReduceMean}, dt: tensor.Int8,
			qin: poolQ(0.5, 2), qout: poolQ(0.25, 1),
			inShape: []int{2}, in: []float64{3, -1}, wantShape: []int{2}, want: []float64{3, -5},
		},
		{
			// XNNPACK: s = (0.5/0.5)·(1/2) = 0.5, zp' = 0; -3·0.5 = -1.5
			// rounds to even: -2.
			name: "litert mean int8 ties to even", arith: LiteRT,
			p: ReduceParams{Kind: ReduceMean, Axes: []int{1, 2}, KeepDims: true}, dt: tensor.Int8,
			qin: poolQ(0.5, 0), qout: poolQ(0.5, 0),
			inShape: []int{1, 1, 2, 1}, in: []float64{-1, -2}, wantShape: []int{1, 1, 1, 1}, want: []float64{-2},
		},
		{
			// XNNPACK: s = 1·(1/2) = 0.5, zp' = 0 - (2·10)·0.5 = -10;
			// Σ = 25: 12.5 - 10 = 2.5 rounds to even: 2 (the reference
			// kernels: 5·2^30/2^31 = 2.5 rounds up to 3).
			name: "litert mean uint8", arith: LiteRT,
			p: ReduceParams{Kind: ReduceMean, Axes: []int{0}}, dt: tensor.UInt8,
			qin: poolQ(0.5, 10), qout: poolQ(0.5, 0),
			inShape: []int{2, 1}, in: []float64{12, 13}, wantShape: []int{1}, want: []float64{2},
		},
		{
			name: "reference mean uint8 rounds half up",
			p:    ReduceParams{Kind: ReduceMean, Axes: []int{0}}, dt: tensor.UInt8,
			qin: poolQ(0.5, 10), qout: poolQ(0.5, 0),
			inShape: []int{2, 1}, in: []float64{12, 13}, wantShape: []int{1}, want: []float64{3},
		},
		{
			// XNNPACK: s = 1, zp' = 0: 200 and -120, clamped.
			name: "litert sum int8 saturates", arith: LiteRT,
			p: ReduceParams{Kind: ReduceSum, Axes: []int{0}}, dt: tensor.Int8,
			qin: poolQ(1, 0), qout: poolQ(1, 0),
			inShape: []int{2, 2}, in: []float64{100, -100, 100, -20}, wantShape: []int{2}, want: []float64{127, -120},
		},
		{
			// int16 SUM runs on TFLite's optimized kernel: -7·0.5 = -3.5
			// rounds half away from zero: -4 (the reference kernels' -7·2^30
			// /2^31 rounds up to -3).
			name: "litert sum int16", arith: LiteRT,
			p: ReduceParams{Kind: ReduceSum, Axes: []int{0}}, dt: tensor.Int16,
			qin: poolQ(1, 0), qout: poolQ(2, 0),
			inShape: []int{2}, in: []float64{-3, -4}, wantShape: []int{}, want: []float64{-4},
		},
		{
			name: "reference sum int16",
			p:    ReduceParams{Kind: ReduceSum, Axes: []int{0}}, dt: tensor.Int16,
			qin: poolQ(1, 0), qout: poolQ(2, 0),
			inShape: []int{2}, in: []float64{-3, -4}, wantShape: []int{}, want: []float64{-3},
		},
		{
			// QuantizedMeanOrSum: Σ(q-zp) = 4+6 = 10 over 2 elements, real
			// mean 0.5*5 = 2.5, /0.25 = 10, +0.
			name: "mean uint8 requantized",
			p:    ReduceParams{Kind: ReduceMean, Axes: []int{0}}, dt: tensor.UInt8,
			qin: poolQ(0.5, 10), qout: poolQ(0.25, 0),
			inShape: []int{2, 1}, in: []float64{14, 16}, wantShape: []int{1}, want: []float64{10},
		},
		{
			// Σ(q-zp) = 2+4-2 = 4, real 2.0, /1.0 = 2, +(-2) = 0.
			name: "sum int8 requantized",
			p:    ReduceParams{Kind: ReduceSum, Axes: []int{-1}}, dt: tensor.Int8,
			qin: poolQ(0.5, 1), qout: poolQ(1, -2),
			inShape: []int{1, 3}, in: []float64{3, 5, -1}, wantShape: []int{1}, want: []float64{0},
		},
		{
			name: "sum int8 equal params saturates",
			p:    ReduceParams{Kind: ReduceSum, Axes: []int{0}}, dt: tensor.Int8,
			qin: poolQ(1, 0), qout: poolQ(1, 0),
			inShape: []int{2, 2}, in: []float64{100, -100, 100, -20}, wantShape: []int{2}, want: []float64{127, -120},
		},
		{
			name: "axis out of range",
			p:    ReduceParams{Kind: ReduceSum, Axes: []int{2}}, dt: tensor.Float32,
			inShape: []int{2, 3}, in: x23, wantErr: errAny,
		},
		{
			name: "bool unsupported",
			p:    ReduceParams{Kind: ReduceSum, Axes: []int{0}}, dt: tensor.Bool,
			inShape: []int{2}, in: []float64{1, 0}, wantErr: ErrUnsupported,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := poolTensor("in", tt.dt, tt.inShape, tt.qin, tt.in)
			out := poolTensor("out", tt.dt, nil, tt.qout, nil)
			k, err := Reduce(&Config{Arithmetic: tt.arith}, tt.p, in, out)
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("Reduce(%s) err = %v; want %v", tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Reduce(%s): %v", tt.name, err)
			}
			poolCheck(t, "Reduce", tt.name, k, out, tt.wantShape, tt.want)
		})
	}
}

func TestReduceMeanFold(t *testing.T) {
	tests := []struct {
		name      string
		mult      int32
		shift, n  int
		wantMult  int32
		wantShift int
	}{
		// 2^30 * 2^2 / 4 = 2^30.
		{"power of two", 1 << 30, 1, 4, 1 << 30, -1},
		// k = 1: (2^30 << 1) / 3 = 715827882.
		{"three", 1 << 30, 0, 3, 715827882, -1},
		// k limited to 31+shift = 1.
		{"limited by shift", 1 << 30, -30, 8, 1 << 30 >> 2, -31},
	}
	for _, tt := range tests {
		m, s := reduceMeanFold(tt.mult, tt.shift, tt.n)
		if m != tt.wantMult || s != tt.wantShift {
			t.Errorf("reduceMeanFold(%s) = %d, %d; want %d, %d", tt.name, m, s, tt.wantMult, tt.wantShift)
		}
	}
}

// Float SUM and MEAN over a contiguous run of axes (the vector row adds)
// give, for every variant, the bits of the reference order: each output
// the sum of its inputs in row-major order starting from +0, then the
// division by the count. NaNs, infinities and -0 included.
func TestReduceFloatBlockVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 1e30, -1e30}
	forEachVariant(t, func(t *testing.T, v string) {
		for i := 0; i < 60; i++ {
			rank := 1 + r.IntN(4)
			shape := make([]int, rank)
			for d := range shape {
				shape[d] = 1 + r.IntN(6)
			}
			if r.IntN(3) == 0 {
				shape[rank-1] = []int{8, 16, 17, 33}[r.IntN(4)]
			}
			d0 := r.IntN(rank)
			d1 := d0 + 1 + r.IntN(rank-d0)
			var axes []int
			for d := d0; d < d1; d++ {
				axes = append(axes, d)
			}
			x := make([]float32, tensor.NumElements(shape))
			for j := range x {
				x[j] = float32(r.NormFloat64())
				if r.IntN(40) == 0 {
					x[j] = specials[r.IntN(len(specials))]
				}
			}
			kind := []ReduceKind{ReduceSum, ReduceMean}[r.IntN(2)]
			outer, red, inner := 1, 1, 1
			for d, n := range shape {
				switch {
				case d < d0:
					outer *= n
				case d < d1:
					red *= n
				default:
					inner *= n
				}
			}
			want := make([]float32, outer*inner)
			for o := 0; o < outer; o++ {
				for k := 0; k < inner; k++ {
					var s float32
					for j := 0; j < red; j++ {
						s += x[(o*red+j)*inner+k]
					}
					if kind == ReduceMean {
						s /= float32(red)
					}
					want[o*inner+k] = s
				}
			}
			in := poolTensor("in", tensor.Float32, shape, nil, nil)
			in.Data = make([]byte, 4*len(x))
			copy(in.Float32s(), x)
			out := poolTensor("out", tensor.Float32, nil, nil, nil)
			k, err := Reduce(&Config{}, ReduceParams{Kind: kind, Axes: axes, KeepDims: r.IntN(2) == 0}, in, out)
			if err != nil {
				t.Fatal(err)
			}
			out.Data = make([]byte, 4*out.NumElements())
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			got := out.Float32s()
			for j := range want {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("%s: %v %v axes %v: [%d] = %v; want %v", v, kind, shape, axes, j, got[j], want[j])
				}
			}
		}
	})
}
