package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// ResizeParams are the options of RESIZE_BILINEAR and
// RESIZE_NEAREST_NEIGHBOR.
type ResizeParams struct {
	AlignCorners     bool
	HalfPixelCenters bool
}

// resizeCheck validates an NHWC input and a target size and sets the
// output shape.
func resizeCheck(op string, in, out *tensor.Tensor, height, width int) error {
	if in.Rank() != 4 {
		return fmt.Errorf("%s: input %q has shape %v; want rank 4", op, in.Name, in.Shape)
	}
	if height < 1 || width < 1 {
		return fmt.Errorf("%s: output size %dx%d must be positive", op, height, width)
	}
	if err := CheckType("output", out, in.Type); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	out.Shape = append(out.Shape[:0], in.Shape[0], height, width, in.Shape[3])
	return nil
}

// resizeScale is the float source-per-destination step of TFLite's
// resize kernels.
func resizeScale(in, out int, alignCorners bool) float32 {
	if alignCorners && out > 1 {
		return float32(in-1) / float32(out-1)
	}
	return float32(in) / float32(out)
}

// bilinearAxis holds, per output coordinate, the two source coordinates
// and the float weight of the second (reference_ops::ResizeBilinear).
type bilinearAxis struct {
	lo, hi []int
	w      []float32 // input - lo; the first source is weighted 1-w
}

func newBilinearAxis(in, out int, p ResizeParams) bilinearAxis {
	scale := resizeScale(in, out, p.AlignCorners)
	a := bilinearAxis{lo: make([]int, out), hi: make([]int, out), w: make([]float32, out)}
	for i := 0; i < out; i++ {
		var v float32
		if p.HalfPixelCenters {
			v = float32(float32(float32(i)+0.5)*scale) - 0.5
		} else {
			v = float32(float32(i) * scale)
		}
		fl := float32(math.Floor(float64(v)))
		a.lo[i] = max(int(fl), 0)
		a.hi[i] = min(int(float32(math.Ceil(float64(v)))), in-1)
		a.w[i] = v - float32(a.lo[i])
	}
	return a
}

// bilinearIntAxis is the same in 10-bit fixed point
// (reference_ops::ResizeBilinearInteger).
type bilinearIntAxis struct {
	lo, hi []int
	w      []int64 // scaled - 1024*lo
}

func newBilinearIntAxis(in, out int, p ResizeParams) bilinearIntAxis {
	scale := int32((1<<10)*in+out/2) / int32(out)
	if p.AlignCorners && out > 1 {
		scale = int32((1<<10)*(in-1)+(out-1)/2) / int32(out-1)
	}
	a := bilinearIntAxis{lo: make([]int, out), hi: make([]int, out), w: make([]int64, out)}
	for i := 0; i < out; i++ {
		v := int32(i) * scale
		if p.HalfPixelCenters {
			v += scale/2 - (1 << 9)
		}
		// Go's division truncates toward zero like C++'s.
		lo := max(v/(1<<10), 0)
		hi := min((v+(1<<10)-1)/(1<<10), int32(in-1))
		a.lo[i], a.hi[i] = int(lo), int(hi)
		a.w[i] = int64(v - (1<<10)*lo)
	}
	return a
}

// ResizeBilinear resizes the height and width of an NHWC tensor with
// bilinear interpolation. float32 and uint8 interpolate in float (uint8
// rounds half up, as TFLite's reference); int8 and int16 use TFLite's
// 10-bit fixed-point ResizeBilinearInteger. In LiteRT arithmetic int8 and
// uint8 are XNNPACK's 11-bit fixed-point interpolation (bilinearXNN).
func ResizeBilinear(cfg *Config, p ResizeParams, in *tensor.Tensor, height, width int, out *tensor.Tensor) (Kernel, error) {
	if p.AlignCorners && p.HalfPixelCenters {
		return nil, fmt.Errorf("RESIZE_BILINEAR: align_corners and half_pixel_centers are exclusive")
	}
	if err := resizeCheck("RESIZE_BILINEAR", in, out, height, width); err != nil {
		return nil, err
	}
	batch, inH, inW, depth := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
	if cfg.Arithmetic == LiteRT && (in.Type == tensor.Int8 || in.Type == tensor.UInt8) {
		// XNNPACK takes 8-bit bilinear resizing (with equal input and
		// output quantization, which the converter always writes).
		ya, xa := newXNNBilinearAxis(inH, height, p), newXNNBilinearAxis(inW, width, p)
		rows := newXNNBilinearRows(inH, inW, depth, ya, xa)
		desc := "rows " + VariantPortable
		if blendXNNHaveSIMD() {
			desc = "rows " + VariantAVX2
		}
		if in.Type == tensor.Int8 {
			return Describe(desc, Func(func() error {
				runXNNRows(rows, in.Int8s(), out.Int8s(), batch)
				return nil
			})), nil
		}
		return Describe(desc, Func(func() error {
			runXNNRows(rows, in.UInt8s(), out.UInt8s(), batch)
			return nil
		})), nil
	}
	if cfg.Arithmetic == LiteRT && in.Type == tensor.Float32 {
		// XNNPACK takes float bilinear resizing too.
		rows := newBilinearF32Rows(inH, inW, height, width, depth, p)
		desc := "rows " + VariantPortable
		if lerpF32HaveSIMD() {
			desc = "rows " + VariantAVX2
		}
		return Describe(desc, Func(func() error {
			rows.run(in.Float32s(), out.Float32s(), batch)
			return nil
		})), nil
	}
	switch in.Type {
	case tensor.Float32, tensor.UInt8:
		ya, xa := newBilinearAxis(inH, height, p), newBilinearAxis(inW, width, p)
		if in.Type == tensor.Float32 {
			return Func(func() error {
				bilinearFloat(in.Float32s(), out.Float32s(), batch, inH, inW, depth, ya, xa, 0,
					func(v float32) float32 { return v })
				return nil
			}), nil
		}
		return Func(func() error {
			bilinearFloat(in.UInt8s(), out.UInt8s(), batch, inH, inW, depth, ya, xa, 0.5,
				func(v float32) uint8 {
					// static_cast<uint8_t> truncates; the value is in range
					// up to float rounding.
					return uint8(min(max(int32(v), 0), math.MaxUint8))
				})
			return nil
		}), nil
	case tensor.Int8, tensor.Int16:
		ya, xa := newBilinearIntAxis(inH, height, p), newBilinearIntAxis(inW, width, p)
		if in.Type == tensor.Int8 {
			return Func(func() error {
				bilinearInt(in.Int8s(), out.Int8s(), batch, inH, inW, depth, ya, xa)
				return nil
			}), nil
		}
		return Func(func() error {
			bilinearInt(in.Int16s(), out.Int16s(), batch, inH, inW, depth, ya, xa)
			return nil
		}), nil
	}
	return nil, unsupportedf("RESIZE_BILINEAR on %s input", in.Type)
}

func bilinearFloat[T float32 | uint8](x, y []T, batch, inH, inW, depth int, ya, xa bilinearAxis, round float32, conv func(float32) T) {
	o := 0
	for b := 0; b < batch; b++ {
		base := b * inH * inW * depth
		for oy := range ya.lo {
			r0 := base + ya.lo[oy]*inW*depth
			r1 := base + ya.hi[oy]*inW*depth
			wy := ya.w[oy]
			wy0 := 1 - wy
			for ox := range xa.lo {
				c0, c1 := xa.lo[ox]*depth, xa.hi[ox]*depth
				wx := xa.w[ox]
				wx0 := 1 - wx
				for c := 0; c < depth; c++ {
					// Explicit conversions keep each product rounded to
					// float32 (no fused multiply-add), in the reference's
					// left-to-right order.
					v := float32(float32(float32(x[r0+c0+c])*wy0) * wx0)
					v = float32(v + float32(float32(float32(x[r1+c0+c])*wy)*wx0))
					v = float32(v + float32(float32(float32(x[r0+c1+c])*wy0)*wx))
					v = float32(v + float32(float32(float32(x[r1+c1+c])*wy)*wx))
					y[o] = conv(v + round)
					o++
				}
			}
		}
	}
}

func bilinearInt[T int8 | int16](x, y []T, batch, inH, inW, depth int, ya, xa bilinearIntAxis) {
	const one = 1 << 10
	o := 0
	for b := 0; b < batch; b++ {
		base := b * inH * inW * depth
		for oy := range ya.lo {
			r0 := base + ya.lo[oy]*inW*depth
			r1 := base + ya.hi[oy]*inW*depth
			wy := ya.w[oy]
			for ox := range xa.lo {
				c0, c1 := xa.lo[ox]*depth, xa.hi[ox]*depth
				wx := xa.w[ox]
				for c := 0; c < depth; c++ {
					v := int64(x[r0+c0+c])*(one-wy)*(one-wx) +
						int64(x[r1+c0+c])*wy*(one-wx) +
						int64(x[r0+c1+c])*(one-wy)*wx +
						int64(x[r1+c1+c])*wy*wx
					if v > 0 {
						v += 1 << 19
					} else {
						v -= 1 << 19
					}
					y[o] = T(v / (1 << 20))
					o++
				}
			}
		}
	}
}

// nearestIndex is TFLite's GetNearestNeighbor.
func nearestIndex(i, in, out int, p ResizeParams) int {
	scale := resizeScale(in, out, p.AlignCorners)
	var offset float32
	if p.HalfPixelCenters {
		offset = 0.5
	}
	v := float32(float32(i)+offset) * scale
	var r int
	if p.AlignCorners {
		r = int(math.Round(float64(v)))
	} else {
		r = int(math.Floor(float64(v)))
	}
	r = min(r, in-1)
	if p.HalfPixelCenters {
		r = max(r, 0)
	}
	return r
}

// ResizeNearestNeighbor resizes the height and width of an NHWC tensor by
// copying the nearest source pixel; it works on any fixed-size type.
func ResizeNearestNeighbor(cfg *Config, p ResizeParams, in *tensor.Tensor, height, width int, out *tensor.Tensor) (Kernel, error) {
	if err := resizeCheck("RESIZE_NEAREST_NEIGHBOR", in, out, height, width); err != nil {
		return nil, err
	}
	switch in.Type {
	case tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64:
	default:
		return nil, unsupportedf("RESIZE_NEAREST_NEIGHBOR on %s input", in.Type)
	}
	batch, inH, inW := in.Shape[0], in.Shape[1], in.Shape[2]
	px := in.Shape[3] * in.Type.Size() // bytes per pixel
	rows := make([]int, height)
	for i := range rows {
		rows[i] = nearestIndex(i, inH, height, p) * inW * px
	}
	cols := make([]int, width)
	for i := range cols {
		cols[i] = nearestIndex(i, inW, width, p) * px
	}
	return Func(func() error {
		x, y := in.Data, out.Data
		o := 0
		for b := 0; b < batch; b++ {
			base := b * inH * inW * px
			for _, r := range rows {
				for _, c := range cols {
					s := base + r + c
					copy(y[o:o+px], x[s:s+px])
					o += px
				}
			}
		}
		return nil
	}), nil
}
