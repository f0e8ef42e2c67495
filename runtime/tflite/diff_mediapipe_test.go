package tflite

// Generators for TestDifferential: MediaPipe's custom operators
// MaxPoolingWithArgmax2D, MaxUnpooling2D and Convolution2DTransposeBias,
// which the official runtime has built in.

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	addDiffGen("MaxPoolingWithArgmax2D/float32", genMaxPoolUnpool)
	addDiffGen("MaxPoolingWithArgmax2D/segmentation", genMaxPoolUnpoolSeg)
	addDiffGen("RESIZE_BILINEAR/float32_upscale", genResizeUpscale)
	addDiffGen("Convolution2DTransposeBias/float32", genTransposeConvBias(true))
	addDiffGen("Convolution2DTransposeBias/segmentation", genTransposeConvBiasSeg)
	newOps = append(newOps, "MaxPoolingWithArgmax2D", "Convolution2DTransposeBias")
}

// rawOptions writes int32 fields as a C struct's bytes.
func rawOptions(vals ...int) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(int32(v)))
	}
	return b
}

// genMaxPoolUnpool pools with argmax and unpools the values again, as
// MediaPipe's segmentation models do: the outputs are the pooled values
// and the unpooled image (the index tensor's encoding is internal to the
// pair). Windows tile the input (stride = filter), so that XNNPACK, which
// the official runtime uses for both, takes them.
func genMaxPoolUnpool(r *rand.Rand) ([]byte, [][]byte, error) {
	k := diffInt(r, 1, 3)
	kh, kw := k, diffPick(r, k, diffInt(r, 1, 3))
	n, c := diffInt(r, 1, 2), diffInt(r, 1, 5)
	oh, ow := diffInt(r, 1, 5), diffInt(r, 1, 5)
	return genMaxPoolUnpoolShape(r, kh, kw, n, c, oh, ow)
}

// genMaxPoolUnpoolSeg is genMaxPoolUnpool at the segmentation models'
// geometry: 2×2 windows over 8 to 64 channels (and counts that are not
// a multiple of a vector), up to 16×16 windows.
func genMaxPoolUnpoolSeg(r *rand.Rand) ([]byte, [][]byte, error) {
	c := []int{8, 16, 32, 64, diffInt(r, 1, 70)}[r.IntN(5)]
	return genMaxPoolUnpoolShape(r, 2, 2, 1, c, diffInt(r, 1, 16), diffInt(r, 1, 16))
}

func genMaxPoolUnpoolShape(r *rand.Rand, kh, kw, n, c, oh, ow int) ([]byte, [][]byte, error) {
	inShape := []int{n, oh * kh, ow * kw, c}
	poolShape := []int{n, oh, ow, c}
	pad := diffPick(r, 1, 2) // SAME or VALID: the same with these sizes
	popts := rawOptions(pad, kw, kh, kw, kh, 0, -1, -1)
	uopts := rawOptions(2, kw, kh, kw, kh, 0, -1, -1)
	data := diffFloatBytes(r, tensor.NumElements(inShape), -1, 1)
	if r.IntN(2) == 0 {
		// Few distinct values: ties in windows.
		vals := min(3, len(data)/4)
		for i := 0; i+4 <= len(data); i += 4 {
			j := 4 * r.IntN(vals)
			copy(data[i:i+4], data[j:j+4])
		}
	}
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Float32, inShape, nil, nil)
	vals := b.Tensor("pooled", tensor.Float32, poolShape, nil, nil)
	idx := b.Tensor("argmax", tensor.Float32, poolShape, nil, nil)
	out := b.Tensor("unpooled", tensor.Float32, inShape, nil, nil)
	b.Custom("MaxPoolingWithArgmax2D", 1, []int{in}, []int{vals, idx}, popts)
	b.Custom("MaxUnpooling2D", 1, []int{vals, idx}, []int{out}, uopts)
	m, err := shapeGenFinish(b, []int{in}, []int{vals, out})
	return m, [][]byte{data}, err
}

// genTransposeConvBias: constant filter and bias, as XNNPACK's
// deconvolution in the official runtime requires (it refuses the model
// otherwise), and strides no larger than the filter.
func genTransposeConvBias(constFilter bool) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		n, h, w, cin, cout := diffInt(r, 1, 2), diffInt(r, 1, 6), diffInt(r, 1, 6), diffInt(r, 1, 4), diffInt(r, 1, 4)
		fh, fw := diffInt(r, 1, 4), diffInt(r, 1, 4)
		sh, sw := diffInt(r, 1, min(3, fh)), diffInt(r, 1, min(3, fw))
		pad := diffPick(r, 1, 2)
		size := func(in, f, s int) int {
			p := 0
			if pad == 1 {
				p = max(0, f-(in-1)%s-1)
			}
			return s*(in-1) + f - p
		}
		outShape := []int{n, size(h, fh, sh), size(w, fw, sw), cout}
		wShape := []int{cout, fh, fw, cin}
		wData := diffFloatBytes(r, tensor.NumElements(wShape), -1, 1)
		bData := diffFloatBytes(r, cout, -1, 1)
		b := tflitetest.NewBuilder()
		in := b.Tensor("in", tensor.Float32, []int{n, h, w, cin}, nil, nil)
		ins, data := []int{in}, [][]byte{diffFloatBytes(r, n*h*w*cin, -1, 1)}
		var wt, bt int
		if constFilter {
			wt = b.Const("filter", tensor.Float32, wShape, nil, wData)
			bt = b.Const("bias", tensor.Float32, []int{cout}, nil, bData)
		} else {
			wt = b.Tensor("filter", tensor.Float32, wShape, nil, nil)
			bt = b.Tensor("bias", tensor.Float32, []int{cout}, nil, nil)
			ins = append(ins, wt, bt)
			data = append(data, wData, bData)
		}
		out := b.Tensor("out", tensor.Float32, outShape, nil, nil)
		b.Custom("Convolution2DTransposeBias", 1, []int{in, wt, bt}, []int{out}, rawOptions(pad, sw, sh))
		m, err := shapeGenFinish(b, ins, []int{out})
		return m, data, err
	}
}

// genTransposeConvBiasSeg covers the geometries of MediaPipe's
// segmentation models (2×2 stride 2 without overlap, 3×3 stride 2 SAME
// with overlap, 1 to 32 channels) on images wide enough for the SIMD
// GEMM's row groups, with more output channels than one panel holds and
// outputs cut short by SAME padding.
func genTransposeConvBiasSeg(r *rand.Rand) ([]byte, [][]byte, error) {
	type geo struct{ f, s, cin, cout int }
	g := []geo{{2, 2, 32, 8}, {2, 2, 8, 2}, {2, 2, 16, 1}, {3, 2, 8, 8}, {3, 2, 4, 4},
		{diffInt(r, 1, 4), diffInt(r, 1, 3), diffInt(r, 1, 24), diffInt(r, 1, 40)}}[r.IntN(6)]
	fh, fw := g.f, g.f
	sh, sw := min(g.s, fh), min(g.s, fw)
	n, h, w := diffInt(r, 1, 2), diffInt(r, 1, 20), diffInt(r, 1, 20)
	pad := diffPick(r, 1, 2)
	size := func(in, f, s int) int {
		p := 0
		if pad == 1 {
			p = max(0, f-(in-1)%s-1)
		}
		return s*(in-1) + f - p
	}
	outShape := []int{n, size(h, fh, sh), size(w, fw, sw), g.cout}
	wShape := []int{g.cout, fh, fw, g.cin}
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Float32, []int{n, h, w, g.cin}, nil, nil)
	wt := b.Const("filter", tensor.Float32, wShape, nil, diffFloatBytes(r, tensor.NumElements(wShape), -1, 1))
	bt := b.Const("bias", tensor.Float32, []int{g.cout}, nil, diffFloatBytes(r, g.cout, -1, 1))
	out := b.Tensor("out", tensor.Float32, outShape, nil, nil)
	b.Custom("Convolution2DTransposeBias", 1, []int{in, wt, bt}, []int{out}, rawOptions(pad, sw, sh))
	m, err := shapeGenFinish(b, []int{in}, []int{out})
	return m, [][]byte{diffFloatBytes(r, n*h*w*g.cin, -1, 1)}, err
}

// genResizeUpscale is float RESIZE_BILINEAR as in selfie_segmentation's
// decoder (2× upscales of 16 to 128 channels), with other factors and
// channel counts that are not a multiple of a vector, in the three
// coordinate modes.
func genResizeUpscale(r *rand.Rand) ([]byte, [][]byte, error) {
	c := []int{1, 3, 8, 16, 24, 33, 128}[r.IntN(7)]
	shape := []int{diffInt(r, 1, 2), diffInt(r, 1, 12), diffInt(r, 1, 12), c}
	h, w := 2*shape[1], 2*shape[2]
	if r.IntN(3) == 0 {
		h, w = diffInt(r, 1, 30), diffInt(r, 1, 30)
	}
	align, half := false, false
	switch r.IntN(3) {
	case 1:
		align = true
	case 2:
		half = true
	}
	version := 1
	if half {
		version = 3
	}
	b := tflitetest.NewBuilder()
	in := b.Tensor("in", tensor.Float32, shape, nil, nil)
	size := b.Tensor("size", tensor.Int32, []int{2}, nil, tflitetest.Int32Bytes([]int32{int32(h), int32(w)}))
	out := b.Tensor("out", tensor.Float32, []int{shape[0], h, w, c}, nil, nil)
	b.Op(schema.BuiltinOperatorRESIZE_BILINEAR, version, []int{in, size}, []int{out}, tflitetest.ResizeBilinearOptions(align, half))
	b.Inputs(in)
	b.Outputs(out)
	model, err := b.Bytes()
	return model, [][]byte{diffFloatBytes(r, tensor.NumElements(shape), -1, 1)}, err
}
