package kernels

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// poolTensor makes a tensor of dt holding vals (nil: an output whose data
// is bound by poolBind after the constructor has set its shape).
func poolTensor(name string, dt tensor.DType, shape []int, q *tensor.Quant, vals []float64) *tensor.Tensor {
	t := &tensor.Tensor{Name: name, Type: dt, Shape: append([]int(nil), shape...), Quant: q}
	if vals == nil {
		return t
	}
	t.Data = make([]byte, len(vals)*dt.Size())
	for i, v := range vals {
		switch dt {
		case tensor.Float32:
			binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(float32(v)))
		case tensor.Int8:
			t.Data[i] = byte(int8(v))
		case tensor.UInt8, tensor.Bool:
			t.Data[i] = byte(v)
		case tensor.Int16:
			binary.LittleEndian.PutUint16(t.Data[2*i:], uint16(int16(v)))
		case tensor.Int32:
			binary.LittleEndian.PutUint32(t.Data[4*i:], uint32(int32(v)))
		case tensor.Int64:
			binary.LittleEndian.PutUint64(t.Data[8*i:], uint64(int64(v)))
		}
	}
	return t
}

// poolBind allocates an output's data for the shape its constructor set.
func poolBind(t *tensor.Tensor) { t.Data = make([]byte, t.NumBytes()) }

// poolValues reads a tensor's elements as float64.
func poolValues(t *tensor.Tensor) []float64 {
	n := t.NumElements()
	out := make([]float64, n)
	for i := range out {
		switch t.Type {
		case tensor.Float32:
			out[i] = float64(t.Float32s()[i])
		case tensor.Int8:
			out[i] = float64(t.Int8s()[i])
		case tensor.UInt8:
			out[i] = float64(t.UInt8s()[i])
		case tensor.Int16:
			out[i] = float64(t.Int16s()[i])
		case tensor.Int32:
			out[i] = float64(t.Int32s()[i])
		case tensor.Int64:
			out[i] = float64(t.Int64s()[i])
		}
	}
	return out
}

func poolQ(scale float32, zp int32) *tensor.Quant {
	return &tensor.Quant{Scale: []float32{scale}, ZeroPoint: []int32{zp}}
}

// poolCheck evaluates k and compares out with want (floats within
// 1e-4+1e-4*|want|, integers exactly), then checks Eval does not allocate.
func poolCheck(t *testing.T, op, name string, k Kernel, out *tensor.Tensor, wantShape []int, want []float64) {
	t.Helper()
	if !tensor.SameShape(out.Shape, wantShape) {
		t.Fatalf("%s(%s) output shape = %v; want %v", op, name, out.Shape, wantShape)
	}
	poolBind(out)
	if err := k.Eval(); err != nil {
		t.Fatalf("%s(%s) Eval: %v", op, name, err)
	}
	got := poolValues(out)
	if len(got) != len(want) {
		t.Fatalf("%s(%s) has %d outputs; want %d", op, name, len(got), len(want))
	}
	for i := range want {
		tol := 0.0
		if out.Type == tensor.Float32 {
			tol = 1e-4 + 1e-4*math.Abs(want[i])
		}
		if !(math.Abs(got[i]-want[i]) <= tol) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Errorf("%s(%s) output[%d] = %v; want %v", op, name, i, got[i], want[i])
		}
	}
	if n := testing.AllocsPerRun(5, func() { _ = k.Eval() }); n != 0 {
		t.Errorf("%s(%s) Eval allocates %v times; want 0", op, name, n)
	}
}

func TestPoolOutputSize(t *testing.T) {
	tests := []struct {
		name                string
		pad                 Padding
		in, filter, stride  int
		wantOut, wantBefore int
	}{
		{"same 3/2/2", PaddingSame, 3, 2, 2, 2, 0},
		{"same 3/3/1", PaddingSame, 3, 3, 1, 3, 1},
		{"same 4/3/2 odd total", PaddingSame, 4, 3, 2, 2, 0},
		{"same 5/4/1", PaddingSame, 5, 4, 1, 5, 1},
		{"valid 5/2/2", PaddingValid, 5, 2, 2, 2, 0},
		{"valid 7/3/3", PaddingValid, 7, 3, 3, 2, 0},
	}
	for _, tt := range tests {
		out, before, err := poolOutputSize(tt.pad, tt.in, tt.filter, tt.stride)
		if err != nil {
			t.Fatalf("poolOutputSize(%s): %v", tt.name, err)
		}
		if out != tt.wantOut || before != tt.wantBefore {
			t.Errorf("poolOutputSize(%s) = %d, %d; want %d, %d", tt.name, out, before, tt.wantOut, tt.wantBefore)
		}
	}
}

func TestPool2D(t *testing.T) {
	// 3x3 input; 2x2 windows with stride 2 and SAME padding cover
	// {-3,-2,4,-5}, {3,6}, {-7,8} and {-9} (padding is all after).
	grid := []float64{-3, -2, 3, 4, -5, 6, -7, 8, -9}
	nine := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	same22 := PoolParams{Padding: PaddingSame, StrideW: 2, StrideH: 2, FilterW: 2, FilterH: 2}
	with := func(p PoolParams, kind PoolKind, act Activation) PoolParams {
		p.Kind, p.Activation = kind, act
		return p
	}
	tests := []struct {
		name      string
		p         PoolParams
		dt        tensor.DType
		q         *tensor.Quant
		inShape   []int
		in        []float64
		wantShape []int
		want      []float64
		wantErr   error
	}{
		{
			name: "avg int8 same, rounding half away from zero",
			p:    with(same22, PoolAverage, ActNone), dt: tensor.Int8, q: poolQ(0.5, 0),
			inShape: []int{1, 3, 3, 1}, in: grid,
			// -6/4=-1.5 -> -2; 9/2=4.5 -> 5; 1/2=0.5 -> 1; -9.
			wantShape: []int{1, 2, 2, 1}, want: []float64{-2, 5, 1, -9},
		},
		{
			name: "avg float same",
			p:    with(same22, PoolAverage, ActNone), dt: tensor.Float32,
			inShape: []int{1, 3, 3, 1}, in: grid,
			wantShape: []int{1, 2, 2, 1}, want: []float64{-1.5, 4.5, 0.5, -9},
		},
		{
			name: "avg int16 same",
			p:    with(same22, PoolAverage, ActNone), dt: tensor.Int16, q: poolQ(0.5, 0),
			inShape: []int{1, 3, 3, 1}, in: grid,
			wantShape: []int{1, 2, 2, 1}, want: []float64{-2, 5, 1, -9},
		},
		{
			name: "avg int8 relu6 clamps to [zp, zp+6/scale]",
			p:    with(same22, PoolAverage, ActRelu6), dt: tensor.Int8, q: poolQ(1, -4),
			inShape: []int{1, 3, 3, 1}, in: grid,
			// raw averages -2, 5, 1, -9 clamped to [-4, 2].
			wantShape: []int{1, 2, 2, 1}, want: []float64{-2, 2, 1, -4},
		},
		{
			name: "avg float 3x3 same stride 1 counts only valid cells",
			p:    PoolParams{Kind: PoolAverage, Padding: PaddingSame, StrideW: 1, StrideH: 1, FilterW: 3, FilterH: 3},
			dt:   tensor.Float32, inShape: []int{1, 3, 3, 1}, in: nine,
			wantShape: []int{1, 3, 3, 1},
			want:      []float64{3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7},
		},
		{
			name: "avg uint8 valid 2x2 stride 1",
			p:    PoolParams{Kind: PoolAverage, Padding: PaddingValid, StrideW: 1, StrideH: 1, FilterW: 2, FilterH: 2},
			dt:   tensor.UInt8, q: poolQ(0.1, 128), inShape: []int{1, 3, 3, 1}, in: nine,
			// (1+2+4+5)/4=3, (2+3+5+6)/4=4, (4+5+7+8)/4=6, (5+6+8+9)/4=7.
			wantShape: []int{1, 2, 2, 1}, want: []float64{3, 4, 6, 7},
		},
		{
			name: "avg uint8 rounds 2.5 up",
			p:    PoolParams{Kind: PoolAverage, Padding: PaddingValid, StrideW: 1, StrideH: 1, FilterW: 2, FilterH: 2},
			dt:   tensor.UInt8, q: poolQ(0.1, 128), inShape: []int{1, 2, 2, 1}, in: []float64{1, 2, 3, 4},
			wantShape: []int{1, 1, 1, 1}, want: []float64{3},
		},
		{
			name: "max float same",
			p:    with(same22, PoolMax, ActNone), dt: tensor.Float32,
			inShape: []int{1, 3, 3, 1}, in: grid,
			wantShape: []int{1, 2, 2, 1}, want: []float64{4, 6, 8, -9},
		},
		{
			name: "max float relu",
			p:    with(same22, PoolMax, ActRelu), dt: tensor.Float32,
			inShape: []int{1, 3, 3, 1}, in: grid,
			wantShape: []int{1, 2, 2, 1}, want: []float64{4, 6, 8, 0},
		},
		{
			name: "max int8 two channels",
			p:    with(same22, PoolMax, ActNone), dt: tensor.Int8, q: poolQ(0.5, 0),
			inShape: []int{1, 2, 2, 2}, in: []float64{-128, 5, -100, -7, -120, 9, -127, 0},
			wantShape: []int{1, 1, 1, 2}, want: []float64{-100, 9},
		},
		{
			name: "max int16 valid stride 2 odd window",
			p:    PoolParams{Kind: PoolMax, Padding: PaddingValid, StrideW: 2, StrideH: 1, FilterW: 1, FilterH: 3},
			dt:   tensor.Int16, q: poolQ(0.001, 0), inShape: []int{1, 3, 3, 1}, in: []float64{-3000, 1, 2, 3, -4, 5, 6, 7, -32768},
			wantShape: []int{1, 1, 2, 1}, want: []float64{6, 5},
		},
		{
			name: "bad stride",
			p:    PoolParams{Kind: PoolMax, Padding: PaddingValid, StrideW: 0, StrideH: 1, FilterW: 1, FilterH: 1},
			dt:   tensor.Float32, inShape: []int{1, 1, 1, 1}, in: []float64{1},
			wantErr: errAny,
		},
		{
			name: "int32 unsupported",
			p:    with(same22, PoolMax, ActNone), dt: tensor.Int32,
			inShape: []int{1, 2, 2, 1}, in: []float64{1, 2, 3, 4},
			wantErr: ErrUnsupported,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := poolTensor("in", tt.dt, tt.inShape, tt.q, tt.in)
			out := poolTensor("out", tt.dt, nil, tt.q, nil)
			k, err := Pool2D(&Config{}, tt.p, in, out)
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("Pool2D(%s) err = %v; want %v", tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pool2D(%s): %v", tt.name, err)
			}
			poolCheck(t, "Pool2D", tt.name, k, out, tt.wantShape, tt.want)
		})
	}
}

// errAny in a wantErr field accepts any error.
var errAny = errors.New("any error")
