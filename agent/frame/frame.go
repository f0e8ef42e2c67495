// Package frame makes the thumbnail of an image source's last input that
// the status page shows: the model's input tensor scaled down to at most
// MaxSide pixels on its long side, with the top labels written under it
// or the detected objects' boxes drawn on it, encoded as PNG.
//
// Making a Thumb reads the tensor once (a box filter, averaging the
// pixels each thumbnail pixel covers) and keeps one small RGBA image;
// drawing and encoding happen when the picture is asked for.
package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// MaxSide is the longest side of a thumbnail, in pixels.
const MaxSide = 160

// captionLine is the height of one line of the caption under the
// picture (basicfont's 7×13 face and a pixel of room each side).
const captionLine = 15

// Label is a line of the caption: a class and its score.
type Label struct {
	Text  string
	Score float64
}

// Box is a detected object: its corners as fractions of the picture's
// width and height (0..1, top left first), its class and score.
type Box struct {
	X0, Y0, X1, Y1 float64
	Label          string
	Score          float64
}

// Thumb is the picture of one input and what the model said of it.
type Thumb struct {
	Img    *image.RGBA
	Time   time.Time
	Labels []Label
	Boxes  []Box
}

// layout is an input tensor's image geometry.
type layout struct{ h, w, c int }

// imageLayout reads [1,H,W,C] or [H,W,C] with C 1 (gray) or 3 (RGB), H
// and W of at least 8 pixels, of uint8, int8 or float32.
func imageLayout(shape []int, dt tensor.DType) (layout, bool) {
	switch dt {
	case tensor.UInt8, tensor.Int8, tensor.Float32:
	default:
		return layout{}, false
	}
	if len(shape) == 4 {
		if shape[0] != 1 {
			return layout{}, false
		}
		shape = shape[1:]
	}
	if len(shape) != 3 || (shape[2] != 1 && shape[2] != 3) || shape[0] < 8 || shape[1] < 8 {
		return layout{}, false
	}
	return layout{h: shape[0], w: shape[1], c: shape[2]}, true
}

// IsImage reports whether an input of this spec is a picture a Thumb can
// show.
func IsImage(spec infer.TensorSpec) bool {
	_, ok := imageLayout(spec.Shape, spec.DType)
	return ok
}

// Size is the thumbnail size of a w×h picture: the same when it fits in
// MaxSide, else scaled down to MaxSide on the long side (at least 1).
func Size(w, h int) (int, int) {
	long := max(w, h)
	if long <= MaxSide {
		return w, h
	}
	return max(1, (w*MaxSide+long/2)/long), max(1, (h*MaxSide+long/2)/long)
}

// Scale makes the picture of input tensor t. Pixel values: uint8 as they
// are, int8 shifted by 128 (the quantized range onto 0..255, whatever the
// scale), float32 from [0, 1] or [-1, 1] when the values lie there, else
// from their own minimum and maximum.
func Scale(t infer.Tensor) (*image.RGBA, error) {
	l, ok := imageLayout(t.Shape, t.DType)
	if !ok {
		return nil, fmt.Errorf("input of shape %v and type %s is not a picture", t.Shape, t.DType)
	}
	n := l.h * l.w * l.c
	if len(t.Data) != n*t.DType.Size() {
		return nil, fmt.Errorf("input holds %d bytes; a %dx%dx%d %s picture has %d", len(t.Data), l.w, l.h, l.c, t.DType, n*t.DType.Size())
	}
	px := pixelReader(t, n)
	tw, th := Size(l.w, l.h)
	img := image.NewRGBA(image.Rect(0, 0, tw, th))
	var sum [3]float64
	for ty := range th {
		y0, y1 := ty*l.h/th, max((ty+1)*l.h/th, ty*l.h/th+1)
		for tx := range tw {
			x0, x1 := tx*l.w/tw, max((tx+1)*l.w/tw, tx*l.w/tw+1)
			sum = [3]float64{}
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					k := (y*l.w + x) * l.c
					for ch := range l.c {
						sum[ch] += px(k + ch)
					}
				}
			}
			cnt := float64((y1 - y0) * (x1 - x0))
			var rgb [3]uint8
			for ch := range 3 {
				rgb[ch] = clamp8(sum[min(ch, l.c-1)] / cnt)
			}
			img.SetRGBA(tx, ty, color.RGBA{rgb[0], rgb[1], rgb[2], 255})
		}
	}
	return img, nil
}

// pixelReader returns element k of t as a pixel value in 0..255.
func pixelReader(t infer.Tensor, n int) func(k int) float64 {
	switch t.DType {
	case tensor.UInt8:
		return func(k int) float64 { return float64(t.Data[k]) }
	case tensor.Int8:
		return func(k int) float64 { return float64(int8(t.Data[k])) + 128 }
	}
	f := func(k int) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*k:]))) }
	lo, hi := math.Inf(1), math.Inf(-1)
	for k := range n {
		v := f(k)
		if !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	switch {
	case lo >= 0 && hi <= 1:
		lo, hi = 0, 1
	case lo >= -1 && hi <= 1:
		lo, hi = -1, 1
	case !(hi > lo):
		hi = lo + 1
	}
	return func(k int) float64 { return 255 * (f(k) - lo) / (hi - lo) }
}

func clamp8(v float64) uint8 {
	if !(v > 0) {
		return 0
	}
	return uint8(math.Min(255, math.Round(v)))
}

// Detections reads the outputs of TFLite's detection post-processing
// (boxes [1,N,4] as ymin, xmin, ymax, xmax fractions; classes [1,N];
// scores [1,N]; count [1]): the objects scoring at least minScore, best
// first, at most limit. ok is false when the outputs are not of that
// shape.
func Detections(outs []infer.Tensor, mi infer.ModelInfo, minScore float64, limit int) (boxes []Box, ok bool) {
	if len(outs) != 4 || len(mi.Outputs) != 4 {
		return nil, false
	}
	val := make([][]float64, 4)
	for i := range outs {
		v, err := infer.RealValues(outs[i], mi.Outputs[i])
		if err != nil {
			return nil, false
		}
		val[i] = v
	}
	n := len(val[2])
	if n == 0 || len(val[0]) != 4*n || len(val[1]) != n || len(val[3]) != 1 {
		return nil, false
	}
	count := min(n, max(0, int(val[3][0])))
	for i := range count {
		s := val[2][i]
		if s < minScore || len(boxes) >= limit {
			continue
		}
		b := Box{Y0: val[0][4*i], X0: val[0][4*i+1], Y1: val[0][4*i+2], X1: val[0][4*i+3], Score: s}
		cls := int(val[1][i])
		b.Label = fmt.Sprintf("class %d", cls)
		if cls >= 0 && cls < len(mi.Labels) && mi.Labels[cls] != "" {
			b.Label = mi.Labels[cls]
		}
		boxes = append(boxes, b)
	}
	return boxes, true
}

// boxColor is the colour boxes and their labels are drawn in.
var boxColor = color.RGBA{255, 214, 0, 255}

// Size is the rendered picture's size: the thumbnail and its caption.
func (t *Thumb) Size() (w, h int) {
	b := t.Img.Bounds()
	return b.Dx(), b.Dy() + captionLine*len(t.Labels)
}

// Render draws the picture: the thumbnail, with the boxes drawn on it,
// and one caption line per label under it (white on black).
func (t *Thumb) Render() *image.RGBA {
	b := t.Img.Bounds()
	w, h := b.Dx(), b.Dy()
	rw, rh := t.Size()
	out := image.NewRGBA(image.Rect(0, 0, rw, rh))
	draw.Draw(out, out.Bounds(), image.Black, image.Point{}, draw.Src)
	draw.Draw(out, image.Rect(0, 0, w, h), t.Img, b.Min, draw.Src)
	for _, bx := range t.Boxes {
		x0, y0 := clampPx(bx.X0, w), clampPx(bx.Y0, h)
		x1, y1 := clampPx(bx.X1, w), clampPx(bx.Y1, h)
		for x := x0; x <= x1; x++ {
			out.SetRGBA(x, y0, boxColor)
			out.SetRGBA(x, y1, boxColor)
		}
		for y := y0; y <= y1; y++ {
			out.SetRGBA(x0, y, boxColor)
			out.SetRGBA(x1, y, boxColor)
		}
		text(out, image.Rect(0, 0, w, h), x0+2, y0+11, fmt.Sprintf("%s %.2f", bx.Label, bx.Score), boxColor)
	}
	for i, l := range t.Labels {
		text(out, out.Bounds(), 2, h+captionLine*i+12, fmt.Sprintf("%s %.2f", l.Text, l.Score), color.White)
	}
	return out
}

func clampPx(f float64, n int) int {
	if !(f > 0) {
		return 0
	}
	return min(n-1, int(f*float64(n)))
}

// text writes s with its baseline at (x, y), clipped to clip.
func text(dst *image.RGBA, clip image.Rectangle, x, y int, s string, c color.Color) {
	sub, ok := dst.SubImage(clip).(*image.RGBA)
	if !ok {
		return
	}
	d := font.Drawer{Dst: sub, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// PNG is the rendered picture as PNG.
func (t *Thumb) PNG() ([]byte, error) {
	if t == nil || t.Img == nil {
		return nil, errors.New("no picture")
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, t.Render()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
