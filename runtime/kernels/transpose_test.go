package kernels

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// shapeTensor makes a tensor of type dt holding vals (float32 values are
// converted from the ints; bools are v != 0). A nil vals leaves Data nil
// (an output).
func shapeTensor(name string, dt tensor.DType, shape []int, vals []int64) *tensor.Tensor {
	t := &tensor.Tensor{Name: name, Type: dt, Shape: slices.Clone(shape)}
	if vals == nil {
		return t
	}
	es := dt.Size()
	t.Data = make([]byte, len(vals)*es)
	for i, v := range vals {
		b := t.Data[i*es:]
		switch dt {
		case tensor.Float32:
			binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v)))
		case tensor.Bool:
			if v != 0 {
				b[0] = 1
			}
		default:
			switch es {
			case 1:
				b[0] = byte(v)
			case 2:
				binary.LittleEndian.PutUint16(b, uint16(v))
			case 4:
				binary.LittleEndian.PutUint32(b, uint32(v))
			case 8:
				binary.LittleEndian.PutUint64(b, uint64(v))
			}
		}
	}
	return t
}

// shapeBind gives an output tensor data for its (kernel-set) shape.
func shapeBind(t *tensor.Tensor) {
	t.Data = make([]byte, t.NumBytes())
}

// shapeValues decodes a tensor's elements as int64 (floats truncated to
// their integer value, which the tests only use for integral floats).
func shapeValues(t *tensor.Tensor) []int64 {
	n := t.NumElements()
	out := make([]int64, n)
	es := t.Type.Size()
	for i := range out {
		b := t.Data[i*es:]
		switch t.Type {
		case tensor.Float32:
			out[i] = int64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		case tensor.Int8:
			out[i] = int64(int8(b[0]))
		case tensor.UInt8, tensor.Bool:
			out[i] = int64(b[0])
		case tensor.Int16:
			out[i] = int64(int16(binary.LittleEndian.Uint16(b)))
		case tensor.Int32:
			out[i] = int64(int32(binary.LittleEndian.Uint32(b)))
		case tensor.Int64:
			out[i] = int64(binary.LittleEndian.Uint64(b))
		}
	}
	return out
}

// shapeIota returns 0, 1, ..., n-1.
func shapeIota(n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(i)
	}
	return v
}

// shapeRun evaluates k, checks Eval allocates nothing and compares out.
func shapeRun(t *testing.T, op string, k Kernel, out *tensor.Tensor, wantShape []int, want []int64) {
	t.Helper()
	if !slices.Equal(out.Shape, wantShape) {
		t.Fatalf("%s output shape = %v; want %v", op, out.Shape, wantShape)
	}
	shapeBind(out)
	if err := k.Eval(); err != nil {
		t.Fatalf("%s Eval: %v", op, err)
	}
	got := shapeValues(out)
	if len(got) != len(want) {
		t.Fatalf("%s output has %d elements; want %d", op, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s output[%d] = %d; want %d", op, i, got[i], want[i])
			break
		}
	}
	if a := testing.AllocsPerRun(5, func() { _ = k.Eval() }); a != 0 {
		t.Errorf("%s Eval allocates %v times; want 0", op, a)
	}
}

func TestTranspose(t *testing.T) {
	// want3 is in[j][k][i] for a [2,3,4] input holding 0..23 and perm
	// [2,0,1]: out[i][j][k] = 12j + 4k + i, out shape [4,2,3].
	var want3 []int64
	for i := range 4 {
		for j := range 2 {
			for k := range 3 {
				want3 = append(want3, int64(12*j+4*k+i))
			}
		}
	}
	tests := []struct {
		name      string
		dt        tensor.DType
		shape     []int
		perm      []int
		wantShape []int
		want      []int64
		wantErr   bool
	}{
		{name: "2d float", dt: tensor.Float32, shape: []int{2, 3}, perm: []int{1, 0}, wantShape: []int{3, 2}, want: []int64{0, 3, 1, 4, 2, 5}},
		{name: "3d int16", dt: tensor.Int16, shape: []int{2, 3, 4}, perm: []int{2, 0, 1}, wantShape: []int{4, 2, 3}, want: want3},
		{name: "3d int8", dt: tensor.Int8, shape: []int{2, 3, 4}, perm: []int{2, 0, 1}, wantShape: []int{4, 2, 3}, want: want3},
		{name: "3d int64", dt: tensor.Int64, shape: []int{2, 3, 4}, perm: []int{2, 0, 1}, wantShape: []int{4, 2, 3}, want: want3},
		// Swapping the two leading dims keeps rows of 4 contiguous.
		{name: "rows", dt: tensor.UInt8, shape: []int{2, 3, 4}, perm: []int{1, 0, 2}, wantShape: []int{3, 2, 4},
			want: []int64{0, 1, 2, 3, 12, 13, 14, 15, 4, 5, 6, 7, 16, 17, 18, 19, 8, 9, 10, 11, 20, 21, 22, 23}},
		{name: "identity 6d", dt: tensor.Int32, shape: []int{1, 2, 1, 2, 1, 2}, perm: []int{0, 1, 2, 3, 4, 5}, wantShape: []int{1, 2, 1, 2, 1, 2}, want: shapeIota(8)},
		// in[a][f] = f (shape [2,1,1,1,1,2]) reversed: out[x][y] = in[y][x] = x.
		{name: "reverse 6d bool", dt: tensor.Bool, shape: []int{2, 1, 1, 1, 1, 2}, perm: []int{5, 4, 3, 2, 1, 0}, wantShape: []int{2, 1, 1, 1, 1, 2}, want: []int64{0, 0, 1, 1}},
		{name: "not a permutation", dt: tensor.Float32, shape: []int{2, 3}, perm: []int{0, 0}, wantErr: true},
		{name: "out of range", dt: tensor.Float32, shape: []int{2, 3}, perm: []int{0, 2}, wantErr: true},
		{name: "wrong length", dt: tensor.Float32, shape: []int{2, 3}, perm: []int{0}, wantErr: true},
		{name: "string", dt: tensor.String, shape: []int{2}, perm: []int{0}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var vals []int64
			if tc.dt.Size() > 0 {
				vals = shapeIota(tensor.NumElements(tc.shape))
				if tc.dt == tensor.Bool {
					vals = []int64{0, 1, 0, 1} // in[a][f] = f
				}
			}
			in := shapeTensor("in", tc.dt, tc.shape, vals)
			out := shapeTensor("out", tc.dt, nil, nil)
			k, err := Transpose(in, tc.perm, out)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Transpose(%s) succeeded; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Transpose(%s): %v", tc.name, err)
			}
			shapeRun(t, "Transpose("+tc.name+")", k, out, tc.wantShape, tc.want)
		})
	}
}

// TestShapeCopyPlanMerge checks that contiguous dimensions are merged into
// one row copy.
func TestShapeCopyPlanMerge(t *testing.T) {
	p := newShapeCopyPlan(4, []int{2, 3, 4}, []int{12, 4, 1}, []int{12, 4, 1}, 0, 0)
	if len(p.dims) != 1 || p.dims[0] != 24 {
		t.Errorf("plan dims = %v; want [24]", p.dims)
	}
	p = newShapeCopyPlan(4, []int{1, 3, 1}, []int{3, 1, 1}, []int{3, 1, 1}, 0, 0)
	if len(p.dims) != 1 || p.dims[0] != 3 {
		t.Errorf("plan dims = %v; want [3]", p.dims)
	}
}
