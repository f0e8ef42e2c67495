package tflite

// Tests of the shape and data-movement operators at the model level:
// generators for TestDifferential (the oracle is the reference) and the
// RESHAPE shape-source rules.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	types := []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8}
	for _, dt := range types {
		addDiffGen("TRANSPOSE/"+dt.String(), genShapeTranspose(dt))
		addDiffGen("PAD/"+dt.String(), genShapePad(dt, false))
		addDiffGen("PADV2/"+dt.String(), genShapePad(dt, true))
		addDiffGen("SPLIT/"+dt.String(), genShapeSplit(dt, false))
		addDiffGen("SPLIT_V/"+dt.String(), genShapeSplit(dt, true))
		addDiffGen("STRIDED_SLICE/"+dt.String(), genShapeStridedSlice(dt))
		addDiffGen("GATHER/"+dt.String(), genShapeGather(dt))
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8} {
		addDiffGen("PACK/"+dt.String(), genShapePack(dt))
		addDiffGen("UNPACK/"+dt.String(), genShapeUnpack(dt))
		addDiffGen("SLICE/"+dt.String(), genShapeSlice(dt))
		addDiffGen("SQUEEZE/"+dt.String(), genShapeSqueeze(dt))
		addDiffGen("EXPAND_DIMS/"+dt.String(), genShapeExpandDims(dt))
		addDiffGen("GATHER_ND/"+dt.String(), genShapeGatherND(dt))
	}
	addDiffGen("TRANSPOSE/int32", genShapeTranspose(tensor.Int32))
	addDiffGen("STRIDED_SLICE/int32", genShapeStridedSlice(tensor.Int32))
	addDiffGen("GATHER/int64", genShapeGather(tensor.Int64))
}

// shapeGenQuant returns the quantization shared by the input and output of
// a data mover (nil for unquantized types).
func shapeGenQuant(r *rand.Rand, dt tensor.DType) *tensor.Quant {
	if dt == tensor.Int8 || dt == tensor.UInt8 {
		return diffQuant(r, dt, 0.005, 0.1)
	}
	return nil
}

// shapeGenVersion is the operator version for dt: 1, or 2 for int8 (the
// version TFLite gives to most int8 data movers).
func shapeGenVersion(dt tensor.DType) int {
	if dt == tensor.Int8 {
		return 2
	}
	return 1
}

func shapeI32(vals []int) []byte {
	v := make([]int32, len(vals))
	for i, x := range vals {
		v[i] = int32(x)
	}
	return tflitetest.Int32Bytes(v)
}

// shapeGenFinish declares the model's inputs and outputs and serialises it.
func shapeGenFinish(b *tflitetest.Builder, ins, outs []int) ([]byte, error) {
	b.Inputs(ins...)
	b.Outputs(outs...)
	return b.Bytes()
}

func genShapeTranspose(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 6)
		shape := diffShape(r, rank, 1, 4)
		perm := r.Perm(rank)
		outShape := make([]int, rank)
		for i, p := range perm {
			outShape[i] = shape[p]
		}
		q := shapeGenQuant(r, dt)
		version := shapeGenVersion(dt)
		if rank > 4 {
			version = 5
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		p := b.Const("perm", tensor.Int32, []int{rank}, nil, shapeI32(perm))
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(schema.BuiltinOperatorTRANSPOSE, version, []int{in, p}, []int{out}, tflitetest.TransposeOptions())
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genShapePad(dt tensor.DType, v2 bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 4)
		pads := make([]int, 2*rank)
		outShape := make([]int, rank)
		for i := range rank {
			pads[2*i], pads[2*i+1] = diffInt(r, 0, 2), diffInt(r, 0, 2)
			outShape[i] = shape[i] + pads[2*i] + pads[2*i+1]
		}
		q := shapeGenQuant(r, dt)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		p := b.Const("paddings", tensor.Int32, []int{rank, 2}, nil, shapeI32(pads))
		out := b.Tensor("out", dt, outShape, q, nil)
		if v2 {
			v := b.Const("value", dt, []int{1}, q, diffTensorBytes(r, dt, 1))
			b.Op(schema.BuiltinOperatorPADV2, shapeGenVersion(dt), []int{in, p, v}, []int{out}, tflitetest.PadV2Options())
		} else {
			b.Op(schema.BuiltinOperatorPAD, shapeGenVersion(dt), []int{in, p}, []int{out}, tflitetest.PadOptions())
		}
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

// genShapeSplit writes SPLIT (axis as input 0) or SPLIT_V (sizes, one of
// them sometimes -1).
func genShapeSplit(dt tensor.DType, v bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 4)
		axis := diffInt(r, 0, rank-1)
		n := diffInt(r, 1, 3)
		var sizes []int
		if v {
			shape[axis] = diffInt(r, n, 8)
			rest := shape[axis]
			for i := 0; i < n-1; i++ {
				s := diffInt(r, 1, rest-(n-1-i))
				sizes = append(sizes, s)
				rest -= s
			}
			sizes = append(sizes, rest)
		} else {
			shape[axis] = n * diffInt(r, 1, 3)
			for range n {
				sizes = append(sizes, shape[axis]/n)
			}
		}
		optAxis := axis
		if r.IntN(2) == 0 {
			optAxis -= rank
		}
		q := shapeGenQuant(r, dt)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		a := b.Const("axis", tensor.Int32, []int{}, nil, shapeI32([]int{optAxis}))
		var outs []int
		for i, s := range sizes {
			os := slices.Clone(shape)
			os[axis] = s
			outs = append(outs, b.Tensor(fmt.Sprintf("out%d", i), dt, os, q, nil))
		}
		if v {
			written := slices.Clone(sizes)
			if r.IntN(2) == 0 {
				written[r.IntN(n)] = -1
			}
			sz := b.Const("sizes", tensor.Int32, []int{n}, nil, shapeI32(written))
			b.Op(schema.BuiltinOperatorSPLIT_V, shapeGenVersion(dt), []int{in, sz, a}, outs, tflitetest.SplitVOptions(n))
		} else {
			b.Op(schema.BuiltinOperatorSPLIT, shapeGenVersion(dt), []int{a, in}, outs, tflitetest.SplitOptions(n))
		}
		m, err := shapeGenFinish(b, []int{in}, outs)
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genShapePack(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 0, 3)
		shape := diffShape(r, rank, 1, 4)
		n := diffInt(r, 1, 4)
		axis := diffInt(r, -(rank + 1), rank)
		a := axis
		if a < 0 {
			a += rank + 1
		}
		outShape := slices.Concat(shape[:a], []int{n}, shape[a:])
		q := shapeGenQuant(r, dt)
		b := tflitetest.NewBuilder()
		var ins []int
		var data [][]byte
		for i := range n {
			ins = append(ins, b.Tensor(fmt.Sprintf("in%d", i), dt, shape, q, nil))
			data = append(data, diffTensorBytes(r, dt, tensor.NumElements(shape)))
		}
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(schema.BuiltinOperatorPACK, shapeGenVersion(dt), ins, []int{out}, tflitetest.PackOptions(n, axis))
		m, err := shapeGenFinish(b, ins, []int{out})
		return m, data, err
	}
}

func genShapeUnpack(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 4)
		axis := diffInt(r, -rank, rank-1)
		a := axis
		if a < 0 {
			a += rank
		}
		outShape := slices.Concat(shape[:a], shape[a+1:])
		q := shapeGenQuant(r, dt)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		var outs []int
		for i := range shape[a] {
			outs = append(outs, b.Tensor(fmt.Sprintf("out%d", i), dt, outShape, q, nil))
		}
		b.Op(schema.BuiltinOperatorUNPACK, shapeGenVersion(dt), []int{in}, outs, tflitetest.UnpackOptions(shape[a], axis))
		m, err := shapeGenFinish(b, []int{in}, outs)
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genShapeSlice(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 5)
		begin := make([]int, rank)
		size := make([]int, rank)
		outShape := make([]int, rank)
		for i, d := range shape {
			begin[i] = diffInt(r, 0, d-1)
			outShape[i] = diffInt(r, 1, d-begin[i])
			size[i] = outShape[i]
			if outShape[i] == d-begin[i] && r.IntN(2) == 0 {
				size[i] = -1
			}
		}
		q := shapeGenQuant(r, dt)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		bt := b.Const("begin", tensor.Int32, []int{rank}, nil, shapeI32(begin))
		st := b.Const("size", tensor.Int32, []int{rank}, nil, shapeI32(size))
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(schema.BuiltinOperatorSLICE, shapeGenVersion(dt), []int{in, bt, st}, []int{out}, nil)
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genShapeSqueeze(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 5)
		shape := diffShape(r, rank, 1, 3)
		for i := range shape {
			if r.IntN(2) == 0 {
				shape[i] = 1
			}
		}
		var dims, outShape []int
		all := r.IntN(3) == 0
		for i, d := range shape {
			if d == 1 && (all || r.IntN(2) == 0) {
				if !all {
					dims = append(dims, diffPick(r, i, i-rank))
				}
				continue
			}
			outShape = append(outShape, d)
		}
		if !all && len(dims) == 0 {
			outShape = slices.Clone(shape)
			for i, d := range shape {
				if d == 1 {
					outShape = slices.Delete(slices.Clone(shape), i, i+1)
					dims = []int{i}
					break
				}
			}
			if dims == nil {
				all = true // no dimension of size 1: squeeze nothing
			}
		}
		q := shapeGenQuant(r, dt)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(schema.BuiltinOperatorSQUEEZE, 1, []int{in}, []int{out}, tflitetest.SqueezeOptions(dims))
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genShapeExpandDims(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 0, 4)
		shape := diffShape(r, rank, 1, 4)
		axis := diffInt(r, -(rank + 1), rank)
		a := axis
		if a < 0 {
			a += rank + 1
		}
		outShape := slices.Concat(shape[:a], []int{1}, shape[a:])
		q := shapeGenQuant(r, dt)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		at := b.Const("axis", tensor.Int32, []int{1}, nil, shapeI32([]int{axis}))
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(schema.BuiltinOperatorEXPAND_DIMS, 1, []int{in, at}, []int{out}, nil)
		m, err := shapeGenFinish(b, []int{in}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

// pySliceLen is len(range(n)[start:stop:step]) with Python's rules (nil
// bounds are the defaults); it sizes the outputs of the generated
// STRIDED_SLICE cases independently of TFLite's formulation.
func pySliceLen(start, stop *int, step, n int) int {
	lower, upper := 0, n
	if step < 0 {
		lower, upper = -1, n-1
	}
	adjust := func(v *int, def int) int {
		if v == nil {
			return def
		}
		x := *v
		if x < 0 {
			x += n
			if x < lower {
				x = lower
			}
		} else if x > upper {
			x = upper
		}
		return x
	}
	var s, e int
	if step > 0 {
		s, e = adjust(start, lower), adjust(stop, upper)
		if e <= s {
			return 0
		}
		return (e - s + step - 1) / step
	}
	s, e = adjust(start, upper), adjust(stop, lower)
	if s <= e {
		return 0
	}
	return (s - e - step - 1) / -step
}

// genShapeStridedSlice writes a random numpy-style index expression:
// slices with any bounds and strides, an ellipsis, new axes, and shrunk
// (integer) indices.
func genShapeStridedSlice(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 6)
		const (
			kSlice = iota
			kIndex
			kNew
			kEllipsis
		)
		// Choose the entries: consume some input dimensions, maybe with an
		// ellipsis standing for some of them, plus new axes (at most 5
		// dimensions in all, TFLite's limit).
		useEllipsis := r.IntN(3) == 0
		offset := !useEllipsis && r.IntN(5) == 0
		nNew := 0
		if !offset {
			nNew = diffInt(r, 0, min(2, 5-rank))
		}
		covered := rank
		if useEllipsis {
			// TFLite's ellipsis always spans at least one dimension (numpy's
			// may span none), so leave it one at least.
			covered = diffInt(r, 0, rank-1)
		} else if !offset && r.IntN(3) == 0 {
			// Trailing dimensions left implicit (not with offset: TFLite then
			// sizes them from end entries that do not exist).
			covered = diffInt(r, 1, rank)
		}
		var kinds []int
		for range covered {
			k := kSlice
			if !offset && r.IntN(4) == 0 {
				k = kIndex
			}
			kinds = append(kinds, k)
		}
		for range nNew {
			i := r.IntN(len(kinds) + 1)
			kinds = slices.Insert(kinds, i, kNew)
		}
		if useEllipsis {
			i := r.IntN(len(kinds) + 1)
			kinds = slices.Insert(kinds, i, kEllipsis)
		}
		if len(kinds) == 0 {
			kinds = []int{kSlice}
			covered = 1
		}

		var begin, end, strides []int
		var m tflitetest.StridedSliceMasks
		m.Offset = offset
		var outShape []int
		dim := 0 // next input dimension
		ellipsisDims := rank - covered
		for i, k := range kinds {
			bit := 1 << i
			switch k {
			case kEllipsis:
				m.Ellipsis |= bit
				begin, end, strides = append(begin, 0), append(end, 0), append(strides, 1)
				outShape = append(outShape, shape[dim:dim+ellipsisDims]...)
				dim += ellipsisDims
			case kNew:
				m.NewAxis |= bit
				begin, end, strides = append(begin, 0), append(end, 0), append(strides, 1)
				outShape = append(outShape, 1)
			case kIndex:
				n := shape[dim]
				idx := diffInt(r, -n, n-1)
				m.ShrinkAxis |= bit
				begin, end, strides = append(begin, idx), append(end, idx+1), append(strides, 1)
				dim++
			case kSlice:
				n := shape[dim]
				if offset {
					bg := diffInt(r, 0, n-1)
					size := diffInt(r, 1, n-bg)
					st := diffInt(r, 1, 3)
					begin, end, strides = append(begin, bg), append(end, size), append(strides, st)
					outShape = append(outShape, (size+st-1)/st)
					dim++
					continue
				}
				// Retry until the slice is not empty: the oracle cannot hold
				// an empty output.
				var st, bg, en, size int
				var bm, em bool
				for size == 0 {
					st = diffPick(r, 1, 1, 2, 3, -1, -2)
					bg, en = diffInt(r, -n-2, n+2), diffInt(r, -n-2, n+2)
					bm, em = r.IntN(3) == 0, r.IntN(3) == 0
					bp, ep := &bg, &en
					if bm {
						bp = nil
					}
					if em {
						ep = nil
					}
					size = pySliceLen(bp, ep, st, n)
				}
				if bm {
					m.Begin |= bit
				}
				if em {
					m.End |= bit
				}
				begin, end, strides = append(begin, bg), append(end, en), append(strides, st)
				outShape = append(outShape, size)
				dim++
			}
		}
		outShape = append(outShape, shape[dim:]...)

		q := shapeGenQuant(r, dt)
		version := shapeGenVersion(dt)
		if m.Ellipsis != 0 || m.NewAxis != 0 || m.Offset {
			version = 6 // not checked by the kernels; keeps within LiteRT's range
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		n := len(kinds)
		bt := b.Const("begin", tensor.Int32, []int{n}, nil, shapeI32(begin))
		et := b.Const("end", tensor.Int32, []int{n}, nil, shapeI32(end))
		st := b.Const("strides", tensor.Int32, []int{n}, nil, shapeI32(strides))
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(schema.BuiltinOperatorSTRIDED_SLICE, version, []int{in, bt, et, st}, []int{out}, tflitetest.StridedSliceOptions(m))
		model, err := shapeGenFinish(b, []int{in}, []int{out})
		return model, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genShapeGather(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 5)
		axis := diffInt(r, 0, rank-1)
		batchDims := 0
		if axis > 0 && r.IntN(3) == 0 {
			batchDims = diffInt(r, 1, axis)
		}
		idxShape := slices.Clone(shape[:batchDims])
		idxShape = append(idxShape, diffShape(r, diffInt(r, 0, 2), 1, 3)...)
		idxType := diffPick(r, tensor.Int32, tensor.Int64)
		nIdx := tensor.NumElements(idxShape)
		idx := make([]int64, nIdx)
		for i := range idx {
			idx[i] = int64(diffInt(r, 0, shape[axis]-1))
		}
		var idxBytes []byte
		if idxType == tensor.Int32 {
			v := make([]int32, nIdx)
			for i, x := range idx {
				v[i] = int32(x)
			}
			idxBytes = tflitetest.Int32Bytes(v)
		} else {
			idxBytes = tflitetest.Int64Bytes(idx)
		}
		outShape := slices.Concat(shape[:axis], idxShape[batchDims:], shape[axis+1:])
		optAxis, optBatch := axis, batchDims
		if r.IntN(2) == 0 {
			optAxis -= rank
		}
		version := shapeGenVersion(dt)
		if dt == tensor.Int64 || batchDims != 0 {
			version = 5
		}
		q := shapeGenQuant(r, dt)
		b := tflitetest.NewBuilder()
		in := b.Tensor("params", dt, shape, q, nil)
		it := b.Tensor("indices", idxType, idxShape, nil, nil)
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(schema.BuiltinOperatorGATHER, version, []int{in, it}, []int{out}, tflitetest.GatherOptions(optAxis, optBatch))
		m, err := shapeGenFinish(b, []int{in, it}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape)), idxBytes}, err
	}
}

func genShapeGatherND(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 4)
		k := diffInt(r, 1, rank)
		lead := diffShape(r, diffInt(r, 0, 2), 1, 3)
		idxShape := append(slices.Clone(lead), k)
		n := tensor.NumElements(lead)
		idx := make([]int, 0, n*k)
		for range n {
			for j := range k {
				idx = append(idx, diffInt(r, 0, shape[j]-1))
			}
		}
		outShape := slices.Concat(lead, shape[k:])
		q := shapeGenQuant(r, dt)
		b := tflitetest.NewBuilder()
		in := b.Tensor("params", dt, shape, q, nil)
		it := b.Tensor("indices", tensor.Int32, idxShape, nil, nil)
		out := b.Tensor("out", dt, outShape, q, nil)
		b.Op(schema.BuiltinOperatorGATHER_ND, shapeGenVersion(dt), []int{in, it}, []int{out}, nil)
		m, err := shapeGenFinish(b, []int{in, it}, []int{out})
		return m, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape)), shapeI32(idx)}, err
	}
}

func TestPySliceLen(t *testing.T) {
	p := func(v int) *int { return &v }
	tests := []struct {
		name        string
		start, stop *int
		step, n     int
		want        int
	}{
		{"[:]", nil, nil, 1, 5, 5},
		{"[::-1]", nil, nil, -1, 5, 5},
		{"[1:4:2]", p(1), p(4), 2, 5, 2},
		{"[-1:-4:-1]", p(-1), p(-4), -1, 5, 3},
		{"[10:]", p(10), nil, 1, 5, 0},
		{"[-10:2]", p(-10), p(2), 1, 5, 2},
		{"[3::-2]", p(3), nil, -2, 5, 2},
	}
	for _, tc := range tests {
		if got := pySliceLen(tc.start, tc.stop, tc.step, tc.n); got != tc.want {
			t.Errorf("pySliceLen(%s, n=%d) = %d; want %d", tc.name, tc.n, got, tc.want)
		}
	}
}

// TestReshapeShapeSource checks which shape RESHAPE honours: the constant
// shape input over the option, the option when the input is absent, the
// legacy [0] option meaning a scalar.
func TestReshapeShapeSource(t *testing.T) {
	tests := []struct {
		name      string
		inShape   []int
		shapeIn   []int // nil: no second input
		opt       []int // nil: no new_shape field
		outShape  []int // declared in the file
		wantShape []int
		wantErr   bool
	}{
		{name: "input wins", inShape: []int{2, 3}, shapeIn: []int{3, -1}, opt: []int{6}, outShape: []int{3, 2}, wantShape: []int{3, 2}},
		{name: "option only", inShape: []int{2, 3}, opt: []int{-1}, outShape: []int{6}, wantShape: []int{6}},
		{name: "legacy scalar", inShape: []int{1, 1}, opt: []int{0}, outShape: []int{}, wantShape: []int{}},
		{name: "declared shape", inShape: []int{2, 3}, outShape: []int{1, 6}, wantShape: []int{1, 6}},
		{name: "bad option", inShape: []int{2, 3}, opt: []int{4}, outShape: []int{4}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tflitetest.NewBuilder()
			in := b.Tensor("in", tensor.Float32, tc.inShape, nil, nil)
			ins := []int{in}
			if tc.shapeIn != nil {
				ins = append(ins, b.Const("shape", tensor.Int32, []int{len(tc.shapeIn)}, nil, shapeI32(tc.shapeIn)))
			}
			out := b.Tensor("out", tensor.Float32, tc.outShape, nil, nil)
			var opts tflitetest.Options
			if tc.opt != nil {
				opts = tflitetest.ReshapeOptions(tc.opt)
			}
			b.Op(schema.BuiltinOperatorRESHAPE, 1, ins, []int{out}, opts)
			data, err := shapeGenFinish(b, []int{in}, []int{out})
			if err != nil {
				t.Fatal(err)
			}
			m, err := Load(data)
			if err != nil {
				t.Fatal(err)
			}
			it, err := NewInterpreter(m, nil)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("RESHAPE(%s) prepared; want an error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("RESHAPE(%s): %v", tc.name, err)
			}
			if got := it.Output(0).Shape; !slices.Equal(got, tc.wantShape) {
				t.Errorf("RESHAPE(%s) output shape = %v; want %v", tc.name, got, tc.wantShape)
			}
			copy(it.Input(0).Data, tflitetest.Float32Bytes(make([]float32, tensor.NumElements(tc.inShape))))
			if err := it.Invoke(); err != nil {
				t.Fatalf("RESHAPE(%s) Invoke: %v", tc.name, err)
			}
		})
	}
}

// TestShapeOpsInModels prepares every shape operator of the stored models
// on the shapes the file declares and checks the output shapes the kernels
// compute against those the converter recorded.
func TestShapeOpsInModels(t *testing.T) {
	ours := map[schema.BuiltinOperator]bool{}
	for _, op := range []schema.BuiltinOperator{
		schema.BuiltinOperatorRESHAPE, schema.BuiltinOperatorSQUEEZE, schema.BuiltinOperatorEXPAND_DIMS,
		schema.BuiltinOperatorTRANSPOSE, schema.BuiltinOperatorPAD, schema.BuiltinOperatorPADV2,
		schema.BuiltinOperatorCONCATENATION, schema.BuiltinOperatorSPLIT, schema.BuiltinOperatorSPLIT_V,
		schema.BuiltinOperatorPACK, schema.BuiltinOperatorUNPACK, schema.BuiltinOperatorSLICE,
		schema.BuiltinOperatorSTRIDED_SLICE, schema.BuiltinOperatorGATHER, schema.BuiltinOperatorGATHER_ND,
	} {
		ours[op] = true
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "testdata", "models", "*.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(data)
		if err != nil {
			t.Logf("%s: %v", f, err)
			continue
		}
		sg := m.Subgraphs[0]
		for oi := range sg.Operators {
			op := &sg.Operators[oi]
			c := m.opcodes[op.Opcode]
			if !ours[c.builtin] {
				continue
			}
			e, err := lookupOp(c)
			if err != nil {
				t.Errorf("%s operator %d: %v", f, oi, err)
				continue
			}
			mk := func(i int) *tensor.Tensor {
				ti := &sg.Tensors[i]
				return &tensor.Tensor{Name: ti.Name, Type: ti.Type, Shape: slices.Clone(ti.Shape), Quant: ti.Quant, Data: ti.Data, Const: ti.Data != nil}
			}
			n := &node{index: oi, name: c.String(), version: c.version, op: op, cfg: &kernels.Config{}}
			for _, ti := range op.Inputs {
				var tt *tensor.Tensor
				if ti >= 0 {
					tt = mk(ti)
				}
				n.in = append(n.in, tt)
			}
			for _, ti := range op.Outputs {
				n.out = append(n.out, mk(ti))
			}
			if _, err := e.prepare(n); err != nil {
				t.Errorf("%s operator %d (%s): %v", f, oi, c, err)
				continue
			}
			for j, ti := range op.Outputs {
				if want := sg.Tensors[ti].Shape; !slices.Equal(n.out[j].Shape, want) {
					t.Errorf("%s operator %d (%s) output %d shape = %v; the file says %v", f, oi, c, j, n.out[j].Shape, want)
				}
			}
			seen++
		}
	}
	t.Logf("%d shape operators checked", seen)
}
