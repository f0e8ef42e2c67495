package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Reference loops, written straight from TFLite's reference kernels
// (reference/conv.h, integer_ops/conv.h, depthwiseconv_*.h,
// fully_connected.h), against which the fast kernels are compared bit for
// bit on random shapes.

type refConv struct {
	batch, inH, inW, inC, outC, fH, fW int
	sH, sW, dH, dW                     int
	pad                                Padding
	dw                                 bool // depthwise: filter [1, fH, fW, outC]
	lateWeights                        bool // filter data bound after construction
}

func (c refConv) outSize() (oh, ow, ph, pw int) {
	oh, _ = convOutSize(c.pad, c.inH, c.fH, c.sH, c.dH)
	ow, _ = convOutSize(c.pad, c.inW, c.fW, c.sW, c.dW)
	ph, _ = convPadding(c.sH, c.dH, c.inH, c.fH, oh)
	pw, _ = convPadding(c.sW, c.dW, c.inW, c.fW, ow)
	return
}

// accumulate calls f(outIndex, oc, inIndex, filterIndex) for every valid
// tap, in the reference order (filter y, x, input channel).
func (c refConv) each(f func(o, oc, xi, wi int), end func(o, oc int)) {
	oh, ow, ph, pw := c.outSize()
	dm := c.outC / c.inC
	for b := 0; b < c.batch; b++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for oc := 0; oc < c.outC; oc++ {
					o := ((b*oh+oy)*ow+ox)*c.outC + oc
					for fy := 0; fy < c.fH; fy++ {
						iy := oy*c.sH - ph + fy*c.dH
						if iy < 0 || iy >= c.inH {
							continue
						}
						for fx := 0; fx < c.fW; fx++ {
							ix := ox*c.sW - pw + fx*c.dW
							if ix < 0 || ix >= c.inW {
								continue
							}
							base := ((b*c.inH+iy)*c.inW + ix) * c.inC
							if c.dw {
								f(o, oc, base+oc/dm, (fy*c.fW+fx)*c.outC+oc)
								continue
							}
							for ic := 0; ic < c.inC; ic++ {
								f(o, oc, base+ic, ((oc*c.fH+fy)*c.fW+fx)*c.inC+ic)
							}
						}
					}
					end(o, oc)
				}
			}
		}
	}
}

func refConvFloat(c refConv, x, w, bias []float32, lo, hi float32) []float32 {
	oh, ow, _, _ := c.outSize()
	y := make([]float32, c.batch*oh*ow*c.outC)
	var acc float32
	c.each(func(o, oc, xi, wi int) { acc += x[xi] * w[wi] }, func(o, oc int) {
		if bias != nil {
			acc += bias[oc]
		}
		y[o] = ClampF(acc, lo, hi)
		acc = 0
	})
	return y
}

func refConvQuant[T int8 | uint8](c refConv, x, w []T, bias []int32, inOff, fOff, outOff int32, mult []int32, shift []int, lo, hi int32) []T {
	oh, ow, _, _ := c.outSize()
	y := make([]T, c.batch*oh*ow*c.outC)
	var acc int32
	c.each(func(o, oc, xi, wi int) { acc += (int32(w[wi]) + fOff) * (int32(x[xi]) + inOff) }, func(o, oc int) {
		if bias != nil {
			acc += bias[oc]
		}
		v := MultiplyByQuantizedMultiplier(acc, mult[oc], shift[oc]) + outOff
		y[o] = T(Clamp(v, lo, hi))
		acc = 0
	})
	return y
}

func randVals[T float32 | int8 | uint8 | int32](r *rand.Rand, n int, lo, hi int) []T {
	v := make([]T, n)
	for i := range v {
		var z T
		switch any(z).(type) {
		case float32:
			v[i] = T(r.Float32()*2 - 1)
		default:
			v[i] = T(lo + r.IntN(hi-lo+1))
		}
	}
	return v
}

func randConv(r *rand.Rand, dw bool) refConv {
	c := refConv{
		batch: 1 + r.IntN(2), inH: 1 + r.IntN(9), inW: 1 + r.IntN(9), inC: 1 + r.IntN(11),
		fH: 1 + r.IntN(3), fW: 1 + r.IntN(3), sH: 1 + r.IntN(2), sW: 1 + r.IntN(3),
		dH: 1 + r.IntN(2), dW: 1 + r.IntN(2), pad: Padding(r.IntN(2)), dw: dw,
	}
	if r.IntN(3) == 0 { // 1×1 stride 1: the direct GEMM path
		c.fH, c.fW, c.sH, c.sW, c.pad = 1, 1, 1, 1, PaddingValid
	}
	if dw {
		c.outC = c.inC * (1 + r.IntN(3)*r.IntN(2))
	} else {
		c.outC = 1 + r.IntN(13)
	}
	// Valid padding needs the window to fit.
	for c.pad == PaddingValid && ((c.fH-1)*c.dH+1 > c.inH || (c.fW-1)*c.dW+1 > c.inW) {
		c.inH++
		c.inW++
	}
	return c
}

func (c refConv) tensors(dt, ft tensor.DType, x, w, bias any, inQ, fQ, outQ *tensor.Quant) (in, filter, b, out *tensor.Tensor) {
	in = convT("in", dt, []int{c.batch, c.inH, c.inW, c.inC}, inQ, x)
	if c.dw {
		filter = convT("w", ft, []int{1, c.fH, c.fW, c.outC}, fQ, w)
	} else {
		filter = convT("w", ft, []int{c.outC, c.fH, c.fW, c.inC}, fQ, w)
	}
	if bias != nil {
		bt := tensor.Float32
		if dt != tensor.Float32 {
			bt = tensor.Int32
		}
		b = convT("b", bt, []int{c.outC}, nil, bias)
	}
	oh, ow, _, _ := c.outSize()
	out = convT("out", dt, []int{c.batch, oh, ow, c.outC}, outQ, nil)
	return
}

func (c refConv) String() string {
	return fmt.Sprintf("in %dx%dx%dx%d out %d filter %dx%d stride %dx%d dil %dx%d pad %d late %v", c.batch, c.inH, c.inW, c.inC, c.outC, c.fH, c.fW, c.sH, c.sW, c.dH, c.dW, c.pad, c.lateWeights)
}

func (c refConv) build(cfg *Config, in, filter, bias, out *tensor.Tensor, act Activation) (Kernel, error) {
	p := ConvParams{Padding: c.pad, StrideH: c.sH, StrideW: c.sW, DilationH: c.dH, DilationW: c.dW, Activation: act}
	// Weights computed by the graph have no data at construction: that
	// takes the unpacked path.
	if c.lateWeights {
		data := filter.Data
		filter.Data = nil
		defer func() { filter.Data = data }()
	}
	if c.dw {
		return DepthwiseConv2D(cfg, p, in, filter, bias, out)
	}
	return Conv2D(cfg, p, in, filter, bias, out)
}

func compareExact[T comparable](t *testing.T, op, name string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s(%s): %d outputs; want %d", op, name, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s(%s) output[%d] = %v; want %v", op, name, i, got[i], want[i])
		}
	}
}

// splitSmallWork makes kernels split even tiny shapes across threads.
func splitSmallWork(t *testing.T) {
	old := parallelMinWork
	parallelMinWork = 1
	t.Cleanup(func() { parallelMinWork = old })
}

func testConvRandom(t *testing.T, dw bool) {
	splitSmallWork(t)
	op := "Conv2D"
	if dw {
		op = "DepthwiseConv2D"
	}
	r := rand.New(rand.NewPCG(1, 2))
	iters := 300
	if testing.Short() {
		iters = 60
	}
	acts := []Activation{ActNone, ActRelu, ActRelu6, ActReluN1To1}
	for it := 0; it < iters; it++ {
		c := randConv(r, dw)
		c.lateWeights = it%5 == 4
		threads := 1 + it%3
		cfg := &Config{Threads: threads}
		act := acts[r.IntN(len(acts))]
		nw := c.outC * c.fH * c.fW * c.inC
		if dw {
			nw = c.fH * c.fW * c.outC
		}
		nx := c.batch * c.inH * c.inW * c.inC
		name := fmt.Sprintf("#%d %s threads %d act %s", it, c, threads, act)
		withBias := r.IntN(4) != 0

		// float32
		{
			x, w := randVals[float32](r, nx, 0, 0), randVals[float32](r, nw, 0, 0)
			var bias []float32
			var ba any
			if withBias {
				bias = randVals[float32](r, c.outC, 0, 0)
				ba = bias
			}
			in, f, b, out := c.tensors(tensor.Float32, tensor.Float32, x, w, ba, nil, nil, nil)
			k, err := c.build(cfg, in, f, b, out, act)
			if err != nil {
				t.Fatalf("%s(%s float32): %v", op, name, err)
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			lo, hi, _ := FloatActivationRange(act)
			compareFloat(t, op, name+" float32", out.Float32s(), refConvFloat(c, x, w, bias, lo, hi))
		}
		// int8 per-channel
		{
			x, w := randVals[int8](r, nx, -128, 127), randVals[int8](r, nw, -127, 127)
			var bias []int32
			var ba any
			if withBias {
				bias = randVals[int32](r, c.outC, -5000, 5000)
				ba = bias
			}
			scales := make([]float32, c.outC)
			for i := range scales {
				scales[i] = 0.002 + r.Float32()*0.02
			}
			fq := convPCQ(0, scales...)
			if dw {
				fq.Axis = 3
			}
			inQ, outQ := convQ(0.05, int32(r.IntN(256)-128)), convQ(0.1+r.Float32(), int32(r.IntN(256)-128))
			in, f, b, out := c.tensors(tensor.Int8, tensor.Int8, x, w, ba, inQ, fq, outQ)
			k, err := c.build(cfg, in, f, b, out, act)
			if err != nil {
				t.Fatalf("%s(%s int8): %v", op, name, err)
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			mult, shift, _ := ChannelMultipliers(in, f, out, c.outC)
			lo, hi, _ := QuantizedActivationRange(act, out)
			want := refConvQuant(c, x, w, bias, -in.ZeroPoint(), 0, out.ZeroPoint(), mult, shift, lo, hi)
			compareExact(t, op, name+" int8", out.Int8s(), want)
		}
		// uint8 per-tensor with filter zero point
		{
			x, w := randVals[uint8](r, nx, 0, 255), randVals[uint8](r, nw, 0, 255)
			var bias []int32
			var ba any
			if withBias {
				bias = randVals[int32](r, c.outC, -5000, 5000)
				ba = bias
			}
			inQ, fQ := convQ(0.05, int32(r.IntN(256))), convQ(0.003+r.Float32()*0.01, int32(r.IntN(256)))
			outQ := convQ(0.2+r.Float32(), int32(r.IntN(256)))
			in, f, b, out := c.tensors(tensor.UInt8, tensor.UInt8, x, w, ba, inQ, fQ, outQ)
			k, err := c.build(cfg, in, f, b, out, act)
			if err != nil {
				t.Fatalf("%s(%s uint8): %v", op, name, err)
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			mult, shift, _ := ChannelMultipliers(in, f, out, c.outC)
			lo, hi, _ := QuantizedActivationRange(act, out)
			want := refConvQuant(c, x, w, bias, -in.ZeroPoint(), -f.ZeroPoint(), out.ZeroPoint(), mult, shift, lo, hi)
			compareExact(t, op, name+" uint8", out.UInt8s(), want)
		}
	}
}

// compareFloat is compareExact for float outputs, except under the SIMD
// float GEMM, whose fused multiply-adds round differently from the
// reference loops: there, within the golden tolerance 1e-4+1e-4|want|.
func compareFloat(t *testing.T, op, name string, got, want []float32) {
	t.Helper()
	if !gemmFHaveSIMD() {
		compareExact(t, op, name, got, want)
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%s(%s): %d outputs; want %d", op, name, len(got), len(want))
	}
	if i := floatClose(got, want); i >= 0 {
		t.Fatalf("%s(%s) output[%d] = %v; want %v within 1e-4+1e-4|want|", op, name, i, got[i], want[i])
	}
}

// The fast paths are checked under the portable variant (bit for bit) and
// under the best one this CPU has.
func TestConv2DFastMatchesReference(t *testing.T) {
	forPortableAndBest(t, func(t *testing.T) { testConvRandom(t, false) })
}

func TestDepthwiseConv2DFastMatchesReference(t *testing.T) {
	forPortableAndBest(t, func(t *testing.T) { testConvRandom(t, true) })
}

// forPortableAndBest runs fn under the portable variant, then under the
// best variant of this CPU if that is another.
func forPortableAndBest(t *testing.T, fn func(t *testing.T)) {
	vs := Variants()
	run := func(v string) {
		t.Run(v, func(t *testing.T) {
			useVariant(t, v)
			fn(t)
		})
	}
	run(VariantPortable)
	if best := vs[len(vs)-1]; best != VariantPortable {
		run(best)
	}
}

func TestFullyConnectedFastMatchesReference(t *testing.T) {
	forPortableAndBest(t, testFullyConnectedRandom)
}

func testFullyConnectedRandom(t *testing.T) {
	splitSmallWork(t)
	r := rand.New(rand.NewPCG(3, 4))
	iters := 200
	if testing.Short() {
		iters = 50
	}
	for it := 0; it < iters; it++ {
		batch, units, depth := 1+r.IntN(6), 1+r.IntN(19), 1+r.IntN(40)
		threads := 1 + it%3
		cfg := &Config{Threads: threads}
		act := []Activation{ActNone, ActRelu, ActRelu6}[r.IntN(3)]
		name := fmt.Sprintf("#%d batch %d units %d depth %d threads %d act %s", it, batch, units, depth, threads, act)
		withBias := r.IntN(4) != 0
		p := FullyConnectedParams{Activation: act}
		// float32
		{
			x, w := randVals[float32](r, batch*depth, 0, 0), randVals[float32](r, units*depth, 0, 0)
			var bias []float32
			var b *tensor.Tensor
			if withBias {
				bias = randVals[float32](r, units, 0, 0)
				b = convT("b", tensor.Float32, []int{units}, nil, bias)
			}
			in := convT("in", tensor.Float32, []int{batch, depth}, nil, x)
			f := convT("w", tensor.Float32, []int{units, depth}, nil, w)
			out := convT("out", tensor.Float32, []int{batch, units}, nil, nil)
			k, err := FullyConnected(cfg, p, in, f, b, out)
			if err != nil {
				t.Fatalf("FullyConnected(%s float32): %v", name, err)
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			lo, hi, _ := FloatActivationRange(act)
			want := make([]float32, batch*units)
			for bi := 0; bi < batch; bi++ {
				for u := 0; u < units; u++ {
					var acc float32
					for d := 0; d < depth; d++ {
						acc += x[bi*depth+d] * w[u*depth+d]
					}
					if bias != nil {
						acc += bias[u]
					}
					want[bi*units+u] = ClampF(acc, lo, hi)
				}
			}
			compareFloat(t, "FullyConnected", name+" float32", out.Float32s(), want)
		}
		for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8} {
			var bias []int32
			var b *tensor.Tensor
			if withBias {
				bias = randVals[int32](r, units, -3000, 3000)
				b = convT("b", tensor.Int32, []int{units}, nil, bias)
			}
			var inQ, fQ, outQ *tensor.Quant
			var x, w []int32
			if dt == tensor.Int8 {
				x, w = randVals[int32](r, batch*depth, -128, 127), randVals[int32](r, units*depth, -127, 127)
				inQ, fQ, outQ = convQ(0.05, int32(r.IntN(256)-128)), convQ(0.01, 0), convQ(0.3, int32(r.IntN(256)-128))
			} else {
				x, w = randVals[int32](r, batch*depth, 0, 255), randVals[int32](r, units*depth, 0, 255)
				inQ, fQ, outQ = convQ(0.05, int32(r.IntN(256))), convQ(0.01, int32(r.IntN(256))), convQ(0.5, int32(r.IntN(256)))
			}
			conv := func(v []int32) any {
				if dt == tensor.Int8 {
					o := make([]int8, len(v))
					for i := range v {
						o[i] = int8(v[i])
					}
					return o
				}
				o := make([]uint8, len(v))
				for i := range v {
					o[i] = uint8(v[i])
				}
				return o
			}
			in := convT("in", dt, []int{batch, depth}, inQ, conv(x))
			f := convT("w", dt, []int{units, depth}, fQ, conv(w))
			out := convT("out", dt, []int{batch, units}, outQ, nil)
			k, err := FullyConnected(cfg, p, in, f, b, out)
			if err != nil {
				t.Fatalf("FullyConnected(%s %s): %v", name, dt, err)
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			mult, shift, _ := ChannelMultipliers(in, f, out, units)
			lo, hi, _ := QuantizedActivationRange(act, out)
			inOff, fOff := -in.ZeroPoint(), -f.ZeroPoint()
			for bi := 0; bi < batch; bi++ {
				for u := 0; u < units; u++ {
					var acc int32
					for d := 0; d < depth; d++ {
						acc += (w[u*depth+d] + fOff) * (x[bi*depth+d] + inOff)
					}
					if bias != nil {
						acc += bias[u]
					}
					want := Clamp(MultiplyByQuantizedMultiplier(acc, mult[u], shift[u])+out.ZeroPoint(), lo, hi)
					var got int32
					if dt == tensor.Int8 {
						got = int32(out.Int8s()[bi*units+u])
					} else {
						got = int32(out.UInt8s()[bi*units+u])
					}
					if got != want {
						t.Fatalf("FullyConnected(%s %s) output[%d] = %d; want %d", name, dt, bi*units+u, got, want)
					}
				}
			}
		}
	}
}

// TestGemmRequant checks the streamlined requantization against
// MultiplyByQuantizedMultiplier on extreme and random values.
func TestGemmRequant(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	xs := []int32{0, 1, -1, math.MaxInt32, math.MinInt32, 1 << 30, -(1 << 30), 12345, -12345}
	for i := 0; i < 50000; i++ {
		x := xs[i%len(xs)]
		if i >= len(xs) {
			x = int32(r.Uint32())
			if i%3 == 0 {
				x >>= r.IntN(31)
			}
		}
		real := math.Exp(r.Float64()*30 - 25)
		m, s := QuantizeMultiplier(real)
		p := newGemmRequantParams([]int32{m}, []int{s}, 0, math.MinInt32, math.MaxInt32)
		if got, want := p.ch[0].requant(x), MultiplyByQuantizedMultiplier(x, m, s); got != want {
			t.Fatalf("requant(%d, %d, %d) = %d; want %d", x, m, s, got, want)
		}
	}
}

// TestGemmQExtremes drives every SWAR lane to its largest sums: constant
// extreme inputs and weights over long depths (several chunks), whose
// int32 sums wrap in the reference as well.
func TestGemmQExtremes(t *testing.T) {
	splitSmallWork(t)
	tests := []struct {
		name      string
		dt        tensor.DType
		x, w      int32
		inZP, fZP int32
		depth     int
	}{
		{"int8 -128*-128", tensor.Int8, -128, -128, 0, 0, 1000},
		{"int8 127*-128", tensor.Int8, 127, -128, -128, 0, 4097},
		{"int8 -128*127 wraps", tensor.Int8, -128, 127, 127, 0, 140000},
		{"uint8 0*0", tensor.UInt8, 0, 0, 255, 255, 999},
		{"uint8 255*255", tensor.UInt8, 255, 255, 0, 0, 3000},
		{"uint8 255*0", tensor.UInt8, 255, 0, 0, 128, 70000},
	}
	for _, tc := range tests {
		for _, units := range []int{1, 7, 13} {
			xs, ws := make([]int32, tc.depth), make([]int32, units*tc.depth)
			for i := range xs {
				xs[i] = tc.x
			}
			for i := range ws {
				ws[i] = tc.w
			}
			conv := func(v []int32) any {
				if tc.dt == tensor.Int8 {
					o := make([]int8, len(v))
					for i := range v {
						o[i] = int8(v[i])
					}
					return o
				}
				o := make([]uint8, len(v))
				for i := range v {
					o[i] = uint8(v[i])
				}
				return o
			}
			var acc int32
			for range tc.depth {
				acc += (tc.w - tc.fZP) * (tc.x - tc.inZP)
			}
			// An output scale that maps the accumulator to about ±100,
			// so that any error in it shows.
			outScale := float32(1e-6 * math.Abs(float64(acc)) / 100)
			if outScale == 0 {
				outScale = 1e-6
			}
			in := convT("in", tc.dt, []int{1, tc.depth}, convQ(1e-3, tc.inZP), conv(xs))
			f := convT("w", tc.dt, []int{units, tc.depth}, convQ(1e-3, tc.fZP), conv(ws))
			out := convT("out", tc.dt, []int{1, units}, convQ(outScale, 3), nil)
			k, err := FullyConnected(&Config{Threads: 2}, FullyConnectedParams{}, in, f, nil, out)
			if err != nil {
				t.Fatalf("FullyConnected(%s): %v", tc.name, err)
			}
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			mult, shift, _ := ChannelMultipliers(in, f, out, units)
			lo, hi, _ := TypeRange(tc.dt)
			want := Clamp(MultiplyByQuantizedMultiplier(acc, mult[0], shift[0])+3, lo, hi)
			if want == lo || want == hi {
				t.Fatalf("%s: want %d is clamped; the test does not check the accumulator", tc.name, want)
			}
			for u := 0; u < units; u++ {
				var got int32
				if tc.dt == tensor.Int8 {
					got = int32(out.Int8s()[u])
				} else {
					got = int32(out.UInt8s()[u])
				}
				if got != want {
					t.Errorf("FullyConnected(%s, %d units) output[%d] = %d; want %d", tc.name, units, u, got, want)
				}
			}
		}
	}
}

// TestFastEvalAllocs checks that the fast kernels allocate nothing per
// Eval, with and without worker threads.
func TestFastEvalAllocs(t *testing.T) {
	splitSmallWork(t)
	for _, threads := range []int{1, 2, 3} {
		cfg := &Config{Threads: threads}
		build := map[string]func() (Kernel, error){
			"conv int8 3x3": func() (Kernel, error) {
				c := refConv{batch: 1, inH: 9, inW: 9, inC: 8, outC: 13, fH: 3, fW: 3, sH: 1, sW: 1, dH: 1, dW: 1, pad: PaddingSame}
				in, f, b, out := c.tensors(tensor.Int8, tensor.Int8, make([]int8, 9*9*8), make([]int8, 13*9*8), make([]int32, 13), convQ(0.1, 1), convQ(0.1, 0), convQ(0.2, -3))
				return c.build(cfg, in, f, b, out, ActRelu)
			},
			"conv float 1x1": func() (Kernel, error) {
				c := refConv{batch: 2, inH: 9, inW: 9, inC: 8, outC: 13, fH: 1, fW: 1, sH: 1, sW: 1, dH: 1, dW: 1, pad: PaddingValid}
				in, f, b, out := c.tensors(tensor.Float32, tensor.Float32, make([]float32, 2*9*9*8), make([]float32, 13*8), nil, nil, nil, nil)
				return c.build(cfg, in, f, b, out, ActNone)
			},
			"depthwise uint8": func() (Kernel, error) {
				c := refConv{batch: 1, inH: 9, inW: 9, inC: 8, outC: 8, fH: 3, fW: 3, sH: 2, sW: 2, dH: 1, dW: 1, pad: PaddingSame, dw: true}
				in, f, b, out := c.tensors(tensor.UInt8, tensor.UInt8, make([]uint8, 9*9*8), make([]uint8, 9*8), nil, convQ(0.1, 1), convQ(0.1, 7), convQ(0.2, 3))
				return c.build(cfg, in, f, b, out, ActRelu6)
			},
			"fully connected uint8": func() (Kernel, error) {
				in := convT("in", tensor.UInt8, []int{1, 40}, convQ(0.1, 3), make([]uint8, 40))
				f := convT("w", tensor.UInt8, []int{30, 40}, convQ(0.1, 100), make([]uint8, 30*40))
				out := convT("out", tensor.UInt8, []int{1, 30}, convQ(0.5, 7), nil)
				return FullyConnected(cfg, FullyConnectedParams{}, in, f, nil, out)
			},
		}
		for name, b := range build {
			k, err := b()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if a := testing.AllocsPerRun(20, func() { _ = k.Eval() }); a != 0 {
				t.Errorf("%s with %d threads: Eval allocates %v times; want 0", name, threads, a)
			}
		}
	}
}
