package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Benchmarks and allocation checks of the MediaPipe segmentation models'
// operator shapes (hair_segmentation, selfie_segmentation), in CPU time
// (benchCPU). The reference arithmetic runs the scalar kernels the LiteRT
// ones replace, for before/after comparisons on one build.

// segRandFloats returns n values in [-1, 1).
func segRandFloats(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 2*r.Float32() - 1
	}
	return v
}

// segTconvShapes are the Convolution2DTransposeBias layers of the models:
// input NHWC, filter size, stride 2, output channels.
var segTconvShapes = []struct {
	name       string
	in         []int
	f, s, outC int
	padding    Padding
	outH, outW int
}{
	{"hair_16x16x8_3x3_8", []int{1, 16, 16, 8}, 3, 2, 8, PaddingSame, 32, 32},
	{"hair_64x64x4_3x3_4", []int{1, 64, 64, 4}, 3, 2, 4, PaddingSame, 128, 128},
	{"hair_128x128x32_2x2_8", []int{1, 128, 128, 32}, 2, 2, 8, PaddingSame, 256, 256},
	{"hair_256x256x8_2x2_2", []int{1, 256, 256, 8}, 2, 2, 2, PaddingSame, 512, 512},
	{"selfie_128x128x16_2x2_1", []int{1, 128, 128, 16}, 2, 2, 1, PaddingSame, 256, 256},
}

func newSegTconv(tb testing.TB, a Arithmetic, i int) Kernel {
	s := segTconvShapes[i]
	r := rand.New(rand.NewPCG(1, uint64(i)))
	inC := s.in[3]
	in := convT("in", tensor.Float32, s.in, nil, segRandFloats(r, tensor.NumElements(s.in)))
	f := convT("w", tensor.Float32, []int{s.outC, s.f, s.f, inC}, nil, segRandFloats(r, s.outC*s.f*s.f*inC))
	bias := convT("b", tensor.Float32, []int{s.outC}, nil, segRandFloats(r, s.outC))
	out := convT("out", tensor.Float32, []int{1, s.outH, s.outW, s.outC}, nil, nil)
	k, err := TransposeConvBias(&Config{Arithmetic: a}, s.padding, s.s, s.s, in, f, bias, out)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func BenchmarkSegTransposeConv(b *testing.B) {
	for i, s := range segTconvShapes {
		for _, a := range []Arithmetic{Reference, LiteRT} {
			b.Run(fmt.Sprintf("%s/%v", s.name, a), func(b *testing.B) {
				k := newSegTconv(b, a, i)
				benchCPU(b, func() { _ = k.Eval() })
			})
		}
	}
}

func TestSegKernelsAllocate(t *testing.T) {
	for i := range segTconvShapes[:2] {
		k := newSegTconv(t, LiteRT, i)
		if n := testing.AllocsPerRun(3, func() { _ = k.Eval() }); n != 0 {
			t.Errorf("%s: Eval allocates %v times", segTconvShapes[i].name, n)
		}
	}
	pool, unpool := newSegPool(t)
	for name, k := range map[string]Kernel{"MaxPoolingWithArgmax2D": pool, "MaxUnpooling2D": unpool} {
		if n := testing.AllocsPerRun(3, func() { _ = k.Eval() }); n != 0 {
			t.Errorf("%s: Eval allocates %v times", name, n)
		}
	}
}

// newSegPool returns hair_segmentation's first MaxPoolingWithArgmax2D
// (2×2 over 128×128×32) and the MaxUnpooling2D that reads it back.
func newSegPool(tb testing.TB) (pool, unpool Kernel) {
	r := rand.New(rand.NewPCG(2, 2))
	p := MPPoolParams{Padding: PaddingSame, StrideH: 2, StrideW: 2, FilterH: 2, FilterW: 2}
	in := convT("in", tensor.Float32, []int{1, 128, 128, 32}, nil, segRandFloats(r, 128*128*32))
	out := convT("out", tensor.Float32, []int{1, 64, 64, 32}, nil, nil)
	idx := convT("idx", tensor.Float32, []int{1, 64, 64, 32}, nil, nil)
	up := convT("up", tensor.Float32, []int{1, 128, 128, 32}, nil, nil)
	pool, err := MaxPoolWithArgmax(&Config{}, p, in, out, idx)
	if err != nil {
		tb.Fatal(err)
	}
	unpool, err = MaxUnpool(&Config{}, p, out, idx, up)
	if err != nil {
		tb.Fatal(err)
	}
	return pool, unpool
}

func BenchmarkSegMaxPoolArgmax(b *testing.B) {
	pool, _ := newSegPool(b)
	benchCPU(b, func() { _ = pool.Eval() })
}

func BenchmarkSegMaxUnpool(b *testing.B) {
	pool, unpool := newSegPool(b)
	_ = pool.Eval()
	benchCPU(b, func() { _ = unpool.Eval() })
}

// Every variant of MaxPoolingWithArgmax2D (XNNPACK's form) gives the
// portable loop's values and indices, with ties, NaNs and channel counts
// around the 8-channel blocks; MaxUnpooling2D puts them back alike.
func TestMaxPoolArgmaxVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type tc struct {
		p     MPPoolParams
		shape []int
		x     []float32
		outs  [][]byte
	}
	var cases []*tc
	for i := 0; i < 40; i++ {
		fh, fw := 1+r.IntN(3), 1+r.IntN(3)
		c := []int{1, 7, 8, 9, 16, 17, 32, 33, 64}[r.IntN(9)]
		shape := []int{1 + r.IntN(2), fh * (1 + r.IntN(5)), fw * (1 + r.IntN(5)), c}
		x := segRandFloats(r, tensor.NumElements(shape))
		for j := range x {
			switch r.IntN(10) {
			case 0:
				x[j] = float32(math.NaN())
			case 1, 2:
				x[j] = 0.5 // ties
			}
		}
		cases = append(cases, &tc{p: MPPoolParams{Padding: PaddingValid, StrideH: fh, StrideW: fw, FilterH: fh, FilterW: fw}, shape: shape, x: x})
	}
	run := func(c *tc) [][]byte {
		n, h, w, ch := c.shape[0], c.shape[1], c.shape[2], c.shape[3]
		pshape := []int{n, h / c.p.FilterH, w / c.p.FilterW, ch}
		in := convT("in", tensor.Float32, c.shape, nil, c.x)
		out := convT("out", tensor.Float32, pshape, nil, nil)
		idx := convT("idx", tensor.Float32, pshape, nil, nil)
		up := convT("up", tensor.Float32, c.shape, nil, nil)
		pool, err := MaxPoolWithArgmax(&Config{}, c.p, in, out, idx)
		if err != nil {
			t.Fatal(err)
		}
		unpool, err := MaxUnpool(&Config{}, c.p, out, idx, up)
		if err != nil {
			t.Fatal(err)
		}
		if err := pool.Eval(); err != nil {
			t.Fatal(err)
		}
		if err := unpool.Eval(); err != nil {
			t.Fatal(err)
		}
		return [][]byte{out.Data, idx.Data, up.Data}
	}
	start := Variant()
	t.Cleanup(func() { _, _ = SetVariant(start) })
	if _, err := SetVariant(VariantPortable); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		c.outs = run(c)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		for i, c := range cases {
			for j, got := range run(c) {
				if string(got) != string(c.outs[j]) {
					t.Fatalf("%s: case %d %v %+v: output %d differs from the portable loop's", v, i, c.shape, c.p, j)
				}
			}
		}
	})
}

// BenchmarkSegResizeBilinear is selfie_segmentation's largest float
// RESIZE_BILINEAR (64×64×16 to 128×128, 2×, legacy coordinates).
func BenchmarkSegResizeBilinear(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	in := convT("in", tensor.Float32, []int{1, 64, 64, 16}, nil, segRandFloats(r, 64*64*16))
	out := convT("out", tensor.Float32, []int{1, 128, 128, 16}, nil, nil)
	k, err := ResizeBilinear(&Config{Arithmetic: LiteRT}, ResizeParams{}, in, 128, 128, out)
	if err != nil {
		b.Fatal(err)
	}
	benchCPU(b, func() { _ = k.Eval() })
}

// BenchmarkSegHardSwish is selfie_segmentation's largest float
// HARD_SWISH (128×128×16).
func BenchmarkSegHardSwish(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	in := convT("in", tensor.Float32, []int{1, 128, 128, 16}, nil, segRandFloats(r, 128*128*16))
	out := convT("out", tensor.Float32, []int{1, 128, 128, 16}, nil, nil)
	k, err := HardSwish(&Config{Arithmetic: LiteRT}, in, out)
	if err != nil {
		b.Fatal(err)
	}
	benchCPU(b, func() { _ = k.Eval() })
}

// BenchmarkSegMean is selfie_segmentation_landscape's largest MEAN (a
// global average over 72×128×16).
func BenchmarkSegMean(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	in := convT("in", tensor.Float32, []int{1, 72, 128, 16}, nil, segRandFloats(r, 72*128*16))
	out := convT("out", tensor.Float32, []int{1, 1, 1, 16}, nil, nil)
	k, err := Reduce(&Config{Arithmetic: LiteRT}, ReduceParams{Kind: ReduceMean, Axes: []int{1, 2}, KeepDims: true}, in, out)
	if err != nil {
		b.Fatal(err)
	}
	benchCPU(b, func() { _ = k.Eval() })
}
