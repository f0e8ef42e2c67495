package tflite

// Differential generators (see diff_test.go) for MEAN, SUM, REDUCE_MAX,
// REDUCE_MIN, RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR, ARG_MAX, ARG_MIN and
// int16 pooling, plus interpreter-level tests of ops_pool.go.

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8} {
		addDiffGen("MEAN/"+dt.String(), genReduce(schema.BuiltinOperatorMEAN, dt, false))
		addDiffGen("MEAN/"+dt.String()+"_hw", genReduce(schema.BuiltinOperatorMEAN, dt, true))
		addDiffGen("SUM/"+dt.String(), genReduce(schema.BuiltinOperatorSUM, dt, false))
		addDiffGen("REDUCE_MAX/"+dt.String(), genReduce(schema.BuiltinOperatorREDUCE_MAX, dt, false))
		addDiffGen("RESIZE_BILINEAR/"+dt.String(), genResize(schema.BuiltinOperatorRESIZE_BILINEAR, dt))
		addDiffGen("RESIZE_NEAREST_NEIGHBOR/"+dt.String(), genResize(schema.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR, dt))
	}
	addDiffGen("REDUCE_MIN/float32", genReduce(schema.BuiltinOperatorREDUCE_MIN, tensor.Float32, false))
	addDiffGen("SUM/int32", genReduce(schema.BuiltinOperatorSUM, tensor.Int32, false))
	addDiffGen("MEAN/int16_hw", genReduce(schema.BuiltinOperatorMEAN, tensor.Int16, true))
	addDiffGen("MEAN/int16", genReduce(schema.BuiltinOperatorMEAN, tensor.Int16, false))
	addDiffGen("SUM/int16", genReduce(schema.BuiltinOperatorSUM, tensor.Int16, false))
	addDiffGen("RESIZE_BILINEAR/int16", genResize(schema.BuiltinOperatorRESIZE_BILINEAR, tensor.Int16))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int32} {
		addDiffGen("ARG_MAX/"+dt.String(), genArgMinMax(true, dt))
		addDiffGen("ARG_MIN/"+dt.String(), genArgMinMax(false, dt))
	}
	addDiffGen("AVERAGE_POOL_2D/int16", genPool16(schema.BuiltinOperatorAVERAGE_POOL_2D))
	addDiffGen("MAX_POOL_2D/int16", genPool16(schema.BuiltinOperatorMAX_POOL_2D))
}

// genReduce draws a reduction over random axes (some negative, some
// repeated). hw forces the 4-D mean over axes {1,2} with keep_dims, which
// TFLite computes with a kernel of its own.
func genReduce(op schema.BuiltinOperator, dt tensor.DType, hw bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		if hw {
			rank = 4
		}
		shape := diffShape(r, rank, 1, 6)
		var axes []int
		keep := r.IntN(2) == 0
		if hw {
			axes = diffPick(r, []int{1, 2}, []int{2, 1})
			keep = true
		} else {
			for range diffInt(r, 1, rank) {
				a := r.IntN(rank)
				if r.IntN(3) == 0 {
					a -= rank
				}
				axes = append(axes, a)
			}
		}
		reduced := make([]bool, rank)
		count := 1
		for _, a := range axes {
			if a < 0 {
				a += rank
			}
			if !reduced[a] {
				reduced[a] = true
				count *= shape[a]
			}
		}
		var outShape []int
		for d, n := range shape {
			switch {
			case !reduced[d]:
				outShape = append(outShape, n)
			case keep:
				outShape = append(outShape, 1)
			}
		}
		var qin, qout *tensor.Quant
		if dt.Quantized() {
			qin = diffQuant(r, dt, 0.005, 0.1)
			qout = qin
			if r.IntN(3) != 0 {
				s := float64(qin.Scale[0])
				if op == schema.BuiltinOperatorSUM {
					s *= math.Sqrt(float64(count))
				}
				qout = diffQuant(r, dt, s*0.5, s*2)
			}
			if op == schema.BuiltinOperatorREDUCE_MAX || op == schema.BuiltinOperatorREDUCE_MIN {
				qout = qin
			}
		}
		version := 1
		switch dt {
		case tensor.Int8:
			version = 2
		case tensor.Int16:
			version = 3
			if op == schema.BuiltinOperatorSUM {
				version = 1 // the converter versions SUM by int8 only
			}
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, qin, nil)
		ax := make([]int32, len(axes))
		for i, a := range axes {
			ax[i] = int32(a)
		}
		axis := b.Tensor("axis", tensor.Int32, []int{len(axes)}, nil, tflitetest.Int32Bytes(ax))
		out := b.Tensor("out", dt, outShape, qout, nil)
		b.Op(op, version, []int{in, axis}, []int{out}, tflitetest.ReducerOptions(keep))
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genResize(op schema.BuiltinOperator, dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := []int{diffInt(r, 1, 2), diffInt(r, 1, 7), diffInt(r, 1, 7), diffInt(r, 1, 4)}
		h, w := diffInt(r, 1, 16), diffInt(r, 1, 16)
		align, half := false, false
		switch r.IntN(3) {
		case 1:
			align = true
		case 2:
			half = true
		}
		var q *tensor.Quant
		if dt.Quantized() {
			q = diffQuant(r, dt, 0.005, 0.1)
		}
		version := 1
		switch {
		case dt == tensor.Int16:
			version = 4
		case half:
			version = 3
		case dt == tensor.Int8:
			version = 2
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		size := b.Tensor("size", tensor.Int32, []int{2}, nil, tflitetest.Int32Bytes([]int32{int32(h), int32(w)}))
		out := b.Tensor("out", dt, []int{shape[0], h, w, shape[3]}, q, nil)
		opts := tflitetest.ResizeBilinearOptions(align, half)
		if op == schema.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR {
			opts = tflitetest.ResizeNearestNeighborOptions(align, half)
		}
		b.Op(op, version, []int{in, size}, []int{out}, opts)
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{diffTensorBytes(r, dt, tensor.NumElements(shape))}, err
	}
}

func genArgMinMax(isMax bool, dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		rank := diffInt(r, 1, 4)
		shape := diffShape(r, rank, 1, 6)
		axis := r.IntN(rank)
		outShape := append(append([]int{}, shape[:axis]...), shape[axis+1:]...)
		if r.IntN(3) == 0 {
			axis -= rank
		}
		var q *tensor.Quant
		if dt.Quantized() {
			q = diffQuant(r, dt, 0.005, 0.1)
		}
		outType, st := tensor.Int32, schema.TensorTypeINT32
		if r.IntN(2) == 0 {
			outType, st = tensor.Int64, schema.TensorTypeINT64
		}
		version := 1
		if dt == tensor.Int8 {
			version = 2
		}
		n := tensor.NumElements(shape)
		data := diffTensorBytes(r, dt, n)
		if dt == tensor.Int32 {
			// Few distinct values, so that ties occur.
			data = diffInt32Bytes(r, n, -3, 3)
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", dt, shape, q, nil)
		ax := b.Tensor("axis", tensor.Int32, []int{1}, nil, tflitetest.Int32Bytes([]int32{int32(axis)}))
		out := b.Tensor("out", outType, outShape, nil, nil)
		code, opts := schema.BuiltinOperatorARG_MIN, tflitetest.ArgMinOptions(st)
		if isMax {
			code, opts = schema.BuiltinOperatorARG_MAX, tflitetest.ArgMaxOptions(st)
		}
		b.Op(code, version, []int{in, ax}, []int{out}, opts)
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{data}, err
	}
}

func genPool16(op schema.BuiltinOperator) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		n, h, w, c := 1, diffInt(r, 1, 10), diffInt(r, 1, 10), diffInt(r, 1, 6)
		fh, fw := diffInt(r, 1, 3), diffInt(r, 1, 3)
		sh, sw := diffInt(r, 1, 2), diffInt(r, 1, 2)
		pad := diffPick(r, schema.PaddingSAME, schema.PaddingVALID)
		if pad == schema.PaddingVALID {
			fh, fw = min(fh, h), min(fw, w)
		}
		inShape := []int{n, h, w, c}
		outShape := []int{n, convOut(h, fh, sh, 1, pad), convOut(w, fw, sw, 1, pad), c}
		q := diffQuant(r, tensor.Int16, 0.0001, 0.001)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", tensor.Int16, inShape, q, nil)
		out := b.Tensor("out", tensor.Int16, outShape, q, nil)
		b.Op(op, 3, []int{in}, []int{out}, tflitetest.Pool2DOptions(pad, sw, sh, fw, fh, schema.ActivationFunctionTypeNONE))
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{diffTensorBytes(r, tensor.Int16, tensor.NumElements(inShape))}, err
	}
}

// poolTestRun builds a one-operator model, runs it on input and returns the
// interpreter's output 0.
func poolTestRun(t *testing.T, b *tflitetest.Builder, input []byte) (*tensor.Tensor, error) {
	t.Helper()
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(data)
	if err != nil {
		return nil, err
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		return nil, err
	}
	copy(it.Input(0).Data, input)
	if err := it.Invoke(); err != nil {
		return nil, err
	}
	return it.Output(0), nil
}

func TestOpsPoolPrepare(t *testing.T) {
	q := &tensor.Quant{Scale: []float32{0.5}, ZeroPoint: []int32{0}}
	tests := []struct {
		name    string
		build   func(b *tflitetest.Builder) int
		input   []byte
		want    []int32 // int32 view of the output
		wantErr error
	}{
		{
			name: "mean over non-constant axis",
			build: func(b *tflitetest.Builder) int {
				in := b.Tensor("in", tensor.Int32, []int{2, 2}, nil, nil)
				axis := b.Tensor("axis", tensor.Int32, []int{1}, nil, nil)
				out := b.Tensor("out", tensor.Int32, []int{2}, nil, nil)
				b.Op(schema.BuiltinOperatorMEAN, 1, []int{in, axis}, []int{out}, tflitetest.ReducerOptions(false))
				b.Inputs(in, axis)
				b.Outputs(out)
				return in
			},
			wantErr: kernels.ErrUnsupported,
		},
		{
			name: "arg max int32, tie picks first, negative axis",
			build: func(b *tflitetest.Builder) int {
				in := b.Tensor("in", tensor.Int32, []int{2, 3}, nil, nil)
				axis := b.Tensor("axis", tensor.Int32, []int{1}, nil, tflitetest.Int32Bytes([]int32{-1}))
				out := b.Tensor("out", tensor.Int32, []int{2}, nil, nil)
				b.Op(schema.BuiltinOperatorARG_MAX, 1, []int{in, axis}, []int{out}, tflitetest.ArgMaxOptions(schema.TensorTypeINT32))
				b.Inputs(in)
				b.Outputs(out)
				return in
			},
			input: tflitetest.Int32Bytes([]int32{1, 7, 7, -2, -5, -2}),
			want:  []int32{1, 0},
		},
		{
			name: "sum int32 keep_dims over axes 0 and -1",
			build: func(b *tflitetest.Builder) int {
				in := b.Tensor("in", tensor.Int32, []int{2, 2, 2}, nil, nil)
				axis := b.Tensor("axis", tensor.Int32, []int{3}, nil, tflitetest.Int32Bytes([]int32{0, -1, 2}))
				out := b.Tensor("out", tensor.Int32, []int{1, 2, 1}, nil, nil)
				b.Op(schema.BuiltinOperatorSUM, 1, []int{in, axis}, []int{out}, tflitetest.ReducerOptions(true))
				b.Inputs(in)
				b.Outputs(out)
				return in
			},
			// [[[1,2],[3,4]],[[5,6],[7,8]]]: rows 0 -> 1+2+5+6, rows 1 -> 3+4+7+8.
			input: tflitetest.Int32Bytes([]int32{1, 2, 3, 4, 5, 6, 7, 8}),
			want:  []int32{14, 22},
		},
		{
			name: "resize with wrong size length",
			build: func(b *tflitetest.Builder) int {
				in := b.Tensor("in", tensor.Int8, []int{1, 2, 2, 1}, q, nil)
				size := b.Tensor("size", tensor.Int32, []int{3}, nil, tflitetest.Int32Bytes([]int32{4, 4, 4}))
				out := b.Tensor("out", tensor.Int8, []int{1, 4, 4, 1}, q, nil)
				b.Op(schema.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR, 2, []int{in, size}, []int{out}, tflitetest.ResizeNearestNeighborOptions(false, false))
				b.Inputs(in)
				b.Outputs(out)
				return in
			},
			wantErr: ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tflitetest.NewBuilder()
			tt.build(b)
			out, err := poolTestRun(t, b, tt.input)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("%s: err = %v; want %v", tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := out.Int32s()
			if len(got) != len(tt.want) {
				t.Fatalf("%s: output has %d elements; want %d", tt.name, len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("%s: output[%d] = %d; want %d", tt.name, i, got[i], tt.want[i])
				}
			}
		})
	}
}
