package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// MediaPipe's custom operators, which the official runtime has built in
// (MediaPipe registers them; its XNNPACK delegate takes them when the
// operands are float32 and the filters constant).

// MPPoolParams are the options of MaxPoolingWithArgmax2D and
// MaxUnpooling2D: TFLite's TfLitePoolParams written raw as the custom
// options.
type MPPoolParams struct {
	Padding          Padding
	StrideH, StrideW int
	FilterH, FilterW int
	Activation       Activation
}

// mpXNNPool reports whether the official runtime's XNNPACK delegate
// takes a MediaPipe pooling node: windows that tile the input, no fused
// activation. Both arithmetics then compute as XNNPACK does (TFLite's
// reference kernels have no such operators); the rest as MediaPipe's own
// kernels.
func mpXNNPool(p MPPoolParams) bool {
	return p.StrideH == p.FilterH && p.StrideW == p.FilterW && p.Activation == ActNone
}

// MaxPoolWithArgmax is MediaPipe's MaxPoolingWithArgmax2D: a float32 max
// pool that also writes where in its window each maximum was. Where
// XNNPACK takes the node (mpXNNPool, no padding) the window is walked
// column by column, the first maximum in that order wins and its position
// is stored as XNNPACK stores it, a uint32 in the float tensor's bytes;
// elsewhere as MediaPipe's kernel does, row by row and as the float
// k + 0.1. MaxUnpool reads the form the same parameters produce.
func MaxPoolWithArgmax(cfg *Config, p MPPoolParams, in, out, indices *tensor.Tensor) (Kernel, error) {
	const op = "MaxPoolingWithArgmax2D"
	if in.Type != tensor.Float32 || out.Type != tensor.Float32 || indices.Type != tensor.Float32 {
		return nil, unsupportedf("%s on %s input (%s, %s outputs); want float32", op, in.Type, out.Type, indices.Type)
	}
	if in.Rank() != 4 {
		return nil, fmt.Errorf("%s: input %q has rank %d; want 4", op, in.Name, in.Rank())
	}
	if p.StrideH < 1 || p.StrideW < 1 || p.FilterH < 1 || p.FilterW < 1 || p.FilterH > 1<<10 || p.FilterW > 1<<10 {
		return nil, fmt.Errorf("%s: strides %dx%d and filter %dx%d; want positive ones", op, p.StrideH, p.StrideW, p.FilterH, p.FilterW)
	}
	n, h, w, c := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
	oh, err := convOutSize(p.Padding, h, p.FilterH, p.StrideH, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ow, _ := convOutSize(p.Padding, w, p.FilterW, p.StrideW, 1)
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("%s: filter %dx%d does not fit input %dx%d", op, p.FilterH, p.FilterW, h, w)
	}
	padH, _ := convPadding(p.StrideH, 1, h, p.FilterH, oh)
	padW, _ := convPadding(p.StrideW, 1, w, p.FilterW, ow)
	lo, hi, err := FloatActivationRange(p.Activation)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	xnn := mpXNNPool(p) && padH == 0 && padW == 0 && oh*p.StrideH == h && ow*p.StrideW == w
	shape := []int{n, oh, ow, c}
	out.Shape = append(out.Shape[:0], shape...)
	indices.Shape = append(indices.Shape[:0], shape...)
	if xnn {
		return maxPoolArgmaxXNN(p, in, out, indices), nil
	}
	return Func(func() error {
		if err := shapeCheckData(in, out, indices); err != nil {
			return err
		}
		x, y := in.Float32s(), out.Float32s()
		idxF := indices.Float32s()
		o := 0
		for b := 0; b < n; b++ {
			for oy := 0; oy < oh; oy++ {
				y0 := oy*p.StrideH - padH
				fy0, fy1 := max(0, -y0), min(p.FilterH, h-y0)
				for ox := 0; ox < ow; ox++ {
					x0 := ox*p.StrideW - padW
					fx0, fx1 := max(0, -x0), min(p.FilterW, w-x0)
					for ch := 0; ch < c; ch++ {
						best, at := float32(-math.MaxFloat32), 0
						for fy := fy0; fy < fy1; fy++ {
							for fx := fx0; fx < fx1; fx++ {
								v := x[((b*h+y0+fy)*w+x0+fx)*c+ch]
								if v > best {
									best, at = v, fy*p.FilterW+fx
								}
							}
						}
						y[o] = ClampF(best, lo, hi)
						idxF[o] = float32(at) + 0.1
						o++
					}
				}
			}
		}
		return nil
	}), nil
}

// MaxUnpool is MediaPipe's MaxUnpooling2D: a zero output of the input's
// size times the window, where each input value goes to the position its
// index names in its window (later inputs win where windows overlap;
// positions outside the output are skipped). The indices are read in the
// form MaxPoolWithArgmax writes them for the same parameters.
func MaxUnpool(cfg *Config, p MPPoolParams, in, indices, out *tensor.Tensor) (Kernel, error) {
	const op = "MaxUnpooling2D"
	if in.Type != tensor.Float32 || indices.Type != tensor.Float32 || out.Type != tensor.Float32 {
		return nil, unsupportedf("%s on %s input with %s indices; want float32", op, in.Type, indices.Type)
	}
	if in.Rank() != 4 || !tensor.SameShape(in.Shape, indices.Shape) {
		return nil, fmt.Errorf("%s: input %v and indices %v; want the same NHWC shape", op, in.Shape, indices.Shape)
	}
	if p.StrideH < 1 || p.StrideW < 1 || p.FilterH < 1 || p.FilterW < 1 || p.FilterH > 1<<10 || p.FilterW > 1<<10 {
		return nil, fmt.Errorf("%s: strides %dx%d and filter %dx%d; want positive ones", op, p.StrideH, p.StrideW, p.FilterH, p.FilterW)
	}
	n, h, w, c := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
	shape := []int{n, h * p.FilterH, w * p.FilterW, c}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	oh, ow := shape[1], shape[2]
	padH, _ := convPadding(p.StrideH, 1, oh, p.FilterH, h)
	padW, _ := convPadding(p.StrideW, 1, ow, p.FilterW, w)
	xnn := mpXNNPool(p) && padH == 0 && padW == 0
	out.Shape = append(out.Shape[:0], shape...)
	win := p.FilterH * p.FilterW
	if xnn {
		return maxUnpoolXNN(p, in, indices, out), nil
	}
	return Func(func() error {
		if err := shapeCheckData(in, indices, out); err != nil {
			return err
		}
		x, y := in.Float32s(), out.Float32s()
		idxF := indices.Float32s()
		clear(y[:out.NumElements()])
		i := 0
		for b := 0; b < n; b++ {
			for iy := 0; iy < h; iy++ {
				for ix := 0; ix < w; ix++ {
					for ch := 0; ch < c; ch++ {
						f := idxF[i]
						if !(f > -1 && f < float32(win)) { // NaN or beyond the window: C's conversion is undefined
							i++
							continue
						}
						k := int(f)
						oy := iy*p.StrideH - padH + k/p.FilterW
						ox := ix*p.StrideW - padW + k%p.FilterW
						if oy >= 0 && oy < oh && ox >= 0 && ox < ow {
							y[((b*oh+oy)*ow+ox)*c+ch] = x[i]
						}
						i++
					}
				}
			}
		}
		return nil
	}), nil
}

// mpWindowOffsets returns, for each window position in XNNPACK's
// column-major numbering (k = fx·filterH + fy), its offset in floats from
// the window's first element in an NHWC image of the given width and
// channels.
func mpWindowOffsets(p MPPoolParams, width, c int) []int {
	offs := make([]int, p.FilterH*p.FilterW)
	for fx := 0; fx < p.FilterW; fx++ {
		for fy := 0; fy < p.FilterH; fy++ {
			offs[fx*p.FilterH+fy] = (fy*width + fx) * c
		}
	}
	return offs
}

// maxPoolArgmaxXNN is XNNPACK's argmax pooling over windows that tile the
// input: each output channel starts at the window's first element (index
// 0) and takes every later element, in column-major order, that is
// greater; the index is stored as a uint32 in the float tensor's bytes.
// The loops run over channels innermost, window positions outside, as
// XNNPACK's kernels do.
func maxPoolArgmaxXNN(p MPPoolParams, in, out, indices *tensor.Tensor) Kernel {
	n, h, w, c := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
	oh, ow := h/p.FilterH, w/p.FilterW
	offs := mpWindowOffsets(p, w, c)
	boffs := make([]int, len(offs))
	for k, o := range offs {
		boffs[k] = 4 * o
	}
	vec := 0 // channels done 8 at a time
	if eltwiseHaveSIMD() {
		vec = c &^ 7
	}
	return Describe(floatVariantIf(vec > 0), Func(func() error {
		if err := shapeCheckData(in, out, indices); err != nil {
			return err
		}
		x, y, idx := in.Float32s(), out.Float32s(), binView[uint32](indices)
		last := offs[len(offs)-1]
		if c == 0 {
			return nil
		}
		o := 0
		for b := 0; b < n; b++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					base := ((b*h+oy*p.FilterH)*w + ox*p.FilterW) * c
					_ = x[base+last+c-1] // the window is inside x
					if vec > 0 {
						argmaxWinAsm(&x[base], &boffs[0], len(boffs), &y[o], &idx[o], vec)
					}
					yo, io := y[o+vec:o+c], idx[o+vec:o+c]
					copy(yo, x[base+vec:base+c])
					clear(io)
					for k := 1; k < len(offs); k++ {
						xs := x[base+offs[k]+vec : base+offs[k]+c]
						argmaxStep(yo[:len(xs)], io[:len(xs)], xs, uint32(k))
					}
					o += c
				}
			}
		}
		return nil
	}))
}

// floatVariantIf names the SIMD variant when simd, else the portable one.
func floatVariantIf(simd bool) string {
	if simd {
		return VariantAVX2
	}
	return VariantPortable
}

// argmaxStep takes, per channel, xs where it is greater than the running
// maximum m, and then k as its index. Without branches: the comparisons'
// outcomes follow the data, which a branch predictor cannot guess.
func argmaxStep(m []float32, idx []uint32, xs []float32, k uint32) {
	m, idx = m[:len(xs)], idx[:len(xs)]
	for ch, v := range xs {
		var gt uint32
		if v > m[ch] {
			gt = 1
		}
		mask := -gt
		mb := math.Float32bits(m[ch])
		m[ch] = math.Float32frombits(mb ^ (mb^math.Float32bits(v))&mask)
		idx[ch] ^= (idx[ch] ^ k) & mask
	}
}

// maxUnpoolXNN is XNNPACK's unpooling over windows that tile the output:
// zeros, then each input value at the window position its index names
// (column-major, see maxPoolArgmaxXNN); indices beyond the window are
// skipped.
func maxUnpoolXNN(p MPPoolParams, in, indices, out *tensor.Tensor) Kernel {
	n, h, w, c := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
	oh, ow := out.Shape[1], out.Shape[2]
	offs := mpWindowOffsets(p, ow, c)
	boffs := make([]int, len(offs))
	for k, o := range offs {
		boffs[k] = 4 * o
	}
	vec := 0 // channels done 8 at a time
	if eltwiseHaveSIMD() {
		vec = c &^ 7
	}
	return Describe(floatVariantIf(vec > 0), Func(func() error {
		if err := shapeCheckData(in, indices, out); err != nil {
			return err
		}
		x, y, idx := in.Float32s(), out.Float32s(), binView[uint32](indices)
		if c == 0 {
			return nil
		}
		last := offs[len(offs)-1]
		i := 0
		for b := 0; b < n; b++ {
			for iy := 0; iy < h; iy++ {
				for ix := 0; ix < w; ix++ {
					// The windows tile the output: writing every
					// position of each window (the value where the
					// index names it, else 0) writes each output once.
					base := ((b*oh+iy*p.FilterH)*ow + ix*p.FilterW) * c
					_ = y[base+last+c-1]
					if vec > 0 {
						unpoolWinAsm(&x[i], &idx[i], &y[base], &boffs[0], len(boffs), vec)
					}
					xs, ks := x[i+vec:i+c], idx[i+vec:i+c]
					for k, off := range offs {
						d := y[base+off+vec : base+off+c]
						d = d[:len(ks)]
						for ch, kk := range ks {
							var m uint32
							if kk == uint32(k) {
								m = ^uint32(0)
							}
							d[ch] = math.Float32frombits(math.Float32bits(xs[ch]) & m)
						}
					}
					i += c
				}
			}
		}
		return nil
	}))
}

// TransposeConvBias is MediaPipe's Convolution2DTransposeBias: a float32
// TRANSPOSE_CONV with a bias whose output size follows from the input
// (stride·(in−1) + filter − padding, TFLite's SAME padding or none).
func TransposeConvBias(cfg *Config, pad Padding, strideH, strideW int, in, filter, bias, out *tensor.Tensor) (Kernel, error) {
	const op = "Convolution2DTransposeBias"
	if in.Type != tensor.Float32 || filter.Type != tensor.Float32 || bias.Type != tensor.Float32 {
		return nil, unsupportedf("%s on %s input, %s filter and %s bias; want float32", op, in.Type, filter.Type, bias.Type)
	}
	if in.Rank() != 4 || filter.Rank() != 4 || bias.Rank() != 1 {
		return nil, fmt.Errorf("%s: input %v, filter %v, bias %v; want NHWC, OHWI and a vector", op, in.Shape, filter.Shape, bias.Shape)
	}
	if strideH < 1 || strideW < 1 || strideH > 1<<10 || strideW > 1<<10 {
		return nil, fmt.Errorf("%s: strides %dx%d; want positive ones", op, strideH, strideW)
	}
	size := func(in, f, s int) int {
		p := 0
		if pad == PaddingSame {
			p = max(0, f-(in-1)%s-1)
		}
		return s*(in-1) + f - p
	}
	shape := []int{in.Shape[0], size(in.Shape[1], filter.Shape[1], strideH), size(in.Shape[2], filter.Shape[2], strideW), filter.Shape[0]}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	// TRANSPOSE_CONV pads from the output size as TFLite does, which
	// for this output size is MediaPipe's padding.
	p := TransposeConvParams{Padding: pad, StrideH: strideH, StrideW: strideW}
	return TransposeConv(cfg, p, shape, filter, in, bias, out)
}
