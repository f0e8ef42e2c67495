package tflite

import (
	"fmt"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Sparse constant tensors (the schema's SparsityParameters, TACO format)
// store only part of their values: each level of a traversal of the
// tensor's dimensions, possibly split into blocks, is dense (every index
// present) or compressed (CSR: segments and indices). The loader
// densifies them once, checked the way TFLite's verifier checks them and
// more (every index in range, every segment ordered, the values exactly
// as many as the index structure says), and bounded: the dense forms of a
// model's sparse tensors may take at most maxSparseExpansion times the
// file's size plus maxSparseSlack bytes, so that a small hostile file
// cannot make the loader allocate gigabytes.
const (
	maxSparseExpansion = 64
	maxSparseSlack     = 16 << 20
)

// sparseLevel is one level of the traversal.
type sparseLevel struct {
	dense    bool
	size     int   // dense: the level's size
	segments []int // sparse: len = positions of the previous level + 1
	indices  []int
}

// sparseFormat is a decoded, validated SparsityParameters.
type sparseFormat struct {
	shape     []int // the tensor's dense shape
	order     []int // traversal order over original + block dimensions
	blockMap  []int // original dimension of each block dimension
	blockSize []int
	levels    []sparseLevel
	values    int // stored values
}

// decodeSparsity reads and validates t's sparsity parameters for a tensor
// of the given dense shape.
func decodeSparsity(sp *schema.SparsityParameters, shape []int) (*sparseFormat, error) {
	rank := len(shape)
	total := sp.TraversalOrderLength()
	if sp.DimMetadataLength() != total {
		return nil, malformedf("sparsity: %d traversal levels and %d dimension metadata", total, sp.DimMetadataLength())
	}
	if total < rank || total > 2*rank {
		return nil, malformedf("sparsity: %d traversal levels for a rank-%d tensor", total, rank)
	}
	k := total - rank
	if sp.BlockMapLength() != k {
		return nil, malformedf("sparsity: %d block dimensions and a block map of %d", k, sp.BlockMapLength())
	}
	f := &sparseFormat{shape: shape, order: make([]int, total), blockMap: make([]int, k), blockSize: make([]int, k)}
	seen := make([]bool, total)
	for i := range f.order {
		d := int(sp.TraversalOrder(i))
		if d < 0 || d >= total || seen[d] {
			return nil, malformedf("sparsity: traversal order %v is not a permutation of 0..%d", traversal(sp), total-1)
		}
		// The original dimensions come first (in any order), then the
		// block dimensions in order: the one layout on which TFLite's
		// verifier and its format converter agree.
		if (i < rank && d >= rank) || (i >= rank && d != i) {
			return nil, malformedf("sparsity: traversal order %v: want the %d original dimensions first, then the block dimensions in order", traversal(sp), rank)
		}
		seen[d] = true
		f.order[i] = d
	}
	var dm schema.DimensionMetadata
	// expanded[d]: the size of dimension d (original, divided by its block
	// size when blocked; or a block dimension's block size).
	expanded := make([]int, total)
	copy(expanded, shape)
	blocked := make([]bool, rank)
	for b := 0; b < k; b++ {
		o := int(sp.BlockMap(b))
		if o < 0 || o >= rank || blocked[o] || (b > 0 && o < f.blockMap[b-1]) {
			return nil, malformedf("sparsity: block map %v: want increasing dimensions below %d", blockMap(sp), rank)
		}
		blocked[o] = true
		f.blockMap[b] = o
	}
	for i := 0; i < total; i++ {
		if !sp.DimMetadata(&dm, i) {
			return nil, malformedf("sparsity: dimension metadata %d missing", i)
		}
		if d := f.order[i]; d >= rank {
			size := int(dm.DenseSize())
			b := d - rank
			o := f.blockMap[b]
			if dm.Format() != schema.DimensionTypeDENSE || size <= 0 || shape[o]%size != 0 {
				return nil, malformedf("sparsity: block dimension %d of size %d does not divide dimension %d (%d); block dimensions are dense", b, size, o, shape[o])
			}
			f.blockSize[b] = size
			expanded[d] = size
			expanded[o] = shape[o] / size
		}
	}
	positions := 1 // entries of the previous level
	for i := 0; i < total; i++ {
		sp.DimMetadata(&dm, i)
		d := f.order[i]
		lv := sparseLevel{dense: dm.Format() == schema.DimensionTypeDENSE}
		switch dm.Format() {
		case schema.DimensionTypeDENSE:
			if int(dm.DenseSize()) != expanded[d] {
				return nil, malformedf("sparsity: level %d is dense of size %d; dimension %d has %d", i, dm.DenseSize(), d, expanded[d])
			}
			lv.size = expanded[d]
			positions *= lv.size
		case schema.DimensionTypeSPARSE_CSR:
			var err error
			if lv.segments, err = sparseIndexVector(&dm, true, positions+1); err != nil {
				return nil, malformedf("sparsity: level %d segments: %v", i, err)
			}
			if len(lv.segments) != positions+1 {
				return nil, malformedf("sparsity: level %d has %d segments; the previous levels have %d entries", i, len(lv.segments)-1, positions)
			}
			if lv.indices, err = sparseIndexVector(&dm, false, lv.segments[positions]); err != nil {
				return nil, malformedf("sparsity: level %d indices: %v", i, err)
			}
			if lv.segments[0] != 0 || lv.segments[positions] != len(lv.indices) {
				return nil, malformedf("sparsity: level %d segments run from %d to %d over %d indices", i, lv.segments[0], lv.segments[positions], len(lv.indices))
			}
			for j := 1; j < len(lv.segments); j++ {
				if lv.segments[j] < lv.segments[j-1] {
					return nil, malformedf("sparsity: level %d segments decrease at %d", i, j)
				}
			}
			for j, x := range lv.indices {
				if x < 0 || x >= expanded[d] {
					return nil, malformedf("sparsity: level %d index %d is %d; dimension %d has %d", i, j, x, d, expanded[d])
				}
			}
			positions = len(lv.indices)
		default:
			return nil, malformedf("sparsity: level %d has format %d", i, dm.Format())
		}
		f.levels = append(f.levels, lv)
	}
	f.values = positions
	return f, nil
}

func blockMap(sp *schema.SparsityParameters) []int32 {
	out := make([]int32, sp.BlockMapLength())
	for i := range out {
		out[i] = sp.BlockMap(i)
	}
	return out
}

func traversal(sp *schema.SparsityParameters) []int32 {
	out := make([]int32, sp.TraversalOrderLength())
	for i := range out {
		out[i] = sp.TraversalOrder(i)
	}
	return out
}

// sparseIndexVector decodes a level's segments or indices (int32, uint16
// or uint8 values); it refuses more than limit entries before allocating.
func sparseIndexVector(dm *schema.DimensionMetadata, segments bool, limit int) ([]int, error) {
	typ := dm.ArrayIndicesType()
	var tab flatbuffers.Table
	ok := false
	if segments {
		typ = dm.ArraySegmentsType()
		ok = dm.ArraySegments(&tab)
	} else {
		ok = dm.ArrayIndices(&tab)
	}
	if !ok {
		return nil, fmt.Errorf("missing")
	}
	var n int
	var get func(int) int
	switch typ {
	case schema.SparseIndexVectorInt32Vector:
		var v schema.Int32Vector
		v.Init(tab.Bytes, tab.Pos)
		n, get = v.ValuesLength(), func(i int) int { return int(v.Values(i)) }
	case schema.SparseIndexVectorUint16Vector:
		var v schema.Uint16Vector
		v.Init(tab.Bytes, tab.Pos)
		n, get = v.ValuesLength(), func(i int) int { return int(v.Values(i)) }
	case schema.SparseIndexVectorUint8Vector:
		var v schema.Uint8Vector
		v.Init(tab.Bytes, tab.Pos)
		n, get = v.ValuesLength(), func(i int) int { return int(v.Values(i)) }
	default:
		return nil, fmt.Errorf("vector type %d", typ)
	}
	if n > limit {
		return nil, fmt.Errorf("%d entries; at most %d fit", n, limit)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = get(i)
	}
	return out, nil
}

// densify expands the stored values (elemSize bytes each) into the dense
// tensor, as TFLite's FormatConverter does: a traversal of the levels,
// each leaf taking the next stored value at the position its indices
// (and block offsets) give.
func (f *sparseFormat) densify(stored []byte, elemSize int) ([]byte, error) {
	if len(stored) != f.values*elemSize {
		return nil, malformedf("sparse tensor buffer holds %d bytes; its index structure stores %d values of %d bytes", len(stored), f.values, elemSize)
	}
	dense := alignedBytes(tensor.NumElements(f.shape) * elemSize)
	rank := len(f.shape)
	idx := make([]int, len(f.levels))
	orig := make([]int, rank)
	next := 0
	var walk func(level, prev int)
	walk = func(level, prev int) {
		if level == len(f.levels) {
			for i := 0; i < rank; i++ {
				orig[f.order[i]] = idx[i]
			}
			for i := rank; i < len(f.levels); i++ {
				b := f.order[i] - rank
				o := f.blockMap[b]
				orig[o] = orig[o]*f.blockSize[b] + idx[i]
			}
			at := 0
			for d, x := range orig {
				at = at*f.shape[d] + x
			}
			copy(dense[at*elemSize:(at+1)*elemSize], stored[next*elemSize:(next+1)*elemSize])
			next++
			return
		}
		lv := &f.levels[level]
		if lv.dense {
			for i := 0; i < lv.size; i++ {
				idx[level] = i
				walk(level+1, prev*lv.size+i)
			}
			return
		}
		for j := lv.segments[prev]; j < lv.segments[prev+1]; j++ {
			idx[level] = lv.indices[j]
			walk(level+1, j)
		}
	}
	walk(0, 0)
	return dense, nil
}

// decodeSparse densifies the sparse constant t stored in buffer b.
func (m *Model) decodeSparse(t *TensorInfo, sp *schema.SparsityParameters, b int) error {
	if t.IsVariable {
		return malformedf("variable tensor with constant data (buffer %d); variables start from zero and may not have an initial value", b)
	}
	size := t.Type.Size()
	if size == 0 {
		return fmt.Errorf("%w: sparse %s tensors", ErrUnsupportedOp, t.Type)
	}
	if len(t.Shape) == 0 {
		return malformedf("sparse tensor without a shape")
	}
	f, err := decodeSparsity(sp, t.Shape)
	if err != nil {
		return err
	}
	// In int64: on 32-bit hosts the dense size may not fit an int.
	dense := int64(tensor.NumElements(t.Shape)) * int64(size)
	limit := min(int64(maxSparseExpansion)*int64(len(m.data))+maxSparseSlack, math.MaxInt32)
	if int64(m.denseBytes)+dense > limit {
		return malformedf("sparse tensor of shape %v densifies to %d bytes; the model's sparse tensors may take at most %d (%d× the %d-byte file + %d MiB)",
			t.Shape, dense, limit, maxSparseExpansion, len(m.data), maxSparseSlack>>20)
	}
	var stored []byte
	if b != 0 {
		stored = m.buffers[b]
	}
	// All-zero tensors store no values (and may have an empty buffer).
	data, err := f.densify(stored, size)
	if err != nil {
		return err
	}
	m.denseBytes += int(dense)
	t.Data, t.Sparse = data, true
	return nil
}
