package compress

import (
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// floatGraph builds float test models shaped like small Keras exports,
// with random weights from a fixed seed.
type floatGraph struct {
	t *testing.T
	b *tflitetest.Builder
	r *rand.Rand
	// f16 stores weights as float16 constants behind DEQUANTIZE, as the
	// converter's float16 post-training export does.
	f16 bool
}

func newFloatGraph(t *testing.T, seed uint64) *floatGraph {
	return &floatGraph{t: t, b: tflitetest.NewBuilder(), r: rand.New(rand.NewPCG(seed, 0x7175616e74))}
}

func (g *floatGraph) act(name string, shape ...int) int {
	return g.b.Tensor(name, tensor.Float32, shape, nil, nil)
}

// weights returns a constant of uniform values in [-a, a].
func (g *floatGraph) weights(name string, a float64, shape ...int) int {
	v := make([]float32, tensor.NumElements(shape))
	for i := range v {
		v[i] = float32((2*g.r.Float64() - 1) * a)
	}
	if !g.f16 {
		return g.b.Const(name, tensor.Float32, shape, nil, Float32Bytes(v))
	}
	h := make([]byte, 2*len(v))
	for i, x := range v {
		bits := float16Bits(x)
		h[2*i], h[2*i+1] = byte(bits), byte(bits>>8)
	}
	c := g.b.Const(name+"_f16", tensor.Float16, shape, nil, h)
	out := g.act(name, shape...)
	g.b.Op(schema.BuiltinOperatorDEQUANTIZE, 3, []int{c}, []int{out}, nil)
	return out
}

// float16Bits rounds x (a small normal value here) to IEEE half precision,
// truncating the mantissa: the test only needs some float16 weights.
func float16Bits(x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	if exp <= 0 {
		return sign
	}
	return sign | uint16(exp)<<10 | uint16((b>>13)&0x3ff)
}

func (g *floatGraph) ints(name string, v ...int32) int {
	return g.b.Const(name, tensor.Int32, []int{len(v)}, nil, tflitetest.Int32Bytes(v))
}

func (g *floatGraph) ints2(name string, rows int, v ...int32) int {
	return g.b.Const(name, tensor.Int32, []int{rows, len(v) / rows}, nil, tflitetest.Int32Bytes(v))
}

func (g *floatGraph) bytes() []byte {
	data, err := g.b.Bytes()
	if err != nil {
		g.t.Fatal(err)
	}
	return data
}

// classifierModel: CONV 3x3 → LEAKY_RELU → CONV 3x3 dilation 2 →
// HARD_SWISH → PRELU → MEAN over H, W (Keras GlobalAveragePooling2D) or
// AVERAGE_POOL_2D + RESHAPE → FC → SOFTMAX.
func classifierModel(t *testing.T, f16, mean bool) []byte {
	g := newFloatGraph(t, 1)
	g.f16 = f16
	b := g.b
	x := g.act("x", 1, 8, 8, 3)
	c1 := g.act("conv1", 1, 8, 8, 8)
	b.Op(schema.BuiltinOperatorCONV_2D, 1, []int{x, g.weights("w1", 0.4, 8, 3, 3, 3), g.weights("b1", 0.1, 8)}, []int{c1}, tflitetest.Conv2DOptions(schema.PaddingSAME, 1, 1, schema.ActivationFunctionTypeNONE, 1, 1))
	l1 := g.act("leaky", 1, 8, 8, 8)
	b.Op(schema.BuiltinOperatorLEAKY_RELU, 1, []int{c1}, []int{l1}, tflitetest.LeakyReluOptions(0.2))
	c2 := g.act("conv2", 1, 8, 8, 8)
	b.Op(schema.BuiltinOperatorCONV_2D, 2, []int{l1, g.weights("w2", 0.3, 8, 3, 3, 8), g.weights("b2", 0.1, 8)}, []int{c2}, tflitetest.Conv2DOptions(schema.PaddingSAME, 1, 1, schema.ActivationFunctionTypeNONE, 2, 2))
	hs := g.act("hswish", 1, 8, 8, 8)
	b.Op(schema.BuiltinOperatorHARD_SWISH, 1, []int{c2}, []int{hs}, nil)
	pr := g.act("prelu", 1, 8, 8, 8)
	b.Op(schema.BuiltinOperatorPRELU, 1, []int{hs, g.weights("alpha", 0.3, 1, 1, 8)}, []int{pr}, nil)
	gap := g.act("gap", 1, 8)
	if mean {
		b.Op(schema.BuiltinOperatorMEAN, 1, []int{pr, g.ints("axes", 1, 2)}, []int{gap}, tflitetest.ReducerOptions(false))
	} else {
		// GlobalAveragePooling2D as older exports write it.
		pool := g.act("pool", 1, 1, 1, 8)
		b.Op(schema.BuiltinOperatorAVERAGE_POOL_2D, 1, []int{pr}, []int{pool}, tflitetest.Pool2DOptions(schema.PaddingVALID, 1, 1, 8, 8, schema.ActivationFunctionTypeNONE))
		b.Op(schema.BuiltinOperatorRESHAPE, 1, []int{pool, g.ints("flat", 1, 8)}, []int{gap}, nil)
	}
	fc := g.act("logits", 1, 5)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 1, []int{gap, g.weights("w3", 1.5, 5, 8), g.weights("b3", 0.1, 5)}, []int{fc}, tflitetest.FullyConnectedOptions(schema.ActivationFunctionTypeNONE, false))
	sm := g.act("probs", 1, 5)
	b.Op(schema.BuiltinOperatorSOFTMAX, 1, []int{fc}, []int{sm}, tflitetest.SoftmaxOptions(1))
	b.Inputs(x)
	b.Outputs(sm)
	return g.bytes()
}

// upsampleModel: a U-Net-like decoder step. RESIZE_NEAREST_NEIGHBOR
// (Keras UpSampling2D) before and after a CONV 1x1, concatenated, then
// PADV2 (a non-zero pad value) and CONV 3x3, then REDUCE_MAX over H, W
// (Keras GlobalMaxPooling2D).
func upsampleModel(t *testing.T) []byte {
	g := newFloatGraph(t, 2)
	b := g.b
	x := g.act("x", 1, 6, 6, 4)
	rn := g.act("nearest", 1, 12, 12, 4)
	b.Op(schema.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR, 1, []int{x, g.ints("size", 12, 12)}, []int{rn}, tflitetest.ResizeNearestNeighborOptions(false, false))
	c1 := g.act("conv1", 1, 12, 12, 4)
	b.Op(schema.BuiltinOperatorCONV_2D, 1, []int{rn, g.weights("w1", 0.5, 4, 1, 1, 4), g.weights("b1", 0.1, 4)}, []int{c1}, tflitetest.Conv2DOptions(schema.PaddingVALID, 1, 1, schema.ActivationFunctionTypeRELU, 1, 1))
	c2 := g.act("conv2", 1, 6, 6, 4)
	b.Op(schema.BuiltinOperatorCONV_2D, 1, []int{x, g.weights("w2", 0.5, 4, 1, 1, 4), g.weights("b2", 0.1, 4)}, []int{c2}, tflitetest.Conv2DOptions(schema.PaddingVALID, 1, 1, schema.ActivationFunctionTypeNONE, 1, 1))
	rn2 := g.act("nearest2", 1, 12, 12, 4)
	b.Op(schema.BuiltinOperatorRESIZE_NEAREST_NEIGHBOR, 1, []int{c2, g.ints("size2", 12, 12)}, []int{rn2}, tflitetest.ResizeNearestNeighborOptions(false, false))
	cat := g.act("concat", 1, 12, 12, 8)
	b.Op(schema.BuiltinOperatorCONCATENATION, 1, []int{c1, rn2}, []int{cat}, tflitetest.ConcatenationOptions(3, schema.ActivationFunctionTypeNONE))
	pv := g.act("padv2", 1, 14, 14, 8)
	b.Op(schema.BuiltinOperatorPADV2, 1, []int{cat, g.ints2("pads", 4, 0, 0, 1, 1, 1, 1, 0, 0), b.Const("padval", tensor.Float32, []int{}, nil, Float32Bytes([]float32{-0.25}))}, []int{pv}, tflitetest.PadV2Options())
	out := g.act("out", 1, 12, 12, 3)
	b.Op(schema.BuiltinOperatorCONV_2D, 1, []int{pv, g.weights("w3", 0.3, 3, 3, 3, 8), g.weights("b3", 0.1, 3)}, []int{out}, tflitetest.Conv2DOptions(schema.PaddingVALID, 1, 1, schema.ActivationFunctionTypeNONE, 1, 1))
	gmp := g.act("gmp", 1, 3)
	b.Op(schema.BuiltinOperatorREDUCE_MAX, 1, []int{out, g.ints("hw", 1, 2)}, []int{gmp}, tflitetest.ReducerOptions(false))
	b.Inputs(x)
	b.Outputs(out, gmp)
	return g.bytes()
}

// sliceModel: FC (keep_num_dims on a 3-D input) feeding the slicing and
// selection ops: STRIDED_SLICE, SPLIT, MAXIMUM, MINIMUM with a constant,
// PACK, UNPACK, GATHER, SLICE, SPLIT_V and BATCH_MATMUL.
func sliceModel(t *testing.T) []byte {
	g := newFloatGraph(t, 3)
	b := g.b
	x := g.act("x", 1, 4, 8)
	r := g.act("fc", 1, 4, 6)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 1, []int{x, g.weights("w", 0.5, 6, 8), g.weights("b", 0.2, 6)}, []int{r}, tflitetest.FullyConnectedOptions(schema.ActivationFunctionTypeNONE, true))
	s := g.act("sslice", 1, 4, 3)
	b.Op(schema.BuiltinOperatorSTRIDED_SLICE, 1, []int{r, g.ints("begin", 0, 0, 1), g.ints("end", 1, 4, 6), g.ints("strides", 1, 1, 2)}, []int{s}, tflitetest.StridedSliceOptions(tflitetest.StridedSliceMasks{}))
	sp0, sp1 := g.act("split0", 1, 2, 3), g.act("split1", 1, 2, 3)
	b.Op(schema.BuiltinOperatorSPLIT, 1, []int{g.ints("axis", 1), s}, []int{sp0, sp1}, tflitetest.SplitOptions(2))
	mx := g.act("maximum", 1, 2, 3)
	b.Op(schema.BuiltinOperatorMAXIMUM, 1, []int{sp0, sp1}, []int{mx}, nil)
	mn := g.act("minimum", 1, 2, 3)
	b.Op(schema.BuiltinOperatorMINIMUM, 1, []int{sp1, g.weights("bound", 0.5, 1, 2, 3)}, []int{mn}, nil)
	pk := g.act("pack", 1, 2, 2, 3)
	b.Op(schema.BuiltinOperatorPACK, 1, []int{mx, mn}, []int{pk}, tflitetest.PackOptions(2, 1))
	u0, u1 := g.act("unpack0", 1, 2, 3), g.act("unpack1", 1, 2, 3)
	b.Op(schema.BuiltinOperatorUNPACK, 1, []int{pk}, []int{u0, u1}, tflitetest.UnpackOptions(2, 1))
	ga := g.act("gather", 1, 3, 6)
	b.Op(schema.BuiltinOperatorGATHER, 1, []int{r, g.ints("idx", 3, 0, 2)}, []int{ga}, tflitetest.GatherOptions(1, 0))
	sl := g.act("slice", 1, 2, 4)
	b.Op(schema.BuiltinOperatorSLICE, 1, []int{ga, g.ints("sbegin", 0, 1, 1), g.ints("ssize", 1, 2, 4)}, []int{sl}, nil)
	sv0, sv1 := g.act("splitv0", 1, 2, 1), g.act("splitv1", 1, 2, 3)
	b.Op(schema.BuiltinOperatorSPLIT_V, 1, []int{sl, g.ints("sizes", 1, 3), g.ints("axis2", 2)}, []int{sv0, sv1}, tflitetest.SplitVOptions(2))
	bm := g.act("bmm", 1, 2, 4)
	b.Op(schema.BuiltinOperatorBATCH_MATMUL, 1, []int{u0, g.weights("rhs", 0.6, 1, 3, 4)}, []int{bm}, tflitetest.BatchMatMulOptions(false, false))
	b.Inputs(x)
	b.Outputs(sv1, u1, bm, sv0)
	return g.bytes()
}

// rescaleModel holds the int8 ops that rescale in a way edged's LiteRT
// arithmetic does not implement (XNNPACK's): CONV → MEAN over H, W with
// keep_dims, CONV → SUM over channels, CONV → RESIZE_BILINEAR
// (half-pixel, Keras UpSampling2D(interpolation="bilinear")), CONV →
// TRANSPOSE_CONV stride 2 with bias (Keras Conv2DTranspose).
func rescaleModel(t *testing.T) []byte {
	g := newFloatGraph(t, 4)
	b := g.b
	x := g.act("x", 1, 6, 6, 3)
	c := g.act("conv", 1, 6, 6, 4)
	b.Op(schema.BuiltinOperatorCONV_2D, 1, []int{x, g.weights("w", 0.5, 4, 3, 3, 3), g.weights("b", 0.2, 4)}, []int{c}, tflitetest.Conv2DOptions(schema.PaddingSAME, 1, 1, schema.ActivationFunctionTypeNONE, 1, 1))
	mean := g.act("mean", 1, 1, 1, 4)
	b.Op(schema.BuiltinOperatorMEAN, 1, []int{c, g.ints("axes", 1, 2)}, []int{mean}, tflitetest.ReducerOptions(true))
	sum := g.act("sum", 1, 6, 6)
	b.Op(schema.BuiltinOperatorSUM, 1, []int{c, g.ints("caxis", 3)}, []int{sum}, tflitetest.ReducerOptions(false))
	rb := g.act("bilinear", 1, 12, 12, 4)
	b.Op(schema.BuiltinOperatorRESIZE_BILINEAR, 3, []int{c, g.ints("size", 12, 12)}, []int{rb}, tflitetest.ResizeBilinearOptions(false, true))
	tc := g.act("tconv", 1, 12, 12, 4)
	b.Op(schema.BuiltinOperatorTRANSPOSE_CONV, 3, []int{g.ints("oshape", 1, 12, 12, 4), g.weights("wt", 0.4, 4, 3, 3, 4), c, g.weights("bt", 0.1, 4)}, []int{tc}, tflitetest.TransposeConvOptions(schema.PaddingSAME, 2, 2, schema.ActivationFunctionTypeNONE))
	b.Inputs(x)
	b.Outputs(mean, sum, rb, tc)
	return g.bytes()
}

// layerNormModel: FULLY_CONNECTED (keep_num_dims) → Keras
// LayerNormalization as the converter decomposes it: MEAN,
// SQUARED_DIFFERENCE, MEAN, ADD epsilon, RSQRT, SUB, MUL, MUL gamma,
// ADD beta.
func layerNormModel(t *testing.T) []byte {
	g := newFloatGraph(t, 5)
	b := g.b
	x := g.act("x", 1, 4, 8)
	h := g.act("fc", 1, 4, 8)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 1, []int{x, g.weights("w", 0.6, 8, 8), g.weights("b", 0.3, 8)}, []int{h}, tflitetest.FullyConnectedOptions(schema.ActivationFunctionTypeNONE, true))
	m := g.act("mean", 1, 4, 1)
	b.Op(schema.BuiltinOperatorMEAN, 1, []int{h, g.ints("ax", 2)}, []int{m}, tflitetest.ReducerOptions(true))
	d := g.act("sqdiff", 1, 4, 8)
	b.Op(schema.BuiltinOperatorSQUARED_DIFFERENCE, 1, []int{h, m}, []int{d}, nil)
	v := g.act("var", 1, 4, 1)
	b.Op(schema.BuiltinOperatorMEAN, 1, []int{d, g.ints("ax2", 2)}, []int{v}, tflitetest.ReducerOptions(true))
	ve := g.act("var_eps", 1, 4, 1)
	b.Op(schema.BuiltinOperatorADD, 1, []int{v, b.Const("eps", tensor.Float32, []int{}, nil, Float32Bytes([]float32{1e-3}))}, []int{ve}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
	r := g.act("rsqrt", 1, 4, 1)
	b.Op(schema.BuiltinOperatorRSQRT, 1, []int{ve}, []int{r}, nil)
	c := g.act("centred", 1, 4, 8)
	b.Op(schema.BuiltinOperatorSUB, 1, []int{h, m}, []int{c}, tflitetest.SubOptions(schema.ActivationFunctionTypeNONE))
	n := g.act("normed", 1, 4, 8)
	b.Op(schema.BuiltinOperatorMUL, 1, []int{c, r}, []int{n}, tflitetest.MulOptions(schema.ActivationFunctionTypeNONE))
	gm := g.act("scaled", 1, 4, 8)
	b.Op(schema.BuiltinOperatorMUL, 1, []int{n, g.weights("gamma", 1, 8)}, []int{gm}, tflitetest.MulOptions(schema.ActivationFunctionTypeNONE))
	out := g.act("out", 1, 4, 8)
	b.Op(schema.BuiltinOperatorADD, 1, []int{gm, g.weights("beta", 0.5, 8)}, []int{out}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
	b.Inputs(x)
	b.Outputs(out)
	return g.bytes()
}

// sharedConstModel: constants the converter shares between operators
// (it deduplicates equal tensors): tied FULLY_CONNECTED weights, and one
// bound read by MAXIMUM (shared parameters) and by ADD (its own).
func sharedConstModel(t *testing.T) []byte {
	g := newFloatGraph(t, 6)
	b := g.b
	x := g.act("x", 1, 6)
	w := g.weights("w", 0.7, 6, 6)
	h1 := g.act("fc1", 1, 6)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 1, []int{x, w, g.weights("b1", 0.2, 6)}, []int{h1}, tflitetest.FullyConnectedOptions(schema.ActivationFunctionTypeNONE, false))
	h2 := g.act("fc2", 1, 6)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 1, []int{h1, w, g.weights("b2", 0.2, 6)}, []int{h2}, tflitetest.FullyConnectedOptions(schema.ActivationFunctionTypeNONE, false))
	k := g.weights("k", 0.5, 1, 6)
	mx := g.act("max", 1, 6)
	b.Op(schema.BuiltinOperatorMAXIMUM, 1, []int{h2, k}, []int{mx}, nil)
	out := g.act("out", 1, 6)
	b.Op(schema.BuiltinOperatorADD, 1, []int{mx, k}, []int{out}, tflitetest.AddOptions(schema.ActivationFunctionTypeNONE))
	b.Inputs(x)
	b.Outputs(out)
	return g.bytes()
}

func randomSamples(model []byte, seed uint64, n int, t *testing.T) [][][]byte {
	t.Helper()
	m, err := tflite.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 99))
	var out [][][]byte
	for range n {
		var s [][]byte
		for k := 0; k < it.NumInputs(); k++ {
			v := make([]float32, len(it.Input(k).Data)/4)
			for i := range v {
				v[i] = float32(2*r.Float64() - 1)
			}
			s = append(s, Float32Bytes(v))
		}
		out = append(out, s)
	}
	return out
}

// TestQuantizeKerasOps quantizes small float graphs that use the ops of
// common Keras exports and checks, for each: the int8 model runs in edged
// and in the oracle (LiteRT arithmetic bit-exact, reference within the
// runtime's drift limits), every operator has op_version.cc's version, and
// its outputs stay close to the float model.
//
// Closeness is counted in steps of each output's int8 scale s. One
// requantization rounds by at most s/2; a chain of k rescaling ops whose
// input errors propagate with gain near 1 stays within about (k+1)*s/2 on
// average (errors are independent and partly cancel), and the calibrated
// ranges here cover the eval inputs (same distribution). With 4 to 7
// rescaling ops per path the mean bound is 3 steps; the max bound of 12
// steps allows the tails of 16 samples x up to 576 values, including eval
// values beyond the range calibrated on 64 samples, which saturate (the
// SUM over channels shows 7.5).
func TestQuantizeKerasOps(t *testing.T) {
	tests := []struct {
		name  string
		model func(t *testing.T) []byte
		// classifier checks top-1 agreement instead of steps.
		classifier bool
		wantOps    []string
		// versions op_version.cc raises for this model's options.
		versions map[string]int32
		// litertRefuses names the ops edged's LiteRT arithmetic refuses
		// in int8 (runtime/kernels gaps): only the reference arithmetic
		// is compared with the oracle then.
		litertRefuses []string
		// maxSteps overrides the bound of 12 output steps.
		maxSteps float64
	}{
		{"conv_leaky_hswish_prelu_mean_fc", func(t *testing.T) []byte { return classifierModel(t, false, true) }, true,
			[]string{"CONV_2D", "LEAKY_RELU", "HARD_SWISH", "PRELU", "MEAN", "FULLY_CONNECTED", "SOFTMAX"}, nil, nil, 0},
		{"conv_leaky_hswish_prelu_pool_fc_float16_weights", func(t *testing.T) []byte { return classifierModel(t, true, false) }, true,
			[]string{"CONV_2D", "LEAKY_RELU", "HARD_SWISH", "PRELU", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"}, nil, nil, 0},
		{"nearest_concat_padv2", upsampleModel, false,
			[]string{"RESIZE_NEAREST_NEIGHBOR", "CONCATENATION", "PADV2", "REDUCE_MAX"}, nil, nil, 0},
		{"slice_split_gather", sliceModel, false,
			[]string{"STRIDED_SLICE", "SPLIT", "MAXIMUM", "MINIMUM", "PACK", "UNPACK", "GATHER", "SLICE", "SPLIT_V", "BATCH_MATMUL"},
			map[string]int32{"FULLY_CONNECTED": 5}, nil, 0},
		{"shared_constants", sharedConstModel, false,
			[]string{"FULLY_CONNECTED", "MAXIMUM", "ADD"}, nil, nil, 0},
		{"layer_norm", layerNormModel, false,
			[]string{"MEAN", "SQUARED_DIFFERENCE", "RSQRT", "SUB", "MUL", "ADD"},
			// Rows of small variance multiply the centred values' rounding
			// (half a step of the FC output) by rsqrt(var + eps), which
			// reaches ~1/sqrt(eps) = 31 at the calibrated extreme, and the
			// RSQRT output's own int8 step is that range over 255: the
			// tail is wider, the mean stays below a step.
			map[string]int32{"FULLY_CONNECTED": 5}, nil, 24},
		{"mean_sum_bilinear_tconv", rescaleModel, false,
			[]string{"MEAN", "SUM", "RESIZE_BILINEAR", "TRANSPOSE_CONV"}, nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model := tt.model(t)
			calib := randomSamples(model, 1, 64, t)
			eval := randomSamples(model, 2, 16, t)
			q := quantizeWith(t, model, calib, nil)
			qm, err := Read(q)
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, op := range qm.Subgraphs[0].Operators {
				c, _ := BuiltinCode(qm, op)
				have[c.String()] = true
				if c == schema.BuiltinOperatorDEQUANTIZE && qm.Subgraphs[0].Tensors[op.Inputs[0]].Type != schema.TensorTypeINT8 {
					t.Errorf("DEQUANTIZE of a %s tensor left in the int8 model", qm.Subgraphs[0].Tensors[op.Inputs[0]].Type)
				}
			}
			for _, tn := range qm.Subgraphs[0].Tensors {
				if tn.Type == schema.TensorTypeFLOAT16 && bufferData(qm, tn) != nil {
					t.Errorf("float16 constant %q left in the int8 model", tn.Name)
				}
			}
			for _, op := range tt.wantOps {
				if !have[op] {
					t.Errorf("quantized model has no %s operator", op)
				}
			}
			checkOpVersionsWith(t, q, tt.versions)
			arith := tflite.LiteRT
			if len(tt.litertRefuses) > 0 {
				arith = tflite.Reference
				checkLiteRTRefuses(t, q, tt.litertRefuses)
			}
			checkOracleModes(t, q, eval, 16, arith == tflite.LiteRT)

			fl := runEdged(t, model, eval, tflite.Reference)
			qi := runEdged(t, q, eval, arith)
			_, outs := ioParams(t, q)
			if tt.classifier {
				agree := 0
				for s := range eval {
					if argmax32(f32s(qi[s][0])) == argmax32(f32s(fl[s][0])) {
						agree++
					}
				}
				var worst float64
				for s := range eval {
					a, b := f32s(qi[s][0]), f32s(fl[s][0])
					for i := range a {
						worst = max(worst, math.Abs(float64(a[i]-b[i])))
					}
				}
				t.Logf("%s: top-1 agrees on %d/%d; max |p_int8 - p_float| = %.4f; %d -> %d bytes", tt.name, agree, len(eval), worst, len(model), len(q))
				// 14 of 16: random weights make near-ties likely; the
				// probabilities themselves must stay within 0.1.
				if agree < len(eval)-2 || worst > 0.1 {
					t.Errorf("%s: top-1 agrees on %d/%d (want >= %d), max prob error %.4f (want <= 0.1)", tt.name, agree, len(eval), len(eval)-2, worst)
				}
				return
			}
			for k, o := range outs {
				var sum, worst float64
				n := 0
				for s := range eval {
					a, b := f32s(qi[s][k]), f32s(fl[s][k])
					for i := range a {
						d := math.Abs(float64(a[i]-b[i])) / float64(o.scale)
						sum += d
						worst = max(worst, d)
						n++
					}
				}
				mean := sum / float64(n)
				t.Logf("%s output %d: |int8 - float| mean %.2f, max %.2f steps of %.4g", tt.name, k, mean, worst, o.scale)
				maxSteps := cmp.Or(tt.maxSteps, 12)
				if mean > 3 || worst > maxSteps {
					t.Errorf("%s output %d: |int8 - float| mean %.2f, max %.2f output steps; want <= 3 and <= %g", tt.name, k, mean, worst, maxSteps)
				}
			}
		})
	}
}

// checkLiteRTRefuses checks that edged's LiteRT arithmetic refuses the
// model with ErrUnsupported naming one of ops (and so that the reference
// arithmetic is the only one to compare).
func checkLiteRTRefuses(t *testing.T, model []byte, ops []string) {
	t.Helper()
	m, err := tflite.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tflite.NewInterpreter(m, &tflite.Options{Arithmetic: tflite.LiteRT})
	if err == nil {
		t.Errorf("NewInterpreter(litert) succeeded; %v were expected to be refused (the LiteRT arithmetic gained them: compare it bit-exactly)", ops)
		return
	}
	if !errors.Is(err, kernels.ErrUnsupported) {
		t.Fatalf("NewInterpreter(litert) = %v; want an error wrapping kernels.ErrUnsupported", err)
	}
	for _, op := range ops {
		if strings.Contains(err.Error(), op) {
			return
		}
	}
	t.Errorf("NewInterpreter(litert) = %v; want it to name one of %v", err, ops)
}
