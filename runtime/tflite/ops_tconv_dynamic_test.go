package tflite

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// TRANSPOSE_CONV whose output_shape is a graph input: TFLite sizes the
// output at every Invoke from the tensor's values. The WebAssembly
// oracle cannot return such an output (it hands back a buffer sized from
// the file, holding whatever its heap had there), so these cases are
// checked against TensorFlow Lite's C library.

// tconvRunTimeCase is a TRANSPOSE_CONV with output_shape as input 0 and
// the data as input 1, and the inputs of several runs, each with another
// output size the geometry allows.
type tconvRunTimeCase struct {
	model  []byte
	inputs [][]byte // per input, every run back to back
	shapes [][]int  // the output shape of each run
}

// genTConvRunTime draws a random geometry. The file declares an output
// shape that is one of the valid ones, or (declaredBad) one that is not.
func genTConvRunTime(r *rand.Rand, dt tensor.DType, runs int, declaredBad bool) (tconvRunTimeCase, error) {
	batch := diffInt(r, 1, 2)
	inH, inW, inC := diffInt(r, 1, 4), diffInt(r, 1, 5), diffInt(r, 1, 5)
	outC := diffInt(r, 1, 5)
	fH, fW := diffInt(r, 1, 4), diffInt(r, 1, 4)
	sH, sW := diffInt(r, 1, 3), diffInt(r, 1, 3)
	pad := schema.PaddingVALID
	if r.IntN(2) == 0 {
		pad = schema.PaddingSAME
	}
	// The sizes whose convolution with the filter gives the input's.
	size := func(in, f, s int) int {
		if pad == schema.PaddingSAME {
			return (in-1)*s + 1 + r.IntN(s)
		}
		return (in-1)*s + f + r.IntN(s)
	}
	var c tconvRunTimeCase
	for i := 0; i < runs; i++ {
		c.shapes = append(c.shapes, []int{batch, size(inH, fH, sH), size(inW, fW, sW), outC})
	}
	declared := c.shapes[r.IntN(runs)]
	if declaredBad {
		declared = []int{batch, 1 + inH*sH + fH, 1, outC}
	}
	b := tflitetest.NewBuilder()
	shapeT := b.Tensor("output_shape", tensor.Int32, []int{4}, nil, nil)
	fShape := []int{outC, fH, fW, inC}
	fT, fQ, fData, fScale := convDiffWeights(r, dt, tensor.NumElements(fShape), outC, 0)
	w := b.Const("w", fT, fShape, fQ, fData)
	inQ := (*tensor.Quant)(nil)
	if dt != tensor.Float32 {
		inQ = diffQuant(r, dt, 0.01, 0.1)
	}
	in := b.Tensor("in", dt, []int{batch, inH, inW, inC}, inQ, nil)
	inputs := []int{shapeT, w, in}
	if r.IntN(3) != 0 {
		bT, bQ, bData := convDiffBias(r, dt, inQ, fQ, outC)
		inputs = append(inputs, b.Const("b", bT, []int{outC}, bQ, bData))
	}
	k := inC * ((fH + sH - 1) / sH) * ((fW + sW - 1) / sW)
	out := b.Tensor("out", dt, declared, convDiffOutQuant(r, dt, inQ, fScale, k), nil)
	b.Op(schema.BuiltinOperatorTRANSPOSE_CONV, 4, inputs, []int{out},
		tflitetest.TransposeConvOptions(pad, sW, sH, diffActivation(r)))
	b.Inputs(shapeT, in)
	b.Outputs(out)
	model, err := b.Bytes()
	c.model = model
	var shapes, data []byte
	for _, s := range c.shapes {
		shapes = append(shapes, tflitetest.ShapeBytes(s)...)
		data = append(data, diffTensorBytes(r, dt, batch*inH*inW*inC)...)
	}
	c.inputs = [][]byte{shapes, data}
	return c, err
}

// TestTransposeConvRunTimeShapeAgainstTFLite runs random cases, three
// invocations each with a different output size, through the C library
// and edged (both arithmetics): quantized outputs byte for byte, float
// outputs within 1e-4 (TFLite's float kernel sums in another order).
func TestTransposeConvRunTimeShapeAgainstTFLite(t *testing.T) {
	n := 12
	if testing.Short() {
		n = 4
	}
	const runs = 3
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16} {
		for i := 0; i < n; i++ {
			name := "TRANSPOSE_CONV/runtime_shape_" + dt.String()
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				c, err := genTConvRunTime(diffRand(name, i), dt, runs, i%4 == 3)
				if err != nil {
					t.Fatal(err)
				}
				want := capiRun(t, c.model, runs, false, c.inputs)
				wantBytes := 0
				for _, s := range c.shapes {
					wantBytes += tensor.NumElements(s) * dt.Size()
				}
				if len(want[0]) != wantBytes {
					t.Fatalf("TFLite returned %d bytes for shapes %v; want %d", len(want[0]), c.shapes, wantBytes)
				}
				for _, a := range []Arithmetic{Reference, LiteRT} {
					got := edgedRuns(t, c.model, &Options{Arithmetic: a}, runs, false, c.inputs)
					if dt == tensor.Float32 {
						compareFloats(t, got[0], want[0], 1e-4)
					} else if d := firstDiff(got[0], want[0]); d >= 0 {
						t.Errorf("%s: byte %d of %d differs from TFLite's (shapes %v)", a, d, len(want[0]), c.shapes)
					}
				}
			})
		}
	}
}

// TestTransposeConvRunTimeShape checks, without TFLite, that the output
// takes the shape of each invocation's output_shape, that values the
// geometry does not allow fail at Invoke with a clear error and leave the
// interpreter usable, and that the arena holds the largest allowed output.
func TestTransposeConvRunTimeShape(t *testing.T) {
	// Input [1 2 3 1], filter 1x3x2, strides 2x3, VALID: heights 5..6,
	// widths 8..10 (a convolution of them with the filter gives 2x3).
	b := tflitetest.NewBuilder()
	shapeT := b.Tensor("output_shape", tensor.Int32, []int{4}, nil, nil)
	w := b.Const("w", tensor.Float32, []int{1, 3, 2, 1}, nil, tflitetest.Float32Bytes([]float32{1, 10, 100, 1000, 10000, 100000}))
	in := b.Tensor("in", tensor.Float32, []int{1, 2, 3, 1}, nil, nil)
	out := b.Tensor("out", tensor.Float32, []int{1, 5, 8, 1}, nil, nil)
	b.Op(schema.BuiltinOperatorTRANSPOSE_CONV, 3, []int{shapeT, w, in}, []int{out},
		tflitetest.TransposeConvOptions(schema.PaddingVALID, 3, 2, schema.ActivationFunctionTypeNONE))
	b.Inputs(shapeT, in)
	b.Outputs(out)
	model, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(model)
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := it.Output(0).Shape, []int{1, 5, 8, 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("prepared shape %v; want the file's %v", got, want)
	}
	// The arena holds the largest output (6x10 floats) besides the
	// inputs; each tensor is rounded up to 64 bytes.
	if got, min := it.ArenaBytes(), 64+64+256; got < min {
		t.Errorf("arena %d bytes; want at least %d for a 6x10 output", got, min)
	}
	copy(it.Input(1).Data, tflitetest.Float32Bytes([]float32{1, 2, 3, 4, 5, 6}))
	set := func(s ...int) error {
		copy(it.Input(0).Data, tflitetest.ShapeBytes(s))
		return it.Invoke()
	}
	// Hand-worked: input (y, x) lands at rows 2y..2y+2, columns
	// 3x+pad..3x+pad+1 with weight row fy and column fx = 10^(2fy+fx).
	// VALID pads by ((conv-1)*stride + filter - out)/2 = 0 at 5x8 and
	// 6x9, so the columns 8 (width 9) and row 5 (height 6) stay zero.
	for _, tc := range []struct{ h, w int }{{5, 8}, {6, 9}, {5, 10}, {5, 8}} {
		if err := set(1, tc.h, tc.w, 1); err != nil {
			t.Fatalf("%dx%d: %v", tc.h, tc.w, err)
		}
		o := it.Output(0)
		if fmt.Sprint(o.Shape) != fmt.Sprint([]int{1, tc.h, tc.w, 1}) || len(o.Data) != 4*tc.h*tc.w {
			t.Fatalf("%dx%d: output shape %v, %d bytes", tc.h, tc.w, o.Shape, len(o.Data))
		}
		want := make([]float32, tc.h*tc.w)
		x := []float32{1, 2, 3, 4, 5, 6}
		for iy := 0; iy < 2; iy++ {
			for ix := 0; ix < 3; ix++ {
				for fy := 0; fy < 3; fy++ {
					for fx := 0; fx < 2; fx++ {
						wv := []float32{1, 10, 100, 1000, 10000, 100000}[fy*2+fx]
						want[(2*iy+fy)*tc.w+3*ix+fx] += x[iy*3+ix] * wv
					}
				}
			}
		}
		if got := o.Float32s(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%dx%d: got %v\nwant %v", tc.h, tc.w, got, want)
		}
	}
	for _, bad := range []struct {
		shape []int
		msg   string
	}{
		{[]int{1, 4, 8, 1}, "height must be within [5, 6]"},
		{[]int{1, 7, 8, 1}, "height must be within [5, 6]"},
		{[]int{1, 5, 11, 1}, "width within [8, 10]"},
		{[]int{1, 1 << 30, 1 << 30, 1}, "does not fit"},
		{[]int{1, -5, 8, 1}, "does not fit"},
		{[]int{2, 5, 8, 1}, "batch must be the input's (1)"},
		{[]int{1, 5, 8, 3}, "channels the filter's output channels (1)"},
	} {
		err := set(bad.shape...)
		if err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("output_shape %v: error %v; want one saying %q", bad.shape, err, bad.msg)
		}
	}
	if err := set(1, 6, 10, 1); err != nil {
		t.Errorf("after refused shapes: %v", err)
	}
}

// TestTransposeConvRunTimeShapeConsumed: when another operator reads the
// output, it was prepared for one shape, and only that one runs.
func TestTransposeConvRunTimeShapeConsumed(t *testing.T) {
	b := tflitetest.NewBuilder()
	shapeT := b.Tensor("output_shape", tensor.Int32, []int{4}, nil, nil)
	w := b.Const("w", tensor.Float32, []int{1, 2, 2, 1}, nil, tflitetest.Float32Bytes([]float32{1, 1, 1, 1}))
	in := b.Tensor("in", tensor.Float32, []int{1, 2, 2, 1}, nil, nil)
	mid := b.Tensor("mid", tensor.Float32, []int{1, 4, 4, 1}, nil, nil)
	out := b.Tensor("out", tensor.Float32, []int{1, 4, 4, 1}, nil, nil)
	b.Op(schema.BuiltinOperatorTRANSPOSE_CONV, 3, []int{shapeT, w, in}, []int{mid},
		tflitetest.TransposeConvOptions(schema.PaddingSAME, 2, 2, schema.ActivationFunctionTypeNONE))
	b.Op(schema.BuiltinOperatorRELU, 1, []int{mid}, []int{out}, nil)
	b.Inputs(shapeT, in)
	b.Outputs(out)
	model, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(model)
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(it.Input(1).Data, tflitetest.Float32Bytes([]float32{1, -2, 3, -4}))
	copy(it.Input(0).Data, tflitetest.ShapeBytes([]int{1, 4, 4, 1}))
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	// Each input pixel fills its own 2x2 block (SAME, stride 2); RELU
	// zeroes the negative ones.
	want := []float32{1, 1, 0, 0, 1, 1, 0, 0, 3, 3, 0, 0, 3, 3, 0, 0}
	if got := it.Output(0).Float32s(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v; want %v", got, want)
	}
	copy(it.Input(0).Data, tflitetest.ShapeBytes([]int{1, 3, 4, 1}))
	if err := it.Invoke(); err == nil || !strings.Contains(err.Error(), "prepared for") {
		t.Errorf("output_shape 1x3x4x1 with a consumer: error %v; want a refusal", err)
	}
}

// TestTransposeConvRunTimeShapeBound: a stride that lets the output reach
// more than 2^31 elements is refused at Prepare, before anything is
// reserved.
func TestTransposeConvRunTimeShapeBound(t *testing.T) {
	b := tflitetest.NewBuilder()
	shapeT := b.Tensor("output_shape", tensor.Int32, []int{4}, nil, nil)
	w := b.Const("w", tensor.Float32, []int{1, 1, 1, 1}, nil, tflitetest.Float32Bytes([]float32{1}))
	in := b.Tensor("in", tensor.Float32, []int{1, 4, 4, 1}, nil, nil)
	out := b.Tensor("out", tensor.Float32, []int{1, 1, 1, 1}, nil, nil)
	b.Op(schema.BuiltinOperatorTRANSPOSE_CONV, 3, []int{shapeT, w, in}, []int{out},
		tflitetest.TransposeConvOptions(schema.PaddingSAME, 30000, 30000, schema.ActivationFunctionTypeNONE))
	b.Inputs(shapeT, in)
	b.Outputs(out)
	model, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(model)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewInterpreter(m, nil)
	if err == nil || !strings.Contains(err.Error(), "more than 2^31 elements") {
		t.Fatalf("NewInterpreter: %v; want a refusal of the 120000x120000 output", err)
	}
	if errors.Is(err, kernels.ErrUnsupported) {
		t.Errorf("refused as unsupported; it is a model the runtime cannot hold: %v", err)
	}
}
