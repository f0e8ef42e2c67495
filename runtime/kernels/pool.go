package kernels

import (
	"errors"
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// PoolKind selects the reduction of a 2-D pooling window.
type PoolKind int

// Pooling kinds.
const (
	PoolAverage PoolKind = iota
	PoolMax
)

func (k PoolKind) String() string {
	switch k {
	case PoolAverage:
		return "AVERAGE_POOL_2D"
	case PoolMax:
		return "MAX_POOL_2D"
	}
	return fmt.Sprintf("pool(%d)", int(k))
}

// PoolParams are the options of AVERAGE_POOL_2D and MAX_POOL_2D.
type PoolParams struct {
	Kind             PoolKind
	Padding          Padding
	StrideW, StrideH int
	FilterW, FilterH int
	Activation       Activation
}

// errPoolEmptyWindow is returned by Eval when a window lies entirely in the
// padding (TFLite's AveragePool returns false then). It is preallocated so
// that Eval does not allocate even on that path.
var errPoolEmptyWindow = errors.New("average pool: window lies entirely in the padding")

// poolOutputSize returns the output extent and the leading padding of one
// spatial dimension, as TFLite's ComputeOutSize and
// ComputePaddingHeightWidth (dilation 1).
func poolOutputSize(pad Padding, in, filter, stride int) (out, before int, err error) {
	switch pad {
	case PaddingSame:
		out = (in + stride - 1) / stride
	case PaddingValid:
		out = (in - filter + stride) / stride
	default:
		return 0, 0, unsupportedf("padding %d", int(pad))
	}
	if out < 0 {
		out = 0
	}
	total := (out-1)*stride + filter - in
	if total < 0 {
		total = 0
	}
	return out, total / 2, nil
}

type poolGeom struct {
	batch, inH, inW, depth int
	outH, outW             int
	padH, padW             int
	p                      PoolParams
}

// window returns the input rows [y0,y1) and columns [x0,x1) that output
// (oy, ox) covers, clipped to the input.
func (g *poolGeom) window(oy, ox int) (y0, y1, x0, x1 int) {
	iy := oy*g.p.StrideH - g.padH
	ix := ox*g.p.StrideW - g.padW
	y0, y1 = max(iy, 0), min(iy+g.p.FilterH, g.inH)
	x0, x1 = max(ix, 0), min(ix+g.p.FilterW, g.inW)
	return
}

// Pool2D computes AVERAGE_POOL_2D or MAX_POOL_2D over an NHWC tensor.
// Quantized operands keep the input's scale and zero point (TFLite only
// debug-checks that the output's are equal), so values are pooled raw.
func Pool2D(cfg *Config, p PoolParams, in, out *tensor.Tensor) (Kernel, error) {
	if in.Rank() != 4 {
		return nil, fmt.Errorf("%s: input %q has shape %v; want rank 4", p.Kind, in.Name, in.Shape)
	}
	if p.StrideW < 1 || p.StrideH < 1 || p.FilterW < 1 || p.FilterH < 1 {
		return nil, fmt.Errorf("%s: strides %dx%d and filter %dx%d must be positive", p.Kind, p.StrideH, p.StrideW, p.FilterH, p.FilterW)
	}
	if p.Kind != PoolAverage && p.Kind != PoolMax {
		return nil, unsupportedf("pool kind %d", int(p.Kind))
	}
	if err := CheckType("output", out, in.Type); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Kind, err)
	}
	g := &poolGeom{batch: in.Shape[0], inH: in.Shape[1], inW: in.Shape[2], depth: in.Shape[3], p: p}
	var err error
	if g.outH, g.padH, err = poolOutputSize(p.Padding, g.inH, p.FilterH, p.StrideH); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Kind, err)
	}
	if g.outW, g.padW, err = poolOutputSize(p.Padding, g.inW, p.FilterW, p.StrideW); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Kind, err)
	}
	out.Shape = append(out.Shape[:0], g.batch, g.outH, g.outW, g.depth)

	switch in.Type {
	case tensor.Float32:
		lo, hi, err := FloatActivationRange(p.Activation)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Kind, err)
		}
		if p.Kind == PoolMax {
			return maxPoolFloatKernel(g, in, out, lo, hi), nil
		}
		acc := make([]float32, g.depth)
		return Func(func() error { return avgPoolFloat(g, in.Float32s(), out.Float32s(), acc, lo, hi) }), nil
	case tensor.Int8, tensor.UInt8, tensor.Int16:
		if err := CheckQuantized("input", in); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Kind, err)
		}
		if err := CheckQuantized("output", out); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Kind, err)
		}
		// LiteRT: TFLite's XNNPACK delegate takes quantized max pooling,
		// which only compares and clamps, and leaves quantized average
		// pooling to TFLite's kernels: the reference arithmetic is theirs.
		lo, hi, err := QuantizedActivationRange(p.Activation, out)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Kind, err)
		}
		acc := make([]int32, g.depth)
		switch in.Type {
		case tensor.Int8:
			return poolQuantKernel(g, in.Int8s, out.Int8s, math.MinInt8, acc, lo, hi), nil
		case tensor.UInt8:
			return poolQuantKernel(g, in.UInt8s, out.UInt8s, 0, acc, lo, hi), nil
		default:
			return poolQuantKernel(g, in.Int16s, out.Int16s, math.MinInt16, acc, lo, hi), nil
		}
	}
	return nil, unsupportedf("%s on %s input", p.Kind, in.Type)
}

type poolInt interface{ int8 | uint8 | int16 }

func poolQuantKernel[T poolInt](g *poolGeom, inView, outView func() []T, lowest T, acc []int32, lo, hi int32) Kernel {
	if g.p.Kind == PoolMax {
		tlo, thi := T(lo), T(hi)
		return Func(func() error {
			maxPoolInt(g, inView(), outView(), lowest, tlo, thi)
			return nil
		})
	}
	return Func(func() error { return avgPoolInt(g, inView(), outView(), acc, lo, hi) })
}

// maxPoolInt is max pooling for integers: the first pixel of each window
// is copied rather than compared, and the fused activation's clamp is
// inline (a clamp function called per element cost more than the
// comparisons).
func maxPoolInt[T poolInt](g *poolGeom, x, y []T, lowest, lo, hi T) {
	d := g.depth
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			for ox := 0; ox < g.outW; ox++ {
				y0, y1, x0, x1 := g.window(oy, ox)
				acc := y[o : o+d]
				first := true
				for iy := y0; iy < y1; iy++ {
					row := ((b*g.inH+iy)*g.inW + x0) * d
					for ix := x0; ix < x1; ix++ {
						src := x[row : row+d]
						if first {
							copy(acc, src)
							first = false
						} else {
							maxInto(acc, src)
						}
						row += d
					}
				}
				if first { // an empty window: TFLite starts from the lowest value
					for c := range acc {
						acc[c] = lowest
					}
				}
				for c, v := range acc {
					acc[c] = min(max(v, lo), hi)
				}
				o += d
			}
		}
	}
}

func maxInto[T poolInt](acc, src []T) {
	src = src[:len(acc)]
	for c, v := range src {
		if v > acc[c] {
			acc[c] = v
		}
	}
}

// avgPoolFloat sums each window in the reference order (row by row) and
// divides by the number of input elements it covers.
func avgPoolFloat(g *poolGeom, x, y, acc []float32, lo, hi float32) error {
	d := g.depth
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			for ox := 0; ox < g.outW; ox++ {
				y0, y1, x0, x1 := g.window(oy, ox)
				count := (y1 - y0) * (x1 - x0)
				if y1 <= y0 || x1 <= x0 {
					return errPoolEmptyWindow
				}
				clear(acc)
				for iy := y0; iy < y1; iy++ {
					row := ((b*g.inH+iy)*g.inW + x0) * d
					sumRowsF32(acc, x[row:], x1-x0, d)
				}
				n := float32(count)
				for c, v := range acc {
					y[o+c] = ClampF(v/n, lo, hi)
				}
				o += d
			}
		}
	}
	return nil
}

// avgPoolInt is TFLite's integer AveragePool: the sum of the window's raw
// values divided by their count, rounded half away from zero.
func avgPoolInt[T poolInt](g *poolGeom, x, y []T, acc []int32, lo, hi int32) error {
	d := g.depth
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			for ox := 0; ox < g.outW; ox++ {
				y0, y1, x0, x1 := g.window(oy, ox)
				if y1 <= y0 || x1 <= x0 {
					return errPoolEmptyWindow
				}
				count := int32((y1 - y0) * (x1 - x0))
				clear(acc)
				for iy := y0; iy < y1; iy++ {
					row := ((b*g.inH+iy)*g.inW + x0) * d
					for ix := x0; ix < x1; ix++ {
						for c, v := range x[row : row+d] {
							acc[c] += int32(v)
						}
						row += d
					}
				}
				for c, s := range acc {
					y[o+c] = T(Clamp(roundedDiv(s, count), lo, hi))
				}
				o += d
			}
		}
	}
	return nil
}

// roundedDiv divides with rounding half away from zero, as TFLite's
// pooling and mean kernels: (a ± n/2) / n with truncating division.
func roundedDiv(a, n int32) int32 {
	if a > 0 {
		return (a + n/2) / n
	}
	return (a - n/2) / n
}
