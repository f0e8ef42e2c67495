package kernels

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestArgMinMax(t *testing.T) {
	x23 := []float64{1, 5, 5, -1, -1, -2} // [[1,5,5],[-1,-1,-2]]
	tests := []struct {
		name      string
		isMax     bool
		axis      int
		dt, outDT tensor.DType
		inShape   []int
		in        []float64
		wantShape []int
		want      []float64
		wantErr   error
	}{
		{name: "max float axis 1, tie picks first", isMax: true, axis: 1, dt: tensor.Float32, outDT: tensor.Int32,
			inShape: []int{2, 3}, in: x23, wantShape: []int{2}, want: []float64{1, 0}},
		{name: "min float axis -1", axis: -1, dt: tensor.Float32, outDT: tensor.Int64,
			inShape: []int{2, 3}, in: x23, wantShape: []int{2}, want: []float64{0, 2}},
		{name: "max int8 axis 0", isMax: true, axis: 0, dt: tensor.Int8, outDT: tensor.Int32,
			inShape: []int{2, 3}, in: x23, wantShape: []int{3}, want: []float64{0, 0, 0}},
		{name: "min uint8 axis 0 ties", axis: 0, dt: tensor.UInt8, outDT: tensor.Int32,
			inShape: []int{2, 2}, in: []float64{3, 7, 3, 2}, wantShape: []int{2}, want: []float64{0, 1}},
		{name: "max int32 middle axis", isMax: true, axis: 1, dt: tensor.Int32, outDT: tensor.Int64,
			inShape: []int{2, 3, 2}, in: []float64{0, 9, 4, 9, 4, 1, -5, -6, -7, -8, -5, -6},
			wantShape: []int{2, 2}, want: []float64{1, 0, 0, 0}},
		{name: "max float NaN never wins", isMax: true, axis: 0, dt: tensor.Float32, outDT: tensor.Int32,
			inShape: []int{3}, in: []float64{1, math.NaN(), 2}, wantShape: []int{}, want: []float64{2}},
		{name: "max bool", isMax: true, axis: 0, dt: tensor.Bool, outDT: tensor.Int32,
			inShape: []int{3}, in: []float64{0, 1, 1}, wantShape: []int{}, want: []float64{1}},
		{name: "axis out of range", isMax: true, axis: 2, dt: tensor.Float32, outDT: tensor.Int32,
			inShape: []int{2, 3}, in: x23, wantErr: errAny},
		{name: "float output", isMax: true, axis: 0, dt: tensor.Float32, outDT: tensor.Float32,
			inShape: []int{2, 3}, in: x23, wantErr: ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := poolTensor("in", tt.dt, tt.inShape, nil, tt.in)
			out := poolTensor("out", tt.outDT, nil, nil, nil)
			k, err := ArgMinMax(&Config{}, tt.isMax, tt.axis, in, out)
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("ArgMinMax(%s) err = %v; want %v", tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ArgMinMax(%s): %v", tt.name, err)
			}
			poolCheck(t, "ArgMinMax", tt.name, k, out, tt.wantShape, tt.want)
		})
	}
}

// The branch-free last-axis loop for 8- and 16-bit values picks what the
// strict comparison picks: the extreme value, the first index among
// ties (values drawn from a few levels so that ties are common), for rows
// of 1 to 256.
func TestArgRowsSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	for _, n := range []int{1, 2, 3, 21, 255, 256} {
		for _, isMax := range []bool{true, false} {
			g := argGeom{outer: 50, n: n, inner: 1, isMax: isMax}
			naive := func(x []int32) []int32 {
				y := make([]int32, g.outer)
				for o := range y {
					bi := 0
					for k := 1; k < n; k++ {
						v, b := x[o*n+k], x[o*n+bi]
						if (isMax && v > b) || (!isMax && v < b) {
							bi = k
						}
					}
					y[o] = int32(bi)
				}
				return y
			}
			check := func(name string, got, want []int32) {
				t.Helper()
				for o := range want {
					if got[o] != want[o] {
						t.Fatalf("%s n=%d max=%v: row %d: index %d; want %d", name, n, isMax, o, got[o], want[o])
					}
				}
			}
			levels := []int32{-128, -1, 0, 1, 127}
			x8 := make([]int8, g.outer*n)
			xu := make([]uint8, g.outer*n)
			x16 := make([]int16, g.outer*n)
			vals := make([]int32, g.outer*n)
			for i := range vals {
				vals[i] = levels[r.IntN(len(levels))]
				x8[i] = int8(vals[i])
			}
			y := make([]int32, g.outer)
			argLoop(g, x8, y)
			check("int8", y, naive(vals))
			for i := range vals {
				vals[i] = int32(r.IntN(3)) * 127
				xu[i] = uint8(vals[i])
			}
			argLoop(g, xu, y)
			check("uint8", y, naive(vals))
			for i := range vals {
				vals[i] = []int32{-32768, -7, 0, 32767}[r.IntN(4)]
				x16[i] = int16(vals[i])
			}
			argLoop(g, x16, y)
			check("int16", y, naive(vals))
		}
	}
}

// BenchmarkArgMaxLastAxis is DeepLab's ARG_MAX: 513×513 pixels of 21 uint8
// class scores (random: the worst case for a branching loop).
func BenchmarkArgMaxLastAxis(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]uint8, 513*513*21)
	for i := range x {
		x[i] = uint8(r.Uint32())
	}
	in := &tensor.Tensor{Name: "x", Type: tensor.UInt8, Shape: []int{1, 513, 513, 21}, Data: x}
	out := &tensor.Tensor{Name: "y", Type: tensor.Int32}
	k, err := ArgMinMax(&Config{}, true, 3, in, out)
	if err != nil {
		b.Fatal(err)
	}
	out.Data = make([]byte, out.NumBytes())
	benchCPU(b, func() { _ = k.Eval() })
}
