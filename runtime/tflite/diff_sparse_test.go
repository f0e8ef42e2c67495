package tflite

// Differential generators for sparse constants (the loader densifies
// them) and DENSIFY: a random tensor with about half its elements (or
// blocks) zero, stored with random dense/CSR levels, blocks and index
// widths, densified (float32, float16 or int8), brought to float32 and
// added to the input; and FULLY_CONNECTED reading sparse float32 weights
// directly, as TFLite's sparse kernels do.

import (
	"encoding/binary"
	"math"
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float16, tensor.Int8} {
		addDiffGen("DENSIFY/"+dt.String(), genDensify(dt))
	}
	addDiffGen("FULLY_CONNECTED/sparse_weights_float32", genSparseFC)
}

// randomSparse returns a tensor's dense bytes with about half of its
// elements (or of its blocks) zero, and a storage format for it.
func randomSparse(r *rand.Rand, dt tensor.DType, shape []int, fcFormat bool) ([]byte, []byte, *tflitetest.Sparsity, error) {
	n := tensor.NumElements(shape)
	size := dt.Size()
	dense := make([]byte, n*size)
	block := make([]int, len(shape))
	csr := make([]bool, len(shape))
	for d := range shape {
		block[d] = 1
		csr[d] = r.IntN(2) == 0
	}
	if fcFormat {
		// TFLite's sparse FULLY_CONNECTED kernels: dense rows, CSR
		// columns, no blocks or 1×4 blocks.
		csr[0], csr[1] = false, true
		if r.IntN(2) == 0 {
			block[1] = 4
		}
	} else if r.IntN(2) == 0 {
		d := len(shape) - 1
		for _, bs := range []int{4, 2, 3} {
			if shape[d]%bs == 0 && shape[d] > bs {
				block[d] = bs
				break
			}
		}
	}
	density := diffPick(r, 0.2, 0.5, 0.8)
	for i := 0; i < n; i++ {
		if r.Float64() > density {
			continue
		}
		switch dt {
		case tensor.Float32:
			binary.LittleEndian.PutUint32(dense[4*i:], math.Float32bits(float32(r.Float64()*2-1)))
		case tensor.Float16:
			h := uint16(r.IntN(1 << 16))
			if (h>>10)&0x1f == 0x1f {
				h &^= 1 << 14
			}
			binary.LittleEndian.PutUint16(dense[2*i:], h)
		default:
			dense[i] = byte(r.IntN(255) - 127)
		}
	}
	idxType := diffPick(r, tensor.Int32, tensor.UInt16, tensor.UInt8)
	values, sp, err := tflitetest.Sparsify(dense, size, shape, block, csr, idxType)
	return dense, values, sp, err
}

func genDensify(dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		shape := diffShape(r, diffInt(r, 1, 4), 1, 8)
		n := tensor.NumElements(shape)
		_, values, sp, err := randomSparse(r, dt, shape, false)
		if err != nil {
			return nil, nil, err
		}
		var q *tensor.Quant
		if dt == tensor.Int8 {
			q = &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.005, 0.05))}, ZeroPoint: []int32{int32(diffInt(r, -10, 10))}}
		}
		b := tflitetest.NewBuilder()
		w := b.SparseConst("w", dt, shape, q, values, sp)
		wd := b.Tensor("w_dense", dt, shape, q, nil)
		b.Op(schema.BuiltinOperatorDENSIFY, 1, []int{w}, []int{wd}, nil)
		wf := wd
		if dt != tensor.Float32 {
			wf = b.Tensor("w_f32", tensor.Float32, shape, nil, nil)
			version := 3
			if dt == tensor.Int8 {
				version = 2
			}
			b.Op(schema.BuiltinOperatorDEQUANTIZE, version, []int{wd}, []int{wf}, nil)
		}
		in := b.Tensor("in", tensor.Float32, shape, nil, nil)
		out := b.Tensor("out", tensor.Float32, shape, nil, nil)
		b.Op(schema.BuiltinOperatorADD, 1, []int{in, wf}, []int{out}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{diffFloatBytes(r, n, -1, 1)}, err
	}
}

func genSparseFC(r *rand.Rand) ([]byte, [][]byte, error) {
	units, depth, batch := diffInt(r, 1, 16), 4*diffInt(r, 1, 8), diffInt(r, 1, 3)
	_, values, sp, err := randomSparse(r, tensor.Float32, []int{units, depth}, true)
	if err != nil {
		return nil, nil, err
	}
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Float32, []int{batch, depth}, nil, nil)
	w := b.SparseConst("w", tensor.Float32, []int{units, depth}, nil, values, sp)
	bias := b.Const("bias", tensor.Float32, []int{units}, nil, diffFloatBytes(r, units, -1, 1))
	out := b.Tensor("out", tensor.Float32, []int{batch, units}, nil, nil)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 8, []int{in, w, bias}, []int{out}, tflitetest.FullyConnectedOptions(diffActivation(r), false))
	b.Inputs(in)
	b.Outputs(out)
	model, err := b.Bytes()
	return model, [][]byte{diffFloatBytes(r, batch*depth, -1, 1)}, err
}
