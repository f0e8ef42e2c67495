package indexinput_test

import (
	"testing"

	"github.com/edged-dev/edged/internal/indexinput"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// Builtin operator codes of the TFLite schema.
const (
	opAdd             = 0
	opLess            = 58
	opEmbeddingLookup = 7
	opReshape         = 22
	opGather          = 36
	opSelect          = 64
	opGatherND        = 107
)

// TestRange: each way a model input can index a tensor, and an input
// that does not, with the dimension sizes the models were built with.
func TestRange(t *testing.T) {
	b := tflitetest.NewBuilder()
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	// ids [8] → GATHER from a [400, 4] table: 400.
	ids := b.Tensor("ids", tensor.Int32, []int{8}, nil, nil)
	table := b.Const("table", tensor.Float32, []int{400, 4}, nil, f32(1600))
	g := b.Tensor("g", tensor.Float32, []int{8, 4}, nil, nil)
	b.Op(opGather, 1, []int{table, ids}, []int{g}, tflitetest.GatherOptions(0, 0))
	// tok [3] → EMBEDDING_LOOKUP in a [50, 8] embedding: 50.
	tok := b.Tensor("tok", tensor.Int32, []int{3}, nil, nil)
	emb := b.Const("emb", tensor.Float32, []int{50, 8}, nil, f32(400))
	e := b.Tensor("e", tensor.Float32, []int{3, 8}, nil, nil)
	b.Op(opEmbeddingLookup, 1, []int{tok, emb}, []int{e}, nil)
	// nd [4, 2] → GATHER_ND of [6, 9, 2]: the pairs index dimensions of 6
	// and 9, so 6.
	nd := b.Tensor("nd", tensor.Int32, []int{4, 2}, nil, nil)
	cube := b.Const("cube", tensor.Float32, []int{6, 9, 2}, nil, f32(108))
	gn := b.Tensor("gn", tensor.Float32, []int{4, 2}, nil, nil)
	b.Op(opGatherND, 1, []int{cube, nd}, []int{gn}, nil)
	// flat [6] → RESHAPE [2, 3] → GATHER from [30]: 30.
	flat := b.Tensor("flat", tensor.Int32, []int{6}, nil, nil)
	shape := b.Const("shape", tensor.Int32, []int{2}, nil, tflitetest.Int32Bytes([]int32{2, 3}))
	r := b.Tensor("r", tensor.Int32, []int{2, 3}, nil, nil)
	b.Op(opReshape, 1, []int{flat, shape}, []int{r}, tflitetest.ReshapeOptions([]int{2, 3}))
	vec := b.Const("vec", tensor.Float32, []int{30}, nil, f32(30))
	gr := b.Tensor("gr", tensor.Float32, []int{2, 3}, nil, nil)
	b.Op(opGather, 1, []int{vec, r}, []int{gr}, tflitetest.GatherOptions(0, 0))
	// sel [4] → SELECT(wrap, sel + 70, sel) → GATHER from [70]: 70 (the
	// negative-id wrap of exported models).
	sel := b.Tensor("sel", tensor.Int32, []int{4}, nil, nil)
	zero := b.Const("zero", tensor.Int32, []int{4}, nil, make([]byte, 16))
	wrap := b.Tensor("wrap", tensor.Bool, []int{4}, nil, nil)
	b.Op(opLess, 1, []int{sel, zero}, []int{wrap}, nil)
	n70 := b.Const("n70", tensor.Int32, []int{4}, nil, tflitetest.Int32Bytes([]int32{70, 70, 70, 70}))
	plus := b.Tensor("plus", tensor.Int32, []int{4}, nil, nil)
	b.Op(opAdd, 1, []int{sel, n70}, []int{plus}, tflitetest.AddOptions(0))
	chosen := b.Tensor("chosen", tensor.Int32, []int{4}, nil, nil)
	b.Op(opSelect, 1, []int{wrap, plus, sel}, []int{chosen}, nil)
	words := b.Const("words", tensor.Float32, []int{70}, nil, f32(70))
	gs := b.Tensor("gs", tensor.Float32, []int{4}, nil, nil)
	b.Op(opGather, 1, []int{words, chosen}, []int{gs}, tflitetest.GatherOptions(0, 0))
	// x [4] + y [4]: not indices.
	x := b.Tensor("x", tensor.Int32, []int{4}, nil, nil)
	y := b.Tensor("y", tensor.Int32, []int{4}, nil, nil)
	s := b.Tensor("s", tensor.Int32, []int{4}, nil, nil)
	b.Op(opAdd, 1, []int{x, y}, []int{s}, tflitetest.AddOptions(0))
	b.Inputs(ids, tok, nd, flat, sel, x, y)
	b.Outputs(g, e, gn, gr, gs, s)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := tflite.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		input int
		n     int
		why   string
	}{
		{ids, 400, "GATHER operator 0"},
		{tok, 50, "EMBEDDING_LOOKUP operator 1"},
		{nd, 6, "GATHER_ND operator 2"},
		{flat, 30, "GATHER operator 4"},
		{sel, 70, "GATHER operator 8"},
		{x, 0, ""},
		{table, 0, ""},
		{-1, 0, ""},
	} {
		if n, why := indexinput.Range(m, tt.input); n != tt.n || why != tt.why {
			t.Errorf("Range(tensor %d) = %d, %q; want %d, %q", tt.input, n, why, tt.n, tt.why)
		}
	}
	if n, _ := indexinput.Range(nil, 0); n != 0 {
		t.Errorf("Range(nil model) = %d; want 0", n)
	}
}
