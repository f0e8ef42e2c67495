package tflite

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// sparseModel is DENSIFY of one sparse float32 constant.
func sparseModel(t testing.TB, shape []int, values []byte, sp *tflitetest.Sparsity) []byte {
	t.Helper()
	b := tflitetest.NewBuilder()
	w := b.SparseConst("w", tensor.Float32, shape, nil, values, sp)
	out := b.Tensor("out", tensor.Float32, shape, nil, nil)
	b.Op(schema.BuiltinOperatorDENSIFY, 1, []int{w}, []int{out}, nil)
	b.Outputs(out)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSparseHandWorked densifies the 4×4 example of TFLite's sparsity
// documentation: rows 0 and 2 hold [1 0 2 0] and [0 3 0 4] as 1×2 blocks
// stored CSR over block rows and block columns.
//
//	1 0 2 0
//	0 0 0 0
//	0 3 0 4
//	0 0 0 0
//
// Blocked 2×(2 blocks of 1×2): levels d0 dense (4), d1 CSR over the 2
// block columns, then the block dimension (2) dense. Row 0 has blocks 0
// and 1, row 2 blocks 0 and 1: segments [0 2 2 4 4], indices [0 1 0 1],
// values 1 0 2 0 0 3 0 4.
func TestSparseHandWorked(t *testing.T) {
	sp := &tflitetest.Sparsity{
		TraversalOrder: []int{0, 1, 2},
		BlockMap:       []int{1},
		Levels: []tflitetest.SparseLevel{
			{Dense: true, DenseSize: 4},
			{Segments: []int{0, 2, 2, 4, 4}, Indices: []int{0, 1, 0, 1}, IndexType: tensor.UInt8},
			{Dense: true, DenseSize: 2},
		},
	}
	vals := tflitetest.Float32Bytes([]float32{1, 0, 2, 0, 0, 3, 0, 4})
	m, err := Load(sparseModel(t, []int{4, 4}, vals, sp))
	if err != nil {
		t.Fatal(err)
	}
	want := tflitetest.Float32Bytes([]float32{1, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0})
	if got := m.Subgraphs[0].Tensors[0].Data; !bytes.Equal(got, want) || !m.Subgraphs[0].Tensors[0].Sparse {
		t.Fatalf("densified %v; want %v", got, want)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	if got := it.Output(0).Data; !bytes.Equal(got, want) {
		t.Errorf("DENSIFY output %v; want %v", got, want)
	}
	// The same tensor from the test writer's encoder, CSR over rows and
	// columns: the stored values are the four non-zeros.
	dense := want
	stored, sp2, err := tflitetest.Sparsify(dense, 4, []int{4, 4}, []int{1, 1}, []bool{true, true}, tensor.Int32)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, tflitetest.Float32Bytes([]float32{1, 2, 3, 4})) {
		t.Errorf("Sparsify stored %v; want the four non-zeros", stored)
	}
	m2, err := Load(sparseModel(t, []int{4, 4}, stored, sp2))
	if err != nil {
		t.Fatal(err)
	}
	if got := m2.Subgraphs[0].Tensors[0].Data; !bytes.Equal(got, want) {
		t.Errorf("CSR×CSR densified %v; want %v", got, want)
	}
}

// TestSparseHostile: malformed sparsity tables are refused with a clear
// error (ErrMalformed) before anything large is allocated.
func TestSparseHostile(t *testing.T) {
	dense := func(n int) tflitetest.SparseLevel { return tflitetest.SparseLevel{Dense: true, DenseSize: n} }
	csr := func(seg, idx []int) tflitetest.SparseLevel {
		return tflitetest.SparseLevel{Segments: seg, Indices: idx, IndexType: tensor.Int32}
	}
	ok := &tflitetest.Sparsity{TraversalOrder: []int{0, 1}, Levels: []tflitetest.SparseLevel{dense(2), csr([]int{0, 1, 2}, []int{1, 0})}}
	two := tflitetest.Float32Bytes([]float32{5, 6})
	if _, err := Load(sparseModel(t, []int{2, 2}, two, ok)); err != nil {
		t.Fatalf("the valid table: %v", err)
	}
	// 32768×32768 float32 (4 GiB) with every row empty: a 128 KiB file.
	empty := make([]int, 32769)
	huge := &tflitetest.Sparsity{TraversalOrder: []int{0, 1}, Levels: []tflitetest.SparseLevel{dense(32768), csr(empty, nil)}}
	tests := []struct {
		name   string
		shape  []int
		values []byte
		sp     *tflitetest.Sparsity
		want   string
	}{
		{"traversal not a permutation", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 0}, Levels: ok.Levels}, "permutation"},
		{"traversal out of range", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 5}, Levels: ok.Levels}, "permutation"},
		{"metadata count", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1}, Levels: ok.Levels[:1]}, "dimension metadata"},
		{"dense size", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1}, Levels: []tflitetest.SparseLevel{dense(3), csr([]int{0, 1, 2, 2}, []int{1, 0})}}, "dense of size 3"},
		{"segments decrease", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1}, Levels: []tflitetest.SparseLevel{dense(2), csr([]int{0, 2, 1}, []int{1, 0})}}, "level 1"},
		{"segments count", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1}, Levels: []tflitetest.SparseLevel{dense(2), csr([]int{0, 2}, []int{1, 0})}}, "segments"},
		{"segment past the indices", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1}, Levels: []tflitetest.SparseLevel{dense(2), csr([]int{0, 1, 1 << 30}, []int{1, 0})}}, "indices"},
		{"negative segment", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1}, Levels: []tflitetest.SparseLevel{dense(2), csr([]int{-1, 1, 2}, []int{1, 0})}}, "segments"},
		{"index out of range", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1}, Levels: []tflitetest.SparseLevel{dense(2), csr([]int{0, 1, 2}, []int{1, 2})}}, "index 1 is 2"},
		{"negative index", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1}, Levels: []tflitetest.SparseLevel{dense(2), csr([]int{0, 1, 2}, []int{-7, 0})}}, "index 0 is -7"},
		{"values short", []int{2, 2}, two[:4], ok, "stores 2 values"},
		{"values long", []int{2, 2}, append(two, two...), ok, "stores 2 values"},
		{"block does not divide", []int{2, 3}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1, 2}, BlockMap: []int{1}, Levels: []tflitetest.SparseLevel{dense(2), dense(1), dense(2)}}, "does not divide"},
		{"block map out of range", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1, 2}, BlockMap: []int{4}, Levels: []tflitetest.SparseLevel{dense(2), dense(1), dense(2)}}, "block map"},
		{"block map length", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1, 2}, Levels: []tflitetest.SparseLevel{dense(2), dense(1), dense(2)}}, "block map"},
		{"block dimension first", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{2, 0, 1}, BlockMap: []int{1}, Levels: []tflitetest.SparseLevel{dense(2), dense(2), dense(1)}}, "original dimensions first"},
		{"sparse block dimension", []int{2, 2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1, 2}, BlockMap: []int{1}, Levels: []tflitetest.SparseLevel{dense(2), dense(1), csr([]int{0, 1, 2}, []int{0, 1})}}, "block dimensions are dense"},
		{"too many levels", []int{2}, two, &tflitetest.Sparsity{TraversalOrder: []int{0, 1, 2}, BlockMap: []int{0, 0}, Levels: []tflitetest.SparseLevel{dense(2), dense(1), dense(1)}}, "traversal levels"},
		{"4 GiB dense form", []int{32768, 32768}, nil, huge, "densifies to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(sparseModel(t, tc.shape, tc.values, tc.sp))
			if err == nil {
				t.Fatal("Load succeeded; want an error")
			}
			if !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), "internal error") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %v; want a malformed-model error mentioning %q", err, tc.want)
			}
		})
	}
}
