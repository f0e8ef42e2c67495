package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// checkOutShape returns an error unless every dimension of shape is
// non-negative and the element count fits in an int32, the bound TFLite
// puts on tensor sizes. Operators whose output shape comes from operand
// values (multiples, block sizes, depths) call it before setting it.
func checkOutShape(op string, shape []int) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("%s: output shape %v has a negative dimension", op, shape)
		}
		if d != 0 && n > math.MaxInt32/d {
			return fmt.Errorf("%s: output shape %v is too large", op, shape)
		}
		n *= d
	}
	return nil
}

// checkSameQuant returns an error unless a quantized output shares its
// input's scale and zero point, as TFLite requires of operators that only
// move elements.
func checkSameQuant(op string, in, out *tensor.Tensor) error {
	if !in.Type.Quantized() || in.Quant == nil && out.Quant == nil {
		return nil
	}
	if in.Scale() != out.Scale() || in.ZeroPoint() != out.ZeroPoint() {
		return fmt.Errorf("%s: input %q is quantized as (%g, %d) and output %q as (%g, %d); TFLite requires the same", op, in.Name, in.Scale(), in.ZeroPoint(), out.Name, out.Scale(), out.ZeroPoint())
	}
	return nil
}

// spaceBatchDims checks the operands shared by SPACE_TO_BATCH_ND and
// BATCH_TO_SPACE_ND: an NHWC (or NHC) input, one block size per spatial
// dimension and two paddings/crops per spatial dimension. It returns the
// input as 4-D [batch, height, width, depth] (NHC gets width 1) and the
// blocks and paddings extended the same way.
func spaceBatchDims(op string, in, out *tensor.Tensor, block []int, pads []int) (dims [4]int, bh, bw int, pad [4]int, err error) {
	if err = shapeCheckMover(op, in, out); err != nil {
		return
	}
	if in.Rank() != 3 && in.Rank() != 4 {
		err = unsupportedf("%s on input %q of rank %d (TFLite takes 3 or 4)", op, in.Name, in.Rank())
		return
	}
	if err = checkSameQuant(op, in, out); err != nil {
		return
	}
	if in.Type == tensor.Int16 && in.ZeroPoint() != 0 {
		err = fmt.Errorf("%s: int16 input %q has zero point %d; want 0", op, in.Name, in.ZeroPoint())
		return
	}
	spatial := in.Rank() - 2
	if len(block) != spatial {
		err = fmt.Errorf("%s: %d block sizes for %d spatial dimensions", op, len(block), spatial)
		return
	}
	if len(pads) != 2*spatial {
		err = fmt.Errorf("%s: %d paddings/crops for %d spatial dimensions; want %d", op, len(pads), spatial, 2*spatial)
		return
	}
	for _, b := range block {
		if b < 1 || b > math.MaxInt32 {
			err = fmt.Errorf("%s: block size %d; want a positive block shape", op, b)
			return
		}
	}
	for _, p := range pads {
		if p < 0 || p > math.MaxInt32 {
			err = fmt.Errorf("%s: padding/crop %d; want non-negative values", op, p)
			return
		}
	}
	dims = [4]int{in.Shape[0], in.Shape[1], 1, in.Shape[spatial+1]}
	bh, bw = block[0], 1
	pad = [4]int{pads[0], pads[1], 0, 0}
	if spatial == 2 {
		dims[2] = in.Shape[2]
		bw = block[1]
		pad[2], pad[3] = pads[2], pads[3]
	}
	return
}

// SpaceToBatchND zero-pads the spatial dimensions of an NHWC (or NHC)
// input and moves blocks of block[0]×block[1] pixels into the batch
// (TFLite's SPACE_TO_BATCH_ND): out[b' = (sh*bw + sw)*N + n, y, x, c] =
// padded[n, y*bh + sh, x*bw + sw, c]. Padding takes the output zero point
// for 8- and 16-bit types and 0 otherwise. paddings holds [before, after]
// per spatial dimension.
func SpaceToBatchND(in *tensor.Tensor, block, paddings []int, out *tensor.Tensor) (Kernel, error) {
	const op = "SPACE_TO_BATCH_ND"
	d, bh, bw, pad, err := spaceBatchDims(op, in, out, block, paddings)
	if err != nil {
		return nil, err
	}
	ph, pw := d[1]+pad[0]+pad[1], d[2]+pad[2]+pad[3]
	if ph%bh != 0 || pw%bw != 0 {
		return nil, fmt.Errorf("%s: padded spatial size %dx%d is not a multiple of the block %dx%d", op, ph, pw, bh, bw)
	}
	oh, ow := ph/bh, pw/bw
	if d[0] > 0 && bh*bw > math.MaxInt32/d[0] {
		return nil, fmt.Errorf("%s: output batch %d×%d×%d is too large", op, d[0], bh, bw)
	}
	ob := d[0] * bh * bw
	shape := []int{ob, oh, ow, d[3]}
	if in.Rank() == 3 {
		shape = []int{ob, oh, d[3]}
	}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	es := in.Type.Size()
	row := d[3] * es // bytes per pixel
	var fill byte
	if es <= 2 {
		// TFLite memsets the zero point's low byte (int16's is 0).
		fill = byte(out.ZeroPoint())
	}
	inB, inH, inW := d[0], d[1], d[2]
	padTop, padLeft := pad[0], pad[2]
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		src, dst := in.Data, out.Data
		o := 0
		for b := 0; b < ob; b++ {
			n := b % inB
			sw := (b / inB) % bw
			sh := (b / inB) / bw
			for y := 0; y < oh; y++ {
				iy := y*bh + sh - padTop
				for x := 0; x < ow; x++ {
					ix := x*bw + sw - padLeft
					px := dst[o : o+row]
					o += row
					if iy < 0 || iy >= inH || ix < 0 || ix >= inW {
						for i := range px {
							px[i] = fill
						}
						continue
					}
					s := ((n*inH+iy)*inW + ix) * row
					copy(px, src[s:s+row])
				}
			}
		}
		return nil
	}), nil
}

// BatchToSpaceND is the inverse of SpaceToBatchND followed by a crop
// (TFLite's BATCH_TO_SPACE_ND): out[n, y, x, c] = in[(sh*bw + sw)*N + n,
// yy, xx, c] where y + crop_top = yy*bh + sh and x + crop_left = xx*bw +
// sw. crops holds [before, after] per spatial dimension.
func BatchToSpaceND(in *tensor.Tensor, block, crops []int, out *tensor.Tensor) (Kernel, error) {
	const op = "BATCH_TO_SPACE_ND"
	d, bh, bw, crop, err := spaceBatchDims(op, in, out, block, crops)
	if err != nil {
		return nil, err
	}
	if d[0]%(bh*bw) != 0 {
		return nil, fmt.Errorf("%s: batch %d is not a multiple of the block %dx%d", op, d[0], bh, bw)
	}
	ob := d[0] / (bh * bw)
	oh, ow := d[1]*bh-crop[0]-crop[1], d[2]*bw-crop[2]-crop[3]
	if oh < 0 || ow < 0 {
		return nil, fmt.Errorf("%s: crops %v exceed the spatial size %dx%d", op, crops, d[1]*bh, d[2]*bw)
	}
	shape := []int{ob, oh, ow, d[3]}
	if in.Rank() == 3 {
		shape = []int{ob, oh, d[3]}
	}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	row := d[3] * in.Type.Size()
	inB, inH, inW := d[0], d[1], d[2]
	cropTop, cropLeft := crop[0], crop[2]
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		src, dst := in.Data, out.Data
		if ob == 0 {
			return nil
		}
		for b := 0; b < inB; b++ {
			n := b % ob
			off := b / ob
			sh, sw := off/bw, off%bw
			for y := 0; y < inH; y++ {
				oy := y*bh + sh - cropTop
				if oy < 0 || oy >= oh {
					continue
				}
				for x := 0; x < inW; x++ {
					ox := x*bw + sw - cropLeft
					if ox < 0 || ox >= ow {
						continue
					}
					s := ((b*inH+y)*inW + x) * row
					t := ((n*oh+oy)*ow + ox) * row
					copy(dst[t:t+row], src[s:s+row])
				}
			}
		}
		return nil
	}), nil
}

// depthSpaceTypes are the element types of DEPTH_TO_SPACE and
// SPACE_TO_DEPTH in TFLite.
var depthSpaceTypes = []tensor.DType{tensor.Float32, tensor.UInt8, tensor.Int8, tensor.Int32, tensor.Int64}

// DepthToSpace moves blocks of block×block channel groups of an NHWC input
// into space (TFLite's DEPTH_TO_SPACE, DCR order): out[n, y, x, c] = in[n,
// y/b, x/b, ((y%b)·b + x%b)·C' + c] with C' = C/b².
func DepthToSpace(in *tensor.Tensor, block int, out *tensor.Tensor) (Kernel, error) {
	const op = "DEPTH_TO_SPACE"
	if err := depthSpaceCheck(op, in, block, out); err != nil {
		return nil, err
	}
	n, h, w, c := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
	if c%(block*block) != 0 {
		return nil, fmt.Errorf("%s: %d channels are not a multiple of block² = %d", op, c, block*block)
	}
	shape := []int{n, h * block, w * block, c / (block * block)}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	es := in.Type.Size()
	oc := shape[3] * es // bytes of one output pixel
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		src, dst := in.Data, out.Data
		o := 0
		for b := 0; b < n; b++ {
			for y := 0; y < h*block; y++ {
				for x := 0; x < w*block; x++ {
					s := (((b*h+y/block)*w+x/block)*block*block + (y%block)*block + x%block) * oc
					copy(dst[o:o+oc], src[s:s+oc])
					o += oc
				}
			}
		}
		return nil
	}), nil
}

// SpaceToDepth is the inverse of DepthToSpace (TFLite's SPACE_TO_DEPTH):
// out[n, y, x, ((y'%b)·b + x'%b)·C + c] = in[n, y', x', c] for y = y'/b,
// x = x'/b.
func SpaceToDepth(in *tensor.Tensor, block int, out *tensor.Tensor) (Kernel, error) {
	const op = "SPACE_TO_DEPTH"
	if err := depthSpaceCheck(op, in, block, out); err != nil {
		return nil, err
	}
	n, h, w, c := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
	if h%block != 0 || w%block != 0 {
		return nil, fmt.Errorf("%s: spatial size %dx%d is not a multiple of the block %d", op, h, w, block)
	}
	shape := []int{n, h / block, w / block, c * block * block}
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	es := in.Type.Size()
	ic := c * es // bytes of one input pixel
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		src, dst := in.Data, out.Data
		s := 0
		for b := 0; b < n; b++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					o := (((b*(h/block)+y/block)*(w/block)+x/block)*block*block + (y%block)*block + x%block) * ic
					copy(dst[o:o+ic], src[s:s+ic])
					s += ic
				}
			}
		}
		return nil
	}), nil
}

func depthSpaceCheck(op string, in *tensor.Tensor, block int, out *tensor.Tensor) error {
	if err := CheckType(op+" input", in, depthSpaceTypes...); err != nil {
		return err
	}
	if out.Type != in.Type {
		return fmt.Errorf("%s: output %q has type %s; input %q has %s", op, out.Name, out.Type, in.Name, in.Type)
	}
	if in.Rank() != 4 {
		return fmt.Errorf("%s: input %q has rank %d; want 4", op, in.Name, in.Rank())
	}
	if block < 1 || block > 1<<15 {
		return fmt.Errorf("%s: block size %d; want a positive one", op, block)
	}
	return nil
}
