package tflitetest

import (
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Sparsity is how a sparse constant is stored (the schema's
// SparsityParameters): a traversal order over the tensor's dimensions
// followed by its block dimensions, the original dimension of each block
// dimension, and one level per traversed dimension.
type Sparsity struct {
	TraversalOrder []int
	BlockMap       []int
	Levels         []SparseLevel
}

// SparseLevel is one traversed dimension: dense (DenseSize entries) or
// compressed (CSR Segments and Indices, written as int32, uint16 or uint8
// vectors per IndexType, or wider when a value does not fit).
type SparseLevel struct {
	Dense             bool
	DenseSize         int
	Segments, Indices []int
	IndexType         tensor.DType
}

// SparseConst adds a constant stored sparse: values are the stored
// elements in traversal order (as Sparsify returns them).
func (b *Builder) SparseConst(name string, typ tensor.DType, shape []int, q *tensor.Quant, values []byte, sp *Sparsity) int {
	i := b.Tensor(name, typ, shape, q, nil)
	buf := len(b.buffers)
	b.buffers = append(b.buffers, values)
	b.tensors[i].buffer = buf
	b.tensors[i].sparsity = sp
	return i
}

// Sparsify stores dense data (elemSize bytes per element, row-major in
// shape) in the TACO format TFLite reads: block[d] > 1 splits dimension d
// into blocks of that size (the block dimensions come last, dense), and
// csr[i] makes traversal level i (0..rank-1) compressed. A compressed
// level keeps the indices whose sub-tensor holds a non-zero element; the
// indices are written with indexType (Int32, UInt16 or UInt8).
func Sparsify(dense []byte, elemSize int, shape, block []int, csr []bool, indexType tensor.DType) ([]byte, *Sparsity, error) {
	rank := len(shape)
	if len(block) != rank || len(csr) != rank {
		return nil, nil, fmt.Errorf("sparsify: block %v and csr %v for rank %d", block, csr, rank)
	}
	sp := &Sparsity{}
	var blockDims []int
	expanded := append([]int(nil), shape...)
	for d, bs := range block {
		if bs > 1 {
			if shape[d]%bs != 0 {
				return nil, nil, fmt.Errorf("sparsify: block %d does not divide dimension %d (%d)", bs, d, shape[d])
			}
			expanded[d] = shape[d] / bs
			sp.BlockMap = append(sp.BlockMap, d)
			blockDims = append(blockDims, bs)
		}
	}
	levels := rank + len(blockDims)
	for i := 0; i < levels; i++ {
		sp.TraversalOrder = append(sp.TraversalOrder, i)
		size := 0
		if i < rank {
			size = expanded[i]
		} else {
			size = blockDims[i-rank]
		}
		lv := SparseLevel{Dense: i >= rank || !csr[i], DenseSize: size, IndexType: indexType}
		if !lv.Dense {
			lv.Segments = []int{0}
		}
		sp.Levels = append(sp.Levels, lv)
	}
	idx := make([]int, levels)
	flat := func() int {
		at := 0
		for d := 0; d < rank; d++ {
			x := idx[d]
			for b, o := range sp.BlockMap {
				if o == d {
					x = x*blockDims[b] + idx[rank+b]
				}
			}
			at = at*shape[d] + x
		}
		return at
	}
	var nonzero func(level int) bool
	nonzero = func(level int) bool {
		if level == levels {
			for _, c := range dense[flat()*elemSize : (flat()+1)*elemSize] {
				if c != 0 {
					return true
				}
			}
			return false
		}
		for i := 0; i < sp.Levels[level].DenseSize; i++ {
			idx[level] = i
			if nonzero(level + 1) {
				return true
			}
		}
		return false
	}
	var values []byte
	var walk func(level int)
	walk = func(level int) {
		if level == levels {
			at := flat()
			values = append(values, dense[at*elemSize:(at+1)*elemSize]...)
			return
		}
		lv := &sp.Levels[level]
		for i := 0; i < lv.DenseSize; i++ {
			idx[level] = i
			if !lv.Dense {
				if !nonzero(level + 1) {
					continue
				}
				lv.Indices = append(lv.Indices, i)
			}
			walk(level + 1)
		}
		if !lv.Dense {
			lv.Segments = append(lv.Segments, len(lv.Indices))
		}
	}
	walk(0)
	return values, sp, nil
}

// build writes the SparsityParameters table.
func (sp *Sparsity) build(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
	vec := func(v []int, typ tensor.DType) (schema.SparseIndexVector, flatbuffers.UOffsetT) {
		// A vector whose values do not fit the requested width is
		// written wider.
		hi := 0
		for _, x := range v {
			hi = max(hi, x)
		}
		if typ == tensor.UInt8 && hi > 255 {
			typ = tensor.UInt16
		}
		if typ == tensor.UInt16 && hi > 65535 {
			typ = tensor.Int32
		}
		switch typ {
		case tensor.UInt16:
			schema.Uint16VectorStartValuesVector(fb, len(v))
			for i := len(v) - 1; i >= 0; i-- {
				fb.PrependUint16(uint16(v[i]))
			}
			vals := fb.EndVector(len(v))
			schema.Uint16VectorStart(fb)
			schema.Uint16VectorAddValues(fb, vals)
			return schema.SparseIndexVectorUint16Vector, schema.Uint16VectorEnd(fb)
		case tensor.UInt8:
			schema.Uint8VectorStartValuesVector(fb, len(v))
			for i := len(v) - 1; i >= 0; i-- {
				fb.PrependUint8(uint8(v[i]))
			}
			vals := fb.EndVector(len(v))
			schema.Uint8VectorStart(fb)
			schema.Uint8VectorAddValues(fb, vals)
			return schema.SparseIndexVectorUint8Vector, schema.Uint8VectorEnd(fb)
		}
		vals := int32Vector(fb, v)
		schema.Int32VectorStart(fb)
		schema.Int32VectorAddValues(fb, vals)
		return schema.SparseIndexVectorInt32Vector, schema.Int32VectorEnd(fb)
	}
	dims := make([]flatbuffers.UOffsetT, len(sp.Levels))
	for i, lv := range sp.Levels {
		var segT, idxT schema.SparseIndexVector
		var seg, ind flatbuffers.UOffsetT
		if !lv.Dense {
			segT, seg = vec(lv.Segments, lv.IndexType)
			idxT, ind = vec(lv.Indices, lv.IndexType)
		}
		schema.DimensionMetadataStart(fb)
		if lv.Dense {
			schema.DimensionMetadataAddFormat(fb, schema.DimensionTypeDENSE)
			schema.DimensionMetadataAddDenseSize(fb, int32(lv.DenseSize))
		} else {
			schema.DimensionMetadataAddFormat(fb, schema.DimensionTypeSPARSE_CSR)
			schema.DimensionMetadataAddArraySegmentsType(fb, segT)
			schema.DimensionMetadataAddArraySegments(fb, seg)
			schema.DimensionMetadataAddArrayIndicesType(fb, idxT)
			schema.DimensionMetadataAddArrayIndices(fb, ind)
		}
		dims[i] = schema.DimensionMetadataEnd(fb)
	}
	order := int32Vector(fb, sp.TraversalOrder)
	var bmap flatbuffers.UOffsetT
	if len(sp.BlockMap) > 0 {
		bmap = int32Vector(fb, sp.BlockMap)
	}
	dm := offsetVector(fb, dims)
	schema.SparsityParametersStart(fb)
	schema.SparsityParametersAddTraversalOrder(fb, order)
	if bmap != 0 {
		schema.SparsityParametersAddBlockMap(fb, bmap)
	}
	schema.SparsityParametersAddDimMetadata(fb, dm)
	return schema.SparsityParametersEnd(fb)
}
