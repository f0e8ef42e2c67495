package tflite

// Differential generators for the hybrid (dynamic-range) kernels: float32
// activations, int8 symmetric weights (per tensor or per channel). The
// oracle runs FULLY_CONNECTED and CONV_2D in XNNPACK's dynamic
// quantization and DEPTHWISE_CONV_2D in TFLite's hybrid kernel; the LiteRT
// arithmetic must give its float outputs bit for bit. The reference
// arithmetic (TFLite's builtin hybrid kernels, a different quantization)
// is compared with TFLite's C library in TestHybridAgainstTFLite instead.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	addDiffGen("FULLY_CONNECTED/hybrid_int8", genHybridFC(false))
	addDiffGen("FULLY_CONNECTED/hybrid_int8_per_channel", genHybridFC(true))
	addDiffGen("CONV_2D/hybrid_int8", genHybridConv(false, false))
	addDiffGen("CONV_2D/hybrid_int8_per_channel", genHybridConv(false, true))
	// 1×1 windows: XNNPACK runs stride-1 ones as fully connected layers.
	addDiffGen("CONV_2D/hybrid_int8_pointwise", genHybridPointwise)
	addDiffGen("CONV_2D/hybrid_after_float_conv", genHybridAfterFloatConv)
	// TFLite's hybrid depthwise kernel takes per-channel weights only.
	addDiffGen("DEPTHWISE_CONV_2D/hybrid_int8_per_channel", genHybridConv(true, true))
}

// diffIsHybrid reports whether a generator makes hybrid models, whose
// default-arithmetic results are not the oracle's.
func diffIsHybrid(gen string) bool {
	_, v, _ := strings.Cut(gen, "/")
	return strings.HasPrefix(v, "hybrid")
}

func hybridWeightQuant(r *rand.Rand, shape []int, axis int, perChannel bool) (*tensor.Quant, []byte) {
	n := tensor.NumElements(shape)
	if perChannel {
		return diffPerChannelQuant(r, shape[axis], axis, 0.002, 0.02), diffInt8Weights(r, n)
	}
	return &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.002, 0.02))}, ZeroPoint: []int32{0}}, diffInt8Weights(r, n)
}

// hybridInput returns float inputs with a random offset and spread, so
// that the dynamic zero point moves away from the middle.
func hybridInput(r *rand.Rand, n int) []byte {
	lo := diffLogUniform(r, 0.1, 3)
	hi := diffLogUniform(r, 0.1, 3)
	switch r.IntN(4) {
	case 0:
		lo = -lo * 0.05 // mostly positive (after a RELU)
	case 1:
		hi = -hi * 0.05 // mostly negative
	}
	return diffFloatBytes(r, n, -lo, hi)
}

func genHybridFC(perChannel bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		depth, units, batch := diffInt(r, 1, 48), diffInt(r, 1, 24), diffInt(r, 1, 4)
		asym := r.IntN(2) == 0
		version := 3
		if asym {
			version = 9
		}
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", tensor.Float32, []int{batch, depth}, nil, nil)
		wQ, wData := hybridWeightQuant(r, []int{units, depth}, 0, perChannel)
		w := b.Const("w", tensor.Int8, []int{units, depth}, wQ, wData)
		bias := tflitetest.NoInput
		if r.IntN(4) != 0 {
			bias = b.Const("bias", tensor.Float32, []int{units}, nil, diffFloatBytes(r, units, -1, 1))
		}
		out := b.Tensor("out", tensor.Float32, []int{batch, units}, nil, nil)
		act := diffActivation(r)
		b.Op(schema.BuiltinOperatorFULLY_CONNECTED, version, []int{in, w, bias}, []int{out},
			tflitetest.RawOptions(schema.BuiltinOptionsFullyConnectedOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
				schema.FullyConnectedOptionsStart(fb)
				schema.FullyConnectedOptionsAddFusedActivationFunction(fb, act)
				schema.FullyConnectedOptionsAddAsymmetricQuantizeInputs(fb, asym)
				return schema.FullyConnectedOptionsEnd(fb)
			}))
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{hybridInput(r, batch*depth)}, err
	}
}

func genHybridPointwise(r *rand.Rand) ([]byte, [][]byte, error) {
	return genHybridConvWindow(false, r.IntN(2) == 0, 1)(r)
}

func genHybridConv(depthwise, perChannel bool) diffGen {
	return genHybridConvWindow(depthwise, perChannel, 5)
}

// genHybridConvWindow makes windows of up to maxK×maxK (1: pointwise).
func genHybridConvWindow(depthwise, perChannel bool, maxK int) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		n := diffInt(r, 1, 2)
		h, w := diffInt(r, 1, 10), diffInt(r, 1, 10)
		cin := diffInt(r, 1, 6)
		kh, kw := diffInt(r, 1, min(h, maxK)), diffInt(r, 1, min(w, maxK))
		sh, sw := diffInt(r, 1, 3), diffInt(r, 1, 3)
		if maxK == 1 && r.IntN(2) == 0 {
			sh, sw = 1, 1
		}
		dh, dw := 1, 1
		pad := diffPick(r, schema.PaddingSAME, schema.PaddingVALID)
		if r.IntN(4) == 0 && pad == schema.PaddingSAME {
			dh, dw = diffInt(r, 1, 2), diffInt(r, 1, 2)
		}
		mult, cout, axis := 1, diffInt(r, 1, 8), 0
		wShape := []int{cout, kh, kw, cin}
		if depthwise {
			mult = diffPick(r, 1, 1, 2)
			cout, axis = cin*mult, 3
			wShape = []int{1, kh, kw, cout}
		}
		oh, ow := convOut(h, kh, sh, dh, pad), convOut(w, kw, sw, dw, pad)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", tensor.Float32, []int{n, h, w, cin}, nil, nil)
		wQ, wData := hybridWeightQuant(r, wShape, axis, perChannel)
		wt := b.Const("w", tensor.Int8, wShape, wQ, wData)
		bias := b.Const("bias", tensor.Float32, []int{cout}, nil, diffFloatBytes(r, cout, -1, 1))
		out := b.Tensor("out", tensor.Float32, []int{n, oh, ow, cout}, nil, nil)
		act := diffActivation(r)
		if depthwise {
			b.Op(schema.BuiltinOperatorDEPTHWISE_CONV_2D, 6, []int{in, wt, bias}, []int{out},
				tflitetest.DepthwiseConv2DOptions(pad, sw, sh, mult, act, dw, dh))
		} else {
			b.Op(schema.BuiltinOperatorCONV_2D, map[bool]int{false: 2, true: 5}[perChannel], []int{in, wt, bias}, []int{out},
				tflitetest.Conv2DOptions(pad, sw, sh, act, dw, dh))
		}
		b.Inputs(in)
		b.Outputs(out)
		model, err := b.Bytes()
		return model, [][]byte{hybridInput(r, n*h*w*cin)}, err
	}
}

// genHybridAfterFloatConv: a float CONV_2D whose output a hybrid CONV_2D
// quantizes. Both outputs are listed and compared bit for bit: the float
// convolution must round as XNNPACK's (in LiteRT arithmetic), since a
// difference in its last bit would move the hybrid's input by a
// quantization step.
func genHybridAfterFloatConv(r *rand.Rand) ([]byte, [][]byte, error) {
	n := diffInt(r, 1, 2)
	h, w := diffInt(r, 2, 12), diffInt(r, 2, 12)
	// One input and one output channel make XNNPACK's depthwise kernel
	// run it, whose order edged does not reproduce: at least two outputs.
	cin, mid, cout := diffInt(r, 1, 12), diffInt(r, 2, 16), diffInt(r, 1, 8)
	fC := cin
	if r.IntN(4) == 0 {
		// Grouped: 2 or 3 groups of fC input and mid/groups output channels.
		groups := diffInt(r, 2, 3)
		fC = diffInt(r, 1, 4)
		cin, mid = groups*fC, groups*diffInt(r, 2, 9)
	}
	kh, kw := diffInt(r, 1, min(h, 4)), diffInt(r, 1, min(w, 4))
	sh, sw := diffInt(r, 1, 2), diffInt(r, 1, 2)
	dh, dw := 1, 1
	pad := diffPick(r, schema.PaddingSAME, schema.PaddingVALID)
	if r.IntN(4) == 0 && pad == schema.PaddingSAME {
		dh, dw = diffInt(r, 1, 2), diffInt(r, 1, 2)
	}
	oh, ow := convOut(h, kh, sh, dh, pad), convOut(w, kw, sw, dw, pad)
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Float32, []int{n, h, w, cin}, nil, nil)
	fShape := []int{mid, kh, kw, fC}
	f := b.Const("f", tensor.Float32, fShape, nil, diffFloatBytes(r, tensor.NumElements(fShape), -1, 1))
	fBias := b.Const("f_bias", tensor.Float32, []int{mid}, nil, diffFloatBytes(r, mid, -1, 1))
	t1 := b.Tensor("t1", tensor.Float32, []int{n, oh, ow, mid}, nil, nil)
	b.Op(schema.BuiltinOperatorCONV_2D, 1, []int{in, f, fBias}, []int{t1},
		tflitetest.Conv2DOptions(pad, sw, sh, diffActivation(r), dw, dh))
	wShape := []int{cout, 1, 1, mid}
	wQ, wData := hybridWeightQuant(r, wShape, 0, r.IntN(2) == 0)
	wt := b.Const("w", tensor.Int8, wShape, wQ, wData)
	bias := b.Const("bias", tensor.Float32, []int{cout}, nil, diffFloatBytes(r, cout, -1, 1))
	out := b.Tensor("out", tensor.Float32, []int{n, oh, ow, cout}, nil, nil)
	b.Op(schema.BuiltinOperatorCONV_2D, 5, []int{t1, wt, bias}, []int{out},
		tflitetest.Conv2DOptions(schema.PaddingVALID, 1, 1, schema.ActivationFunctionTypeNONE, 1, 1))
	b.Inputs(in)
	b.Outputs(t1, out)
	model, err := b.Bytes()
	return model, [][]byte{hybridInput(r, n*h*w*cin)}, err
}

// TestHybridAgainstTFLite compares the reference arithmetic's hybrid
// kernels with TensorFlow Lite's C library (its builtin hybrid kernels)
// on the differential generators' models: float outputs bit for bit.
func TestHybridAgainstTFLite(t *testing.T) {
	n := 25
	if testing.Short() {
		n = 6
	}
	for _, name := range []string{"FULLY_CONNECTED/hybrid_int8", "FULLY_CONNECTED/hybrid_int8_per_channel",
		"CONV_2D/hybrid_int8", "CONV_2D/hybrid_int8_per_channel", "DEPTHWISE_CONV_2D/hybrid_int8_per_channel"} {
		gen := diffGens[name]
		for i := 0; i < n; i++ {
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				model, inputs, err := gen(diffRand(name, i))
				if err != nil {
					t.Fatal(err)
				}
				want := capiRun(t, model, 1, false, inputs)
				got := edgedRuns(t, model, &Options{Arithmetic: Reference}, 1, false, inputs)
				if d := firstDiff(got[0], want[0]); d >= 0 {
					t.Errorf("float %d of %d differs from TFLite's: edged %g, TFLite %g", d/4, len(want[0])/4,
						math.Float32frombits(binary.LittleEndian.Uint32(got[0][d&^3:])), math.Float32frombits(binary.LittleEndian.Uint32(want[0][d&^3:])))
				}
			})
		}
	}
}
